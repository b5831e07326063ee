import type { Queryable } from '../db/pool'

/**
 * Takes or renews the lease on `worker` for `holder` for `ttlMs`. True when `holder` now leads.
 * A single UPSERT decides, so two replicas racing for an expired lease cannot both win.
 */
export async function tryAcquireLease(
  db: Queryable,
  worker: string,
  holder: string,
  ttlMs: number,
): Promise<boolean> {
  const { rows } = await db.query(
    `INSERT INTO worker_leases AS l (worker, holder, expires_at)
     VALUES ($1, $2, now() + ($3::integer * interval '1 millisecond'))
     ON CONFLICT (worker) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
       WHERE l.holder = EXCLUDED.holder OR l.expires_at < now()
     RETURNING l.holder`,
    [worker, holder, ttlMs],
  )
  return rows[0]?.holder === holder
}

/** Gives the lease up at once, so another replica can lead without waiting for it to expire. */
export async function releaseLease(db: Queryable, worker: string, holder: string): Promise<void> {
  await db.query('DELETE FROM worker_leases AS l WHERE l.worker = $1 AND l.holder = $2', [worker, holder])
}

/**
 * Renews `holder`'s lease every third of `ttlMs` until `stop()`, so a leader whose round outlasts
 * the lease (a slow node, a receipt that takes blocks) keeps it. One UPSERT per renewal; a failed
 * renewal is left to the next one, and to the next round's `tryAcquireLease`.
 */
export function keepLeaseAlive(
  db: Queryable,
  worker: string,
  holder: string,
  ttlMs: number,
): { stop(): void } {
  let isRenewing = false
  const timer = setInterval(
    () => {
      if (isRenewing) return
      isRenewing = true
      tryAcquireLease(db, worker, holder, ttlMs)
        .catch(() => false)
        .finally(() => (isRenewing = false))
    },
    Math.max(50, Math.floor(ttlMs / 3)),
  )
  timer.unref()
  return { stop: () => clearInterval(timer) }
}
