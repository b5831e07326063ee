-- The payer-signed EIP-712 messages behind each assignment's escrow: the EscrowLock made at award
-- and the EscrowRelease made at accept. A managed wallet's op is signed by the coordinator at
-- once; a self-custody payer's op waits in `awaiting_signature` until the payer posts it. Signed
-- ops are handed to the settler's queue (chain_ops) strictly in order per assignment, a release
-- never before its lock, so `signed` means "signed, waiting for an earlier op's signature".
CREATE TABLE escrow_ops (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  assignment_id uuid NOT NULL REFERENCES assignments (id),
  kind text NOT NULL CHECK (kind IN ('escrow_lock', 'escrow_release')),
  chain_id bigint NOT NULL CHECK (chain_id > 0),
  signer_address text NOT NULL CHECK (signer_address ~ '^0x[0-9a-f]{40}$'),
  -- viem's TypedDataDefinition as JSON, integers as decimal strings.
  typed_data jsonb NOT NULL,
  signature text CHECK (signature ~ '^0x[0-9a-f]{130}$'),
  status text NOT NULL CHECK (status IN ('awaiting_signature', 'signed', 'queued')),
  -- The op's `reference` in chain_ops once it is queued for the settler.
  chain_op_reference text UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (assignment_id, kind),
  CHECK ((status = 'awaiting_signature') = (signature IS NULL)),
  CHECK ((status = 'queued') = (chain_op_reference IS NOT NULL))
);

CREATE INDEX escrow_ops_awaiting_idx ON escrow_ops (signer_address) WHERE status = 'awaiting_signature';
