-- The vault skips an op that fails inside a batch and settles the rest (issue 9). Such an op is
-- failed yet keeps its batch number: its index in the batch is what the `OpSkipped` log names,
-- and a reorg sends the batch again with it. An op the settler's simulation leaves out is failed
-- with no batch number, as before.
ALTER TABLE chain_ops DROP CONSTRAINT chain_ops_check;
ALTER TABLE chain_ops ADD CONSTRAINT chain_ops_batch_number_check
  CHECK (status = 'failed' OR (status IN ('batched', 'confirmed')) = (batch_number IS NOT NULL));
