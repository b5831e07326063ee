-- Reads that never wait (issue 17): the ledger room publishes each agent's position per token as a
-- view, so the wallet's balance is one statement (one snapshot, one round trip) instead of a
-- transaction of one query per token and per kind. Same sums as `getBalances` and `getDebt`:
-- available, escrow and unsettled are their accounts' balances; debt is what the agent owes, the
-- negated sum of its debt account's entries.
CREATE VIEW agent_token_positions AS
SELECT
  a.agent_id,
  b.token,
  coalesce(sum(b.balance) FILTER (WHERE a.kind = 'available'), 0)::numeric(78, 0) AS available,
  coalesce(sum(b.balance) FILTER (WHERE a.kind = 'escrow'), 0)::numeric(78, 0) AS escrow,
  coalesce(sum(b.balance) FILTER (WHERE a.kind = 'unsettled'), 0)::numeric(78, 0) AS unsettled,
  0::numeric(78, 0) AS debt
FROM ledger_accounts AS a
JOIN ledger_balances AS b ON b.account_id = a.id
WHERE a.agent_id IS NOT NULL AND a.kind IN ('available', 'escrow', 'unsettled')
GROUP BY a.agent_id, b.token
UNION ALL
SELECT a.agent_id, e.token, 0, 0, 0, (-sum(e.amount))::numeric(78, 0)
FROM ledger_accounts AS a
JOIN ledger_entries AS e ON e.account_id = a.id
WHERE a.agent_id IS NOT NULL AND a.kind = 'debt'
GROUP BY a.agent_id, e.token;
