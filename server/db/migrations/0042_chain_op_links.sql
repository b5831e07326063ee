-- Chain-op links typed, not strings (issue 12): an escrow op and a fast withdrawal name the settler
-- queue's op by its id, a foreign key, instead of a text reference joined by string building.
-- The settler room publishes what other rooms may read of its queue as a view.
CREATE VIEW chain_op_states AS
SELECT o.id, o.chain_id, o.kind, o.status, o.failure_reason, o.batch_number FROM chain_ops AS o;

ALTER TABLE escrow_ops ADD COLUMN chain_op_id bigint REFERENCES chain_ops (id);
UPDATE escrow_ops AS e SET chain_op_id = c.id FROM chain_ops AS c WHERE c.reference = e.chain_op_reference;
ALTER TABLE escrow_ops DROP CONSTRAINT escrow_ops_queued_reference_check;
ALTER TABLE escrow_ops DROP COLUMN chain_op_reference;
ALTER TABLE escrow_ops ADD CONSTRAINT escrow_ops_chain_op_id_key UNIQUE (chain_op_id);
ALTER TABLE escrow_ops ADD CONSTRAINT escrow_ops_queued_op_check
  CHECK (status = 'failed' OR (status = 'queued') = (chain_op_id IS NOT NULL));

ALTER TABLE withdrawals ADD COLUMN chain_op_id bigint REFERENCES chain_ops (id);
UPDATE withdrawals AS w SET chain_op_id = c.id FROM chain_ops AS c WHERE c.reference = 'withdrawal:' || w.id::text;
ALTER TABLE withdrawals ADD CONSTRAINT withdrawals_chain_op_id_key UNIQUE (chain_op_id);
