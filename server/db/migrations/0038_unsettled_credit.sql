-- No unbacked credit (issue 10): a payment the vault has not yet made is not spendable.
--
-- `unsettled` (one per agent, a running balance like escrow): what an agent is owed by a release
-- the ledger has booked but the vault has not yet carried out (an accepted job's payment until its
-- escrow release lands on-chain). It moves to `available` when the indexer sees the release land,
-- and back to the payer's escrow if the chain settles the escrow otherwise (a refund, a ruling,
-- the payer's reclaim after expiry).
ALTER TABLE ledger_accounts DROP CONSTRAINT ledger_accounts_kind_check;
ALTER TABLE ledger_accounts ADD CONSTRAINT ledger_accounts_kind_check
  CHECK (kind IN ('available', 'escrow', 'unsettled', 'debt', 'fees', 'vault', 'unclaimed'));
ALTER TABLE ledger_accounts DROP CONSTRAINT ledger_accounts_check;
ALTER TABLE ledger_accounts ADD CONSTRAINT ledger_accounts_check
  CHECK ((agent_id IS NOT NULL) = (kind IN ('available', 'escrow', 'unsettled', 'debt')));

ALTER TABLE ledger_transactions DROP CONSTRAINT ledger_transactions_kind_check;
ALTER TABLE ledger_transactions ADD CONSTRAINT ledger_transactions_kind_check
  CHECK (kind IN (
    'deposit', 'withdrawal', 'escrow_lock', 'escrow_release', 'escrow_refund',
    'deposit_reversal', 'withdrawal_refund', 'withdrawal_reversal', 'debt_repayment',
    'escrow_settlement', 'escrow_settlement_reversal', 'escrow_release_reversal', 'escrow_ruling',
    'reorg_reversal'
  ));

-- A payee has earned a release once it is booked, whether or not it has landed on-chain yet.
CREATE OR REPLACE VIEW agent_ledger_totals AS
SELECT
  a.agent_id,
  e.token,
  coalesce(sum(e.amount) FILTER (WHERE t.kind IN ('escrow_release', 'escrow_release_reversal')
                                   AND a.kind IN ('available', 'unsettled')), 0)::numeric(78, 0)
    AS earned,
  coalesce(sum(e.amount) FILTER (WHERE t.kind IN ('deposit', 'deposit_reversal')), 0)::numeric(78, 0)
    AS deposited
FROM ledger_entries AS e
JOIN ledger_accounts AS a ON a.id = e.account_id AND a.kind IN ('available', 'unsettled', 'debt')
JOIN ledger_transactions AS t ON t.id = e.transaction_id
GROUP BY a.agent_id, e.token;

-- An award whose payer has not yet signed its escrow lock is not yet in progress: no work can be
-- submitted or accepted on it until the vault can hold the money.
ALTER TABLE assignments DROP CONSTRAINT assignments_status_check;
ALTER TABLE assignments ADD CONSTRAINT assignments_status_check
  CHECK (status IN ('awaiting_escrow', 'in_progress', 'submitted', 'accepted', 'disputed', 'cancelled'));
