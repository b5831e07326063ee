-- Blocks the indexer has seen, with parent hashes, so a reorg finds its common ancestor.
-- Only blocks that carried vault events or served as a cursor are kept.
CREATE TABLE chain_blocks (
  chain_id bigint NOT NULL CHECK (chain_id > 0),
  block_number bigint NOT NULL CHECK (block_number >= 0),
  block_hash text NOT NULL CHECK (block_hash ~ '^0x[0-9a-f]{64}$'),
  parent_hash text NOT NULL CHECK (parent_hash ~ '^0x[0-9a-f]{64}$'),
  PRIMARY KEY (chain_id, block_number)
);

-- Each vault log exactly once: (chain_id, tx_hash, log_index) is the identity, so re-reading a
-- range after a crash inserts nothing twice. `args` keeps uint256 values as decimal strings.
CREATE TABLE chain_events (
  chain_id bigint NOT NULL CHECK (chain_id > 0),
  tx_hash text NOT NULL CHECK (tx_hash ~ '^0x[0-9a-f]{64}$'),
  log_index integer NOT NULL CHECK (log_index >= 0),
  block_number bigint NOT NULL CHECK (block_number >= 0),
  block_hash text NOT NULL,
  contract_address text NOT NULL,
  event_name text NOT NULL,
  args jsonb NOT NULL,
  indexed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (chain_id, tx_hash, log_index)
);

CREATE INDEX chain_events_block_idx ON chain_events (chain_id, block_number, log_index);
CREATE INDEX chain_events_name_idx ON chain_events (chain_id, event_name, block_number);
