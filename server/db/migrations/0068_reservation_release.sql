-- A reservation its holder gives up before its window ends (a board task its taker cannot do):
-- its escrow goes back and the job is open again, as when the window lapses.
ALTER TABLE reservations DROP CONSTRAINT reservations_status_check;
ALTER TABLE reservations ADD CONSTRAINT reservations_status_check
  CHECK (status IN ('active', 'completed', 'expired', 'released'));
