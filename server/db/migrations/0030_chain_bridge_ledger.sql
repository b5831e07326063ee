-- Ledger accounts and movements for money that crosses the chain boundary.
--
-- `debt` (one per agent): what an agent owes after the chain took back money it had already
-- spent off-chain (a reorged deposit, a slow-path exit larger than its available balance). It
-- keeps no running balance, like the platform accounts, so it may go negative; it is never locked
-- on its own, only together with the agent's available row, and every later credit repays it first.
-- `unclaimed` (platform): deposits made on-chain to a wallet no agent holds yet, credited to the
-- agent that registers that wallet. With it the vault account always mirrors the chain.
ALTER TABLE ledger_accounts DROP CONSTRAINT ledger_accounts_kind_check;
ALTER TABLE ledger_accounts ADD CONSTRAINT ledger_accounts_kind_check
  CHECK (kind IN ('available', 'escrow', 'debt', 'fees', 'vault', 'unclaimed'));
ALTER TABLE ledger_accounts DROP CONSTRAINT ledger_accounts_check;
ALTER TABLE ledger_accounts ADD CONSTRAINT ledger_accounts_check
  CHECK ((agent_id IS NOT NULL) = (kind IN ('available', 'escrow', 'debt')));
INSERT INTO ledger_accounts (kind) VALUES ('unclaimed');

ALTER TABLE ledger_transactions DROP CONSTRAINT ledger_transactions_kind_check;
ALTER TABLE ledger_transactions ADD CONSTRAINT ledger_transactions_kind_check
  CHECK (kind IN (
    'deposit', 'withdrawal', 'escrow_lock', 'escrow_release', 'escrow_refund',
    'deposit_reversal', 'withdrawal_refund', 'withdrawal_reversal', 'debt_repayment'
  ));

-- A reversed deposit no longer counts as deposited (same columns, so the agents module is unchanged).
CREATE OR REPLACE VIEW agent_ledger_totals AS
SELECT
  a.agent_id,
  e.token,
  coalesce(sum(e.amount) FILTER (WHERE t.kind = 'escrow_release' AND a.kind = 'available'), 0)::numeric(78, 0)
    AS earned,
  coalesce(sum(e.amount) FILTER (WHERE t.kind IN ('deposit', 'deposit_reversal')), 0)::numeric(78, 0)
    AS deposited
FROM ledger_entries AS e
JOIN ledger_accounts AS a ON a.id = e.account_id AND a.kind IN ('available', 'debt')
JOIN ledger_transactions AS t ON t.id = e.transaction_id
GROUP BY a.agent_id, e.token;
