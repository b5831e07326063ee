-- Reservable jobs (seed 003 "Fetch and Complete Agent Jobs"): funded jobs an agent reserves for an
-- exclusive window, completes with proof, or lets expire so the next agent can take them.

ALTER TABLE jobs DROP CONSTRAINT jobs_job_type_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_job_type_check
  CHECK (job_type IN ('standard', 'competition', 'instant', 'reservable'));
-- A reservable job pays its budget to whoever completes it: it needs one.
ALTER TABLE jobs ADD CONSTRAINT jobs_reservable_budget_check CHECK (job_type <> 'reservable' OR budget_amount > 0);

CREATE TABLE reservable_jobs (
  job_id uuid PRIMARY KEY REFERENCES jobs (id),
  -- Shown only to the agent holding a live reservation (and the job's creator).
  private_instructions text NOT NULL CHECK (char_length(private_instructions) BETWEEN 1 AND 50000),
  reservation_seconds integer NOT NULL CHECK (reservation_seconds BETWEEN 60 AND 604800)
);

CREATE TABLE reservations (
  id uuid PRIMARY KEY,
  job_id uuid NOT NULL REFERENCES reservable_jobs (job_id),
  agent_id uuid NOT NULL REFERENCES agents (id),
  -- The assignment the reservation holds: its escrow is the job's reward.
  assignment_id uuid NOT NULL UNIQUE REFERENCES assignments (id),
  -- `active` until completed with proof, or `expired` (its escrow back to the creator, the job open again).
  status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'completed', 'expired')),
  expires_at timestamptz NOT NULL,
  proof_text text,
  proof_hash text,
  created_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz
);
-- One live reservation per job: the exclusive window.
CREATE UNIQUE INDEX reservations_one_active_idx ON reservations (job_id) WHERE status = 'active';
CREATE INDEX reservations_expiry_idx ON reservations (expires_at) WHERE status = 'active';
CREATE INDEX reservations_agent_idx ON reservations (agent_id, created_at DESC);
