-- Instant jobs (seed 004 "Create Instant Job"): matched to a service, funded and assigned in one
-- call, and handed to the next candidate when a worker misses its service's response time.

ALTER TABLE jobs DROP CONSTRAINT jobs_job_type_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_job_type_check CHECK (job_type IN ('standard', 'competition', 'instant'));
-- Seed 004 sets no lower bound on an instant job's title and description: the service was chosen,
-- not a crowd of bidders persuaded.
ALTER TABLE jobs DROP CONSTRAINT jobs_title_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_title_check
  CHECK (char_length(title) <= 200 AND (char_length(title) >= 10 OR (job_type = 'instant' AND char_length(title) >= 1)));
ALTER TABLE jobs DROP CONSTRAINT jobs_description_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_description_check
  CHECK (char_length(description) <= 50000
    AND (char_length(description) >= 50 OR (job_type = 'instant' AND char_length(description) >= 1)));

-- One row per instant job: how it was matched and where its reassignment stands.
CREATE TABLE instant_jobs (
  job_id uuid PRIMARY KEY REFERENCES jobs (id),
  -- The service the caller named (mode 1), or null when it was matched by category (mode 2).
  requested_service_id uuid REFERENCES services (id),
  category text,
  match_query text,
  -- The services to try, in order; the first is the one assigned at creation.
  candidate_service_ids uuid[] NOT NULL CHECK (cardinality(candidate_service_ids) BETWEEN 1 AND 3),
  -- `assigned`: a worker holds it; `reassigning`: the last one missed its SLA and the next is due;
  -- `delivered`: a worker submitted in time; `failed`: every candidate missed or none was left.
  status text NOT NULL DEFAULT 'assigned' CHECK (status IN ('assigned', 'reassigning', 'delivered', 'failed')),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX instant_jobs_reassigning_idx ON instant_jobs (updated_at) WHERE status = 'reassigning';

-- Each worker an instant job was given to, in order.
CREATE TABLE instant_job_attempts (
  job_id uuid NOT NULL REFERENCES instant_jobs (job_id),
  attempt integer NOT NULL CHECK (attempt BETWEEN 1 AND 3),
  service_id uuid NOT NULL REFERENCES services (id),
  worker_agent_id uuid NOT NULL REFERENCES agents (id),
  assignment_id uuid NOT NULL REFERENCES assignments (id),
  -- When the service's response time runs out, by the database clock (`clearhouse_now()`).
  sla_due_at timestamptz NOT NULL,
  -- `assigned` until the worker submits (`delivered`) or the SLA passes (`timed_out`).
  outcome text NOT NULL DEFAULT 'assigned' CHECK (outcome IN ('assigned', 'delivered', 'timed_out')),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (job_id, attempt)
);
CREATE INDEX instant_job_attempts_due_idx ON instant_job_attempts (sla_due_at) WHERE outcome = 'assigned';
