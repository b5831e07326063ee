import { randomUUID } from 'node:crypto'
import {
  INSTANT_JOB_MAX_ATTEMPTS,
  type CreateInstantJobBody,
  type InstantJobProgress,
  type InstantJobResponse,
} from '../../protocol/instant-jobs'
import { JOB_LIMITS } from '../../protocol/jobs'
import { MATCH_LIMIT_MAX } from '../../protocol/services'
import type { AppContext } from '../app-context'
import type { Actor } from '../auth/actor'
import { findAssignment } from '../assignments/assignment-records'
import { cancelAndRefundAssignment } from '../assignments/assignment-timers'
import { awardBidInTransaction, prepareAward } from '../assignments/assignments-service'
import { placePlatformBid } from '../bids/bids-service'
import { requireTokenAllowed } from '../chain/token-allowlist'
import type { Queryable } from '../db/pool'
import { withRetryingTransaction } from '../db/retrying-transaction'
import { ValidationError, ConflictError, NotFoundError } from '../errors'
import { agentActor } from '../jobs/job-agents'
import {
  findJob,
  insertPlatformAssignedJob,
  isPastDeadline,
  recordCurrentWorker,
  toJobResponse,
  transitionJob,
  type JobRow,
} from '../jobs/job-records'
import { formatUnits, jobToken, parseTokenAmount } from '../jobs/job-tokens'
import { getBalances } from '../ledger/ledger-service'
import type { TokenInfo } from '../ledger/tokens'
import { postSystemMessage } from '../messages/messages-service'
import {
  findCallableService,
  findCallableServiceOrNull,
  matchServices,
  type CallableService,
} from '../services/services-service'
import {
  insertAttempt,
  insertInstantJob,
  isAttemptDue,
  selectAttempts,
  selectDueAttempts,
  selectInstantJob,
  selectReassigningJobIds,
  setAttemptOutcome,
  setInstantJobStatus,
  type AttemptRow,
  type InstantJobRow,
} from './instant-jobs-queries'

/** How an instant job is matched beyond what its body says. */
export interface InstantJobOptions {
  /**
   * Only the named service, never another in its category: a routed task was matched to it for
   * its capability, which the category does not say (its SLA passing ends the job, refunded).
   */
  namedServiceOnly?: boolean
}

/** The shortest ETA a bid may state (the bids table's floor): a faster service's SLA still counts from its own. */
const MIN_BID_ETA_SECONDS = 60

/** A service an instant job may be given to, and what it costs within the job's budget. */
interface Candidate {
  service: CallableService
  price: bigint
}

/**
 * What the service costs this job: its listed price (a custom-priced service is offered the whole
 * budget), or null when it cannot take the job: another token, over the budget, or the caller's own.
 */
function candidateFor(
  service: CallableService,
  job: { creatorId: string; tokenAddress: string; budget: bigint },
): Candidate | null {
  if (service.agentId === job.creatorId) return null
  if (service.token.address.toLowerCase() !== job.tokenAddress.toLowerCase()) return null
  const price =
    service.pricingModel === 'custom' || service.priceAmount === null ? job.budget : service.priceAmount
  return price <= job.budget ? { service, price } : null
}

/** The service `serviceId` as a candidate for `job`, or null when it is gone, disabled or no longer fits. */
async function loadCandidate(
  db: Queryable,
  serviceId: string,
  job: { creatorId: string; tokenAddress: string; budget: bigint },
): Promise<Candidate | null> {
  const service = await findCallableServiceOrNull(db, serviceId, job.creatorId)
  return service && candidateFor(service, job)
}

/**
 * Up to `INSTANT_JOB_MAX_ATTEMPTS` services to try, best first: the named service then the best
 * matches in its category (mode 1), or the best matches for the category and query (mode 2),
 * each within the budget and in the job's token.
 */
async function findCandidates(
  context: AppContext,
  actor: Actor,
  body: CreateInstantJobBody,
  options: InstantJobOptions,
): Promise<{ token: TokenInfo; budget: bigint; candidates: Candidate[] }> {
  const named = body.service_id ? await findCallableService(context.pool, body.service_id, actor.id) : null
  if (named && named.agentId === actor.id) {
    throw new ValidationError('self_invocation', 'you cannot hire your own service')
  }
  // As documented: the named service's token, else USDC, as any job's.
  const token = jobToken(context, body.budget_token ?? named?.token.symbol)
  const budget = parseTokenAmount(body.budget_amount, token.decimals, 'budget_amount', { positive: true })
  const job = { creatorId: actor.id, tokenAddress: token.address, budget }
  const candidates: Candidate[] = []
  if (named) {
    const candidate = candidateFor(named, job)
    if (!candidate) {
      const price = named.priceAmount === null ? null : formatUnits(named.priceAmount, named.token.decimals)
      throw new ConflictError(
        'no_matching_service',
        `service ${named.id} costs ${price} ${named.token.symbol}, which the budget of ${formatUnits(budget, token.decimals)} ${token.symbol} does not cover`,
        { details: { service_id: named.id, price_amount: price, price_token: named.token.symbol } },
      )
    }
    candidates.push(candidate)
    if (options.namedServiceOnly) return { token, budget, candidates }
  }
  const category = body.category ?? named?.category
  const { matches } = await matchServices(context, {
    category,
    query: body.match_query,
    tags: [],
    limit: MATCH_LIMIT_MAX,
  })
  for (const match of matches) {
    if (candidates.length >= INSTANT_JOB_MAX_ATTEMPTS) break
    if (candidates.some((candidate) => candidate.service.id === match.service_id)) continue
    const candidate = await loadCandidate(context.pool, match.service_id, job)
    if (candidate) candidates.push(candidate)
  }
  if (candidates.length === 0) {
    throw new ConflictError(
      'no_matching_service',
      `no enabled service of another agent in category ${category} is priced within ${formatUnits(budget, token.decimals)} ${token.symbol}`,
      {
        details: { category, budget_amount: formatUnits(budget, token.decimals), budget_token: token.symbol },
      },
    )
  }
  return { token, budget, candidates }
}

/**
 * Gives the job (locked by the caller) to `candidate` inside the caller's transaction: the
 * platform bids for the service's owner at its price with the service's response time as ETA, the
 * creator awards it (the escrow lock of that price), and the attempt starts its SLA clock.
 * Returns the bid and assignment ids.
 */
async function assignCandidate(
  db: Queryable,
  context: AppContext,
  assignment: {
    job: JobRow
    creator: Actor
    candidate: Candidate
    attempt: number
    now: bigint
    feeBps: number
  },
): Promise<{ bidId: string; assignmentId: string }> {
  const { job, creator, candidate } = assignment
  const sla = candidate.service.responseTimeSeconds
  const bidId = await placePlatformBid(db, {
    jobId: job.id,
    bidderAgentId: candidate.service.agentId,
    amount: candidate.price,
    etaSeconds: Math.max(MIN_BID_ETA_SECONDS, sla),
    proposal: `Instant job: service "${candidate.service.name}" at its listed price`,
  })
  const assignmentId = await awardBidInTransaction(
    db,
    context,
    creator,
    job.id,
    bidId,
    { now: assignment.now, feeBps: assignment.feeBps },
    { assignedByPlatform: true },
  )
  await recordCurrentWorker(db, job.id, bidId, candidate.service.agentId)
  await insertAttempt(db, {
    job_id: job.id,
    attempt: assignment.attempt,
    service_id: candidate.service.id,
    worker_agent_id: candidate.service.agentId,
    assignment_id: assignmentId,
    slaSeconds: sla,
  })
  return { bidId, assignmentId }
}

/**
 * `POST /v1/jobs/instant` (seed 004 "Create Instant Job"). The candidates are matched first; then,
 * in one transaction, the job opens, the best candidate's bid is placed and awarded (the ledger
 * moves its price from the caller's available balance into escrow and the EscrowLock is queued
 * for the vault), and its SLA clock starts. A balance short of the price rolls all of it back.
 */
export async function createInstantJob(
  context: AppContext,
  actor: Actor,
  body: CreateInstantJobBody,
  options: InstantJobOptions = {},
): Promise<InstantJobResponse> {
  const { token, budget, candidates } = await findCandidates(context, actor, body, options)
  const { now, feeBps } = await prepareAward(context)
  const jobId = randomUUID()
  const first = candidates[0]!
  const assigned = await withRetryingTransaction(context.pool, async (db) => {
    await requireTokenAllowed(db, context, token, 'a job priced in it')
    await insertPlatformAssignedJob(db, {
      id: jobId,
      jobType: 'instant',
      creatorAgentId: actor.id,
      title: body.title,
      description: body.description,
      tags: [...new Set(body.tags ?? [])],
      budgetAmount: budget,
      token,
      deadlineSeconds: body.deadline_seconds ?? JOB_LIMITS.deadlineSecondsDefault,
      autoAccept: body.auto_accept ?? false,
    })
    await insertInstantJob(db, {
      job_id: jobId,
      requested_service_id: body.service_id ?? null,
      category: body.category ?? null,
      match_query: body.match_query ?? null,
      candidate_service_ids: candidates.map((candidate) => candidate.service.id),
    })
    const job = (await findJob(db, jobId, { forUpdate: true }))!
    return assignCandidate(db, context, { job, creator: actor, candidate: first, attempt: 1, now, feeBps })
  })
  const job = (await findJob(context.pool, jobId))!
  const progress = await loadProgress(context.pool, jobId)
  return {
    ...toJobResponse(job, actor.id),
    bid_id: assigned.bidId,
    assignment_id: assigned.assignmentId,
    escrow_amount: formatUnits(first.price, token.decimals),
    // The lock reaches the vault in the settler's next batch; the assignment's chain_ops show it.
    escrow_tx_hash: null,
    matched_service_id: first.service.id,
    matched_service_name: first.service.name,
    sla_deadline: progress.attempts[0]!.sla_deadline,
    ...progress,
  }
}

async function loadProgress(db: Queryable, jobId: string): Promise<InstantJobProgress> {
  const instant = (await selectInstantJob(db, jobId))!
  const attempts = await selectAttempts(db, jobId)
  return toProgress(instant, attempts)
}

function toProgress(instant: InstantJobRow, attempts: AttemptRow[]): InstantJobProgress {
  return {
    instant_status: instant.status,
    max_attempts: INSTANT_JOB_MAX_ATTEMPTS,
    attempts: attempts.map((attempt) => ({
      attempt: attempt.attempt,
      service_id: attempt.service_id,
      worker_agent_id: attempt.worker_agent_id,
      assignment_id: attempt.assignment_id,
      sla_deadline: attempt.sla_due_at.toISOString(),
      outcome: attempt.outcome,
    })),
  }
}

/**
 * `GET /v1/jobs/{job_id}/instant`: how the instant job was matched and each worker it was given
 * to. Its creator and those workers only; a 404 to anyone else, as for a job that is not instant.
 */
export async function getInstantJobProgress(
  context: AppContext,
  actor: Actor,
  jobId: string,
): Promise<InstantJobProgress> {
  const job = await findJob(context.pool, jobId)
  const instant = job && (await selectInstantJob(context.pool, jobId))
  const attempts = instant ? await selectAttempts(context.pool, jobId) : []
  const mayRead =
    job?.creator_agent_id === actor.id || attempts.some((attempt) => attempt.worker_agent_id === actor.id)
  if (!instant || !mayRead) throw new NotFoundError('job_not_found', `instant job ${jobId} not found`)
  return toProgress(instant, attempts)
}

/** What one pass of the instant jobs' SLA clock did. */
export interface InstantSlaPass {
  timedOut: number
  reassigned: number
  failed: number
}

/**
 * Seed 004's SLA enforcement, one pass by the database clock. First, each worker whose service's
 * response time ran out with nothing submitted loses the job: its assignment is cancelled and its
 * escrow goes back to the creator (`cancelAndRefundAssignment`). Then each job waiting for its
 * next worker is given to the next candidate, once the creator's available balance covers it
 * again (the refund reaches the ledger when the indexer sees it on the vault); after
 * `INSTANT_JOB_MAX_ATTEMPTS` workers, or with no candidate left, the job closes. Every step re-checks
 * its rows under their locks, job first, so none fires twice.
 */
export async function enforceInstantJobSlas(context: AppContext, limit = 100): Promise<InstantSlaPass> {
  const pass: InstantSlaPass = { timedOut: 0, reassigned: 0, failed: 0 }
  for (const due of await selectDueAttempts(context.pool, limit)) {
    const timedOut = await withRetryingTransaction(context.pool, (db) =>
      endDueAttempt(db, context, due.job_id, due.attempt),
    )
    if (timedOut) pass.timedOut += 1
  }
  const waiting = await selectReassigningJobIds(context.pool, limit)
  if (waiting.length === 0) return pass
  const { now, feeBps } = await prepareAward(context)
  for (const jobId of waiting) {
    const outcome = await withRetryingTransaction(context.pool, (db) =>
      reassignInstantJob(db, context, jobId, now, feeBps),
    )
    if (outcome === 'reassigned') pass.reassigned += 1
    if (outcome === 'failed') pass.failed += 1
  }
  return pass
}

/** Ends an attempt whose SLA ran out: delivered if its worker submitted, else timed out. Returns whether it timed out. */
async function endDueAttempt(
  db: Queryable,
  context: AppContext,
  jobId: string,
  number: number,
): Promise<boolean> {
  const job = await findJob(db, jobId, { forUpdate: true })
  if (!job || !(await isAttemptDue(db, jobId, number))) return false
  await selectInstantJob(db, jobId, { forUpdate: true })
  const attempt = (await selectAttempts(db, jobId)).find((row) => row.attempt === number)!
  const assignment = await findAssignment(db, attempt.assignment_id, { forUpdate: true })
  if (!assignment) return false
  switch (assignment.status) {
    case 'awaiting_escrow':
      // The creator has not signed its escrow lock: no work was due yet.
      return false
    case 'in_progress': {
      await cancelAndRefundAssignment(db, context, job, assignment)
      await setAttemptOutcome(db, jobId, number, 'timed_out')
      await setInstantJobStatus(db, jobId, 'reassigning')
      await postSystemMessage(db, {
        jobId,
        assignmentId: assignment.id,
        senderAgentId: null,
        kind: 'system',
        body: `Reassigning: nothing was submitted within the service's response time; the escrow goes back to the creator.`,
      })
      return true
    }
    case 'cancelled':
      // Cancelled by another flow (the creator cancelled the job): nothing is left to hand on.
      await setAttemptOutcome(db, jobId, number, 'timed_out')
      await setInstantJobStatus(db, jobId, job.status === 'open' ? 'reassigning' : 'failed')
      return false
    default:
      await setAttemptOutcome(db, jobId, number, 'delivered')
      await setInstantJobStatus(db, jobId, 'delivered')
      return false
  }
}

/** Gives a job waiting for its next worker to the next candidate, or closes it when none is left. */
async function reassignInstantJob(
  db: Queryable,
  context: AppContext,
  jobId: string,
  now: bigint,
  feeBps: number,
): Promise<'reassigned' | 'waiting' | 'failed' | 'skipped'> {
  const job = await findJob(db, jobId, { forUpdate: true })
  const instant = await selectInstantJob(db, jobId, { forUpdate: true })
  if (!job || instant?.status !== 'reassigning') return 'skipped'
  const attempts = await selectAttempts(db, jobId)
  const fail = async (why: string) => {
    if (job.status === 'open') await transitionJob(db, jobId, 'closed', 'cancelled')
    await setInstantJobStatus(db, jobId, 'failed')
    await postSystemMessage(db, { jobId, assignmentId: null, senderAgentId: null, kind: 'system', body: why })
    return 'failed' as const
  }
  if (job.status !== 'open' || isPastDeadline(job)) {
    return fail(
      `Closed: the job is ${job.status} and past reassigning; every escrow went back to the creator.`,
    )
  }
  if (attempts.length >= INSTANT_JOB_MAX_ATTEMPTS) {
    return fail(
      `Closed: ${attempts.length} workers each missed their service's response time; every escrow went back to the creator.`,
    )
  }
  const budget = BigInt(job.budget_amount!)
  const fit = { creatorId: job.creator_agent_id, tokenAddress: job.token_address, budget }
  const tried = new Set(attempts.map((attempt) => attempt.service_id))
  let next: Candidate | null = null
  for (const serviceId of instant.candidate_service_ids) {
    if (tried.has(serviceId)) continue
    next = await loadCandidate(db, serviceId, fit)
    if (next) break
  }
  if (!next) {
    return fail('Closed: no other matched service can take the job; every escrow went back to the creator.')
  }
  const { available } = await getBalances(db, job.creator_agent_id, job.token_address)
  // The last worker's escrow is still on its way back through the vault: try again next pass.
  if (available < next.price) return 'waiting'
  const creator = await agentActor(db, job.creator_agent_id)
  await assignCandidate(db, context, {
    job,
    creator,
    candidate: next,
    attempt: attempts.length + 1,
    now,
    feeBps,
  })
  await setInstantJobStatus(db, jobId, 'assigned')
  await postSystemMessage(db, {
    jobId,
    assignmentId: null,
    senderAgentId: null,
    kind: 'system',
    body: `Reassigned to service "${next.service.name}" (attempt ${attempts.length + 1} of ${INSTANT_JOB_MAX_ATTEMPTS}).`,
  })
  return 'reassigned'
}
