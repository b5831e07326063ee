-- Free jobs (issue 13): a bid of 0 is work done for nothing; its assignment moves no money, so it
-- has no escrow (the vault refuses a zero escrow) and pays no fee.
ALTER TABLE bids DROP CONSTRAINT bids_amount_check;
ALTER TABLE bids ADD CONSTRAINT bids_amount_check CHECK (amount >= 0);
ALTER TABLE assignments DROP CONSTRAINT assignments_escrow_amount_check;
ALTER TABLE assignments ADD CONSTRAINT assignments_escrow_amount_check CHECK (escrow_amount >= 0);
ALTER TABLE assignments ALTER COLUMN escrow_id DROP NOT NULL;
ALTER TABLE assignments ADD CONSTRAINT assignments_free_without_escrow_check
  CHECK ((escrow_amount = 0) = (escrow_id IS NULL));
