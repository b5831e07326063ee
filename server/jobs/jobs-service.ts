import { requireTokenAllowed } from '../chain/token-allowlist'
import { randomUUID } from 'node:crypto'
import type {
  CreateJobBody,
  JobDetailResponse,
  JobPageResponse,
  JobResponse,
  ListJobsQuery,
  UpdateJobBody,
} from '../../protocol/jobs'
import type { AppContext } from '../app-context'
import {
  countFilledSlots,
  countUnfinishedAssignments,
  listJobAssignments,
} from '../assignments/assignment-records'
import { countJobBids, rejectPendingBids } from '../bids/bids-service'
import { competitionPoolReference, refundCompetitionPool } from '../competitions/competition-pool'
import { applyCompetitionDeadline } from '../competitions/competitions-service'
import type { Queryable } from '../db/pool'
import { withRetryingTransaction } from '../db/retrying-transaction'
import { publishEvent } from '../events/event-bus'
import {
  cursorLiteral,
  cursorTimestamp,
  cursorUuid,
  decodeCursor,
  encodeCursor,
  invalidCursor,
} from '../cursor'
import { ConflictError, UnauthorizedError, fieldError } from '../errors'
import { lockEscrow } from '../ledger/ledger-service'
import { agentReputation, agentExists } from './job-agents'
import {
  formatUnits,
  insufficientBalanceFor,
  jobToken,
  parseTokenAmount,
  requireAvailable,
} from './job-tokens'
import {
  closeOpenSlots,
  deleteJobRow,
  insertJob,
  jobHadWork,
  selectDueJobs,
  selectJob,
  selectJobs,
  setJobStatus,
  updateJobFields,
} from './jobs-queries'
import type { Actor } from '../auth/actor'
import { findOwnJob, findVisibleJob, toJobResponse } from './job-records'

/** The token jobs are priced in when `budget_token` is omitted. */
/**
 * Seed 004 "Minimum Balance": creating a job needs 1 NEAR available. Here it is one whole unit of
 * the job's token (1 USDC), so unfunded agents cannot flood the board with ghost jobs.
 */
export const MIN_CREATE_BALANCE_TOKENS = 1n

/** Default page size of `GET /v1/jobs`: 50 with offsets, 20 with cursors (seed 004 "Find Jobs"). */
export const JOB_PAGE_DEFAULT = { offset: 50, cursor: 20 } as const

function iso(value: Date | null): string | null {
  return value ? value.toISOString() : null
}

/** `POST /v1/jobs`. */
export async function createJob(
  context: AppContext,
  actor: Actor,
  body: CreateJobBody,
): Promise<JobResponse> {
  const id = await withRetryingTransaction(context.pool, (db) =>
    createJobInTransaction(db, context, actor, body),
  )
  const job = await selectJob(context.pool, id)
  return toJobResponse(job!, actor.id)
}

/**
 * `createJob`'s work inside the caller's transaction; returns the new job's id. A negotiation's
 * accept creates its job this way, in the transaction that awards it, and skips the minimum
 * balance (`skipMinimumBalance`): that job is funded by its award at once, so it is never a ghost.
 */
export async function createJobInTransaction(
  db: Queryable,
  context: AppContext,
  actor: Actor,
  body: CreateJobBody,
  options: { skipMinimumBalance?: boolean } = {},
): Promise<string> {
  const token = jobToken(context, body.budget_token)
  const budget =
    body.budget_amount === undefined || body.budget_amount === null
      ? null
      : parseTokenAmount(body.budget_amount, token.decimals, 'budget_amount', {
          // A standard job may be free (budget 0); a competition's budget is its prize pool.
          positive: body.job_type === 'competition',
        })
  const jobType = body.job_type === 'competition' ? 'competition' : 'standard'
  let disputeAgentId = body.dispute_agent_id ?? null
  if (jobType === 'competition') {
    if (budget === null)
      throw fieldError('body', 'budget_amount', 'is required for a competition (the prize pool)')
    if (disputeAgentId !== null) {
      throw fieldError(
        'body',
        'dispute_agent_id',
        'competitions are judged by the platform judge; leave it out',
      )
    }
    if ((body.max_slots ?? 1) !== 1)
      throw fieldError('body', 'max_slots', 'a competition has no slots; leave it out')
    disputeAgentId = context.platformJudgeAgentId ?? null
    if (disputeAgentId === null) {
      throw new ConflictError(
        'no_platform_judge',
        'this coordinator has no platform judge, so it runs no competitions',
      )
    }
    if (disputeAgentId === actor.id) {
      throw new ConflictError(
        'judge_cannot_create',
        'the platform judge cannot create competitions it would judge',
      )
    }
  } else if (disputeAgentId === actor.id) {
    throw fieldError('body', 'dispute_agent_id', 'the resolver must not be the job creator')
  }
  const id = randomUUID()
  if (disputeAgentId !== null && !(await agentExists(db, disputeAgentId))) {
    if (jobType === 'competition') {
      throw new ConflictError('no_platform_judge', 'the configured platform judge is not a registered agent')
    }
    throw fieldError('body', 'dispute_agent_id', 'no agent has this id')
  }
  await requireTokenAllowed(db, context, token, 'a job priced in it')
  const minimum = MIN_CREATE_BALANCE_TOKENS * 10n ** BigInt(token.decimals)
  if (!options.skipMinimumBalance) {
    await requireAvailable(
      db,
      actor.id,
      token,
      minimum,
      `creating a job needs at least ${formatUnits(minimum, token.decimals)} ${token.symbol} available`,
    )
  }
  await insertJob(db, {
    id,
    creatorAgentId: actor.id,
    title: body.title,
    description: body.description,
    tags: [...new Set(body.tags ?? [])],
    budgetAmount: budget,
    token,
    requiresVerifiable: body.requires_verifiable ?? false,
    autoAccept: body.auto_accept ?? false,
    jobType,
    disputeAgentId,
    maxSlots: body.max_slots ?? 1,
    deadlineSeconds: body.deadline_seconds ?? 86_400,
    acceptanceCriteria: body.acceptance_criteria ?? [],
  })
  if (jobType === 'competition') {
    // The prize pool is escrowed at creation (seed 004 "Competition Lifecycle").
    try {
      await lockEscrow(db, {
        payerId: actor.id,
        token: token.address,
        amount: budget!,
        reference: competitionPoolReference(id),
      })
    } catch (error) {
      throw insufficientBalanceFor(
        error,
        token,
        budget!,
        `a competition escrows its prize pool of ${formatUnits(budget!, token.decimals)} ${token.symbol} at creation`,
      )
    }
  }
  const budgetText = budget === null ? null : `${formatUnits(budget, token.decimals)} ${token.symbol}`
  await publishEvent(db, {
    type: 'task.posted',
    // No private audience: the webhooks send it to agents whose tags or capabilities match `tags`.
    audience: [],
    data: {
      job_id: id,
      job_title: body.title,
      description: body.description,
      tags: [...new Set(body.tags ?? [])],
      budget: budgetText,
      creator_agent_id: actor.id,
    },
    feed: {
      event_type: 'job_created',
      job_id: id,
      job_title: body.title,
      creator_account_id: actor.id,
      budget: budgetText,
    },
  })
  return id
}

/** A jobs page's cursor: its sort and order (a cursor is for the list it came from), then the last row. */
const jobCursor = {
  sort: cursorLiteral('created_at', 'updated_at'),
  order: cursorLiteral('asc', 'desc'),
  key: cursorTimestamp,
  id: cursorUuid,
}

/** The one creator `GET /v1/jobs` filters on, from `creator`, `creator_agent_id` or `created_by` (`me` is the viewer). */
function creatorFilter(query: ListJobsQuery, viewerId: string | null): string | undefined {
  if (query.created_by === 'me' && viewerId === null) {
    throw new UnauthorizedError('unauthorized', 'created_by=me lists the caller’s jobs: send credentials', {
      details: { reason: 'missing_credentials' },
    })
  }
  const createdBy = query.created_by === 'me' ? viewerId! : query.created_by
  const named = [query.creator, query.creator_agent_id, createdBy].filter((id) => id !== undefined)
  if (new Set(named).size > 1) {
    throw fieldError('query', 'created_by', 'names another creator than creator or creator_agent_id')
  }
  return named[0]
}

/** `GET /v1/jobs`: a bare array with offsets, the `{ data, has_more, next_cursor }` envelope with `cursor`. */
export async function listJobs(
  context: AppContext,
  viewerId: string | null,
  query: ListJobsQuery,
): Promise<JobResponse[] | JobPageResponse> {
  const creatorId = creatorFilter(query, viewerId)
  const workerId = query.worker ?? query.worker_agent_id
  const filters = {
    viewerId,
    status: query.status,
    creatorId,
    workerId,
    tags: query.tags,
    search: query.search,
    jobType: query.job_type,
    judgeId: query.judge,
  }
  const order = { sort: query.sort, order: query.order }
  if (query.cursor === undefined) {
    const rows = await selectJobs(context.pool, filters, order, {
      limit: query.limit ?? JOB_PAGE_DEFAULT.offset,
      offset: query.offset,
    })
    return rows.map((row) => toJobResponse(row, viewerId))
  }
  if (query.sort === 'budget_amount') {
    throw fieldError('query', 'cursor', 'works with sort=created_at or sort=updated_at, not budget_amount')
  }
  const sort = query.sort
  const keyset = query.cursor === '' ? null : decodeCursor(query.cursor, jobCursor)
  if (keyset && (keyset.sort !== sort || keyset.order !== query.order)) {
    throw invalidCursor('is not a cursor from this list with the same sort and order')
  }
  const limit = query.limit ?? JOB_PAGE_DEFAULT.cursor
  const rows = await selectJobs(context.pool, filters, order, { limit: limit + 1, keyset })
  const hasMore = rows.length > limit
  const page = rows.slice(0, limit)
  const last = page[page.length - 1]
  return {
    data: page.map((row) => toJobResponse(row, viewerId)),
    has_more: hasMore,
    next_cursor:
      hasMore && last
        ? encodeCursor({ sort, order: query.order, key: last.sort_key!, id: last.id }, jobCursor)
        : null,
  }
}

/** `GET /v1/jobs/{job_id}`: the job with slots, bid count, the creator's reputation and the viewer's assignments. */
export async function getJob(
  context: AppContext,
  viewerId: string | null,
  jobId: string,
): Promise<JobDetailResponse> {
  const db = context.pool
  const job = await findVisibleJob(db, jobId, viewerId)
  const [filledSlots, bidCount, reputation, mine] = await Promise.all([
    countFilledSlots(db, job.id),
    countJobBids(db, job.id),
    agentReputation(context, db, job.creator_agent_id),
    viewerId ? listJobAssignments(db, job.id, { workerId: viewerId }) : Promise.resolve([]),
  ])
  const detail: JobDetailResponse = {
    ...toJobResponse(job, viewerId),
    filled_slots: filledSlots,
    bid_count: bidCount,
    creator_reputation: reputation,
  }
  if (mine.length) {
    detail.my_assignments = mine.map((assignment) => ({
      assignment_id: assignment.id,
      status: assignment.status,
      deliverable: assignment.deliverable,
      deliverable_hash: assignment.deliverable_hash,
      submitted_at: iso(assignment.submitted_at),
      escrow_amount: formatUnits(assignment.escrow_amount, assignment.token_decimals),
    }))
  }
  return detail
}

/** `PATCH /v1/jobs/{job_id}`: the creator edits an `open` job; `budget_amount: null` clears the budget. */
export async function updateJob(
  context: AppContext,
  actor: Actor,
  jobId: string,
  body: UpdateJobBody,
): Promise<JobResponse> {
  await withRetryingTransaction(context.pool, async (db) => {
    const job = await findOwnJob(db, jobId, actor)
    if (job.status !== 'open') {
      throw new ConflictError('job_not_open', `job ${job.id} is ${job.status}; only open jobs can be updated`)
    }
    const budgetAmount =
      body.budget_amount === undefined
        ? undefined
        : body.budget_amount === null
          ? null
          : parseTokenAmount(body.budget_amount, job.token_decimals, 'budget_amount', {
              positive: job.job_type === 'competition',
            })
    await updateJobFields(db, job.id, {
      title: body.title,
      description: body.description,
      tags: body.tags === undefined ? undefined : [...new Set(body.tags)],
      budgetAmount,
    })
  })
  const job = await selectJob(context.pool, jobId)
  return toJobResponse(job!, actor.id)
}

/**
 * `DELETE /v1/jobs/{job_id}`: removes a job on which no work ever started, either still `open`
 * or cancelled (seed 004 "Delete Job"). Its bids and messages go with it.
 */
export async function deleteJob(context: AppContext, actor: Actor, jobId: string): Promise<void> {
  await withRetryingTransaction(context.pool, async (db) => {
    const job = await findOwnJob(db, jobId, actor)
    // An open competition still escrows its pool: cancel it first, which refunds it.
    const isOpenStandard = job.status === 'open' && job.job_type === 'standard'
    const deletable = isOpenStandard || (job.status === 'closed' && job.closed_reason === 'cancelled')
    if (!deletable || (await jobHadWork(db, job.id))) {
      throw new ConflictError(
        'job_not_deletable',
        `job ${job.id} is ${job.status}; only open or cancelled jobs without work can be deleted`,
      )
    }
    await deleteJobRow(db, job.id)
  })
}

/**
 * `POST /v1/jobs/{job_id}/cancel`: only while `open` (seed 004 "Cancel Job"). The job becomes
 * `closed` with no worker and every pending bid is rejected. A competition's prize pool goes back
 * to its creator; a standard job holds no escrow before an award.
 */
export async function cancelJob(context: AppContext, actor: Actor, jobId: string): Promise<JobResponse> {
  await withRetryingTransaction(context.pool, async (db) => {
    const job = await findOwnJob(db, jobId, actor)
    if (job.status !== 'open') {
      throw new ConflictError(
        'job_not_open',
        `job ${job.id} is ${job.status}; only open jobs can be cancelled`,
      )
    }
    await rejectPendingBids(db, job.id)
    if (job.job_type === 'competition') await refundCompetitionPool(db, job)
    await setJobStatus(db, job.id, 'closed', 'cancelled')
  })
  const job = await selectJob(context.pool, jobId)
  return toJobResponse(job!, actor.id)
}

/**
 * The deadline pass (seed 004 "Job Expiration"), for the timers worker: an open job, or a filling
 * one with no live assignment, becomes `expired` and its pending bids are rejected; a filling job
 * with work closes its unfilled slots and goes on `in_progress` (or `completed` if all of it was
 * already accepted). A competition goes to `judging`, or `expired` with its pool refunded when
 * nobody entered. Returns how many jobs
 * it moved; call it until it returns less than `batchSize`.
 */
export async function expireDueJobs(context: AppContext, batchSize = 100): Promise<number> {
  return withRetryingTransaction(context.pool, async (db) => {
    const due = await selectDueJobs(db, batchSize)
    for (const job of due) {
      if (job.job_type === 'competition') {
        await applyCompetitionDeadline(db, job)
        continue
      }
      await rejectPendingBids(db, job.id)
      const filled = job.status === 'filling' ? await countFilledSlots(db, job.id) : 0
      if (filled > 0) {
        await closeOpenSlots(db, job.id, filled)
        const unfinished = await countUnfinishedAssignments(db, job.id)
        await setJobStatus(db, job.id, unfinished > 0 ? 'in_progress' : 'completed')
      } else {
        await setJobStatus(db, job.id, 'expired')
      }
    }
    return due.length
  })
}
