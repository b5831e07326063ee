-- An escrow's terms stored once, typed (issue 12): the EscrowLock the payer signs, keyed by the
-- escrow id it hashes to, with the domain it was signed under. Lock and release ops name the
-- escrow; their EIP-712 typed data is built from these terms when signed or shown, instead of
-- being kept as JSON with integers as strings beside the same values in chain_ops.data.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM escrow_ops WHERE escrow_id IS NULL) THEN
    RAISE EXCEPTION 'escrow_ops rows without an escrow_id come from a vault before escrow ids were EIP-712 digests; they cannot settle on this vault: settle or remove them before migrating';
  END IF;
END $$;

CREATE TABLE escrow_terms (
  chain_id bigint NOT NULL CHECK (chain_id > 0),
  escrow_id text NOT NULL CHECK (escrow_id ~ '^0x[0-9a-f]{64}$'),
  -- The vault the payer's signatures bind to (the EIP-712 domain's verifyingContract).
  vault_address text NOT NULL CHECK (vault_address ~ '^0x[0-9a-f]{40}$'),
  payer text NOT NULL CHECK (payer ~ '^0x[0-9a-f]{40}$'),
  payee text NOT NULL CHECK (payee ~ '^0x[0-9a-f]{40}$'),
  token text NOT NULL CHECK (token ~ '^0x[0-9a-f]{40}$'),
  amount numeric(78, 0) NOT NULL CHECK (amount > 0),
  resolver text NOT NULL CHECK (resolver ~ '^0x[0-9a-f]{40}$'),
  fee_bps integer NOT NULL CHECK (fee_bps BETWEEN 0 AND 10000),
  resolver_fee_bps integer NOT NULL CHECK (resolver_fee_bps BETWEEN 0 AND 10000),
  expiry numeric(78, 0) NOT NULL CHECK (expiry >= 0),
  nonce numeric(78, 0) NOT NULL CHECK (nonce >= 0),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (chain_id, escrow_id)
);

INSERT INTO escrow_terms (chain_id, escrow_id, vault_address, payer, payee, token, amount, resolver,
                          fee_bps, resolver_fee_bps, expiry, nonce, created_at)
SELECT o.chain_id, o.escrow_id, lower(o.typed_data->'domain'->>'verifyingContract'),
       lower(m->>'payer'), lower(m->>'payee'), lower(m->>'token'), (m->>'amount')::numeric,
       lower(m->>'resolver'), (m->>'feeBps')::int, (m->>'resolverFeeBps')::int,
       (m->>'expiry')::numeric, (m->>'nonce')::numeric, o.created_at
  FROM escrow_ops AS o, LATERAL (SELECT o.typed_data->'message' AS m) AS message
 WHERE o.kind = 'escrow_lock'
ON CONFLICT DO NOTHING;

ALTER TABLE escrow_ops ALTER COLUMN escrow_id SET NOT NULL;
ALTER TABLE escrow_ops ADD CONSTRAINT escrow_ops_escrow_terms_fkey
  FOREIGN KEY (chain_id, escrow_id) REFERENCES escrow_terms (chain_id, escrow_id);
ALTER TABLE escrow_ops DROP COLUMN typed_data;
