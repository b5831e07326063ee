-- Per-call payment channels (issue 14, seed 004 "Payment Channels"). The channels room owns these
-- tables. A channel is the vault's `PaymentChannels` channel for one (caller, service): the caller
-- funds it from its vault balance with a signed `ChannelFunding`, pays each call with a voucher for
-- the new cumulative amount, and the coordinator settles the newest voucher in its batches.

-- The caller's money held in its channels: in the vault, out of its spendable balance. It follows
-- the chain (paid out when a `ChannelSettled` lands, refunded when a `ChannelClosed` does), so like
-- `debt` it keeps no running balance that a booking could be refused on.
ALTER TABLE ledger_accounts DROP CONSTRAINT ledger_accounts_kind_check;
ALTER TABLE ledger_accounts ADD CONSTRAINT ledger_accounts_kind_check
  CHECK (kind IN ('available', 'escrow', 'unsettled', 'debt', 'channel', 'fees', 'vault', 'unclaimed'));
ALTER TABLE ledger_accounts DROP CONSTRAINT ledger_accounts_check;
ALTER TABLE ledger_accounts ADD CONSTRAINT ledger_accounts_check
  CHECK ((agent_id IS NOT NULL) = (kind IN ('available', 'escrow', 'unsettled', 'debt', 'channel')));

ALTER TABLE ledger_transactions DROP CONSTRAINT ledger_transactions_kind_check;
ALTER TABLE ledger_transactions ADD CONSTRAINT ledger_transactions_kind_check
  CHECK (kind IN (
    'deposit', 'withdrawal', 'escrow_lock', 'escrow_release', 'escrow_refund',
    'deposit_reversal', 'withdrawal_refund', 'withdrawal_reversal', 'debt_repayment',
    'escrow_settlement', 'escrow_settlement_reversal', 'escrow_release_reversal', 'escrow_ruling',
    'reorg_reversal', 'channel_funding', 'channel_funding_return', 'channel_settlement', 'channel_refund'
  ));

CREATE TABLE channels (
  id uuid PRIMARY KEY,
  chain_id bigint NOT NULL CHECK (chain_id > 0),
  vault_address text NOT NULL CHECK (vault_address ~ '^0x[0-9a-f]{40}$'),
  -- The vault's id: the EIP-712 digest of the config below.
  vault_channel_id text NOT NULL CHECK (vault_channel_id ~ '^0x[0-9a-f]{64}$'),
  service_id uuid NOT NULL REFERENCES services (id),
  caller_agent_id uuid NOT NULL REFERENCES agents (id),
  provider_agent_id uuid NOT NULL REFERENCES agents (id) CHECK (provider_agent_id <> caller_agent_id),
  caller_address text NOT NULL CHECK (caller_address ~ '^0x[0-9a-f]{40}$'),
  provider_address text NOT NULL CHECK (provider_address ~ '^0x[0-9a-f]{40}$'),
  token_address text NOT NULL CHECK (token_address ~ '^0x[0-9a-f]{40}$'),
  token_symbol text NOT NULL,
  token_decimals integer NOT NULL CHECK (token_decimals BETWEEN 0 AND 36),
  fee_bps integer NOT NULL CHECK (fee_bps BETWEEN 0 AND 10000),
  salt text NOT NULL CHECK (salt ~ '^0x[0-9a-f]{64}$'),
  settlement_interval integer NOT NULL CHECK (settlement_interval > 0),
  -- What each call costs, fixed when the channel opens: a provider cannot reprice an open channel.
  price_per_call numeric(78, 0) NOT NULL CHECK (price_per_call >= 0),
  status text NOT NULL CHECK (status IN ('pending_signature', 'active', 'closing', 'closed', 'failed')),
  -- Signed fundings (queued or landed): what vouchers may reach.
  deposit numeric(78, 0) NOT NULL DEFAULT 0 CHECK (deposit >= 0),
  -- The newest voucher: every call recorded so far is paid by it.
  last_sequence bigint NOT NULL DEFAULT 0 CHECK (last_sequence >= 0),
  cumulative_amount numeric(78, 0) NOT NULL DEFAULT 0 CHECK (cumulative_amount >= 0),
  call_chain text NOT NULL DEFAULT '0x0000000000000000000000000000000000000000000000000000000000000000',
  voucher_signature text CHECK (voucher_signature ~ '^0x[0-9a-f]{130}$'),
  -- The newest voucher handed to the settler, and the newest the vault settled.
  queued_sequence bigint NOT NULL DEFAULT 0,
  queued_amount numeric(78, 0) NOT NULL DEFAULT 0,
  settled_sequence bigint NOT NULL DEFAULT 0,
  settled_amount numeric(78, 0) NOT NULL DEFAULT 0 CHECK (settled_amount >= 0),
  -- A caller's unilateral close (`ChannelCloseRequested`): when it may be finalized.
  closes_at timestamptz,
  refund numeric(78, 0),
  last_call_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (chain_id, vault_channel_id)
);
-- One open channel per (caller, service), seed 004.
CREATE UNIQUE INDEX channels_one_open_idx ON channels (caller_agent_id, service_id)
  WHERE status IN ('pending_signature', 'active');
CREATE INDEX channels_caller_idx ON channels (caller_agent_id, created_at DESC);
CREATE INDEX channels_provider_idx ON channels (provider_agent_id, created_at DESC);
-- The timers' scans: unsettled calls, idle channels.
CREATE INDEX channels_unsettled_idx ON channels (last_call_at) WHERE status = 'active' AND last_sequence > queued_sequence;
CREATE INDEX channels_active_idx ON channels (last_call_at) WHERE status = 'active';

-- Every `ChannelFunding` the caller signs (or is asked to sign): the opening deposit and each top-up.
CREATE TABLE channel_fundings (
  id bigserial PRIMARY KEY,
  channel_id uuid NOT NULL REFERENCES channels (id),
  amount numeric(78, 0) NOT NULL CHECK (amount > 0),
  total_deposit numeric(78, 0) NOT NULL CHECK (total_deposit >= amount),
  nonce numeric(78, 0) NOT NULL,
  signature text CHECK (signature ~ '^0x[0-9a-f]{130}$'),
  status text NOT NULL CHECK (status IN ('awaiting_signature', 'queued', 'confirmed', 'failed', 'abandoned')),
  chain_op_id bigint REFERENCES chain_ops (id),
  failure_reason text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CHECK (status IN ('awaiting_signature', 'abandoned') OR signature IS NOT NULL)
);
CREATE INDEX channel_fundings_channel_idx ON channel_fundings (channel_id, id);
CREATE INDEX channel_fundings_open_idx ON channel_fundings (channel_id) WHERE status IN ('awaiting_signature', 'queued');
CREATE UNIQUE INDEX channel_fundings_op_idx ON channel_fundings (chain_op_id);

-- The per-call log: each paid call and the voucher that paid it, in sequence order.
CREATE TABLE channel_calls (
  channel_id uuid NOT NULL REFERENCES channels (id),
  sequence bigint NOT NULL CHECK (sequence > 0),
  id uuid NOT NULL UNIQUE,
  amount numeric(78, 0) NOT NULL CHECK (amount >= 0),
  cumulative_amount numeric(78, 0) NOT NULL,
  request_hash text NOT NULL,
  response_hash text NOT NULL,
  call_record_hash text NOT NULL,
  call_chain text NOT NULL,
  voucher_signature text NOT NULL,
  upstream_status integer NOT NULL,
  started_at timestamptz NOT NULL,
  duration_ms integer NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (channel_id, sequence)
);

-- A voucher handed to the settler: a settlement (`ChannelSettle`) or the final one of a cooperative
-- close (`ChannelClose`). Booked in the ledger when its `ChannelSettled` lands, not before.
CREATE TABLE channel_settlements (
  id uuid PRIMARY KEY,
  channel_id uuid NOT NULL REFERENCES channels (id),
  kind text NOT NULL CHECK (kind IN ('settle', 'close')),
  from_sequence bigint NOT NULL,
  to_sequence bigint NOT NULL CHECK (to_sequence >= from_sequence - 1),
  cumulative_amount numeric(78, 0) NOT NULL,
  amount numeric(78, 0) NOT NULL CHECK (amount >= 0),
  fee numeric(78, 0) NOT NULL CHECK (fee >= 0 AND fee <= amount),
  status text NOT NULL CHECK (status IN ('awaiting_signature', 'pending', 'settled', 'failed')),
  chain_op_id bigint REFERENCES chain_ops (id),
  tx_hash text,
  failure_reason text,
  created_at timestamptz NOT NULL DEFAULT now(),
  settled_at timestamptz
);
CREATE INDEX channel_settlements_channel_idx ON channel_settlements (channel_id, created_at DESC);
CREATE UNIQUE INDEX channel_settlements_op_idx ON channel_settlements (chain_op_id);
