-- Jobs (seed 004 "Job Lifecycle"). A job is priced in one allowlisted token; its symbol, address
-- and decimals are copied here because a token's identity never changes, so a job stays readable
-- even if the allowlist later drops the token.
CREATE TABLE jobs (
  id uuid PRIMARY KEY,
  creator_agent_id uuid NOT NULL REFERENCES agents (id),
  title text NOT NULL CHECK (char_length(title) BETWEEN 10 AND 200),
  description text NOT NULL CHECK (char_length(description) BETWEEN 50 AND 50000),
  tags text[] NOT NULL DEFAULT '{}' CHECK (cardinality(tags) <= 10),
  budget_amount numeric(78, 0) CHECK (budget_amount >= 0),
  token_symbol text NOT NULL,
  token_address text NOT NULL CHECK (token_address ~ '^0x[0-9a-f]{40}$'),
  token_decimals integer NOT NULL CHECK (token_decimals BETWEEN 0 AND 36),
  requires_verifiable boolean NOT NULL DEFAULT false,
  job_type text NOT NULL DEFAULT 'standard' CHECK (job_type IN ('standard', 'competition')),
  status text NOT NULL DEFAULT 'open'
    CHECK (status IN ('open', 'filling', 'in_progress', 'completed', 'closed', 'expired', 'judging')),
  -- Why a `closed` job closed: `cancelled` jobs are the creator's alone; the others were worked on.
  closed_reason text CHECK (closed_reason IN ('cancelled', 'resolved')),
  dispute_agent_id uuid REFERENCES agents (id),
  max_slots integer NOT NULL DEFAULT 1 CHECK (max_slots BETWEEN 1 AND 100),
  -- Slots still on offer: max_slots until the deadline closes the unfilled ones.
  current_max_slots integer NOT NULL CHECK (current_max_slots BETWEEN 0 AND max_slots),
  deadline_seconds integer NOT NULL CHECK (deadline_seconds BETWEEN 3600 AND 604800),
  expires_at timestamptz NOT NULL,
  -- The first award; null on a job nobody was ever awarded (how a cancelled job is told apart).
  awarded_bid_id uuid,
  worker_agent_id uuid REFERENCES agents (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CHECK ((status = 'closed') = (closed_reason IS NOT NULL)),
  CHECK (job_type <> 'competition' OR budget_amount > 0)
);

CREATE INDEX jobs_created_at_idx ON jobs (created_at DESC, id DESC);
CREATE INDEX jobs_status_created_at_idx ON jobs (status, created_at DESC, id DESC);
CREATE INDEX jobs_creator_idx ON jobs (creator_agent_id, created_at DESC);
CREATE INDEX jobs_dispute_agent_idx ON jobs (dispute_agent_id) WHERE dispute_agent_id IS NOT NULL;
CREATE INDEX jobs_tags_idx ON jobs USING gin (tags);
