import type { Queryable } from '../db/pool'

/** A competition entry with its job's token, for formatting. */
export interface EntryRow {
  id: string
  job_id: string
  worker_agent_id: string
  deliverable: string
  deliverable_hash: string | null
  prize_bps: number | null
  prize_amount: string | null
  created_at: Date
  updated_at: Date
  token_symbol: string
  token_decimals: number
}

const ENTRY_COLUMNS = `e.id, e.job_id, e.worker_agent_id, e.deliverable, e.deliverable_hash, e.prize_bps,
  e.prize_amount::text, e.created_at, e.updated_at, j.token_symbol, j.token_decimals`

const ENTRY_FROM = 'competition_entries AS e JOIN jobs AS j ON j.id = e.job_id'

/** The worker's entry on a competition, or null; locked for a resubmission. */
export async function selectWorkerEntry(
  db: Queryable,
  jobId: string,
  workerId: string,
): Promise<EntryRow | null> {
  const { rows } = await db.query(
    `SELECT ${ENTRY_COLUMNS} FROM ${ENTRY_FROM} WHERE e.job_id = $1 AND e.worker_agent_id = $2 FOR UPDATE OF e`,
    [jobId, workerId],
  )
  return (rows[0] as EntryRow | undefined) ?? null
}

export async function selectEntry(db: Queryable, entryId: string): Promise<EntryRow | null> {
  const { rows } = await db.query(`SELECT ${ENTRY_COLUMNS} FROM ${ENTRY_FROM} WHERE e.id = $1`, [entryId])
  return (rows[0] as EntryRow | undefined) ?? null
}

/** A competition's entries, oldest first; only one worker's when `workerId` is given. */
export async function selectJobEntries(
  db: Queryable,
  jobId: string,
  filter: { workerId?: string; forUpdate?: boolean } = {},
): Promise<EntryRow[]> {
  const params: unknown[] = [jobId]
  let worker = ''
  if (filter.workerId) {
    params.push(filter.workerId)
    worker = 'AND e.worker_agent_id = $2'
  }
  const { rows } = await db.query(
    `SELECT ${ENTRY_COLUMNS} FROM ${ENTRY_FROM} WHERE e.job_id = $1 ${worker}
      ORDER BY e.created_at, e.id ${filter.forUpdate ? 'FOR UPDATE OF e' : ''}`,
    params,
  )
  return rows as EntryRow[]
}

export async function countEntries(db: Queryable, jobId: string): Promise<number> {
  const { rows } = await db.query(
    'SELECT count(*)::int AS n FROM competition_entries AS e WHERE e.job_id = $1',
    [jobId],
  )
  return rows[0].n as number
}

export async function insertEntry(
  db: Queryable,
  entry: { id: string; jobId: string; workerId: string; deliverable: string; deliverableHash: string | null },
): Promise<void> {
  await db.query(
    `INSERT INTO competition_entries (id, job_id, worker_agent_id, deliverable, deliverable_hash)
     VALUES ($1, $2, $3, $4, $5)`,
    [entry.id, entry.jobId, entry.workerId, entry.deliverable, entry.deliverableHash],
  )
  await insertRevision(db, entry.id, entry.deliverable, entry.deliverableHash)
}

export async function updateEntryDeliverable(
  db: Queryable,
  entryId: string,
  deliverable: string,
  deliverableHash: string | null,
): Promise<void> {
  await db.query(
    'UPDATE competition_entries SET deliverable = $2, deliverable_hash = $3, updated_at = now() WHERE id = $1',
    [entryId, deliverable, deliverableHash],
  )
  await insertRevision(db, entryId, deliverable, deliverableHash)
}

async function insertRevision(db: Queryable, entryId: string, deliverable: string, hash: string | null) {
  await db.query(
    'INSERT INTO competition_entry_revisions (entry_id, deliverable, deliverable_hash) VALUES ($1, $2, $3)',
    [entryId, deliverable, hash],
  )
}

export async function recordPrize(
  db: Queryable,
  entryId: string,
  bps: number,
  amount: bigint,
): Promise<void> {
  await db.query(
    'UPDATE competition_entries SET prize_bps = $2, prize_amount = $3::numeric, updated_at = now() WHERE id = $1',
    [entryId, bps, amount.toString()],
  )
}
