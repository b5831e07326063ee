import { randomUUID } from 'node:crypto'
import type { AppContext } from '../app-context'
import { cancelOverdueAssignments } from '../assignments/assignment-timers'
import { openReviewTimeoutDisputes } from '../disputes/disputes-service'
import { chainNow } from '../chain/clients'
import { closeIdleChannels, settleDueChannels } from '../channels/channels-service'
import { withRetryingTransaction } from '../db/retrying-transaction'
import { reclaimExpiredEscrows } from '../escrow/escrow-ops'
import { pruneOldEvents } from '../events/event-bus'
import { pruneWebhookDeliveries } from '../webhooks/webhooks-service'
import { expireDueJobs } from '../jobs/jobs-service'
import { enforceInstantJobSlas } from '../instant-jobs/instant-jobs-service'
import { expireLapsedReservations } from '../reservations/reservations-service'
import { reopenLapsedBoardTasks } from '../tasks/tasks-service'
import { refundStalledMicroJobs } from '../micro-jobs/micro-jobs-service'
import { expireDueNegotiations } from '../negotiations/negotiations-service'
import { expireDueSessions } from '../sessions/sessions-service'
import { releaseLease, tryAcquireLease } from './leader'

/** The lease that makes one replica the timekeeper: two never run the same deadline pass. */
export const TIMERS_LEASE = 'timers'

/** Jobs moved per transaction of the deadline pass; a round repeats until a pass moves fewer. */
const EXPIRY_BATCH_SIZE = 100

/** Outbox rows past their retention deleted per round. */
const PRUNE_BATCH_SIZE = 10_000

/** What one round of the timers did. */
export type TimersRound =
  | { outcome: 'not-leader' }
  | {
      outcome: 'ran'
      expiredJobs: number
      reviewDisputes: number
      overdueCancelled: number
      /** Instant jobs' workers who missed their service's response time, the jobs handed on, and those closed. */
      instantTimedOut: number
      instantReassigned: number
      instantFailed: number
      /** Reservations whose window ran out with nothing completed: their jobs open again. */
      reservationsExpired: number
      /** Board tasks whose taker's reservation lapsed: open on the board again. */
      boardTasksReopened: number
      escrowsReclaimed: number
      sessionsExpired: number
      channelsSettled: number
      channelsClosed: number
      microJobsRefunded: number
      negotiationsExpired: number
      eventsPruned: number
      webhookDeliveriesPruned: number
    }

/**
 * Seed 004's clocks, run by one replica at a time (the workers' lease) against the database's
 * clock (`clearhouse_now()`), so every replica and every deadline agree on what time it is: job
 * deadlines (`expireDueJobs`), the 24 h review timeout (an automatic dispute with no deposit) and
 * overdue work (ETA + 24 h: the assignment cancelled, its escrow back to the payer on-chain, the
 * slot reopened), instant jobs' SLAs (a silent worker replaced by the next matched service), lapsed
 * reservations (the job open again), expired escrows the vault still holds (reclaimed for their
 * payers; a session never settled becomes `expired` with its escrow), payment
 * channels with calls unsettled for 30 s (their newest voucher queued for the vault), channels
 * idle for 7 days (closed), micro-jobs a crash left mid-call (their escrow refunded), negotiations whose offer lapsed
 * (expired), outbox
 * events past their 7-day retention and finished webhook deliveries past their 30 days (deleted). Each pass
 * re-checks its clock under its rows' locks, so a deadline fires once.
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
    const reviewDisputes = await openReviewTimeoutDisputes(this.context, EXPIRY_BATCH_SIZE)
    const overdueCancelled = await cancelOverdueAssignments(this.context, EXPIRY_BATCH_SIZE)
    const instant = await enforceInstantJobSlas(this.context, EXPIRY_BATCH_SIZE)
    const reservationsExpired = await expireLapsedReservations(this.context, EXPIRY_BATCH_SIZE)
    const boardTasksReopened = await reopenLapsedBoardTasks(this.context, EXPIRY_BATCH_SIZE)
    const escrowsReclaimed = await this.reclaimExpiredEscrows()
    const sessionsExpired = await expireDueSessions(this.context, EXPIRY_BATCH_SIZE)
    const channelsSettled = await settleDueChannels(this.context, EXPIRY_BATCH_SIZE)
    const channelsClosed = await closeIdleChannels(this.context, EXPIRY_BATCH_SIZE)
    const microJobsRefunded = await refundStalledMicroJobs(this.context, EXPIRY_BATCH_SIZE)
    // Reads already show a lapsed offer as expired; the sweep writes it down for lists and indexes.
    const negotiationsExpired = await expireDueNegotiations(this.context, EXPIRY_BATCH_SIZE)
    const eventsPruned = await pruneOldEvents(this.context.pool, PRUNE_BATCH_SIZE)
    const webhookDeliveriesPruned = await pruneWebhookDeliveries(this.context.pool, PRUNE_BATCH_SIZE)
    return {
      outcome: 'ran',
      expiredJobs,
      reviewDisputes,
      overdueCancelled,
      instantTimedOut: instant.timedOut,
      instantReassigned: instant.reassigned,
      instantFailed: instant.failed,
      reservationsExpired,
      boardTasksReopened,
      escrowsReclaimed,
      sessionsExpired,
      channelsSettled,
      channelsClosed,
      microJobsRefunded,
      negotiationsExpired,
      eventsPruned,
      webhookDeliveriesPruned,
    }
  }

  /** Expired escrows the vault still holds go back to their payers (`reclaimExpiredEscrows`); needs a chain. */
  private async reclaimExpiredEscrows(): Promise<number> {
    if (!this.context.chain) return 0
    const now = await chainNow(this.context.chain.client)
    return withRetryingTransaction(this.context.pool, (db) =>
      reclaimExpiredEscrows(db, this.context, now, EXPIRY_BATCH_SIZE),
    )
  }

  /** Gives the lease up, so another replica takes the timers over without waiting for it to lapse. */
  async resign(): Promise<void> {
    await releaseLease(this.context.pool, TIMERS_LEASE, this.holder)
  }
}
