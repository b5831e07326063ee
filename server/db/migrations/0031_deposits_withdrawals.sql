-- Every `Deposited` log of the vault, once per (chain, tx, log index). `account` is the vault
-- account credited (an agent's wallet); `agent_id` is set once an agent holds that wallet.
-- Status: pending_deposit (seen, not yet confirmed) → processing (confirmed, waiting for an agent to
-- hold the wallet) → success (credited) | failed (the block was reorganised away; un-credited).
CREATE TABLE deposits (
  id uuid PRIMARY KEY,
  chain_id bigint NOT NULL CHECK (chain_id > 0),
  tx_hash text NOT NULL CHECK (tx_hash ~ '^0x[0-9a-f]{64}$'),
  log_index integer NOT NULL CHECK (log_index >= 0),
  block_number bigint NOT NULL CHECK (block_number >= 0),
  account text NOT NULL CHECK (account ~ '^0x[0-9a-f]{40}$'),
  token text NOT NULL CHECK (token ~ '^0x[0-9a-f]{40}$'),
  from_address text NOT NULL CHECK (from_address ~ '^0x[0-9a-f]{40}$'),
  amount numeric(78, 0) NOT NULL CHECK (amount > 0),
  status text NOT NULL CHECK (status IN ('pending_deposit', 'processing', 'success', 'failed')),
  agent_id uuid REFERENCES agents (id),
  credit_transaction_id uuid REFERENCES ledger_transactions (id),
  failure_reason text,
  -- Times the block was reorganised away; a re-included log is credited under a fresh reference.
  reorg_count integer NOT NULL DEFAULT 0 CHECK (reorg_count >= 0),
  created_at timestamptz NOT NULL DEFAULT now(),
  credited_at timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (chain_id, tx_hash, log_index),
  CHECK (status <> 'success' OR (agent_id IS NOT NULL AND credit_transaction_id IS NOT NULL))
);
CREATE INDEX deposits_agent_created ON deposits (agent_id, created_at DESC, id) WHERE agent_id IS NOT NULL;
CREATE INDEX deposits_unclaimed_account ON deposits (account) WHERE status = 'processing';

-- Saved payout addresses (seed 002), at most one default per agent.
CREATE TABLE withdrawal_addresses (
  id uuid PRIMARY KEY,
  agent_id uuid NOT NULL REFERENCES agents (id),
  address text NOT NULL CHECK (address ~ '^0x[0-9a-f]{40}$' AND address <> '0x0000000000000000000000000000000000000000'),
  label text CHECK (label IS NULL OR length(label) BETWEEN 1 AND 100),
  is_default boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (agent_id, address)
);
CREATE UNIQUE INDEX withdrawal_addresses_one_default ON withdrawal_addresses (agent_id) WHERE is_default;
CREATE INDEX withdrawal_addresses_agent ON withdrawal_addresses (agent_id, created_at);

-- Withdrawals of both paths. `fast`: asked for through the API, debited from the ledger when its
-- owner-signed `Withdrawal` op is queued for the settler (reference 'withdrawal:<id>'), confirmed
-- by the indexer's `Withdrawn` log. `slow`: a `Withdrawn` log the coordinator never queued
-- (requestWithdrawal → executeWithdrawal on-chain), debited when indexed so the ledger follows the chain.
-- Status: awaiting_signature (fast, self-custody wallet) → pending (debited, op queued) → success | failed.
CREATE TABLE withdrawals (
  id uuid PRIMARY KEY,
  path text NOT NULL CHECK (path IN ('fast', 'slow')),
  agent_id uuid REFERENCES agents (id),
  chain_id bigint NOT NULL CHECK (chain_id > 0),
  account text NOT NULL CHECK (account ~ '^0x[0-9a-f]{40}$'),
  token text NOT NULL CHECK (token ~ '^0x[0-9a-f]{40}$'),
  amount numeric(78, 0) NOT NULL CHECK (amount > 0),
  to_address text NOT NULL CHECK (to_address ~ '^0x[0-9a-f]{40}$'),
  withdrawal_address_id uuid REFERENCES withdrawal_addresses (id) ON DELETE SET NULL,
  nonce numeric(78, 0) CHECK (nonce >= 0),
  deadline bigint CHECK (deadline > 0),
  owner_signature text CHECK (owner_signature IS NULL OR owner_signature ~ '^0x[0-9a-f]{130}$'),
  status text NOT NULL CHECK (status IN ('awaiting_signature', 'pending', 'success', 'failed')),
  debit_transaction_id uuid REFERENCES ledger_transactions (id),
  refund_transaction_id uuid REFERENCES ledger_transactions (id),
  -- The `Withdrawn` log that settled it, while that log is on the chain.
  event_tx_hash text CHECK (event_tx_hash IS NULL OR event_tx_hash ~ '^0x[0-9a-f]{64}$'),
  event_log_index integer CHECK (event_log_index IS NULL OR event_log_index >= 0),
  event_block_number bigint,
  reorg_count integer NOT NULL DEFAULT 0 CHECK (reorg_count >= 0),
  failure_reason text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  completed_at timestamptz,
  CHECK (path = 'slow' OR (agent_id IS NOT NULL AND nonce IS NOT NULL AND deadline IS NOT NULL)),
  CHECK (path = 'fast' OR status IN ('success', 'failed')),
  CHECK ((event_tx_hash IS NULL) = (event_log_index IS NULL))
);
CREATE UNIQUE INDEX withdrawals_nonce ON withdrawals (chain_id, account, nonce) WHERE nonce IS NOT NULL;
CREATE UNIQUE INDEX withdrawals_event ON withdrawals (chain_id, event_tx_hash, event_log_index)
  WHERE event_tx_hash IS NOT NULL;
CREATE INDEX withdrawals_agent_created ON withdrawals (agent_id, created_at DESC, id) WHERE agent_id IS NOT NULL;
CREATE INDEX withdrawals_open ON withdrawals (chain_id, account, token) WHERE status = 'pending';
CREATE INDEX withdrawals_unclaimed_account ON withdrawals (account) WHERE agent_id IS NULL;
