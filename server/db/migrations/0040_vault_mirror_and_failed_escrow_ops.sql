-- Real operations (issue 11): every account's vault balance, and escrow ops that fail.
--
-- The vault mirror: the vault's internal balance of every account, kept by the indexer from the
-- vault's own logs (every balance change emits one), so reconciliation can compare each account
-- with what the ledger says it holds on-chain, not only the totals. `vault_balance_changes` holds
-- what each log did, so a reorg's undo takes exactly that back. The escrow, channel and treasury
-- rows give the logs that do not repeat them their token and parties (`EscrowReleased` names no
-- token; a channel's logs name no caller or provider; fees go to whoever is treasury then).
CREATE TABLE vault_balances (
  chain_id bigint NOT NULL CHECK (chain_id > 0),
  account text NOT NULL CHECK (account ~ '^0x[0-9a-f]{40}$'),
  token text NOT NULL CHECK (token ~ '^0x[0-9a-f]{40}$'),
  -- Not checked >= 0: a negative mirror is a finding for reconciliation to report, not a reason
  -- to stop the indexer.
  balance numeric(78, 0) NOT NULL,
  PRIMARY KEY (chain_id, account, token)
);

CREATE TABLE vault_balance_changes (
  chain_id bigint NOT NULL CHECK (chain_id > 0),
  tx_hash text NOT NULL CHECK (tx_hash ~ '^0x[0-9a-f]{64}$'),
  log_index integer NOT NULL CHECK (log_index >= 0),
  account text NOT NULL CHECK (account ~ '^0x[0-9a-f]{40}$'),
  token text NOT NULL CHECK (token ~ '^0x[0-9a-f]{40}$'),
  delta numeric(78, 0) NOT NULL CHECK (delta <> 0),
  PRIMARY KEY (chain_id, tx_hash, log_index, account, token)
);

CREATE TABLE vault_escrows (
  chain_id bigint NOT NULL CHECK (chain_id > 0),
  escrow_id text NOT NULL CHECK (escrow_id ~ '^0x[0-9a-f]{64}$'),
  payer text NOT NULL CHECK (payer ~ '^0x[0-9a-f]{40}$'),
  payee text NOT NULL CHECK (payee ~ '^0x[0-9a-f]{40}$'),
  resolver text NOT NULL CHECK (resolver ~ '^0x[0-9a-f]{40}$'),
  token text NOT NULL CHECK (token ~ '^0x[0-9a-f]{40}$'),
  amount numeric(78, 0) NOT NULL CHECK (amount > 0),
  tx_hash text NOT NULL CHECK (tx_hash ~ '^0x[0-9a-f]{64}$'),
  log_index integer NOT NULL CHECK (log_index >= 0),
  -- The log that paid it out (released, refunded, expired or ruled); NULL while it is open.
  closed_tx_hash text CHECK (closed_tx_hash ~ '^0x[0-9a-f]{64}$'),
  closed_log_index integer,
  PRIMARY KEY (chain_id, escrow_id)
);

CREATE TABLE vault_channels (
  chain_id bigint NOT NULL CHECK (chain_id > 0),
  channel_id text NOT NULL CHECK (channel_id ~ '^0x[0-9a-f]{64}$'),
  caller text NOT NULL CHECK (caller ~ '^0x[0-9a-f]{40}$'),
  provider text NOT NULL CHECK (provider ~ '^0x[0-9a-f]{40}$'),
  token text NOT NULL CHECK (token ~ '^0x[0-9a-f]{40}$'),
  fee_bps integer NOT NULL CHECK (fee_bps >= 0 AND fee_bps <= 10000),
  tx_hash text NOT NULL CHECK (tx_hash ~ '^0x[0-9a-f]{64}$'),
  log_index integer NOT NULL CHECK (log_index >= 0),
  PRIMARY KEY (chain_id, channel_id)
);

CREATE TABLE vault_treasuries (
  chain_id bigint NOT NULL CHECK (chain_id > 0),
  block_number bigint NOT NULL CHECK (block_number >= 0),
  log_index integer NOT NULL CHECK (log_index >= 0),
  tx_hash text NOT NULL CHECK (tx_hash ~ '^0x[0-9a-f]{64}$'),
  treasury text NOT NULL CHECK (treasury ~ '^0x[0-9a-f]{40}$'),
  PRIMARY KEY (chain_id, block_number, log_index)
);

-- An escrow op that will never be carried out: a lock the vault refused (a deposit it spent was
-- reorganised away, say), and every later op of its escrow. Its booked effects in the ledger are
-- reversed in the transaction that marks it; `failure_reason` says why.
ALTER TABLE escrow_ops DROP CONSTRAINT escrow_ops_status_check;
ALTER TABLE escrow_ops ADD CONSTRAINT escrow_ops_status_check
  CHECK (status IN ('awaiting_signature', 'signed', 'queued', 'failed'));
ALTER TABLE escrow_ops DROP CONSTRAINT escrow_ops_check;
ALTER TABLE escrow_ops DROP CONSTRAINT escrow_ops_check1;
ALTER TABLE escrow_ops ADD CONSTRAINT escrow_ops_awaiting_signature_check
  CHECK (status = 'failed' OR (status = 'awaiting_signature') = (signature IS NULL));
ALTER TABLE escrow_ops ADD CONSTRAINT escrow_ops_queued_reference_check
  CHECK (status = 'failed' OR (status = 'queued') = (chain_op_reference IS NOT NULL));
ALTER TABLE escrow_ops ADD COLUMN failure_reason text;
-- Where a failed op stood before it failed, so a reorg that drops the failure can put it back.
ALTER TABLE escrow_ops ADD COLUMN status_before_failure text;

-- A failed lock and what its subject's room changed because of it (an assignment's and its job's
-- statuses before), so a reorg that drops the failure can put them back.
CREATE TABLE escrow_lock_failures (
  chain_id bigint NOT NULL CHECK (chain_id > 0),
  escrow_id text NOT NULL CHECK (escrow_id ~ '^0x[0-9a-f]{64}$'),
  subject_before jsonb NOT NULL,
  reason text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (chain_id, escrow_id)
);
