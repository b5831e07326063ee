-- What service agents' managed wallets signed to pay x402 endpoints (issue 19, direction 2): one
-- row per TransferWithAuthorization the invoke proxy sent, whatever the endpoint did with it, so
-- the agent can see what its wallet paid, and which signed authorizations an endpoint that refused
-- or never answered could still spend until `valid_before`. The invoke room owns this table.
CREATE TABLE x402_endpoint_payments (
  id uuid PRIMARY KEY,
  -- Keyset order of the list.
  seq bigserial NOT NULL UNIQUE,
  service_id uuid NOT NULL REFERENCES services (id),
  agent_id uuid NOT NULL REFERENCES agents (id),
  payer text NOT NULL CHECK (payer ~ '^0x[0-9a-f]{40}$'),
  pay_to text NOT NULL CHECK (pay_to ~ '^0x[0-9a-f]{40}$'),
  token_address text NOT NULL CHECK (token_address ~ '^0x[0-9a-f]{40}$'),
  token_decimals integer NOT NULL CHECK (token_decimals BETWEEN 0 AND 36),
  amount numeric(78, 0) NOT NULL CHECK (amount > 0),
  nonce text NOT NULL CHECK (nonce ~ '^0x[0-9a-f]{64}$'),
  -- Unix seconds: after it the authorization can no longer be spent.
  valid_before numeric(78, 0) NOT NULL,
  -- `answered` (a 2xx to the paid call), `refused` (402 again), `failed` (another error status),
  -- `unanswered` (no answer at all).
  outcome text NOT NULL CHECK (outcome IN ('answered', 'refused', 'failed', 'unanswered')),
  upstream_status integer,
  -- The transaction the endpoint's PAYMENT-RESPONSE named, if it named one.
  tx_hash text CHECK (tx_hash ~ '^0x[0-9a-f]{64}$'),
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (payer, nonce)
);

CREATE INDEX x402_endpoint_payments_agent ON x402_endpoint_payments (agent_id, seq DESC);
