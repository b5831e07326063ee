import type { Address } from 'viem'
import type { Queryable } from '../db/pool'

// Reconciliation is an auditor's read of the whole store: the queries below read other rooms'
// tables (ledger, agents, escrow ops, withdrawals) in the caller's one repeatable-read snapshot,
// and never write.

/** What the ledger books for one agent's wallet in one token. */
export interface AgentLedgerPosition {
  agentId: string
  wallet: Address
  available: bigint
  escrow: bigint
  /** What the agent owes (zero or more). */
  debt: bigint
}

/** Every agent's available, escrow and debt in `token` (zeros included: an agent's vault balance can be owed elsewhere). */
export async function selectAgentLedgerPositions(
  db: Queryable,
  token: string,
): Promise<AgentLedgerPosition[]> {
  const { rows } = await db.query(
    `SELECT ag.id AS agent_id, ag.wallet_address,
            coalesce(sum(lb.balance) FILTER (WHERE la.kind = 'available'), 0)::text AS available,
            coalesce(sum(lb.balance) FILTER (WHERE la.kind = 'escrow'), 0)::text AS escrow,
            coalesce((SELECT -sum(le.amount) FROM ledger_entries AS le
                       JOIN ledger_accounts AS d ON d.id = le.account_id
                      WHERE d.agent_id = ag.id AND d.kind = 'debt' AND le.token = $1), 0)::text AS debt
       FROM agents AS ag
       JOIN ledger_accounts AS la ON la.agent_id = ag.id
       LEFT JOIN ledger_balances AS lb ON lb.account_id = la.id AND lb.token = $1
      GROUP BY ag.id, ag.wallet_address`,
    [token],
  )
  return rows.map((row) => ({
    agentId: row.agent_id as string,
    wallet: row.wallet_address as Address,
    available: BigInt(row.available),
    escrow: BigInt(row.escrow),
    debt: BigInt(row.debt),
  }))
}

/** A coordinator-made escrow the vault has not paid out: where its money sits depends on its lock. */
export interface OpenEscrowLock {
  payer: Address
  amount: bigint
  feeBps: number
  /** The vault carried the lock out (its `EscrowLocked` is indexed). */
  isLocked: boolean
  /** The ledger booked its release (the payer signed it), which has not landed yet. */
  isReleaseBooked: boolean
}

/**
 * The escrow locks of `token` the coordinator asked payers to sign that have not failed and whose
 * escrow the vault has not paid out (no lock indexed yet, or locked and still open).
 */
export async function selectOpenEscrowLocks(
  db: Queryable,
  chainId: number,
  token: string,
): Promise<OpenEscrowLock[]> {
  const { rows } = await db.query(
    `SELECT t.payer, t.amount::text AS amount, t.fee_bps,
            e.escrow_id IS NOT NULL AS is_locked,
            EXISTS (SELECT 1 FROM ledger_transactions AS t
                     WHERE t.reference = CASE WHEN o.assignment_id IS NOT NULL
                                              THEN 'escrow-release:' || o.assignment_id
                                              WHEN o.micro_job_id IS NOT NULL
                                              THEN 'micro-job-escrow-release:' || o.micro_job_id
                                              -- A session's partial release is booked only when the vault's log is indexed.
                                              WHEN o.session_id IS NOT NULL
                                              THEN 'session-escrow-release:' || o.session_id
                                              ELSE 'competition-prize:' || o.entry_id END) AS is_release_booked
       FROM escrow_ops AS o
       JOIN escrow_terms AS t ON t.chain_id = o.chain_id AND t.escrow_id = o.escrow_id
       LEFT JOIN vault_escrows AS e ON e.chain_id = o.chain_id AND e.escrow_id = o.escrow_id
      WHERE o.kind = 'escrow_lock' AND o.status <> 'failed' AND o.chain_id = $1
        AND t.token = $2
        AND (e.escrow_id IS NULL OR e.closed_tx_hash IS NULL)`,
    [chainId, token],
  )
  return rows.map((row) => ({
    payer: row.payer as Address,
    amount: BigInt(row.amount),
    feeBps: Number(row.fee_bps),
    isLocked: row.is_locked as boolean,
    isReleaseBooked: row.is_release_booked as boolean,
  }))
}

/** Per agent, fast withdrawals of `token` the ledger paid out that the indexer has not seen leave. */
export async function selectInFlightWithdrawalsByAgent(
  db: Queryable,
  chainId: number,
  token: string,
): Promise<Map<string, bigint>> {
  const { rows } = await db.query(
    `SELECT w.agent_id, sum(w.amount)::text AS total FROM withdrawals AS w
      WHERE w.chain_id = $1 AND w.token = $2 AND w.path = 'fast' AND w.status = 'pending'
      GROUP BY w.agent_id`,
    [chainId, token],
  )
  return new Map(rows.map((row) => [row.agent_id as string, BigInt(row.total)]))
}
