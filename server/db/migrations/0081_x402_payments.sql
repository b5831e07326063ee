-- x402 payments (issue 19): a call to a service paid by an x402 client with an EIP-3009
-- TransferWithAuthorization to the vault. The row is written before the provider is called, so an
-- authorization is spent at most once (one row per payer and nonce) and a payment identifier
-- answers its retries from here; the vault's PaidWithAuthorization log credits the provider in the
-- ledger when the indexer books it. The x402 room owns this table.
CREATE TABLE x402_payments (
  id uuid PRIMARY KEY,
  -- Keyset order of the lists.
  seq bigserial NOT NULL UNIQUE,
  service_id uuid NOT NULL REFERENCES services (id),
  provider_agent_id uuid NOT NULL REFERENCES agents (id),
  -- The provider's wallet at the time of the call: the vault pays it.
  payee text NOT NULL CHECK (payee ~ '^0x[0-9a-f]{40}$'),
  payer text NOT NULL CHECK (payer ~ '^0x[0-9a-f]{40}$'),
  token_address text NOT NULL CHECK (token_address ~ '^0x[0-9a-f]{40}$'),
  token_decimals integer NOT NULL CHECK (token_decimals BETWEEN 0 AND 36),
  amount numeric(78, 0) NOT NULL CHECK (amount > 0),
  nonce text NOT NULL CHECK (nonce ~ '^0x[0-9a-f]{64}$'),
  -- x402's payment-identifier extension, when the client sent one.
  payment_identifier text CHECK (payment_identifier ~ '^[A-Za-z0-9_-]{16,128}$'),
  -- sha256 of the method, service and body: a payment identifier reused for another request is refused.
  request_hash text NOT NULL,
  -- `calling` the provider, `settling` on-chain, `paid`, or `failed` (nothing spent, or the
  -- spend reverted: failure_reason says which).
  status text NOT NULL CHECK (status IN ('calling', 'settling', 'paid', 'failed')),
  failure_reason text,
  tx_hash text CHECK (tx_hash ~ '^0x[0-9a-f]{64}$'),
  -- The provider's answer, kept to answer a retry with the same payment identifier.
  output jsonb,
  response_hash text,
  upstream_status integer,
  duration_ms integer,
  -- From the vault's PaidWithAuthorization log, once indexed.
  fee numeric(78, 0) CHECK (fee >= 0),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (payer, nonce),
  CHECK ((status = 'failed') = (failure_reason IS NOT NULL)),
  CHECK (status <> 'paid' OR tx_hash IS NOT NULL)
);

CREATE UNIQUE INDEX x402_payments_identifier_key
  ON x402_payments (payer, service_id, payment_identifier) WHERE payment_identifier IS NOT NULL;
CREATE INDEX x402_payments_provider_idx ON x402_payments (provider_agent_id, seq DESC);
CREATE INDEX x402_payments_paid_idx ON x402_payments (seq) WHERE status = 'paid';

ALTER TABLE ledger_transactions DROP CONSTRAINT ledger_transactions_kind_check;
ALTER TABLE ledger_transactions ADD CONSTRAINT ledger_transactions_kind_check
  CHECK (kind IN (
    'deposit', 'withdrawal', 'escrow_lock', 'escrow_release', 'escrow_refund',
    'deposit_reversal', 'withdrawal_refund', 'withdrawal_reversal', 'debt_repayment',
    'escrow_settlement', 'escrow_settlement_reversal', 'escrow_release_reversal', 'escrow_ruling',
    'reorg_reversal', 'channel_funding', 'channel_funding_return', 'channel_settlement', 'channel_refund',
    'escrow_partial_release', 'x402_payment'
  ));
