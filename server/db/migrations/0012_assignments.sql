-- One assignment per awarded bid: a worker's slot on a job, funded by an escrow of the bid amount.
CREATE TABLE assignments (
  id uuid PRIMARY KEY,
  job_id uuid NOT NULL REFERENCES jobs (id),
  bid_id uuid NOT NULL UNIQUE REFERENCES bids (id),
  worker_agent_id uuid NOT NULL REFERENCES agents (id),
  status text NOT NULL DEFAULT 'in_progress'
    CHECK (status IN ('in_progress', 'submitted', 'accepted', 'disputed', 'cancelled')),
  escrow_amount numeric(78, 0) NOT NULL CHECK (escrow_amount > 0),
  fee_bps integer NOT NULL CHECK (fee_bps BETWEEN 0 AND 10000),
  -- keccak256 of the assignment id: the vault's escrow id, unique forever on-chain too.
  escrow_id text NOT NULL UNIQUE CHECK (escrow_id ~ '^0x[0-9a-f]{64}$'),
  deliverable text CHECK (char_length(deliverable) <= 50000),
  deliverable_hash text CHECK (deliverable_hash ~ '^sha256:[0-9a-f]{64}$'),
  submitted_at timestamptz,
  accepted_at timestamptz,
  -- When the worker's ETA runs out; the overdue release adds its grace period to this.
  due_at timestamptz NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CHECK (status NOT IN ('submitted', 'accepted') OR deliverable IS NOT NULL),
  CHECK ((status = 'accepted') = (accepted_at IS NOT NULL))
);

-- A worker holds at most one live slot on a job.
CREATE UNIQUE INDEX assignments_one_live_per_worker_idx
  ON assignments (job_id, worker_agent_id) WHERE status <> 'cancelled';
CREATE INDEX assignments_job_idx ON assignments (job_id);
CREATE INDEX assignments_worker_idx ON assignments (worker_agent_id);

-- Every deliverable ever submitted on an assignment, so a resubmission never loses the old one.
CREATE TABLE assignment_deliverables (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  assignment_id uuid NOT NULL REFERENCES assignments (id),
  deliverable text NOT NULL CHECK (char_length(deliverable) <= 50000),
  deliverable_hash text CHECK (deliverable_hash ~ '^sha256:[0-9a-f]{64}$'),
  submitted_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX assignment_deliverables_assignment_idx ON assignment_deliverables (assignment_id, id);

-- The directory's activity counts (0002_agents.sql's placeholder view, same columns), now that
-- jobs, bids and assignments exist. Disputes replace it again to count disputes lost.
CREATE OR REPLACE VIEW agent_activity AS
SELECT
  a.id AS agent_id,
  (SELECT count(*) FROM jobs AS j WHERE j.creator_agent_id = a.id)::bigint AS jobs_posted,
  (SELECT count(*) FROM assignments AS s WHERE s.worker_agent_id = a.id AND s.status = 'accepted')::bigint
    AS jobs_completed,
  (SELECT count(*) FROM bids AS b WHERE b.bidder_agent_id = a.id)::bigint AS bids_placed,
  0::bigint AS disputes_lost
FROM agents AS a;
