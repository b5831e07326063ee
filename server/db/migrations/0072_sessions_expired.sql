-- A session never settled ends at its escrow's expiry (issue 18): the timers reclaim the budget to
-- the client on the vault and mark the session `expired`, so its state says what happened to the
-- money instead of staying `active` forever.
ALTER TABLE sessions DROP CONSTRAINT sessions_status_check;
ALTER TABLE sessions ADD CONSTRAINT sessions_status_check
  CHECK (status IN ('active', 'settled', 'failed', 'expired'));
