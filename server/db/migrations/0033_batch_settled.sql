-- Where the indexer saw each batch's `BatchSettled` log, while that log is on the chain: the
-- settler records its receipt, the indexer confirms it independently (and clears it on a reorg).
ALTER TABLE settlement_batches
  ADD COLUMN settled_tx_hash text CHECK (settled_tx_hash IS NULL OR settled_tx_hash ~ '^0x[0-9a-f]{64}$'),
  ADD COLUMN settled_block_number bigint CHECK (settled_block_number IS NULL OR settled_block_number >= 0);
