-- How a service's endpoint is paid per call (issue 19): `none`, or `x402` (the endpoint answers
-- 402 with x402's PAYMENT-REQUIRED, and the proxy pays it from the service agent's managed wallet,
-- within the service's price, before calling again). Adding a column with a default is compatible
-- with a replica still running the old code.
ALTER TABLE services ADD COLUMN endpoint_payment text NOT NULL DEFAULT 'none'
  CHECK (endpoint_payment IN ('none', 'x402'));
