-- Several tokens for real (issue 17): the vault's allowlist as its `TokenAllowlistUpdated` logs say
-- it, so the coordinator follows what the owner turns on and off. One row per log; a token's state
-- is its newest row (none: a token of the deployment, allowlisted by the vault's constructor). The
-- indexer writes a row in the transaction that indexes the log, and a reorg's undo deletes it.
CREATE TABLE vault_token_allowlist_changes (
  chain_id bigint NOT NULL CHECK (chain_id > 0),
  tx_hash text NOT NULL CHECK (tx_hash ~ '^0x[0-9a-f]{64}$'),
  log_index integer NOT NULL CHECK (log_index >= 0),
  block_number bigint NOT NULL CHECK (block_number >= 0),
  token text NOT NULL CHECK (token ~ '^0x[0-9a-f]{40}$'),
  allowed boolean NOT NULL,
  PRIMARY KEY (chain_id, tx_hash, log_index)
);

CREATE INDEX vault_token_allowlist_changes_token_idx
  ON vault_token_allowlist_changes (chain_id, token, block_number DESC, log_index DESC);
