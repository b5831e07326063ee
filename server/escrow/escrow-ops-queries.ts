import type { ChainOpKind } from '../../protocol/assignments'
import type { Queryable } from '../db/pool'

// The escrow_ops table: the payer-signed EIP-712 messages behind every escrow the coordinator
// makes (an assignment's, a competition prize's), in the order they settle.

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
  /** The settler queue's op once queued (`chain_op_states.id`). */
  chain_op_id: string | null
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
            o.signature, o.status, o.chain_op_id::text, o.failure_reason, o.created_at, c.status AS chain_op_status,
            c.failure_reason AS chain_op_failure_reason
       FROM escrow_ops AS o LEFT JOIN chain_op_states AS c ON c.id = o.chain_op_id
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

/** Links the escrow op to the settler queue's op `chainOpId` that carries it. */
export async function markEscrowOpQueued(db: Queryable, opId: string, chainOpId: string): Promise<void> {
  await db.query(
    "UPDATE escrow_ops SET status = 'queued', chain_op_id = $2::bigint, updated_at = now() WHERE id = $1",
    [opId, chainOpId],
  )
}

/** The escrow op the settler queue's op `chainOpId` carries, locked, or null. */
export async function selectEscrowOpByChainOp(db: Queryable, chainOpId: string): Promise<EscrowOpRow | null> {
  const { rows } = await db.query(
    `SELECT o.id::text, o.assignment_id, o.entry_id, o.kind, o.escrow_id, o.chain_id::text, o.signer_address, o.typed_data,
            o.signature, o.status, o.chain_op_id::text, o.failure_reason, o.created_at, NULL AS chain_op_status,
            NULL AS chain_op_failure_reason
       FROM escrow_ops AS o WHERE o.chain_op_id = $1::bigint FOR UPDATE`,
    [chainOpId],
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

/**
 * Records a failed lock with what its subject's room changed (`subjectBefore`, opaque here), so a
 * reorg that drops the failure can hand it back. Once per escrow.
 */
export async function insertEscrowLockFailure(
  db: Queryable,
  failure: { chainId: number; escrowId: string; reason: string; subjectBefore: unknown },
): Promise<void> {
  await db.query(
    `INSERT INTO escrow_lock_failures (chain_id, escrow_id, subject_before, reason)
     VALUES ($1, $2, $3::jsonb, $4) ON CONFLICT DO NOTHING`,
    [
      failure.chainId,
      failure.escrowId.toLowerCase(),
      JSON.stringify(failure.subjectBefore ?? null),
      failure.reason,
    ],
  )
}

/** Removes the record of a failed lock (a reorg dropped the failure); returns its `subjectBefore`, or undefined when none. */
export async function takeEscrowLockFailure(
  db: Queryable,
  chainId: number,
  escrowId: string,
): Promise<unknown> {
  const { rows } = await db.query(
    `DELETE FROM escrow_lock_failures AS f WHERE f.chain_id = $1 AND f.escrow_id = $2 RETURNING f.subject_before`,
    [chainId, escrowId.toLowerCase()],
  )
  return rows.length ? rows[0].subject_before : undefined
}
