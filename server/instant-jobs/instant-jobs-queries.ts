import type { Queryable } from '../db/pool'

export type InstantJobStatus = 'assigned' | 'reassigning' | 'delivered' | 'failed'
export type AttemptOutcome = 'assigned' | 'delivered' | 'timed_out'

export interface InstantJobRow {
  job_id: string
  requested_service_id: string | null
  category: string | null
  match_query: string | null
  candidate_service_ids: string[]
  status: InstantJobStatus
}

export interface AttemptRow {
  job_id: string
  attempt: number
  service_id: string
  worker_agent_id: string
  assignment_id: string
  sla_due_at: Date
  outcome: AttemptOutcome
}

const ATTEMPT_COLUMNS = 'job_id, attempt, service_id, worker_agent_id, assignment_id, sla_due_at, outcome'

export async function insertInstantJob(db: Queryable, row: Omit<InstantJobRow, 'status'>): Promise<void> {
  await db.query(
    `INSERT INTO instant_jobs (job_id, requested_service_id, category, match_query, candidate_service_ids)
     VALUES ($1, $2, $3, $4, $5::uuid[])`,
    [row.job_id, row.requested_service_id, row.category, row.match_query, row.candidate_service_ids],
  )
}

/** The instant job, or null; `forUpdate` locks it (callers lock its job first). */
export async function selectInstantJob(
  db: Queryable,
  jobId: string,
  options: { forUpdate?: boolean } = {},
): Promise<InstantJobRow | null> {
  const { rows } = await db.query<InstantJobRow>(
    `SELECT job_id, requested_service_id, category, match_query, candidate_service_ids::text[], status
       FROM instant_jobs WHERE job_id = $1 ${options.forUpdate ? 'FOR UPDATE' : ''}`,
    [jobId],
  )
  return rows[0] ?? null
}

export async function setInstantJobStatus(
  db: Queryable,
  jobId: string,
  status: InstantJobStatus,
): Promise<void> {
  await db.query('UPDATE instant_jobs SET status = $2, updated_at = now() WHERE job_id = $1', [jobId, status])
}

/** Records the worker an instant job was given to; its SLA runs from the database clock's now. */
export async function insertAttempt(
  db: Queryable,
  attempt: Omit<AttemptRow, 'sla_due_at' | 'outcome'> & { slaSeconds: number },
): Promise<void> {
  await db.query(
    `INSERT INTO instant_job_attempts (job_id, attempt, service_id, worker_agent_id, assignment_id, sla_due_at)
     VALUES ($1, $2, $3, $4, $5, clearhouse_now() + make_interval(secs => $6::int))`,
    [
      attempt.job_id,
      attempt.attempt,
      attempt.service_id,
      attempt.worker_agent_id,
      attempt.assignment_id,
      attempt.slaSeconds,
    ],
  )
}

/** The job's attempts, first first; `forUpdate` locks them. */
export async function selectAttempts(
  db: Queryable,
  jobId: string,
  options: { forUpdate?: boolean } = {},
): Promise<AttemptRow[]> {
  const { rows } = await db.query<AttemptRow>(
    `SELECT ${ATTEMPT_COLUMNS} FROM instant_job_attempts WHERE job_id = $1 ORDER BY attempt
     ${options.forUpdate ? 'FOR UPDATE' : ''}`,
    [jobId],
  )
  return rows
}

export async function setAttemptOutcome(
  db: Queryable,
  jobId: string,
  attempt: number,
  outcome: AttemptOutcome,
): Promise<void> {
  await db.query('UPDATE instant_job_attempts SET outcome = $3 WHERE job_id = $1 AND attempt = $2', [
    jobId,
    attempt,
    outcome,
  ])
}

/** Up to `limit` attempts still `assigned` whose SLA ran out by the database clock, oldest first. */
export async function selectDueAttempts(
  db: Queryable,
  limit: number,
): Promise<Array<{ job_id: string; attempt: number }>> {
  const { rows } = await db.query(
    `SELECT job_id, attempt FROM instant_job_attempts
      WHERE outcome = 'assigned' AND sla_due_at <= clearhouse_now()
      ORDER BY sla_due_at, job_id LIMIT $1`,
    [limit],
  )
  return rows
}

/** Whether the attempt is still `assigned` with its SLA run out (checked again under the caller's locks). */
export async function isAttemptDue(db: Queryable, jobId: string, attempt: number): Promise<boolean> {
  const { rows } = await db.query(
    `SELECT 1 FROM instant_job_attempts
      WHERE job_id = $1 AND attempt = $2 AND outcome = 'assigned' AND sla_due_at <= clearhouse_now()`,
    [jobId, attempt],
  )
  return rows.length > 0
}

/** Up to `limit` instant jobs waiting for their next worker, longest waiting first. */
export async function selectReassigningJobIds(db: Queryable, limit: number): Promise<string[]> {
  const { rows } = await db.query<{ job_id: string }>(
    `SELECT job_id FROM instant_jobs WHERE status = 'reassigning' ORDER BY updated_at, job_id LIMIT $1`,
    [limit],
  )
  return rows.map((row) => row.job_id)
}
