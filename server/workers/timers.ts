import { randomUUID } from 'node:crypto'
import type { AppContext } from '../app-context'
import { expireDueJobs } from '../jobs/jobs-service'
import { releaseLease, tryAcquireLease } from './leader'

/** The lease that makes one replica the timekeeper: two never run the same deadline pass. */
export const TIMERS_LEASE = 'timers'

/** Jobs moved per transaction of the deadline pass; a round repeats until a pass moves fewer. */
const EXPIRY_BATCH_SIZE = 100

/** What one round of the timers did. */
export type TimersRound = { outcome: 'not-leader' } | { outcome: 'ran'; expiredJobs: number }

/**
 * Seed 004's clocks, run by one replica at a time (the workers' lease) against the database's
 * clock (`clearhouse_now()`), so every replica and every deadline agree on what time it is. Today
 * it runs the job deadline pass (`expireDueJobs`); assignment review and overdue timers join it
 * here as they land.
 */
export class TimersWorker {
  private readonly holder = randomUUID()

  constructor(
    private readonly context: AppContext,
    private readonly leaseTtlMs: number,
  ) {}

  /** One round: if this replica holds (or takes) the lease, every due deadline is applied. */
  async runOnce(): Promise<TimersRound> {
    if (!(await tryAcquireLease(this.context.pool, TIMERS_LEASE, this.holder, this.leaseTtlMs))) {
      return { outcome: 'not-leader' }
    }
    let expiredJobs = 0
    for (;;) {
      const moved = await expireDueJobs(this.context, EXPIRY_BATCH_SIZE)
      expiredJobs += moved
      if (moved < EXPIRY_BATCH_SIZE) break
    }
    return { outcome: 'ran', expiredJobs }
  }

  /** Gives the lease up, so another replica takes the timers over without waiting for it to lapse. */
  async resign(): Promise<void> {
    await releaseLease(this.context.pool, TIMERS_LEASE, this.holder)
  }
}
