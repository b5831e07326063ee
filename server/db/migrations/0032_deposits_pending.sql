-- The indexer fails the pending deposits whose logs a reorg dropped on every poll at the safe head,
-- and balances sum an agent's pending deposits: both read only the few rows still pending, so a
-- partial index keeps them off a scan of every deposit ever made.
CREATE INDEX deposits_pending ON deposits (chain_id, agent_id) WHERE status = 'pending_deposit';
