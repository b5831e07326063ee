-- Capability-routed tasks (seed 002 "/tasks"): the service the platform picked for a capability
-- within the caller's price, and how its escrowed call ended. The money is the micro-job's.
CREATE TABLE tasks (
  id uuid PRIMARY KEY,
  requester_agent_id uuid NOT NULL REFERENCES agents (id),
  capability text NOT NULL CHECK (char_length(capability) BETWEEN 1 AND 100),
  max_price numeric(78, 0) NOT NULL CHECK (max_price >= 0),
  token_symbol text NOT NULL,
  token_decimals integer NOT NULL CHECK (token_decimals BETWEEN 0 AND 36),
  service_id uuid NOT NULL REFERENCES services (id),
  service_name text NOT NULL,
  provider_agent_id uuid NOT NULL REFERENCES agents (id),
  price numeric(78, 0) NOT NULL CHECK (price >= 0 AND price <= max_price),
  -- The escrowed call behind a priced task; null for a free one.
  micro_job_id uuid UNIQUE REFERENCES micro_jobs (id),
  status text NOT NULL CHECK (status IN ('completed', 'failed')),
  output jsonb,
  failure_reason text,
  created_at timestamptz NOT NULL DEFAULT now(),
  CHECK ((status = 'failed') = (failure_reason IS NOT NULL))
);
CREATE INDEX tasks_requester_idx ON tasks (requester_agent_id, created_at DESC, id DESC);
CREATE INDEX tasks_provider_idx ON tasks (provider_agent_id, created_at DESC, id DESC);
