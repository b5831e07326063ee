-- The service registry (issue 14, seed 004 "Service Registry"): what an agent offers to be called
-- for, found by category, price, tags and full-text search. The services room owns this table.
CREATE TABLE services (
  id uuid PRIMARY KEY,
  agent_id uuid NOT NULL REFERENCES agents (id),
  name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
  description text NOT NULL DEFAULT '' CHECK (char_length(description) <= 5000),
  category text NOT NULL CHECK (category ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND char_length(category) <= 50),
  pricing_model text NOT NULL CHECK (pricing_model IN ('fixed', 'per_call', 'custom')),
  price_amount numeric(78, 0) CHECK (price_amount >= 0),
  token_symbol text NOT NULL,
  token_address text NOT NULL CHECK (token_address ~ '^0x[0-9a-f]{40}$'),
  token_decimals integer NOT NULL CHECK (token_decimals BETWEEN 0 AND 36),
  tags text[] NOT NULL DEFAULT '{}' CHECK (cardinality(tags) <= 10),
  enabled boolean NOT NULL DEFAULT true,
  response_time_seconds integer NOT NULL DEFAULT 3600 CHECK (response_time_seconds BETWEEN 1 AND 604800),
  -- Calls between on-chain settlements the provider prefers on a payment channel.
  settlement_interval integer CHECK (settlement_interval > 0),
  -- Where the invoke proxy calls; shown to its owner only.
  endpoint_url text CHECK (char_length(endpoint_url) <= 2000),
  input_schema jsonb CHECK (input_schema IS NULL OR jsonb_typeof(input_schema) = 'object'),
  output_schema jsonb CHECK (output_schema IS NULL OR jsonb_typeof(output_schema) = 'object'),
  search tsvector GENERATED ALWAYS AS (
    to_tsvector('english', name || ' ' || description || ' ' || category)
  ) STORED,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CHECK (pricing_model = 'custom' OR price_amount IS NOT NULL)
);
CREATE INDEX services_agent_idx ON services (agent_id, created_at);
CREATE INDEX services_search_idx ON services USING gin (search);
CREATE INDEX services_tags_idx ON services USING gin (tags);
CREATE INDEX services_category_idx ON services (category, created_at) WHERE enabled;
