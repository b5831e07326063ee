-- The off-chain ledger, double-entry. Every balance change is one ledger transaction whose entries
-- sum to zero per token (checked again by a deferred trigger at commit). Only server/ledger writes here.
CREATE TABLE ledger_accounts (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind text NOT NULL CHECK (kind IN ('available', 'escrow', 'fees', 'vault')),
  agent_id uuid REFERENCES agents (id),
  CHECK ((agent_id IS NOT NULL) = (kind IN ('available', 'escrow')))
);
CREATE UNIQUE INDEX ledger_accounts_agent_kind ON ledger_accounts (agent_id, kind) WHERE agent_id IS NOT NULL;
CREATE UNIQUE INDEX ledger_accounts_platform_kind ON ledger_accounts (kind) WHERE agent_id IS NULL;
-- The platform's accounts: fees it earned, and the on-chain vault, the outside side of every
-- deposit and withdrawal (its ledger balance is minus what agents hold through it).
INSERT INTO ledger_accounts (kind) VALUES ('fees'), ('vault');

-- A reference makes every money movement idempotent: posting it again returns the first transaction.
CREATE TABLE ledger_transactions (
  id uuid PRIMARY KEY,
  reference text NOT NULL UNIQUE CHECK (length(reference) BETWEEN 1 AND 200),
  kind text NOT NULL CHECK (kind IN ('deposit', 'withdrawal', 'escrow_lock', 'escrow_release', 'escrow_refund')),
  token text NOT NULL CHECK (token ~ '^0x[0-9a-f]{40}$'),
  amount numeric(78, 0) NOT NULL CHECK (amount >= 0),
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ledger_entries (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  transaction_id uuid NOT NULL REFERENCES ledger_transactions (id),
  account_id bigint NOT NULL REFERENCES ledger_accounts (id),
  token text NOT NULL CHECK (token ~ '^0x[0-9a-f]{40}$'),
  amount numeric(78, 0) NOT NULL CHECK (amount <> 0),
  -- The account's balance right after this entry; null for platform accounts, which keep no
  -- running balance so that they never become a lock every transaction waits on.
  balance_after numeric(78, 0) CHECK (balance_after IS NULL OR balance_after >= 0),
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ledger_entries_account_id ON ledger_entries (account_id, id);
CREATE INDEX ledger_entries_transaction_id ON ledger_entries (transaction_id);

-- Running balances of agent accounts, the rows a money movement locks FOR UPDATE.
CREATE TABLE ledger_balances (
  account_id bigint NOT NULL REFERENCES ledger_accounts (id),
  token text NOT NULL CHECK (token ~ '^0x[0-9a-f]{40}$'),
  balance numeric(78, 0) NOT NULL DEFAULT 0 CHECK (balance >= 0),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (account_id, token)
);

CREATE FUNCTION ledger_transaction_is_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (
    SELECT 1 FROM ledger_entries AS e
    WHERE e.transaction_id = NEW.transaction_id
    GROUP BY e.token
    HAVING sum(e.amount) <> 0
  ) THEN
    RAISE EXCEPTION 'ledger transaction % does not sum to zero', NEW.transaction_id;
  END IF;
  RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER ledger_entries_balanced
  AFTER INSERT ON ledger_entries
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION ledger_transaction_is_balanced();

-- The ledger is append-only: a correction is a new transaction, never an edit.
CREATE FUNCTION ledger_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'ledger rows are append-only (% on %)', TG_OP, TG_TABLE_NAME;
END
$$;
CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries
  FOR EACH ROW EXECUTE FUNCTION ledger_is_append_only();
CREATE TRIGGER ledger_transactions_append_only BEFORE UPDATE OR DELETE ON ledger_transactions
  FOR EACH ROW EXECUTE FUNCTION ledger_is_append_only();

-- Per agent and token: what escrow releases paid it and what it deposited (directory stats).
CREATE VIEW agent_ledger_totals AS
SELECT
  a.agent_id,
  e.token,
  coalesce(sum(e.amount) FILTER (WHERE t.kind = 'escrow_release'), 0)::numeric(78, 0) AS earned,
  coalesce(sum(e.amount) FILTER (WHERE t.kind = 'deposit'), 0)::numeric(78, 0) AS deposited
FROM ledger_entries AS e
JOIN ledger_accounts AS a ON a.id = e.account_id AND a.kind = 'available'
JOIN ledger_transactions AS t ON t.id = e.transaction_id
GROUP BY a.agent_id, e.token;
