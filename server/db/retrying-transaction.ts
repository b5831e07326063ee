import type pg from 'pg'
import { withTransaction } from './pool'

// deadlock_detected and serialization_failure: Postgres rolled the whole transaction back, so
// running it again from the start is safe and is what the server itself recommends.
const RETRYABLE_SQLSTATES = new Set(['40P01', '40001'])
const ATTEMPTS = 4

function isRetryable(error: unknown): boolean {
  return (
    typeof error === 'object' &&
    error !== null &&
    RETRYABLE_SQLSTATES.has((error as { code?: string }).code ?? '')
  )
}

/**
 * `withTransaction`, retried when Postgres aborts it as a deadlock victim or a serialization
 * failure. Flow transactions lock several rows (job, bid, assignment, ledger balances of two
 * agents), and two agents paying each other at once can still meet in opposite orders inside the
 * ledger; the loser is retried instead of surfacing as a 500. `work` must be safe to run again
 * from the start (it is: everything it did was rolled back).
 */
export async function withRetryingTransaction<T>(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await withTransaction(pool, work)
    } catch (error) {
      if (!isRetryable(error) || attempt >= ATTEMPTS) throw error
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * attempt))
    }
  }
}
