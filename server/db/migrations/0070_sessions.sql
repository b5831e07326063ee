-- Sessions (issue 18, seed 000): a multi-turn hire of a service with a budget held in escrow
-- from the client to the service's agent. The client settles the agreed part of the budget (a
-- payer-signed EscrowPartialRelease: the part to the agent less the fee, the rest back in the
-- same vault op), or the agent marks the session failed (its EscrowRefund); a session left
-- unsettled follows its escrow's expiry (the timers reclaim it to the client). The sessions room
-- owns these tables.
CREATE TABLE sessions (
  id uuid PRIMARY KEY,
  service_id uuid NOT NULL REFERENCES services (id),
  client_agent_id uuid NOT NULL REFERENCES agents (id),
  agent_id uuid NOT NULL REFERENCES agents (id) CHECK (agent_id <> client_agent_id),
  token_address text NOT NULL CHECK (token_address ~ '^0x[0-9a-f]{40}$'),
  token_symbol text NOT NULL,
  token_decimals integer NOT NULL CHECK (token_decimals BETWEEN 0 AND 36),
  budget numeric(78, 0) NOT NULL CHECK (budget > 0),
  fee_bps integer NOT NULL CHECK (fee_bps BETWEEN 0 AND 10000),
  escrow_id text NOT NULL UNIQUE CHECK (escrow_id ~ '^0x[0-9a-f]{64}$'),
  -- Unix time from which the client can reclaim the budget on-chain alone.
  escrow_expiry bigint NOT NULL,
  -- `active` until the client settles (`settled`) or the agent gives up (`failed`).
  status text NOT NULL CHECK (status IN ('active', 'settled', 'failed')),
  amount_released numeric(78, 0) CHECK (amount_released >= 0 AND amount_released <= budget),
  failure_reason text,
  created_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  CHECK ((status = 'active') = (finished_at IS NULL)),
  CHECK ((status = 'settled') = (amount_released IS NOT NULL)),
  CHECK ((status = 'failed') = (failure_reason IS NOT NULL))
);

CREATE INDEX sessions_client_idx ON sessions (client_agent_id, created_at DESC, id DESC);
CREATE INDEX sessions_agent_idx ON sessions (agent_id, created_at DESC, id DESC);

-- The conversation, in order: the client's messages and the agent's replies.
CREATE TABLE session_messages (
  session_id uuid NOT NULL REFERENCES sessions (id),
  sequence integer NOT NULL CHECK (sequence > 0),
  author text NOT NULL CHECK (author IN ('client', 'agent')),
  body text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (session_id, sequence)
);

-- A session's escrow ops: its lock, then its partial release or its refund.
ALTER TABLE escrow_ops ADD COLUMN session_id uuid REFERENCES sessions (id);
ALTER TABLE escrow_ops DROP CONSTRAINT escrow_ops_one_subject;
ALTER TABLE escrow_ops ADD CONSTRAINT escrow_ops_one_subject
  CHECK (num_nonnulls(assignment_id, entry_id, dispute_id, micro_job_id, session_id) = 1);
ALTER TABLE escrow_ops ADD CONSTRAINT escrow_ops_session_kind_key UNIQUE (session_id, kind);
-- The payer's partial release names the part it releases, signed with it.
ALTER TABLE escrow_ops ADD COLUMN release_amount numeric(78, 0) CHECK (release_amount >= 0);
ALTER TABLE escrow_ops DROP CONSTRAINT escrow_ops_kind_check;
ALTER TABLE escrow_ops ADD CONSTRAINT escrow_ops_kind_check
  CHECK (kind IN ('escrow_lock', 'escrow_release', 'escrow_ruling', 'escrow_refund', 'escrow_partial_release'));
ALTER TABLE escrow_ops ADD CONSTRAINT escrow_ops_partial_release_amount
  CHECK ((kind = 'escrow_partial_release') = (release_amount IS NOT NULL));

ALTER TABLE ledger_transactions DROP CONSTRAINT ledger_transactions_kind_check;
ALTER TABLE ledger_transactions ADD CONSTRAINT ledger_transactions_kind_check
  CHECK (kind IN (
    'deposit', 'withdrawal', 'escrow_lock', 'escrow_release', 'escrow_refund',
    'deposit_reversal', 'withdrawal_refund', 'withdrawal_reversal', 'debt_repayment',
    'escrow_settlement', 'escrow_settlement_reversal', 'escrow_release_reversal', 'escrow_ruling',
    'reorg_reversal', 'channel_funding', 'channel_funding_return', 'channel_settlement', 'channel_refund',
    'escrow_partial_release'
  ));

-- The settler's queue takes the vault's new op kind (OpKind.EscrowPartialRelease = 10).
ALTER TABLE chain_ops DROP CONSTRAINT chain_ops_kind_check;
ALTER TABLE chain_ops ADD CONSTRAINT chain_ops_kind_check CHECK (kind BETWEEN 0 AND 10);
