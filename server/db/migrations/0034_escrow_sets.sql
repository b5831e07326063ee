-- Escrows in the vault are no longer stored one by one (issue 9): escrows locked together form a
-- set whose Merkle root the vault keeps, and every later op on an escrow (a release, say) passes
-- its position in the set and a proof. The indexer records here what it needs to build them:
-- every `EscrowLocked` log (an escrow's set and index) and every `EscrowSetCommitted` log (a set's
-- root and size). Rows follow the chain: a reorg that drops a log deletes its row.
CREATE TABLE escrow_locks (
  chain_id bigint NOT NULL CHECK (chain_id > 0),
  escrow_id text NOT NULL CHECK (escrow_id ~ '^0x[0-9a-f]{64}$'),
  set_id numeric(78, 0) NOT NULL CHECK (set_id > 0),
  set_index integer NOT NULL CHECK (set_index >= 0),
  tx_hash text NOT NULL CHECK (tx_hash ~ '^0x[0-9a-f]{64}$'),
  log_index integer NOT NULL CHECK (log_index >= 0),
  PRIMARY KEY (chain_id, escrow_id),
  UNIQUE (chain_id, set_id, set_index)
);

CREATE TABLE escrow_sets (
  chain_id bigint NOT NULL CHECK (chain_id > 0),
  set_id numeric(78, 0) NOT NULL CHECK (set_id > 0),
  root text NOT NULL CHECK (root ~ '^0x[0-9a-f]{64}$'),
  escrow_count integer NOT NULL CHECK (escrow_count > 0),
  tx_hash text NOT NULL CHECK (tx_hash ~ '^0x[0-9a-f]{64}$'),
  log_index integer NOT NULL CHECK (log_index >= 0),
  PRIMARY KEY (chain_id, set_id)
);

-- The escrow an op acts on (the digest of its lock's terms), so ops waiting for their escrow's
-- position are found when its set is committed. Rows from before this migration keep NULL.
ALTER TABLE escrow_ops ADD COLUMN escrow_id text CHECK (escrow_id IS NULL OR escrow_id ~ '^0x[0-9a-f]{64}$');
CREATE INDEX escrow_ops_waiting_idx ON escrow_ops (escrow_id) WHERE status = 'signed';

-- The next unordered vault nonce the coordinator hands out per account for what it asks the
-- account to sign (escrow locks). Dense per account, so consecutive locks share the vault's
-- nonce bitmap words; the values start at 2^192 (see `allocateVaultNonce`), apart from the small
-- or random nonces a wallet uses on its own.
CREATE TABLE vault_nonces (
  account text PRIMARY KEY CHECK (account ~ '^0x[0-9a-f]{40}$'),
  next_nonce bigint NOT NULL CHECK (next_nonce >= 0)
);
