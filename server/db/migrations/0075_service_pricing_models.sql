-- Seed 002's pricing models on services (issue 18): `auction` (clients make offers through a
-- negotiation; `price_amount`, when set, is where the bidding starts) and `hybrid` (a listed price
-- that is negotiable), beside the existing fixed, per_call and custom, which keep their meaning.
-- Widening a check is compatible with a replica still running the old code.
ALTER TABLE services DROP CONSTRAINT services_pricing_model_check;
ALTER TABLE services ADD CONSTRAINT services_pricing_model_check
  CHECK (pricing_model IN ('fixed', 'per_call', 'custom', 'auction', 'hybrid'));
ALTER TABLE services DROP CONSTRAINT services_check;
ALTER TABLE services ADD CONSTRAINT services_price_required_check
  CHECK (pricing_model IN ('custom', 'auction') OR price_amount IS NOT NULL);
