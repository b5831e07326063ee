import type { AssignmentStatus } from '../../protocol/assignments'
import type { JobStatus } from '../../protocol/jobs'
import type pg from 'pg'
import type { Queryable } from '../db/pool'
import { withRetryingTransaction } from '../db/retrying-transaction'
import type { EscrowSubjectHooks } from '../escrow/escrow-failures'
import { publishEvent } from '../events/event-bus'
import { findJob, transitionJob, type JobRow } from '../jobs/job-records'
import {
  countFilledSlots as countLiveAssignments,
  countUnfinishedAssignments as countOpenAssignments,
  selectAssignment,
  selectJobAssignments,
  selectTimedOutAssignments,
  isTimedOut,
  setAssignmentStatus,
  type AssignmentRow,
  type AssignmentTimer,
} from './assignments-queries'

// The assignments room's service API for the rooms beneath the award flow (a job's detail and its
// deadline pass, messages, escrow failures): find and count assignments. The flows themselves
// (award, submit, accept) are in `assignments-service`.

export type { AssignmentRow, AssignmentTimer }

/**
 * One pass of an assignment clock (`review`, `overdue`), by the database's clock: for up to
 * `limit` assignments whose `timer` ran out, `act` runs in a transaction of its own with the job
 * and the assignment locked (the job first, as every job-flow transaction takes them), after the
 * clock is checked again under those locks, so a deadline a submission or a review beat is skipped
 * and none fires twice. Returns how many it acted on.
 */
export async function onTimedOutAssignments(
  pool: pg.Pool,
  timer: AssignmentTimer,
  limit: number,
  act: (db: Queryable, job: JobRow, assignment: AssignmentRow) => Promise<void>,
): Promise<number> {
  let acted = 0
  for (const { id, job_id } of await selectTimedOutAssignments(pool, timer, limit)) {
    const didAct = await withRetryingTransaction(pool, async (db) => {
      const job = await findJob(db, job_id, { forUpdate: true })
      const assignment = job && (await selectAssignment(db, id, { forUpdate: true }))
      if (!job || !assignment || !(await isTimedOut(db, id, timer))) return false
      await act(db, job, assignment)
      return true
    })
    if (didAct) acted += 1
  }
  return acted
}

/** The assignment, or null; `forUpdate` locks it (callers lock its job first). */
export async function findAssignment(
  db: Queryable,
  assignmentId: string,
  options: { forUpdate?: boolean } = {},
): Promise<AssignmentRow | null> {
  return selectAssignment(db, assignmentId, options)
}

/** Slots taken on a job: every assignment not cancelled (a cancelled one reopens its slot). */
export async function countFilledSlots(db: Queryable, jobId: string): Promise<number> {
  return countLiveAssignments(db, jobId)
}

/** Assignments on a job that still await work, review or a ruling. */
export async function countUnfinishedAssignments(db: Queryable, jobId: string): Promise<number> {
  return countOpenAssignments(db, jobId)
}

/** A job's assignments, oldest first, optionally one worker's. */
export async function listJobAssignments(
  db: Queryable,
  jobId: string,
  filter: { workerId?: string } = {},
): Promise<AssignmentRow[]> {
  return selectJobAssignments(db, jobId, filter)
}

/** Moves the assignment (locked by the caller, after its job) to `status`: a dispute's opening or ruling. */
export async function moveAssignment(
  db: Queryable,
  assignmentId: string,
  status: AssignmentStatus,
): Promise<void> {
  await setAssignmentStatus(db, assignmentId, status)
}

/**
 * A job in progress whose every assignment is finished ends: `completed` after acceptances, or
 * `closed` (resolved) when a ruling ended the last one. The caller holds the job's row.
 */
export async function finishJobIfDone(
  db: Queryable,
  job: { id: string; status: JobStatus },
  ending: 'completed' | 'resolved',
): Promise<void> {
  if (job.status !== 'in_progress' || (await countOpenAssignments(db, job.id)) > 0) return
  if (ending === 'resolved') return transitionJob(db, job.id, 'closed', 'resolved')
  await transitionJob(db, job.id, 'completed')
  const completed = (await findJob(db, job.id))!
  const workers = await selectJobAssignments(db, job.id, { statuses: ['accepted'] })
  await publishEvent(db, {
    type: 'job_completed',
    audience: [completed.creator_agent_id, ...workers.map((assignment) => assignment.worker_agent_id)],
    data: { job_id: completed.id, job_title: completed.title },
    feed: { event_type: 'job_completed', job_id: completed.id, job_title: completed.title },
  })
}

/**
 * Cancels the assignment (locked by the caller, after its job) and gives its job the slot back:
 * a job left with no live assignment is `open` again, one in progress with a free slot `filling`.
 */
export async function cancelAssignment(
  db: Queryable,
  job: { id: string; status: JobStatus; current_max_slots: number },
  assignmentId: string,
): Promise<void> {
  await setAssignmentStatus(db, assignmentId, 'cancelled')
  const live = await countLiveAssignments(db, job.id)
  let jobStatus = job.status
  if (['filling', 'in_progress', 'completed'].includes(job.status)) {
    if (live === 0) jobStatus = 'open'
    else if (job.status === 'in_progress' && live < job.current_max_slots) jobStatus = 'filling'
  }
  if (jobStatus !== job.status) await transitionJob(db, job.id, jobStatus)
}

/** What cancelling an unfunded assignment changed, for a reorg to put back. */
interface AssignmentBeforeFailure {
  assignmentId: string
  assignmentStatus: AssignmentStatus
  jobStatus: JobStatus
}

/**
 * The assignments room's side of an escrow lock that fails for good: the assignment is
 * `cancelled` (no work can be submitted or accepted on money the vault does not hold), and its
 * job has the slot back, open to award again when no other assignment holds it. A reorg that
 * drops the failure puts both statuses back.
 */
export const assignmentEscrowHooks: EscrowSubjectHooks = {
  async lockFailed(db, subject) {
    if (!('assignmentId' in subject)) return null
    const found = await selectAssignment(db, subject.assignmentId)
    if (!found) return null
    // The job's row first, as every job-flow transaction takes it, so this never deadlocks with one.
    const job = await findJob(db, found.job_id, { forUpdate: true })
    const assignment = await selectAssignment(db, subject.assignmentId, { forUpdate: true })
    if (!job || !assignment || assignment.status === 'cancelled') return null
    await cancelAssignment(db, job, assignment.id)
    const before: AssignmentBeforeFailure = {
      assignmentId: assignment.id,
      assignmentStatus: assignment.status,
      jobStatus: job.status,
    }
    return before
  },
  async lockRestored(db, _subject, before) {
    const previous = before as AssignmentBeforeFailure | null
    if (!previous) return
    const assignment = await selectAssignment(db, previous.assignmentId)
    if (!assignment) return
    await findJob(db, assignment.job_id, { forUpdate: true })
    await setAssignmentStatus(db, assignment.id, previous.assignmentStatus)
    await transitionJob(db, assignment.job_id, previous.jobStatus)
  },
}
