import type { Queryable } from '../db/pool'

export interface IdempotencyRow {
  requestHash: string
  state: 'in_progress' | 'completed'
  responseStatus: number | null
  responseBody: unknown
}

/** Claims `key` for this request; false when a live record already holds it. */
export async function claimIdempotencyKey(
  db: Queryable,
  agentId: string,
  key: string,
  requestHash: string,
  ttlSeconds: number,
): Promise<boolean> {
  // Expired records are dead: dropping this agent's (a primary-key range) frees the key for reuse
  // and keeps the table from growing without a cleanup worker.
  await db.query('DELETE FROM idempotency_keys WHERE agent_id = $1 AND expires_at <= now()', [agentId])
  const { rowCount } = await db.query(
    `INSERT INTO idempotency_keys (agent_id, key, request_hash, state, expires_at)
     VALUES ($1, $2, $3, 'in_progress', now() + make_interval(secs => $4))
     ON CONFLICT (agent_id, key) DO NOTHING`,
    [agentId, key, requestHash, ttlSeconds],
  )
  return rowCount === 1
}

export async function selectIdempotencyRecord(
  db: Queryable,
  agentId: string,
  key: string,
): Promise<IdempotencyRow | null> {
  const { rows } = await db.query(
    `SELECT ik.request_hash, ik.state, ik.response_status, ik.response_body
     FROM idempotency_keys AS ik WHERE ik.agent_id = $1 AND ik.key = $2 AND ik.expires_at > now()`,
    [agentId, key],
  )
  const row = rows[0]
  return row
    ? {
        requestHash: row.request_hash,
        state: row.state,
        responseStatus: row.response_status,
        responseBody: row.response_body,
      }
    : null
}

export async function completeIdempotencyKey(
  db: Queryable,
  agentId: string,
  key: string,
  status: number,
  body: unknown,
): Promise<void> {
  await db.query(
    `UPDATE idempotency_keys SET state = 'completed', response_status = $3, response_body = $4
     WHERE agent_id = $1 AND key = $2`,
    [agentId, key, status, JSON.stringify(body ?? null)],
  )
}

export async function releaseIdempotencyKey(db: Queryable, agentId: string, key: string): Promise<void> {
  await db.query(`DELETE FROM idempotency_keys WHERE agent_id = $1 AND key = $2 AND state = 'in_progress'`, [
    agentId,
    key,
  ])
}
