-- Signed webhooks (issue 16, seed 001): an agent's endpoint, and the delivery log the outbox fans
-- out into. The webhooks room owns these tables.
CREATE TABLE webhooks (
  agent_id uuid PRIMARY KEY REFERENCES agents (id),
  url text NOT NULL CHECK (length(url) <= 2048),
  -- The HMAC secret, sealed with the coordinator's encryption key (AES-256-GCM, the agent id as
  -- associated data): a signature needs the secret itself, so it cannot be a hash.
  sealed_secret text NOT NULL,
  -- Events up to this outbox id were written before the webhook existed and are not sent to it.
  from_event_id bigint NOT NULL,
  created_at timestamptz NOT NULL DEFAULT clearhouse_now(),
  updated_at timestamptz NOT NULL DEFAULT clearhouse_now()
);

-- How far the fan-out has read the outbox: one row, locked by the replica fanning out.
CREATE TABLE webhook_fanout_cursor (
  id boolean PRIMARY KEY DEFAULT true CHECK (id),
  last_event_id bigint NOT NULL
);
INSERT INTO webhook_fanout_cursor (last_event_id) SELECT coalesce(max(id), 0) FROM events;

-- One event for one agent's webhook. It keeps its own copy of the event, because the outbox is
-- pruned after 7 days and a delivery log outlives that. A redelivery is a new row naming the one it
-- repeats; only first deliveries are unique per event, so fanning out twice sends once.
CREATE TABLE webhook_deliveries (
  id uuid PRIMARY KEY,
  agent_id uuid NOT NULL REFERENCES agents (id),
  event_id bigint NOT NULL,
  event_type text NOT NULL,
  event_data jsonb NOT NULL,
  event_created_at timestamptz NOT NULL,
  redelivery_of uuid REFERENCES webhook_deliveries (id),
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT clearhouse_now(),
  -- A replica sending it holds it until then; a crash mid-send lets another send it after.
  claimed_until timestamptz,
  last_attempt_at timestamptz,
  response_status integer,
  last_error text,
  created_at timestamptz NOT NULL DEFAULT clearhouse_now(),
  delivered_at timestamptz
);

CREATE UNIQUE INDEX webhook_deliveries_first_idx ON webhook_deliveries (agent_id, event_id)
  WHERE redelivery_of IS NULL;
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_agent_idx ON webhook_deliveries (agent_id, created_at DESC, id DESC);
