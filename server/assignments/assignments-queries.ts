import type { AssignmentStatus, ChainOpKind } from '../../protocol/assignments'
import type { JobStatus } from '../../protocol/jobs'
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
  escrow_id: `0x${string}`
  deliverable: string | null
  deliverable_hash: string | null
  submitted_at: Date | null
  accepted_at: Date | null
  due_at: Date
  created_at: Date
  updated_at: Date
  creator_agent_id: string
  dispute_agent_id: string | null
  token_symbol: string
  token_address: `0x${string}`
  token_decimals: number
}

const ASSIGNMENT_COLUMNS = `a.id, a.job_id, a.bid_id, a.worker_agent_id, a.status, a.escrow_amount::text,
  a.fee_bps, a.escrow_id, a.deliverable, a.deliverable_hash, a.submitted_at, a.accepted_at, a.due_at,
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
    escrowId: `0x${string}`
    etaSeconds: number
    status: 'awaiting_escrow' | 'in_progress'
  },
): Promise<void> {
  await db.query(
    `INSERT INTO assignments (id, job_id, bid_id, worker_agent_id, escrow_amount, fee_bps, escrow_id, due_at, status)
     VALUES ($1, $2, $3, $4, $5::numeric, $6, $7, now() + make_interval(secs => $8::int), $9)`,
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
): Promise<void> {
  await db.query(
    `UPDATE assignments SET status = 'submitted', deliverable = $2, deliverable_hash = $3,
       submitted_at = now(), updated_at = now()
     WHERE id = $1`,
    [assignmentId, deliverable, deliverableHash],
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

/** Whose escrow an op backs: an assignment's, or a competition prize paid to an entry. */
export type EscrowSubject = { assignmentId: string } | { entryId: string }

function subjectColumn(subject: EscrowSubject): ['assignment_id' | 'entry_id', string] {
  return 'assignmentId' in subject ? ['assignment_id', subject.assignmentId] : ['entry_id', subject.entryId]
}

/** An escrow op row: the payer-signed typed data behind an assignment's escrow or a prize. */
export interface EscrowOpRow {
  id: string
  assignment_id: string | null
  entry_id: string | null
  kind: ChainOpKind
  /** The escrow the op acts on (the digest of its lock's terms); null on rows from before it was kept. */
  escrow_id: `0x${string}` | null
  chain_id: string
  signer_address: `0x${string}`
  typed_data: StoredTypedData
  signature: `0x${string}` | null
  status: 'awaiting_signature' | 'signed' | 'queued' | 'failed'
  chain_op_reference: string | null
  /** Why the op will never be carried out (its lock failed on-chain); null otherwise. */
  failure_reason: string | null
  created_at: Date
  /** The settler queue's status once queued (`pending`, `batched`, `confirmed`, `failed`). */
  chain_op_status: string | null
  /** The settler queue's reason when it failed the op. */
  chain_op_failure_reason: string | null
}

/** Typed data as stored: viem's shape with integers as decimal strings. */
export interface StoredTypedData {
  domain: { name: string; version: string; chainId: number; verifyingContract: `0x${string}` }
  types: Record<string, { name: string; type: string }[]>
  primaryType: string
  message: Record<string, string>
}

export async function insertEscrowOp(
  db: Queryable,
  op: {
    subject: EscrowSubject
    kind: ChainOpKind
    escrowId: `0x${string}`
    chainId: number
    signerAddress: string
    typedData: StoredTypedData
    signature: `0x${string}` | null
  },
): Promise<void> {
  const [column, id] = subjectColumn(op.subject)
  await db.query(
    `INSERT INTO escrow_ops (${column}, kind, escrow_id, chain_id, signer_address, typed_data, signature, status)
     VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8)
     ON CONFLICT DO NOTHING`,
    [
      id,
      op.kind,
      op.escrowId.toLowerCase(),
      op.chainId,
      op.signerAddress.toLowerCase(),
      JSON.stringify(op.typedData),
      op.signature?.toLowerCase() ?? null,
      op.signature ? 'signed' : 'awaiting_signature',
    ],
  )
}

/** A subject's escrow ops in the order they must settle, with the settler queue's status. */
export async function selectEscrowOps(
  db: Queryable,
  subject: EscrowSubject,
  options: { forUpdate?: boolean } = {},
): Promise<EscrowOpRow[]> {
  const [column, id] = subjectColumn(subject)
  const { rows } = await db.query(
    `SELECT o.id::text, o.assignment_id, o.entry_id, o.kind, o.escrow_id, o.chain_id::text, o.signer_address, o.typed_data,
            o.signature, o.status, o.chain_op_reference, o.failure_reason, o.created_at, c.status AS chain_op_status,
            c.failure_reason AS chain_op_failure_reason
       FROM escrow_ops AS o LEFT JOIN chain_ops AS c ON c.reference = o.chain_op_reference
      WHERE o.${column} = $1
      ORDER BY o.id ${options.forUpdate ? 'FOR UPDATE OF o' : ''}`,
    [id],
  )
  return rows as EscrowOpRow[]
}

/** The subjects with a signed op not yet queued on one of the escrows `escrowIds` of chain `chainId`. */
export async function selectSubjectsWaitingFor(
  db: Queryable,
  chainId: number,
  escrowIds: readonly string[],
): Promise<EscrowSubject[]> {
  const { rows } = await db.query(
    `SELECT DISTINCT o.assignment_id, o.entry_id FROM escrow_ops AS o
      WHERE o.status = 'signed' AND o.chain_id = $1 AND o.escrow_id = ANY($2::text[])`,
    [chainId, escrowIds.map((id) => id.toLowerCase())],
  )
  return rows.map((row) =>
    row.assignment_id ? { assignmentId: row.assignment_id } : { entryId: row.entry_id },
  )
}

/** The escrow lock op behind escrow `escrowId` of chain `chainId`, or null for an escrow the coordinator never locked. */
export async function selectEscrowLockOp(
  db: Queryable,
  chainId: number,
  escrowId: string,
): Promise<Pick<EscrowOpRow, 'assignment_id' | 'entry_id' | 'typed_data'> | null> {
  const { rows } = await db.query(
    `SELECT o.assignment_id, o.entry_id, o.typed_data FROM escrow_ops AS o
      WHERE o.kind = 'escrow_lock' AND o.chain_id = $1 AND o.escrow_id = $2`,
    [chainId, escrowId.toLowerCase()],
  )
  return rows[0] ?? null
}

export async function setEscrowOpSignature(
  db: Queryable,
  opId: string,
  signature: `0x${string}`,
): Promise<void> {
  await db.query(
    "UPDATE escrow_ops SET signature = $2, status = 'signed', updated_at = now() WHERE id = $1",
    [opId, signature.toLowerCase()],
  )
}

export async function markEscrowOpQueued(db: Queryable, opId: string, reference: string): Promise<void> {
  await db.query(
    "UPDATE escrow_ops SET status = 'queued', chain_op_reference = $2, updated_at = now() WHERE id = $1",
    [opId, reference],
  )
}

/** The escrow op queued under settler reference `reference`, locked, or null. */
export async function selectEscrowOpByChainReference(
  db: Queryable,
  reference: string,
): Promise<EscrowOpRow | null> {
  const { rows } = await db.query(
    `SELECT o.id::text, o.assignment_id, o.entry_id, o.kind, o.escrow_id, o.chain_id::text, o.signer_address, o.typed_data,
            o.signature, o.status, o.chain_op_reference, o.failure_reason, o.created_at, NULL AS chain_op_status,
            NULL AS chain_op_failure_reason
       FROM escrow_ops AS o WHERE o.chain_op_reference = $1 FOR UPDATE`,
    [reference],
  )
  return (rows[0] as EscrowOpRow | undefined) ?? null
}

/**
 * Marks every op of a subject's escrow failed (the lock with `reason`, the ops that needed it with
 * a reason naming the lock), keeping where each stood for `restoreFailedEscrowOps`.
 */
export async function markEscrowOpsFailed(
  db: Queryable,
  subject: EscrowSubject,
  reason: string,
): Promise<void> {
  const [column, id] = subjectColumn(subject)
  await db.query(
    `UPDATE escrow_ops SET status_before_failure = status, status = 'failed', updated_at = now(),
       failure_reason = CASE WHEN kind = 'escrow_lock' THEN $2 ELSE 'escrow lock failed: ' || $2 END
     WHERE ${column} = $1 AND status <> 'failed'`,
    [id, reason],
  )
}

/** Undoes `markEscrowOpsFailed`: each op is back where it stood. */
export async function restoreFailedEscrowOps(db: Queryable, subject: EscrowSubject): Promise<void> {
  const [column, id] = subjectColumn(subject)
  await db.query(
    `UPDATE escrow_ops SET status = status_before_failure, status_before_failure = NULL,
       failure_reason = NULL, updated_at = now()
     WHERE ${column} = $1 AND status = 'failed' AND status_before_failure IS NOT NULL`,
    [id],
  )
}

/** What a failed lock changed on its assignment and job, kept so a reorg can put them back. */
export interface EscrowLockFailureRow {
  assignmentId: string | null
  assignmentStatusBefore: AssignmentStatus | null
  jobStatusBefore: JobStatus | null
}

export async function insertEscrowLockFailure(
  db: Queryable,
  failure: { chainId: number; escrowId: string; reason: string } & EscrowLockFailureRow,
): Promise<void> {
  await db.query(
    `INSERT INTO escrow_lock_failures (chain_id, escrow_id, assignment_id, assignment_status_before, job_status_before, reason)
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
    [
      failure.chainId,
      failure.escrowId.toLowerCase(),
      failure.assignmentId,
      failure.assignmentStatusBefore,
      failure.jobStatusBefore,
      failure.reason,
    ],
  )
}

/** Removes and returns the record of a failed lock (a reorg dropped the failure), or null. */
export async function takeEscrowLockFailure(
  db: Queryable,
  chainId: number,
  escrowId: string,
): Promise<EscrowLockFailureRow | null> {
  const { rows } = await db.query(
    `DELETE FROM escrow_lock_failures AS f WHERE f.chain_id = $1 AND f.escrow_id = $2
     RETURNING f.assignment_id, f.assignment_status_before, f.job_status_before`,
    [chainId, escrowId.toLowerCase()],
  )
  const row = rows[0]
  return row
    ? {
        assignmentId: row.assignment_id,
        assignmentStatusBefore: row.assignment_status_before,
        jobStatusBefore: row.job_status_before,
      }
    : null
}
