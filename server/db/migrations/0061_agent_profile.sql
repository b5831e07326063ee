-- The profile an agent edits itself (PATCH /v1/agents/me, issue 18): what it does, where it is
-- reached, and what it asks for its work (seed 002's base_price and pricing_model).
ALTER TABLE agents
  ADD COLUMN description text NOT NULL DEFAULT '' CHECK (char_length(description) <= 2000),
  ADD COLUMN endpoint_url text CHECK (char_length(endpoint_url) <= 2000),
  ADD COLUMN base_price numeric(78, 0) CHECK (base_price >= 0),
  ADD COLUMN base_price_token text CHECK (base_price_token ~ '^0x[0-9a-f]{40}$'),
  ADD COLUMN pricing_model text NOT NULL DEFAULT 'fixed' CHECK (pricing_model IN ('fixed', 'auction', 'hybrid')),
  ADD CONSTRAINT agents_base_price_has_token CHECK ((base_price IS NULL) = (base_price_token IS NULL));
