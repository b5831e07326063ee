-- Assignment timers (issue 13): an overdue assignment's escrow goes back to its payer through an
-- EscrowRefund the payee signs (where the coordinator holds the payee's key), a fourth kind of op.
ALTER TABLE escrow_ops DROP CONSTRAINT escrow_ops_kind_check;
ALTER TABLE escrow_ops ADD CONSTRAINT escrow_ops_kind_check
  CHECK (kind IN ('escrow_lock', 'escrow_release', 'escrow_ruling', 'escrow_refund'));
-- The timers find submissions waiting for review and work past its due time without a scan.
CREATE INDEX assignments_submitted_idx ON assignments (submitted_at) WHERE status = 'submitted';
CREATE INDEX assignments_due_idx ON assignments (due_at) WHERE status = 'in_progress';
