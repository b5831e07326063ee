import type { Queryable } from '../db/pool'

// The sessions and session_messages tables (migration 0070), owned by the sessions room.

export interface SessionRow {
  id: string
  service_id: string
  client_agent_id: string
  agent_id: string
  token_address: `0x${string}`
  token_symbol: string
  token_decimals: number
  budget: string
  fee_bps: number
  escrow_id: `0x${string}`
  escrow_expiry: string
  status: 'active' | 'settled' | 'failed' | 'expired'
  amount_released: string | null
  failure_reason: string | null
  created_at: Date
  finished_at: Date | null
}

export interface SessionMessageRow {
  sequence: number
  author: 'client' | 'agent'
  body: string
  created_at: Date
}

const SESSION_COLUMNS = `s.id::text, s.service_id::text, s.client_agent_id::text, s.agent_id::text, s.token_address,
  s.token_symbol, s.token_decimals, s.budget::text, s.fee_bps, s.escrow_id, s.escrow_expiry::text, s.status,
  s.amount_released::text, s.failure_reason, s.created_at, s.finished_at`

export async function insertSession(
  db: Queryable,
  session: {
    id: string
    serviceId: string
    clientAgentId: string
    agentId: string
    token: { address: string; symbol: string; decimals: number }
    budget: bigint
    feeBps: number
    escrowId: string
    escrowExpiry: bigint
  },
): Promise<void> {
  await db.query(
    `INSERT INTO sessions (id, service_id, client_agent_id, agent_id, token_address, token_symbol, token_decimals,
                           budget, fee_bps, escrow_id, escrow_expiry, status)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'active')`,
    [
      session.id,
      session.serviceId,
      session.clientAgentId,
      session.agentId,
      session.token.address.toLowerCase(),
      session.token.symbol,
      session.token.decimals,
      session.budget.toString(),
      session.feeBps,
      session.escrowId.toLowerCase(),
      session.escrowExpiry.toString(),
    ],
  )
}

/** Session `id`, or null; `forUpdate` locks its row, which serializes every money move on it. */
export async function selectSession(
  db: Queryable,
  id: string,
  options: { forUpdate?: boolean } = {},
): Promise<SessionRow | null> {
  const { rows } = await db.query(
    `SELECT ${SESSION_COLUMNS} FROM sessions AS s WHERE s.id = $1 ${options.forUpdate ? 'FOR UPDATE' : ''}`,
    [id],
  )
  return (rows[0] as SessionRow | undefined) ?? null
}

export async function finishSession(
  db: Queryable,
  id: string,
  outcome: { status: 'settled'; amountReleased: bigint } | { status: 'failed'; reason: string },
): Promise<void> {
  await db.query(
    `UPDATE sessions SET status = $2, amount_released = $3, failure_reason = $4, finished_at = now()
      WHERE id = $1 AND status = 'active'`,
    [
      id,
      outcome.status,
      outcome.status === 'settled' ? outcome.amountReleased.toString() : null,
      outcome.status === 'failed' ? outcome.reason : null,
    ],
  )
}

/**
 * Marks up to `limit` active sessions whose escrow expired by `nowSeconds` (unix time, the vault's
 * clock) `expired`; returns their ids. Rows another transaction holds are left for the next round.
 */
export async function expireSessionsDue(db: Queryable, nowSeconds: bigint, limit: number): Promise<string[]> {
  const { rows } = await db.query(
    `UPDATE sessions AS s SET status = 'expired', finished_at = now()
      WHERE s.id IN (SELECT d.id FROM sessions AS d
                      WHERE d.status = 'active' AND d.escrow_expiry <= $1::bigint
                      ORDER BY d.escrow_expiry LIMIT $2 FOR UPDATE SKIP LOCKED)
        AND s.status = 'active'
      RETURNING s.id::text`,
    [nowSeconds.toString(), limit],
  )
  return rows.map((row: { id: string }) => row.id)
}

/** Appends a message as the next of the session's conversation; returns its sequence. */
export async function insertSessionMessage(
  db: Queryable,
  sessionId: string,
  author: 'client' | 'agent',
  body: string,
): Promise<number> {
  const { rows } = await db.query(
    `INSERT INTO session_messages (session_id, sequence, author, body)
     SELECT $1, coalesce(max(m.sequence), 0) + 1, $2, $3 FROM session_messages AS m WHERE m.session_id = $1
     RETURNING sequence`,
    [sessionId, author, body],
  )
  return Number(rows[0].sequence)
}

export async function selectSessionMessages(db: Queryable, sessionId: string): Promise<SessionMessageRow[]> {
  const { rows } = await db.query(
    `SELECT m.sequence, m.author, m.body, m.created_at FROM session_messages AS m
      WHERE m.session_id = $1 ORDER BY m.sequence`,
    [sessionId],
  )
  return rows as SessionMessageRow[]
}
