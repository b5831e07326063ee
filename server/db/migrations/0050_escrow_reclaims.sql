-- The coordinator reclaims every expired escrow it made (issue 13): once the vault lets anyone
-- return an expired escrow to its payer, the timers queue that op, so no escrow waits for its
-- payer to act. `closed_at` follows the vault's outcome logs (a reorg clears it again);
-- `reclaim_op_id` is the settler's op that returns it.
ALTER TABLE escrow_terms ADD COLUMN closed_at timestamptz;
ALTER TABLE escrow_terms ADD COLUMN reclaim_op_id bigint REFERENCES chain_ops (id);
CREATE INDEX escrow_terms_open_idx ON escrow_terms (chain_id, expiry) WHERE closed_at IS NULL AND reclaim_op_id IS NULL;
