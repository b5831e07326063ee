-- One cursor per (chain, contract): the last block the indexer has fully processed, with its
-- hash so a reorg is detected by comparing it to the chain's block at that height.
CREATE TABLE chain_cursors (
  chain_id bigint NOT NULL CHECK (chain_id > 0),
  contract_address text NOT NULL CHECK (contract_address ~ '^0x[0-9a-f]{40}$'),
  block_number bigint NOT NULL CHECK (block_number >= 0),
  block_hash text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (chain_id, contract_address)
);
