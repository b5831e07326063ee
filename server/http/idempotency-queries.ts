import type { Queryable } from '../db/pool'

export interface IdempotencyRow {
  requestHash: string
  state: 'in_progress' | 'completed'
  responseStatus: number | null
  responseBody: unknown
  /** Some transaction of the request that holds (or held) the claim committed. */
  workCommitted: boolean
  /** Whole seconds until the claim's lease lapses; 0 once it has. */
  leaseSecondsLeft: number
}

/** A claim on a key: its lease is `leaseSeconds` from now and belongs to `leaseToken`. */
export interface IdempotencyClaim {
  agentId: string
  key: string
  requestHash: string
  leaseToken: string
}

/**
 * Claims `claim.key` for this request: a new record, or a takeover of one in progress whose lease
 * lapsed before any of its work committed (same request only). False when a live record holds it.
 * Both are one statement, so two requests racing for a key cannot both win.
 */
export async function claimIdempotencyKey(
  db: Queryable,
  claim: IdempotencyClaim,
  ttlSeconds: number,
  leaseSeconds: number,
): Promise<{ isClaimed: boolean; isTakeover: boolean }> {
  // Expired records are dead: dropping this agent's (a primary-key range) frees the key for reuse
  // and keeps the table from growing without a cleanup worker.
  await db.query('DELETE FROM idempotency_keys WHERE agent_id = $1 AND expires_at <= now()', [claim.agentId])
  // ON CONFLICT DO UPDATE locks the existing row and checks the WHERE against its latest version, so
  // a takeover waits for a fenced commit in flight and then sees `work_committed`.
  const { rows } = await db.query(
    `INSERT INTO idempotency_keys AS ik
       (agent_id, key, request_hash, state, expires_at, lease_token, lease_expires_at)
     VALUES ($1, $2, $3, 'in_progress', now() + make_interval(secs => $4), $5,
             now() + make_interval(secs => $6))
     ON CONFLICT (agent_id, key) DO UPDATE
       SET lease_token = EXCLUDED.lease_token, lease_expires_at = EXCLUDED.lease_expires_at
       WHERE ik.state = 'in_progress' AND ik.lease_expires_at <= now() AND NOT ik.work_committed
         AND ik.request_hash = EXCLUDED.request_hash
     RETURNING ik.xmax::text <> '0' AS is_takeover`,
    [claim.agentId, claim.key, claim.requestHash, ttlSeconds, claim.leaseToken, leaseSeconds],
  )
  return { isClaimed: rows.length === 1, isTakeover: rows[0]?.is_takeover === true }
}

export async function selectIdempotencyRecord(
  db: Queryable,
  agentId: string,
  key: string,
): Promise<IdempotencyRow | null> {
  const { rows } = await db.query(
    `SELECT ik.request_hash, ik.state, ik.response_status, ik.response_body, ik.work_committed,
            greatest(0, ceil(extract(epoch FROM ik.lease_expires_at - now())))::integer AS lease_seconds_left
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
        workCommitted: row.work_committed,
        leaseSecondsLeft: row.lease_seconds_left,
      }
    : null
}

/**
 * Extends a live lease; false when it lapsed or was taken over. A lapsed lease is not revived: a
 * retry may already be entitled to it, and the fence below is what keeps the work single.
 */
export async function renewIdempotencyLease(
  db: Queryable,
  claim: IdempotencyClaim,
  leaseSeconds: number,
): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE idempotency_keys AS ik SET lease_expires_at = now() + make_interval(secs => $4)
     WHERE ik.agent_id = $1 AND ik.key = $2 AND ik.lease_token = $3 AND ik.state = 'in_progress'
       AND ik.lease_expires_at > now()`,
    [claim.agentId, claim.key, claim.leaseToken, leaseSeconds],
  )
  return rowCount === 1
}

/**
 * The fence, run inside each of the request's transactions just before COMMIT: records that work
 * committed, if the claim is still this request's. False (zero rows) means a retry took it over,
 * and the caller must roll back. The row lock it takes makes a concurrent takeover wait for this
 * commit and then see `work_committed`.
 */
export async function markIdempotentWorkCommitted(db: Queryable, claim: IdempotencyClaim): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE idempotency_keys AS ik SET work_committed = true
     WHERE ik.agent_id = $1 AND ik.key = $2 AND ik.lease_token = $3`,
    [claim.agentId, claim.key, claim.leaseToken],
  )
  return rowCount === 1
}

/** Stores the response of the claim's request; false if the claim is no longer its own. */
export async function completeIdempotencyKey(
  db: Queryable,
  claim: IdempotencyClaim,
  status: number,
  body: unknown,
): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE idempotency_keys AS ik SET state = 'completed', response_status = $4, response_body = $5
     WHERE ik.agent_id = $1 AND ik.key = $2 AND ik.lease_token = $3 AND ik.state = 'in_progress'`,
    [claim.agentId, claim.key, claim.leaseToken, status, JSON.stringify(body ?? null)],
  )
  return rowCount === 1
}

/** Drops the claim so the key may be used again; only if it is still this request's and nothing committed. */
export async function releaseIdempotencyKey(db: Queryable, claim: IdempotencyClaim): Promise<boolean> {
  const { rowCount } = await db.query(
    `DELETE FROM idempotency_keys AS ik
     WHERE ik.agent_id = $1 AND ik.key = $2 AND ik.lease_token = $3 AND ik.state = 'in_progress'
       AND NOT ik.work_committed`,
    [claim.agentId, claim.key, claim.leaseToken],
  )
  return rowCount === 1
}
