import type { Address, Hex } from 'viem'
import type { AssignmentStatus, CriterionAnswer } from '../../protocol/assignments'
import type { Queryable } from '../db/pool'

/** An assignment with what its authorization and formatting need from its job. */
export interface AssignmentRow {
  id: string
  job_id: string
  bid_id: string
  worker_agent_id: string
  status: AssignmentStatus
  escrow_amount: string
  fee_bps: number
  /** Null for a free assignment (a bid of 0): no money moves, so there is no escrow. */
  escrow_id: Hex | null
  deliverable: string | null
  deliverable_hash: string | null
  criteria_answers: CriterionAnswer[]
  submitted_at: Date | null
  accepted_at: Date | null
  due_at: Date
  created_at: Date
  updated_at: Date
  creator_agent_id: string
  dispute_agent_id: string | null
  token_symbol: string
  token_address: Address
  token_decimals: number
}

const ASSIGNMENT_COLUMNS = `a.id, a.job_id, a.bid_id, a.worker_agent_id, a.status, a.escrow_amount::text,
  a.fee_bps, a.escrow_id, a.deliverable, a.deliverable_hash, a.criteria_answers, a.submitted_at, a.accepted_at, a.due_at,
  a.created_at, a.updated_at, j.creator_agent_id, j.dispute_agent_id, j.token_symbol, j.token_address,
  j.token_decimals`

const ASSIGNMENT_FROM = 'assignments AS a JOIN jobs AS j ON j.id = a.job_id'

export async function insertAssignment(
  db: Queryable,
  assignment: {
    id: string
    jobId: string
    bidId: string
    workerAgentId: string
    escrowAmount: bigint
    feeBps: number
    escrowId: Hex | null
    etaSeconds: number
    status: 'awaiting_escrow' | 'in_progress'
  },
): Promise<void> {
  await db.query(
    `INSERT INTO assignments (id, job_id, bid_id, worker_agent_id, escrow_amount, fee_bps, escrow_id, due_at, status)
     VALUES ($1, $2, $3, $4, $5::numeric, $6, $7, clearhouse_now() + make_interval(secs => $8::int), $9)`,
    [
      assignment.id,
      assignment.jobId,
      assignment.bidId,
      assignment.workerAgentId,
      assignment.escrowAmount.toString(),
      assignment.feeBps,
      assignment.escrowId,
      assignment.etaSeconds,
      assignment.status,
    ],
  )
}

/** The assignment, or null; `forUpdate` locks the assignment row (callers lock its job first). */
export async function selectAssignment(
  db: Queryable,
  assignmentId: string,
  options: { forUpdate?: boolean } = {},
): Promise<AssignmentRow | null> {
  const { rows } = await db.query(
    `SELECT ${ASSIGNMENT_COLUMNS} FROM ${ASSIGNMENT_FROM} WHERE a.id = $1 ${options.forUpdate ? 'FOR UPDATE OF a' : ''}`,
    [assignmentId],
  )
  return (rows[0] as AssignmentRow | undefined) ?? null
}

/** A job's assignments, oldest first, optionally only one worker's or only some statuses. */
export async function selectJobAssignments(
  db: Queryable,
  jobId: string,
  filter: { workerId?: string; statuses?: AssignmentStatus[]; forUpdate?: boolean } = {},
): Promise<AssignmentRow[]> {
  const params: unknown[] = [jobId]
  const where = ['a.job_id = $1']
  if (filter.workerId) {
    params.push(filter.workerId)
    where.push(`a.worker_agent_id = $${params.length}`)
  }
  if (filter.statuses) {
    params.push(filter.statuses)
    where.push(`a.status = ANY($${params.length}::text[])`)
  }
  const { rows } = await db.query(
    `SELECT ${ASSIGNMENT_COLUMNS} FROM ${ASSIGNMENT_FROM} WHERE ${where.join(' AND ')}
      ORDER BY a.created_at, a.id ${filter.forUpdate ? 'FOR UPDATE OF a' : ''}`,
    params,
  )
  return rows as AssignmentRow[]
}

/** Slots taken on a job: every assignment not cancelled (a cancelled one reopens its slot). */
export async function countFilledSlots(db: Queryable, jobId: string): Promise<number> {
  const { rows } = await db.query(
    "SELECT count(*)::int AS n FROM assignments AS a WHERE a.job_id = $1 AND a.status <> 'cancelled'",
    [jobId],
  )
  return rows[0].n as number
}

/** Assignments on a job that still await work, review or a ruling. */
export async function countUnfinishedAssignments(db: Queryable, jobId: string): Promise<number> {
  const { rows } = await db.query(
    `SELECT count(*)::int AS n FROM assignments AS a
      WHERE a.job_id = $1 AND a.status IN ('awaiting_escrow', 'in_progress', 'submitted', 'disputed')`,
    [jobId],
  )
  return rows[0].n as number
}

export async function recordSubmission(
  db: Queryable,
  assignmentId: string,
  deliverable: string,
  deliverableHash: string | null,
  criteriaAnswers: CriterionAnswer[],
): Promise<void> {
  await db.query(
    `UPDATE assignments SET status = 'submitted', deliverable = $2, deliverable_hash = $3,
       criteria_answers = $4::jsonb, submitted_at = clearhouse_now(), updated_at = now()
     WHERE id = $1`,
    [assignmentId, deliverable, deliverableHash, JSON.stringify(criteriaAnswers)],
  )
  await db.query(
    'INSERT INTO assignment_deliverables (assignment_id, deliverable, deliverable_hash) VALUES ($1, $2, $3)',
    [assignmentId, deliverable, deliverableHash],
  )
}

export async function setAssignmentStatus(
  db: Queryable,
  assignmentId: string,
  status: AssignmentStatus,
): Promise<void> {
  await db.query(
    `UPDATE assignments SET status = $2, updated_at = now(),
       accepted_at = CASE WHEN $2 = 'accepted' THEN coalesce(accepted_at, now()) ELSE NULL END
     WHERE id = $1`,
    [assignmentId, status],
  )
}

/**
 * Seed 004's assignment clocks, by the database's clock: `review` is work submitted 24 hours ago
 * and neither accepted, sent back nor disputed; `overdue` is work not submitted 24 hours past its
 * due time (the bid's ETA).
 */
const TIMED_OUT = {
  review: "a.status = 'submitted' AND a.submitted_at <= clearhouse_now() - interval '24 hours'",
  overdue: "a.status = 'in_progress' AND a.due_at <= clearhouse_now() - interval '24 hours'",
} as const
export type AssignmentTimer = keyof typeof TIMED_OUT

/** Up to `limit` assignments whose `timer` has run out, oldest first. */
export async function selectTimedOutAssignments(
  db: Queryable,
  timer: AssignmentTimer,
  limit: number,
): Promise<Array<{ id: string; job_id: string }>> {
  const { rows } = await db.query(
    `SELECT a.id, a.job_id FROM assignments AS a WHERE ${TIMED_OUT[timer]}
      ORDER BY ${timer === 'review' ? 'a.submitted_at' : 'a.due_at'}, a.id LIMIT $1`,
    [limit],
  )
  return rows
}

/** Whether the assignment's `timer` has run out (checked again under the caller's locks). */
export async function isTimedOut(
  db: Queryable,
  assignmentId: string,
  timer: AssignmentTimer,
): Promise<boolean> {
  const { rows } = await db.query(`SELECT 1 FROM assignments AS a WHERE a.id = $1 AND ${TIMED_OUT[timer]}`, [
    assignmentId,
  ])
  return rows.length > 0
}
