-- The ledger's balance check, once per INSERT statement instead of once per entry at commit: the
-- indexer books thousands of deposits in one statement, and a deferred row trigger ran the check
-- (a grouped scan of the transaction's entries) once for every entry. Every ledger transaction's
-- entries are inserted by one statement (ledger-queries.ts `insertTransactions`), so checking
-- each statement's new rows per transaction and token is the same rule, only stricter: entries
-- of one transaction split over two statements are refused even if they balance together.
DROP TRIGGER ledger_entries_balanced ON ledger_entries;
DROP FUNCTION ledger_transaction_is_balanced();

CREATE FUNCTION ledger_statement_is_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  unbalanced uuid;
BEGIN
  SELECT e.transaction_id INTO unbalanced
    FROM new_entries AS e
   GROUP BY e.transaction_id, e.token
  HAVING sum(e.amount) <> 0
   LIMIT 1;
  IF unbalanced IS NOT NULL THEN
    RAISE EXCEPTION 'ledger transaction % does not sum to zero', unbalanced;
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER ledger_entries_balanced
  AFTER INSERT ON ledger_entries
  REFERENCING NEW TABLE AS new_entries
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_statement_is_balanced();
