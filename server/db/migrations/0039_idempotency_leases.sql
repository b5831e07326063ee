-- Leases on Idempotency-Key claims (issue 11). A claim is held by the request that made it for as
-- long as that request renews `lease_expires_at`; once it lapses (the process died, or lost the
-- database) a retry may take the claim over with a new `lease_token`. Every transaction the request
-- commits first sets `work_committed` where the token is still its own, so work of a request whose
-- claim was taken over rolls back, and a lapsed claim tells a retry whether anything was committed.
ALTER TABLE idempotency_keys
  ADD COLUMN lease_token uuid,
  ADD COLUMN work_committed boolean NOT NULL DEFAULT false,
  -- The default holds rows written by a replica still running the previous release for as long as
  -- that release held them (it has no heartbeat); rows from this release always set it.
  ADD COLUMN lease_expires_at timestamptz NOT NULL DEFAULT now() + interval '1 day';

-- Claims left in progress by the previous release (no lease, no fence) may or may not have
-- committed: they lapse at once and count as committed, so a retry is told to look at the
-- resource rather than run the request a second time.
UPDATE idempotency_keys SET lease_expires_at = now(), work_committed = true WHERE state = 'in_progress';
