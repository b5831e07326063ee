import type { Queryable } from '../db/pool'
import type { ReservationStatus } from '../../protocol/reservations'

export interface ReservableJobRow {
  job_id: string
  private_instructions: string
  reservation_seconds: number
}

export interface ReservationRow {
  id: string
  job_id: string
  agent_id: string
  assignment_id: string
  status: ReservationStatus
  expires_at: Date
  proof_text: string | null
  proof_hash: string | null
  created_at: Date
  /** Whether `expires_at` has passed by the database clock. */
  is_past_expiry: boolean
}

const RESERVATION_COLUMNS = `id, job_id, agent_id, assignment_id, status, expires_at, proof_text, proof_hash, created_at,
  expires_at <= clearhouse_now() AS is_past_expiry`

export async function insertReservableJob(db: Queryable, row: ReservableJobRow): Promise<void> {
  await db.query(
    'INSERT INTO reservable_jobs (job_id, private_instructions, reservation_seconds) VALUES ($1, $2, $3)',
    [row.job_id, row.private_instructions, row.reservation_seconds],
  )
}

export async function selectReservableJob(db: Queryable, jobId: string): Promise<ReservableJobRow | null> {
  const { rows } = await db.query<ReservableJobRow>(
    'SELECT job_id, private_instructions, reservation_seconds FROM reservable_jobs WHERE job_id = $1',
    [jobId],
  )
  return rows[0] ?? null
}

export async function selectReservableJobs(
  db: Queryable,
  jobIds: string[],
): Promise<Map<string, ReservableJobRow>> {
  const { rows } = await db.query<ReservableJobRow>(
    'SELECT job_id, private_instructions, reservation_seconds FROM reservable_jobs WHERE job_id = ANY($1::uuid[])',
    [jobIds],
  )
  return new Map(rows.map((row) => [row.job_id, row]))
}

/** A reservation whose window starts now by the database clock. */
export async function insertReservation(
  db: Queryable,
  row: { id: string; jobId: string; agentId: string; assignmentId: string; seconds: number },
): Promise<void> {
  await db.query(
    `INSERT INTO reservations (id, job_id, agent_id, assignment_id, expires_at)
     VALUES ($1, $2, $3, $4, clearhouse_now() + make_interval(secs => $5::int))`,
    [row.id, row.jobId, row.agentId, row.assignmentId, row.seconds],
  )
}

export async function selectReservation(
  db: Queryable,
  reservationId: string,
  options: { forUpdate?: boolean } = {},
): Promise<ReservationRow | null> {
  const { rows } = await db.query<ReservationRow>(
    `SELECT ${RESERVATION_COLUMNS} FROM reservations WHERE id = $1 ${options.forUpdate ? 'FOR UPDATE' : ''}`,
    [reservationId],
  )
  return rows[0] ?? null
}

/** The job's live reservation, or null. */
export async function selectActiveReservation(db: Queryable, jobId: string): Promise<ReservationRow | null> {
  const { rows } = await db.query<ReservationRow>(
    `SELECT ${RESERVATION_COLUMNS} FROM reservations WHERE job_id = $1 AND status = 'active'`,
    [jobId],
  )
  return rows[0] ?? null
}

/** The agent's latest reservation of the job, or null. */
export async function selectLatestReservation(
  db: Queryable,
  jobId: string,
  agentId: string,
): Promise<ReservationRow | null> {
  const { rows } = await db.query<ReservationRow>(
    `SELECT ${RESERVATION_COLUMNS} FROM reservations WHERE job_id = $1 AND agent_id = $2
      ORDER BY created_at DESC, id DESC LIMIT 1`,
    [jobId, agentId],
  )
  return rows[0] ?? null
}

export async function finishReservation(
  db: Queryable,
  reservationId: string,
  outcome:
    { status: 'completed'; proofText: string; proofHash: string | null } | { status: 'expired' | 'released' },
): Promise<void> {
  await db.query(
    `UPDATE reservations SET status = $2, proof_text = $3, proof_hash = $4, finished_at = now() WHERE id = $1`,
    [
      reservationId,
      outcome.status,
      outcome.status === 'completed' ? outcome.proofText : null,
      outcome.status === 'completed' ? outcome.proofHash : null,
    ],
  )
}

/** Up to `limit` live reservations whose window has run out, oldest first. */
export async function selectLapsedReservations(
  db: Queryable,
  limit: number,
): Promise<Array<{ id: string; job_id: string }>> {
  const { rows } = await db.query(
    `SELECT id, job_id FROM reservations WHERE status = 'active' AND expires_at <= clearhouse_now()
      ORDER BY expires_at, id LIMIT $1`,
    [limit],
  )
  return rows
}
