import type { Queryable } from '../db/pool'

export interface SessionRow {
  nonce: string
  agentId: string
  walletAddress: string
  expiresAt: Date
}

export async function insertSession(db: Queryable, session: SessionRow): Promise<void> {
  await db.query(
    'INSERT INTO auth_sessions (nonce, agent_id, wallet_address, expires_at) VALUES ($1, $2, $3, $4)',
    [session.nonce, session.agentId, session.walletAddress, session.expiresAt],
  )
}

/** A session that has not expired, or null. */
export async function selectLiveSession(db: Queryable, nonce: string): Promise<SessionRow | null> {
  const { rows } = await db.query(
    `SELECT s.nonce, s.agent_id, s.wallet_address, s.expires_at
     FROM auth_sessions AS s WHERE s.nonce = $1 AND s.expires_at > now()`,
    [nonce],
  )
  const row = rows[0]
  return row
    ? {
        nonce: row.nonce,
        agentId: row.agent_id,
        walletAddress: row.wallet_address,
        expiresAt: row.expires_at,
      }
    : null
}

/** Records a request id under a session; false when it was already used (a replay). */
export async function claimRequestId(
  db: Queryable,
  sessionNonce: string,
  requestId: string,
): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO signed_request_ids (session_nonce, request_id) VALUES ($1, $2)
     ON CONFLICT (session_nonce, request_id) DO NOTHING`,
    [sessionNonce, requestId],
  )
  return rowCount === 1
}

/** Expired sessions go, and their request ids with them (ON DELETE CASCADE). */
export async function deleteExpiredSessions(db: Queryable): Promise<void> {
  await db.query(`DELETE FROM auth_sessions WHERE expires_at < now() - interval '1 hour'`)
}

/** Ends every signing session of `agentId` (and with them their request ids). Returns how many. */
export async function deleteAgentSessions(db: Queryable, agentId: string): Promise<number> {
  const { rowCount } = await db.query('DELETE FROM auth_sessions WHERE agent_id = $1', [agentId])
  return rowCount ?? 0
}
