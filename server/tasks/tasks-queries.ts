import type { Queryable } from '../db/pool'

export interface TaskRow {
  id: string
  /** `routed` (seed 002: the platform picked the service) or `board` (seed 001: an agent accepted it). */
  kind: 'routed' | 'board'
  requester_agent_id: string
  capability: string | null
  title: string | null
  description: string | null
  required_capabilities: string[]
  max_price: string
  token_symbol: string
  token_decimals: number
  service_id: string | null
  service_name: string | null
  provider_agent_id: string | null
  price: string
  micro_job_id: string | null
  job_id: string | null
  assignment_id: string | null
  reservation_id: string | null
  status: 'open' | 'assigned' | 'completed' | 'failed'
  output: unknown
  failure_reason: string | null
  created_at: Date
}

const COLUMNS = `id, kind, requester_agent_id, capability, title, description, required_capabilities, max_price::text,
  token_symbol, token_decimals, service_id, service_name, provider_agent_id, price::text, micro_job_id, job_id,
  assignment_id, reservation_id, status, output, failure_reason, created_at`

export async function insertTask(db: Queryable, task: Omit<TaskRow, 'created_at'>): Promise<void> {
  await db.query(
    `INSERT INTO tasks (id, requester_agent_id, capability, max_price, token_symbol, token_decimals, service_id,
       service_name, provider_agent_id, price, micro_job_id, job_id, assignment_id, status, output, failure_reason,
       kind, title, description, required_capabilities, reservation_id)
     VALUES ($1, $2, $3, $4::numeric, $5, $6, $7, $8, $9, $10::numeric, $11, $12, $13, $14, $15::jsonb, $16,
       $17, $18, $19, $20::text[], $21)`,
    [
      task.id,
      task.requester_agent_id,
      task.capability,
      task.max_price,
      task.token_symbol,
      task.token_decimals,
      task.service_id,
      task.service_name,
      task.provider_agent_id,
      task.price,
      task.micro_job_id,
      task.job_id,
      task.assignment_id,
      task.status,
      // A JSON `null` answer and no answer are both stored as SQL NULL: the API shows null either way.
      task.output === undefined || task.output === null ? null : JSON.stringify(task.output),
      task.failure_reason,
      task.kind,
      task.title,
      task.description,
      task.required_capabilities,
      task.reservation_id,
    ],
  )
}

export async function selectTask(
  db: Queryable,
  taskId: string,
  options: { forUpdate?: boolean } = {},
): Promise<TaskRow | null> {
  const { rows } = await db.query<TaskRow>(
    `SELECT ${COLUMNS} FROM tasks WHERE id = $1 ${options.forUpdate ? 'FOR UPDATE' : ''}`,
    [taskId],
  )
  return rows[0] ?? null
}

/** Records how an assigned task ended: its result, or why it failed. */
export async function finishTask(
  db: Queryable,
  taskId: string,
  outcome: { status: 'completed'; output: unknown } | { status: 'failed'; reason: string },
): Promise<void> {
  const output = outcome.status === 'completed' ? outcome.output : null
  await db.query(
    `UPDATE tasks SET status = $2, output = $3::jsonb, failure_reason = $4 WHERE id = $1 AND status = 'assigned'`,
    [
      taskId,
      outcome.status,
      output === undefined || output === null ? null : JSON.stringify(output),
      outcome.status === 'failed' ? outcome.reason : null,
    ],
  )
}

/** The board task's taker and what it holds, once it accepted; or, with nulls, the task open again. */
export async function setTaskTaker(
  db: Queryable,
  taskId: string,
  taker: { providerId: string; assignmentId: string; reservationId: string } | null,
): Promise<void> {
  await db.query(
    `UPDATE tasks SET provider_agent_id = $2, assignment_id = $3, reservation_id = $4,
       status = CASE WHEN $2::uuid IS NULL THEN 'open' ELSE 'assigned' END
     WHERE id = $1`,
    [taskId, taker?.providerId ?? null, taker?.assignmentId ?? null, taker?.reservationId ?? null],
  )
}

/** The board's open tasks, newest first, those requiring `capability` when it is given. */
export async function selectOpenBoardTasks(
  db: Queryable,
  filter: { capability?: string | undefined },
  page: { limit: number; offset: number },
): Promise<TaskRow[]> {
  const { rows } = await db.query<TaskRow>(
    `SELECT ${COLUMNS} FROM tasks WHERE kind = 'board' AND status = 'open'
       AND ($1::text IS NULL OR required_capabilities @> ARRAY[$1::text])
      ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3`,
    [filter.capability ?? null, page.limit, page.offset],
  )
  return rows
}

/** Up to `limit` board tasks held by a taker, oldest first: whose reservations may have lapsed. */
export async function selectTakenBoardTaskIds(db: Queryable, limit: number): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT id FROM tasks WHERE kind = 'board' AND status = 'assigned' ORDER BY created_at, id LIMIT $1`,
    [limit],
  )
  return rows.map((row) => row.id)
}

/** The agent's tasks still `assigned`, as requester or provider: whose assignments may have moved on. */
export async function selectAssignedTaskIds(db: Queryable, agentId: string): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT id FROM tasks WHERE status = 'assigned' AND (requester_agent_id = $1 OR provider_agent_id = $1)`,
    [agentId],
  )
  return rows.map((row) => row.id)
}

/** The agent's tasks as requester or provider, newest first. */
export async function selectTaskPage(
  db: Queryable,
  filter: { agentId: string; role: 'requester' | 'provider'; status?: TaskRow['status'] | undefined },
  page: { limit: number; offset: number },
): Promise<TaskRow[]> {
  const column = filter.role === 'provider' ? 'provider_agent_id' : 'requester_agent_id'
  const { rows } = await db.query<TaskRow>(
    `SELECT ${COLUMNS} FROM tasks WHERE ${column} = $1 AND ($2::text IS NULL OR status = $2)
      ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET $4`,
    [filter.agentId, filter.status ?? null, page.limit, page.offset],
  )
  return rows
}
