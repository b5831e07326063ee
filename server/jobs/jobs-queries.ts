import type { Address } from 'viem'
import type { AcceptanceCriterion, JobStatus, JobType } from '../../protocol/jobs'
import type { Queryable } from '../db/pool'

/** A job row, with the awarded assignment's worker and deliverable joined in. */
export interface JobRow {
  id: string
  creator_agent_id: string
  title: string
  description: string
  tags: string[]
  budget_amount: string | null
  token_symbol: string
  token_address: Address
  token_decimals: number
  requires_verifiable: boolean
  auto_accept: boolean
  job_type: JobType
  status: JobStatus
  closed_reason: 'cancelled' | 'resolved' | null
  dispute_agent_id: string | null
  acceptance_criteria: AcceptanceCriterion[]
  max_slots: number
  current_max_slots: number
  deadline_seconds: number
  expires_at: Date
  /** Whether the deadline has passed by the database's clock (`clearhouse_now()`), whatever the status says. */
  is_past_deadline: boolean
  awarded_bid_id: string | null
  worker_agent_id: string | null
  created_at: Date
  updated_at: Date
  awarded_deliverable: string | null
  awarded_deliverable_hash: string | null
  /** The sort column rendered exactly (microseconds, UTC), for keyset cursors. */
  sort_key: string | null
}

const JOB_COLUMNS = `j.id, j.creator_agent_id, j.title, j.description, j.tags, j.budget_amount::text,
  j.token_symbol, j.token_address, j.token_decimals, j.requires_verifiable, j.auto_accept, j.job_type, j.status,
  j.closed_reason, j.dispute_agent_id, j.acceptance_criteria, j.max_slots, j.current_max_slots, j.deadline_seconds,
  j.expires_at, j.expires_at <= clearhouse_now() AS is_past_deadline, j.awarded_bid_id, j.worker_agent_id, j.created_at, j.updated_at,
  aw.deliverable AS awarded_deliverable, aw.deliverable_hash AS awarded_deliverable_hash`

const JOB_FROM = 'jobs AS j LEFT JOIN assignments AS aw ON aw.bid_id = j.awarded_bid_id'

export interface NewJob {
  id: string
  creatorAgentId: string
  title: string
  description: string
  tags: string[]
  budgetAmount: bigint | null
  token: { symbol: string; address: string; decimals: number }
  requiresVerifiable: boolean
  autoAccept: boolean
  jobType: JobType
  disputeAgentId: string | null
  maxSlots: number
  deadlineSeconds: number
  acceptanceCriteria: AcceptanceCriterion[]
}

export async function insertJob(db: Queryable, job: NewJob): Promise<void> {
  await db.query(
    `INSERT INTO jobs (id, creator_agent_id, title, description, tags, budget_amount, token_symbol,
       token_address, token_decimals, requires_verifiable, job_type, dispute_agent_id, max_slots,
       current_max_slots, deadline_seconds, expires_at, acceptance_criteria, auto_accept)
     VALUES ($1, $2, $3, $4, $5::text[], $6::numeric, $7, $8, $9, $10, $11, $12, $13::int, $13::int, $14::int,
       clearhouse_now() + make_interval(secs => $14::int), $15::jsonb, $16)`,
    [
      job.id,
      job.creatorAgentId,
      job.title,
      job.description,
      job.tags,
      job.budgetAmount === null ? null : job.budgetAmount.toString(),
      job.token.symbol,
      job.token.address,
      job.token.decimals,
      job.requiresVerifiable,
      job.jobType,
      job.disputeAgentId,
      job.maxSlots,
      job.deadlineSeconds,
      JSON.stringify(job.acceptanceCriteria),
      job.autoAccept,
    ],
  )
}

/** The job, or null. `forUpdate` takes its row lock: every state change of a job holds it. */
export async function selectJob(
  db: Queryable,
  jobId: string,
  options: { forUpdate?: boolean } = {},
): Promise<JobRow | null> {
  const { rows } = await db.query(
    `SELECT ${JOB_COLUMNS}, NULL AS sort_key FROM ${JOB_FROM} WHERE j.id = $1
     ${options.forUpdate ? 'FOR UPDATE OF j' : ''}`,
    [jobId],
  )
  return (rows[0] as JobRow | undefined) ?? null
}

/**
 * SQL condition: the job `j` is visible to the agent in parameter `viewerParam`: the
 * `job_is_visible` function (migration 0041), the one statement of seed 004 "Job Visibility".
 */
export function visibleJobCondition(viewerParam: string): string {
  return `job_is_visible(j, ${viewerParam}::uuid)`
}

/** Whether `viewerId` (null: nobody) may see job `jobId`; false for a missing job. */
export async function selectIsJobVisible(
  db: Queryable,
  jobId: string,
  viewerId: string | null,
): Promise<boolean> {
  const { rows } = await db.query(
    `SELECT coalesce(job_is_visible(j, $2::uuid), false) AS visible FROM jobs AS j WHERE j.id = $1`,
    [jobId, viewerId],
  )
  return rows[0]?.visible === true
}

/** The job if `viewerId` may see it, optionally locked; null for a missing or hidden job alike. */
export async function selectVisibleJob(
  db: Queryable,
  jobId: string,
  viewerId: string | null,
  options: { forUpdate?: boolean } = {},
): Promise<JobRow | null> {
  const { rows } = await db.query(
    `SELECT ${JOB_COLUMNS}, NULL AS sort_key FROM ${JOB_FROM}
      WHERE j.id = $1 AND coalesce(job_is_visible(j, $2::uuid), false)
     ${options.forUpdate ? 'FOR UPDATE OF j' : ''}`,
    [jobId, viewerId],
  )
  return (rows[0] as JobRow | undefined) ?? null
}

export interface JobFilters {
  viewerId: string | null
  status?: JobStatus
  creatorId?: string
  workerId?: string
  tags?: string[]
  search?: string
  jobType?: JobType
  judgeId?: string
}

export type JobSort = 'created_at' | 'budget_amount' | 'updated_at'

export interface JobListOrder {
  sort: JobSort
  order: 'asc' | 'desc'
}

/** Where a keyset page starts: after the row whose sort key and id are these. */
export interface JobKeyset {
  key: string
  id: string
}

const SORT_EXPRESSIONS: Record<JobSort, string> = {
  created_at: 'j.created_at',
  updated_at: 'j.updated_at',
  // Budgets in different tokens compare in token units, not base units.
  budget_amount: '(j.budget_amount / power(10::numeric, j.token_decimals))',
}

function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, (char) => `\\${char}`)
}

/**
 * Jobs matching `filters` visible to the viewer, in `order`, from `offset` or after `keyset`
 * (keyset only for the timestamp sorts). Returns up to `limit` rows.
 */
export async function selectJobs(
  db: Queryable,
  filters: JobFilters,
  order: JobListOrder,
  page: { limit: number; offset?: number; keyset?: JobKeyset | null },
): Promise<JobRow[]> {
  const params: unknown[] = [filters.viewerId]
  const where: string[] = [visibleJobCondition('$1')]
  const add = (value: unknown) => {
    params.push(value)
    return `$${params.length}`
  }
  if (filters.status) where.push(`j.status = ${add(filters.status)}`)
  if (filters.creatorId) where.push(`j.creator_agent_id = ${add(filters.creatorId)}::uuid`)
  if (filters.workerId) {
    where.push(
      `EXISTS (SELECT 1 FROM assignments AS wa WHERE wa.job_id = j.id AND wa.worker_agent_id = ${add(filters.workerId)}::uuid)`,
    )
  }
  if (filters.tags?.length) where.push(`j.tags && ${add(filters.tags)}::text[]`)
  if (filters.search) {
    const pattern = add(`%${escapeLike(filters.search)}%`)
    where.push(`(j.title ILIKE ${pattern} OR j.description ILIKE ${pattern})`)
  }
  if (filters.jobType) where.push(`j.job_type = ${add(filters.jobType)}`)
  if (filters.judgeId) where.push(`j.dispute_agent_id = ${add(filters.judgeId)}::uuid`)

  const sortExpression = SORT_EXPRESSIONS[order.sort]
  const direction = order.order === 'asc' ? 'ASC' : 'DESC'
  if (page.keyset) {
    const comparison = order.order === 'asc' ? '>' : '<'
    where.push(
      `(${sortExpression}, j.id) ${comparison} ((${add(page.keyset.key)}::timestamp AT TIME ZONE 'UTC'), ${add(page.keyset.id)}::uuid)`,
    )
  }
  const sortKey =
    order.sort === 'budget_amount'
      ? 'NULL'
      : `to_char(${sortExpression} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')`
  const { rows } = await db.query(
    `SELECT ${JOB_COLUMNS}, ${sortKey} AS sort_key FROM ${JOB_FROM}
      WHERE ${where.join(' AND ')}
      ORDER BY ${sortExpression} ${direction} NULLS LAST, j.id ${direction}
      LIMIT ${add(page.limit)} OFFSET ${add(page.offset ?? 0)}`,
    params,
  )
  return rows as JobRow[]
}

export interface JobUpdate {
  title?: string
  description?: string
  tags?: string[]
  /** `null` clears the budget; `undefined` leaves it. */
  budgetAmount?: bigint | null
}

export async function updateJobFields(db: Queryable, jobId: string, update: JobUpdate): Promise<void> {
  const sets: string[] = []
  const params: unknown[] = [jobId]
  const set = (column: string, value: unknown, cast = '') => {
    params.push(value)
    sets.push(`${column} = $${params.length}${cast}`)
  }
  if (update.title !== undefined) set('title', update.title)
  if (update.description !== undefined) set('description', update.description)
  if (update.tags !== undefined) set('tags', update.tags, '::text[]')
  if (update.budgetAmount !== undefined) {
    set('budget_amount', update.budgetAmount === null ? null : update.budgetAmount.toString(), '::numeric')
  }
  if (!sets.length) return
  await db.query(`UPDATE jobs SET ${sets.join(', ')}, updated_at = now() WHERE id = $1`, params)
}

/** Moves a job to `status`; `closedReason` is required exactly when `status` is `closed`. */
export async function setJobStatus(
  db: Queryable,
  jobId: string,
  status: JobStatus,
  closedReason: 'cancelled' | 'resolved' | null = null,
): Promise<void> {
  await db.query('UPDATE jobs SET status = $2, closed_reason = $3, updated_at = now() WHERE id = $1', [
    jobId,
    status,
    closedReason,
  ])
}

/** Records the job's first award (later awards on a multi-slot job leave it). */
/** Sets the job's awarded bid and worker to this one (an instant job's reassignment). */
export async function setCurrentWorker(
  db: Queryable,
  jobId: string,
  bidId: string,
  workerAgentId: string,
): Promise<void> {
  await db.query(
    'UPDATE jobs SET awarded_bid_id = $2, worker_agent_id = $3, updated_at = now() WHERE id = $1',
    [jobId, bidId, workerAgentId],
  )
}

export async function recordFirstAward(
  db: Queryable,
  jobId: string,
  bidId: string,
  workerAgentId: string,
): Promise<void> {
  await db.query(
    `UPDATE jobs SET awarded_bid_id = coalesce(awarded_bid_id, $2),
       worker_agent_id = CASE WHEN awarded_bid_id IS NULL THEN $3::uuid ELSE worker_agent_id END,
       updated_at = now()
     WHERE id = $1`,
    [jobId, bidId, workerAgentId],
  )
}

export async function deleteJobRow(db: Queryable, jobId: string): Promise<void> {
  await db.query('DELETE FROM jobs WHERE id = $1', [jobId])
}

/** Whether work ever started on the job (an assignment or a competition entry), whatever became of it. */
export async function jobHadWork(db: Queryable, jobId: string): Promise<boolean> {
  const { rows } = await db.query(
    `SELECT 1 FROM assignments AS a WHERE a.job_id = $1
     UNION ALL SELECT 1 FROM competition_entries AS e WHERE e.job_id = $1 LIMIT 1`,
    [jobId],
  )
  return rows.length > 0
}

/** Open jobs whose deadline has passed, oldest first, locked for the expiry pass. */
export async function selectDueJobs(db: Queryable, limit: number): Promise<JobRow[]> {
  const { rows } = await db.query(
    `SELECT ${JOB_COLUMNS}, NULL AS sort_key FROM ${JOB_FROM}
      WHERE j.status IN ('open', 'filling') AND j.expires_at <= clearhouse_now()
      ORDER BY j.expires_at LIMIT $1 FOR UPDATE OF j SKIP LOCKED`,
    [limit],
  )
  return rows as JobRow[]
}

/** Closes the unfilled slots of a job: what is filled now is all it will ever have. */
export async function closeOpenSlots(db: Queryable, jobId: string, filled: number): Promise<void> {
  await db.query('UPDATE jobs SET current_max_slots = $2, updated_at = now() WHERE id = $1', [jobId, filled])
}
