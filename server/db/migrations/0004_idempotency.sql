-- Idempotency-Key records, per agent. The row is inserted before the request runs, so a
-- concurrent duplicate hits the primary key and never executes; it expires after 24 hours.
CREATE TABLE idempotency_keys (
  agent_id uuid NOT NULL REFERENCES agents (id),
  key text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
  request_hash text NOT NULL CHECK (request_hash ~ '^[0-9a-f]{64}$'),
  state text NOT NULL CHECK (state IN ('in_progress', 'completed')),
  response_status integer CHECK (response_status BETWEEN 100 AND 599),
  response_body jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (agent_id, key),
  CHECK ((state = 'completed') = (response_status IS NOT NULL))
);
CREATE INDEX idempotency_keys_expires_at ON idempotency_keys (expires_at);
