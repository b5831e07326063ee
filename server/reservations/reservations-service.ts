import { randomUUID } from 'node:crypto'
import type { JobResponse } from '../../protocol/jobs'
import {
  DEFAULT_RESERVATION_SECONDS,
  type CompleteReservationBody,
  type CreateReservableJobBody,
  type ListReservableJobsBody,
  type ReservableJob,
  type ReservableJobStatus,
  type ReservationResponse,
} from '../../protocol/reservations'
import type { AppContext } from '../app-context'
import type { Actor } from '../auth/actor'
import { findAssignment } from '../assignments/assignment-records'
import { cancelAndRefundAssignment } from '../assignments/assignment-timers'
import { awardBidInTransaction, prepareAward, submitDeliverable } from '../assignments/assignments-service'
import { placePlatformBid } from '../bids/bids-service'
import { requireTokenAllowed } from '../chain/token-allowlist'
import type { Queryable } from '../db/pool'
import { withRetryingTransaction } from '../db/retrying-transaction'
import { ConflictError, ForbiddenError, NotFoundError } from '../errors'
import { agentActor } from '../jobs/job-agents'
import {
  findJob,
  insertPlatformAssignedJob,
  isJobVisible,
  isPastDeadline,
  recordCurrentWorker,
  toJobResponse,
  type JobRow,
} from '../jobs/job-records'
import { listJobs } from '../jobs/jobs-service'
import { formatUnits, jobToken, parseTokenAmount, requireAvailable } from '../jobs/job-tokens'
import { postSystemMessage } from '../messages/messages-service'
import {
  finishReservation,
  insertReservableJob,
  insertReservation,
  selectActiveReservation,
  selectLapsedReservations,
  selectLatestReservation,
  selectReservableJob,
  selectReservableJobs,
  selectReservation,
  type ReservableJobRow,
  type ReservationRow,
} from './reservations-queries'

/**
 * `POST /v1/jobs/reservable`: a job whose reward goes to the agent that reserves and completes it
 * (seed 003; the platform funds its own by posting from its treasury agent). The creator must
 * hold the reward available now; it is escrowed when an agent reserves the job.
 */
export async function createReservableJob(
  context: AppContext,
  actor: Actor,
  body: CreateReservableJobBody,
): Promise<JobResponse & { private_instructions: string; reservation_seconds: number }> {
  const token = jobToken(context, body.budget_token)
  const reward = parseTokenAmount(body.budget_amount, token.decimals, 'budget_amount', { positive: true })
  const id = randomUUID()
  const reservationSeconds = body.reservation_seconds ?? DEFAULT_RESERVATION_SECONDS
  await withRetryingTransaction(context.pool, async (db) => {
    await requireTokenAllowed(db, context, token, 'a job priced in it')
    await requireAvailable(
      db,
      actor.id,
      token,
      reward,
      `a reservable job's reward of ${formatUnits(reward, token.decimals)} ${token.symbol} must be available when it is posted`,
    )
    await insertPlatformAssignedJob(db, {
      id,
      jobType: 'reservable',
      creatorAgentId: actor.id,
      title: body.title,
      description: body.description,
      tags: [...new Set(body.tags ?? [])],
      budgetAmount: reward,
      token,
      deadlineSeconds: body.deadline_seconds ?? 86_400,
      autoAccept: body.auto_accept ?? false,
    })
    await insertReservableJob(db, {
      job_id: id,
      private_instructions: body.private_instructions,
      reservation_seconds: reservationSeconds,
    })
  })
  return {
    ...toJobResponse((await findJob(context.pool, id))!, actor.id),
    private_instructions: body.private_instructions,
    reservation_seconds: reservationSeconds,
  }
}

function toReservableJob(job: JobResponse, reservable: ReservableJobRow): ReservableJob {
  return {
    job_id: job.job_id,
    title: job.title,
    description: job.description,
    tags: job.tags,
    reward: job.budget_amount!,
    token: job.budget_token,
    reservation_seconds: reservable.reservation_seconds,
    status: job.status === 'open' ? 'open' : 'reserved',
    created_at: job.created_at,
    expires_at: job.expires_at,
  }
}

/** `POST /v1/external/jobs/list` (seed 003 `job_list`): open reservable jobs, newest first, never their instructions. */
export async function listReservableJobs(
  context: AppContext,
  actor: Actor,
  body: ListReservableJobsBody,
): Promise<{ jobs: ReservableJob[]; total: number; limit: number; skip: number }> {
  // One more than asked: whether a next page exists, without counting every open job.
  const page = (await listJobs(context, actor.id, {
    job_type: 'reservable',
    status: 'open',
    sort: 'created_at',
    order: 'desc',
    limit: body.limit + 1,
    offset: body.skip,
  })) as JobResponse[]
  const reservable = await selectReservableJobs(
    context.pool,
    page.map((job) => job.job_id),
  )
  const jobs = page.slice(0, body.limit).map((job) => toReservableJob(job, reservable.get(job.job_id)!))
  return { jobs, total: body.skip + page.length, limit: body.limit, skip: body.skip }
}

function toReservationResponse(
  reservation: ReservationRow,
  job: JobRow,
  reservable: ReservableJobRow,
): ReservationResponse {
  return {
    reservation_id: reservation.id,
    job_id: reservation.job_id,
    status: reservation.status,
    // The instructions are the holder's while it holds the job (and stay with the proof it completed).
    instructions:
      reservation.status === 'expired' || reservation.status === 'released'
        ? null
        : reservable.private_instructions,
    expires_at: reservation.expires_at.toISOString(),
    reward: formatUnits(job.budget_amount!, job.token_decimals),
    token: job.token_symbol,
    assignment_id: reservation.assignment_id,
    proof_text: reservation.proof_text,
    proof_hash: reservation.proof_hash,
  }
}

/** The reservable job, locked; 404 for a job that is missing, hidden or not reservable. */
async function lockReservableJob(
  db: Queryable,
  jobId: string,
): Promise<{ job: JobRow; reservable: ReservableJobRow }> {
  const job = await findJob(db, jobId, { forUpdate: true })
  const reservable = job && job.job_type === 'reservable' ? await selectReservableJob(db, jobId) : null
  if (!job || !reservable) throw new NotFoundError('job_not_found', `reservable job ${jobId} not found`)
  return { job, reservable }
}

/**
 * `POST /v1/external/jobs/{job_id}/reserve` (seed 003 `job_reserve`). In one transaction: the job
 * row lock (two agents racing for one job serialize; the second finds it reserved), the platform
 * bids the reward for the caller, the creator's award locks it in escrow, and the reservation's
 * window starts. Its answer carries the private instructions.
 */
export async function reserveJob(
  context: AppContext,
  actor: Actor,
  jobId: string,
): Promise<ReservationResponse> {
  const prepared = await prepareAward(context)
  const reservationId = randomUUID()
  await withRetryingTransaction(context.pool, async (db) => {
    const { job, reservable } = await lockReservableJob(db, jobId)
    if (job.creator_agent_id === actor.id)
      throw new ForbiddenError('own_job', 'you cannot reserve your own job')
    if (await selectActiveReservation(db, job.id)) {
      throw new ConflictError('job_reserved', `job ${job.id} is reserved by another agent; try another`)
    }
    if (job.status !== 'open') throw new ConflictError('job_not_open', `job ${job.id} is ${job.status}`)
    if (isPastDeadline(job)) throw new ConflictError('job_expired', `job ${job.id} passed its deadline`)
    const creator = await agentActor(db, job.creator_agent_id)
    const bidId = await placePlatformBid(db, {
      jobId: job.id,
      bidderAgentId: actor.id,
      amount: BigInt(job.budget_amount!),
      etaSeconds: reservable.reservation_seconds,
      proposal: 'Reserved (seed 003 job_reserve)',
    })
    let assignmentId: string
    try {
      assignmentId = await awardBidInTransaction(db, context, creator, job.id, bidId, prepared, {
        assignedByPlatform: true,
      })
    } catch (error) {
      if (error instanceof ConflictError && error.code === 'insufficient_balance') {
        throw new ConflictError(
          'insufficient_balance',
          `job ${job.id}'s creator cannot fund its reward now`,
          {
            details: { job_id: job.id },
          },
        )
      }
      throw error
    }
    await recordCurrentWorker(db, job.id, bidId, actor.id)
    await insertReservation(db, {
      id: reservationId,
      jobId: job.id,
      agentId: actor.id,
      assignmentId,
      seconds: reservable.reservation_seconds,
    })
  })
  return loadReservation(context.pool, reservationId)
}

async function loadReservation(db: Queryable, reservationId: string): Promise<ReservationResponse> {
  const reservation = (await selectReservation(db, reservationId))!
  const job = (await findJob(db, reservation.job_id))!
  return toReservationResponse(reservation, job, (await selectReservableJob(db, job.id))!)
}

/**
 * `POST /v1/external/jobs/{job_id}/complete` (seed 003 `job_complete`): the proof is the
 * reservation's submission (`proof_text` its deliverable; `proof_hash`, when given, is recorded
 * as the agent's claim). A job with `auto_accept` pays out at once; otherwise its creator accepts.
 * A lapsed reservation can no longer complete: its job went back to the others.
 */
export async function completeReservation(
  context: AppContext,
  actor: Actor,
  jobId: string,
  body: CompleteReservationBody,
): Promise<ReservationResponse> {
  const reservation = await selectReservation(context.pool, body.reservation_id)
  if (!reservation || reservation.job_id !== jobId || reservation.agent_id !== actor.id) {
    throw new NotFoundError(
      'reservation_not_found',
      `you hold no reservation ${body.reservation_id} of job ${jobId}`,
    )
  }
  if (reservation.status !== 'active' || reservation.is_past_expiry) {
    throw new ConflictError(
      'reservation_not_active',
      `reservation ${reservation.id} is ${reservation.is_past_expiry ? 'expired' : reservation.status}`,
    )
  }
  // The submission locks the job first, as the expiry pass does: of the two, one wins.
  await submitDeliverable(context, actor, jobId, {
    deliverable: body.workflow_id
      ? `${body.proof_text}\n\nworkflow_id: ${body.workflow_id}`
      : body.proof_text,
    deliverable_hash: undefined,
    criteria_answers: [],
  })
  await withRetryingTransaction(context.pool, async (db) => {
    const locked = await selectReservation(db, reservation.id, { forUpdate: true })
    if (locked?.status === 'active') {
      await finishReservation(db, reservation.id, {
        status: 'completed',
        proofText: body.proof_text,
        proofHash: body.proof_hash ?? null,
      })
    }
  })
  return loadReservation(context.pool, reservation.id)
}

/** `POST /v1/external/jobs/{job_id}/status` (seed 003 `job_status`): the job and the caller's reservation of it. */
export async function reservableJobStatus(
  context: AppContext,
  actor: Actor,
  jobId: string,
): Promise<ReservableJobStatus> {
  const job = await findJob(context.pool, jobId)
  const reservable = job?.job_type === 'reservable' ? await selectReservableJob(context.pool, jobId) : null
  if (!job || !reservable || !(await isJobVisible(context.pool, jobId, actor.id))) {
    throw new NotFoundError('job_not_found', `reservable job ${jobId} not found`)
  }
  const reservation = await selectLatestReservation(context.pool, jobId, actor.id)
  const assignment = reservation ? await findAssignment(context.pool, reservation.assignment_id) : null
  const payout: ReservableJobStatus['payout'] = !assignment
    ? 'none'
    : assignment.status === 'accepted'
      ? 'released'
      : assignment.status === 'cancelled'
        ? 'refunded'
        : 'awaiting_acceptance'
  return {
    ...toReservableJob(toJobResponse(job, actor.id), reservable),
    job_status: job.status,
    reservation: reservation ? toReservationResponse(reservation, job, reservable) : null,
    payout,
  }
}

/**
 * One pass of the reservations' clock: each live reservation whose window ran out with nothing
 * submitted lapses (`endReservation`). Each re-checks under the job's and the reservation's locks,
 * so it fires once. Returns how many lapsed.
 */
export async function expireLapsedReservations(context: AppContext, limit = 100): Promise<number> {
  let expired = 0
  for (const lapsed of await selectLapsedReservations(context.pool, limit)) {
    const didExpire = await withRetryingTransaction(context.pool, async (db) => {
      const job = await findJob(db, lapsed.job_id, { forUpdate: true })
      const reservation = await selectReservation(db, lapsed.id, { forUpdate: true })
      if (!job || reservation?.status !== 'active' || !reservation.is_past_expiry) return false
      return endReservation(db, context, job, reservation, 'expired')
    })
    if (didExpire) expired += 1
  }
  return expired
}

/**
 * Gives up the caller's live reservation before its window ends (a board task its taker cannot
 * do): as when the window lapses, its escrow goes back to the creator and the job is open again.
 */
export async function releaseReservation(
  context: AppContext,
  actor: Actor,
  reservationId: string,
): Promise<void> {
  await withRetryingTransaction(context.pool, async (db) => {
    const found = await selectReservation(db, reservationId)
    if (!found || found.agent_id !== actor.id) {
      throw new NotFoundError('reservation_not_found', `you hold no reservation ${reservationId}`)
    }
    const job = (await findJob(db, found.job_id, { forUpdate: true }))!
    const reservation = (await selectReservation(db, reservationId, { forUpdate: true }))!
    if (
      reservation.status !== 'active' ||
      !(await endReservation(db, context, job, reservation, 'released'))
    ) {
      throw new ConflictError('reservation_not_active', `reservation ${reservationId} is no longer active`)
    }
  })
}

/**
 * Ends a live reservation with nothing completed (job and reservation locked by the caller, job
 * first): its assignment is cancelled, its escrow goes back to the creator
 * (`cancelAndRefundAssignment`), and the job is `open` for the next agent; its instructions stay
 * private. False, with the reservation marked completed, when its work was submitted after all
 * (a crash between the submission and its bookkeeping).
 */
async function endReservation(
  db: Queryable,
  context: AppContext,
  job: JobRow,
  reservation: ReservationRow,
  ending: 'expired' | 'released',
): Promise<boolean> {
  const assignment = await findAssignment(db, reservation.assignment_id, { forUpdate: true })
  if (assignment && assignment.status !== 'in_progress' && assignment.status !== 'awaiting_escrow') {
    await finishReservation(db, reservation.id, {
      status: 'completed',
      proofText: assignment.deliverable ?? '',
      proofHash: null,
    })
    return false
  }
  if (assignment) await cancelAndRefundAssignment(db, context, job, assignment)
  await finishReservation(db, reservation.id, { status: ending })
  await postSystemMessage(db, {
    jobId: job.id,
    assignmentId: reservation.assignment_id,
    senderAgentId: null,
    kind: 'system',
    body:
      ending === 'expired'
        ? 'Reservation expired: nothing was completed in its window; the reward goes back to the creator and the job is open again.'
        : 'Reservation given up by its holder; the reward goes back to the creator and the job is open again.',
  })
  return true
}

/** The reservation's status, for the rooms that build on reservations (a board task's taker). */
export async function findReservationStatus(
  db: Queryable,
  reservationId: string,
): Promise<ReservationRow['status'] | null> {
  return (await selectReservation(db, reservationId))?.status ?? null
}
