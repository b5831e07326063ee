import type { JobResponse } from '../../protocol/jobs'
import type { Actor } from '../auth/actor'
import type { Queryable } from '../db/pool'
import { ForbiddenError, NotFoundError } from '../errors'
import { formatUnits } from './job-tokens'
import type { TokenInfo } from '../ledger/tokens'
import {
  closeOpenSlots,
  insertJob,
  setCurrentWorker,
  recordFirstAward,
  selectIsJobVisible,
  selectJob,
  selectVisibleJob,
  setJobStatus,
  type JobRow,
} from './jobs-queries'

// The jobs room's service API for the rooms that work on jobs (bids, assignments, competitions,
// messages): find, lock and show a job, and move it through its statuses. The job flows that
// reach into those rooms (a job's detail, cancel, the deadline pass) are in `jobs-service`, above them.

export type { JobRow }

/** The job as the API shows it to `viewerId`; deliverable fields only for its participants. */
export function toJobResponse(job: JobRow, viewerId: string | null): JobResponse {
  const response: JobResponse = {
    job_id: job.id,
    creator_agent_id: job.creator_agent_id,
    title: job.title,
    description: job.description,
    tags: job.tags,
    budget_amount: job.budget_amount === null ? null : formatUnits(job.budget_amount, job.token_decimals),
    budget_token: job.token_symbol,
    requires_verifiable: job.requires_verifiable,
    auto_accept: job.auto_accept,
    job_type: job.job_type,
    status: job.status,
    dispute_agent_id: job.dispute_agent_id,
    acceptance_criteria: job.acceptance_criteria,
    max_slots: job.max_slots,
    current_max_slots: job.current_max_slots,
    deadline_seconds: job.deadline_seconds,
    created_at: job.created_at.toISOString(),
    updated_at: job.updated_at.toISOString(),
    expires_at: job.expires_at.toISOString(),
    awarded_bid_id: job.awarded_bid_id,
    worker_agent_id: job.worker_agent_id,
  }
  const isParticipant =
    viewerId !== null &&
    (viewerId === job.creator_agent_id ||
      viewerId === job.dispute_agent_id ||
      viewerId === job.worker_agent_id)
  if (isParticipant) {
    response.deliverable = job.awarded_deliverable
    response.deliverable_hash = job.awarded_deliverable_hash
  }
  return response
}

/** The job, optionally locked for the caller's transaction, or null. No visibility check: for workers and flows that already know the caller may act. */
export async function findJob(
  db: Queryable,
  jobId: string,
  options: { forUpdate?: boolean } = {},
): Promise<JobRow | null> {
  return selectJob(db, jobId, options)
}

/** Whether `viewerId` may see job `jobId` (seed 004 "Job Visibility", the `job_is_visible` SQL function). */
export async function isJobVisible(db: Queryable, jobId: string, viewerId: string | null): Promise<boolean> {
  return selectIsJobVisible(db, jobId, viewerId)
}

/** The job if `viewerId` may see it; a hidden job is a 404, exactly like a missing one. */
export async function findVisibleJob(
  db: Queryable,
  jobId: string,
  viewerId: string | null,
  options: { forUpdate?: boolean } = {},
): Promise<JobRow> {
  const job = await selectVisibleJob(db, jobId, viewerId, options)
  if (!job) throw new NotFoundError('job_not_found', `job ${jobId} not found`)
  return job
}

/** The job for a change only its creator may make: 404 if hidden, 403 for anyone else. */
export async function findOwnJob(db: Queryable, jobId: string, actor: Actor): Promise<JobRow> {
  const job = await findVisibleJob(db, jobId, actor.id, { forUpdate: true })
  if (job.creator_agent_id !== actor.id) {
    throw new ForbiddenError('not_job_creator', 'only the job creator may do this')
  }
  return job
}

/**
 * Whether the job's deadline has passed by the database's clock, whatever its stored status says
 * (the timers worker's expiry pass may lag).
 */
export function isPastDeadline(job: JobRow): boolean {
  return job.is_past_deadline
}

/** Moves the job (locked by the caller) to `status`; `closedReason` goes with `closed`. */
export async function transitionJob(
  db: Queryable,
  jobId: string,
  status: JobRow['status'],
  closedReason: 'cancelled' | 'resolved' | null = null,
): Promise<void> {
  await setJobStatus(db, jobId, status, closedReason)
}

/** Records the job's first award (its `awarded_bid_id` and worker), as seed 004 shows a job's worker. */
export async function recordJobAward(
  db: Queryable,
  jobId: string,
  bidId: string,
  workerAgentId: string,
): Promise<void> {
  await recordFirstAward(db, jobId, bidId, workerAgentId)
}

/**
 * Opens a one-slot job the platform assigns (an instant job to its matched service, a reservable
 * job to whoever reserves it): no minimum balance (its award locks what it costs), the platform's
 * resolver.
 */
export async function insertPlatformAssignedJob(
  db: Queryable,
  job: {
    id: string
    jobType: 'instant' | 'reservable'
    creatorAgentId: string
    title: string
    description: string
    tags: string[]
    budgetAmount: bigint
    token: TokenInfo
    deadlineSeconds: number
    autoAccept: boolean
  },
): Promise<void> {
  await insertJob(db, {
    ...job,
    requiresVerifiable: false,
    disputeAgentId: null,
    maxSlots: 1,
    acceptanceCriteria: [],
  })
}

/** Names the job's current worker: an instant job handed to its next candidate shows the new one. */
export async function recordCurrentWorker(
  db: Queryable,
  jobId: string,
  bidId: string,
  workerAgentId: string,
): Promise<void> {
  await setCurrentWorker(db, jobId, bidId, workerAgentId)
}

/** Closes the unfilled slots of a job: what is filled now is all it will ever have. */
export async function closeUnfilledSlots(db: Queryable, jobId: string, filled: number): Promise<void> {
  await closeOpenSlots(db, jobId, filled)
}
