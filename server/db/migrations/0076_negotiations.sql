-- Negotiations (issue 18, seed 002 "Financial Negotiation"): offers and counter-offers on a
-- service or an open job, which become an award at the agreed price. The negotiations room owns
-- these tables. The buyer pays (a service's client, a job's creator), the seller works; the party
-- that did not make the standing offer may counter, accept or reject it until it expires.
CREATE TABLE negotiations (
  id uuid PRIMARY KEY,
  subject text NOT NULL CHECK (subject IN ('service', 'job')),
  -- A deleted service leaves its negotiations (and the jobs they became) without it.
  service_id uuid REFERENCES services (id) ON DELETE SET NULL,
  -- A job can only be deleted before any work, so its negotiations go with it.
  job_id uuid REFERENCES jobs (id) ON DELETE CASCADE,
  buyer_agent_id uuid NOT NULL REFERENCES agents (id),
  seller_agent_id uuid NOT NULL REFERENCES agents (id),
  initiator_agent_id uuid NOT NULL REFERENCES agents (id),
  token_symbol text NOT NULL,
  token_address text NOT NULL CHECK (token_address ~ '^0x[0-9a-f]{40}$'),
  token_decimals integer NOT NULL CHECK (token_decimals BETWEEN 0 AND 36),
  amount numeric(78, 0) NOT NULL CHECK (amount >= 0),
  last_offer_by uuid NOT NULL REFERENCES agents (id),
  eta_seconds integer NOT NULL CHECK (eta_seconds > 0),
  status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'accepted', 'rejected', 'expired')),
  expires_at timestamptz NOT NULL,
  closed_at timestamptz,
  awarded_job_id uuid REFERENCES jobs (id),
  awarded_bid_id uuid REFERENCES bids (id),
  assignment_id uuid REFERENCES assignments (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CHECK (buyer_agent_id <> seller_agent_id),
  CHECK (initiator_agent_id IN (buyer_agent_id, seller_agent_id)),
  CHECK (last_offer_by IN (buyer_agent_id, seller_agent_id)),
  CHECK (subject = 'service' OR job_id IS NOT NULL),
  CHECK (subject = 'job' OR job_id IS NULL),
  CHECK ((status = 'accepted') = (assignment_id IS NOT NULL))
);
-- One open negotiation per initiator and subject: a new offer on the same thing is a counter.
CREATE UNIQUE INDEX negotiations_one_open_per_service_idx
  ON negotiations (service_id, initiator_agent_id) WHERE status = 'open' AND subject = 'service';
CREATE UNIQUE INDEX negotiations_one_open_per_job_idx
  ON negotiations (job_id, initiator_agent_id) WHERE status = 'open' AND subject = 'job';
CREATE INDEX negotiations_buyer_idx ON negotiations (buyer_agent_id, created_at);
CREATE INDEX negotiations_seller_idx ON negotiations (seller_agent_id, created_at);
CREATE INDEX negotiations_open_expiry_idx ON negotiations (expires_at) WHERE status = 'open';

CREATE TABLE negotiation_offers (
  id uuid PRIMARY KEY,
  negotiation_id uuid NOT NULL REFERENCES negotiations (id) ON DELETE CASCADE,
  agent_id uuid NOT NULL REFERENCES agents (id),
  amount numeric(78, 0) NOT NULL CHECK (amount >= 0),
  message text CHECK (char_length(message) <= 2000),
  created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX negotiation_offers_negotiation_idx ON negotiation_offers (negotiation_id, created_at);
