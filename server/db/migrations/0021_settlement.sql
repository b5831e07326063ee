-- Every operation the coordinator must put on-chain, queued by the module that decided it.
-- `reference` is the caller's idempotency key (e.g. 'escrow-lock:<assignment id>').
CREATE TABLE chain_ops (
  id bigserial PRIMARY KEY,
  chain_id bigint NOT NULL CHECK (chain_id > 0),
  kind smallint NOT NULL CHECK (kind BETWEEN 0 AND 9),
  data text NOT NULL CHECK (data ~ '^0x([0-9a-f]{2})*$'),
  reference text NOT NULL UNIQUE,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'batched', 'confirmed', 'failed')),
  batch_number bigint,
  failure_reason text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CHECK ((status IN ('batched', 'confirmed')) = (batch_number IS NOT NULL))
);

CREATE INDEX chain_ops_pending_idx ON chain_ops (chain_id, id) WHERE status = 'pending';
CREATE INDEX chain_ops_batch_idx ON chain_ops (chain_id, batch_number);

-- A batch is written here, signed, before it is sent, so a crash never loses or re-numbers it.
CREATE TABLE settlement_batches (
  chain_id bigint NOT NULL CHECK (chain_id > 0),
  batch_number bigint NOT NULL CHECK (batch_number > 0),
  ops_root text NOT NULL,
  op_count integer NOT NULL CHECK (op_count > 0),
  coordinator_signature text NOT NULL,
  status text NOT NULL CHECK (status IN ('prepared', 'sent', 'confirmed')),
  tx_hash text,
  created_at timestamptz NOT NULL DEFAULT now(),
  sent_at timestamptz,
  confirmed_at timestamptz,
  PRIMARY KEY (chain_id, batch_number)
);

-- At most one batch in flight per chain.
CREATE UNIQUE INDEX settlement_batches_one_in_flight ON settlement_batches (chain_id) WHERE status <> 'confirmed';

-- Leases elect one leader per worker across replicas with short transactions only, which PGlite
-- (one transaction at a time) and PgBouncer-style poolers both allow.
CREATE TABLE worker_leases (
  worker text PRIMARY KEY,
  holder text NOT NULL,
  expires_at timestamptz NOT NULL
);
