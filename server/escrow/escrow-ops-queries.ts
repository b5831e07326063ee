import type { Address, Hex } from 'viem'
import type { ChainOpKind } from '../../protocol/assignments'
import type { EscrowLockTerms } from '../../protocol/escrow-sets'
import type { Queryable } from '../db/pool'

// The escrow_terms and escrow_ops tables: the terms of every escrow the coordinator makes (an
// assignment's, a competition prize's), stored once, and the payer-signed EIP-712 ops on it in the
// order they settle.

/**
 * Whose escrow an op backs: an assignment's, a competition prize paid to an entry, a dispute's
 * deposit, or a micro-job's (a priced call made without a channel).
 */
export type EscrowSubject =
  | { assignmentId: string }
  | { entryId: string }
  | { disputeId: string }
  | { microJobId: string }
  | { sessionId: string }

function subjectColumn(
  subject: EscrowSubject,
): ['assignment_id' | 'entry_id' | 'dispute_id' | 'micro_job_id' | 'session_id', string] {
  if ('assignmentId' in subject) return ['assignment_id', subject.assignmentId]
  if ('entryId' in subject) return ['entry_id', subject.entryId]
  if ('microJobId' in subject) return ['micro_job_id', subject.microJobId]
  if ('sessionId' in subject) return ['session_id', subject.sessionId]
  return ['dispute_id', subject.disputeId]
}

/** The subject of a row that names one (`assignment_id`, `entry_id`, `dispute_id` or `micro_job_id`). */
export function subjectOfRow(row: {
  assignment_id: string | null
  entry_id: string | null
  dispute_id?: string | null
  micro_job_id?: string | null
  session_id?: string | null
}): EscrowSubject {
  if (row.assignment_id) return { assignmentId: row.assignment_id }
  if (row.entry_id) return { entryId: row.entry_id }
  if (row.micro_job_id) return { microJobId: row.micro_job_id }
  if (row.session_id) return { sessionId: row.session_id }
  return { disputeId: row.dispute_id! }
}

/** An escrow op row: the payer-signed typed data behind an assignment's escrow or a prize. */
export interface EscrowOpRow {
  id: string
  assignment_id: string | null
  entry_id: string | null
  dispute_id: string | null
  micro_job_id: string | null
  session_id: string | null
  kind: ChainOpKind
  /** A partial release's part to the payee, in base units (a decimal string); null for other kinds. */
  release_amount: string | null
  /** A ruling's share to the payee, in basis points of what is left after the resolver's fee; null for other kinds. */
  payee_bps: number | null
  /** The escrow the op acts on (the digest of its lock's terms). */
  escrow_id: Hex
  chain_id: string
  /** The vault the payer's signature binds to (the EIP-712 domain's verifyingContract). */
  vault_address: Address
  /** The escrow's terms, as its payer signed them in the lock. */
  terms: EscrowLockTerms
  signer_address: Address
  signature: Hex | null
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

/** The columns of escrow_terms as `EscrowLockTerms`, from a query that selects `TERMS_COLUMNS`. */
const TERMS_COLUMNS = `t.vault_address, t.payer, t.payee, t.token, t.amount::text, t.resolver, t.fee_bps,
  t.resolver_fee_bps, t.expiry::text, t.nonce::text, t.partial_release`

function termsOf(row: Record<string, string | number | boolean>): EscrowLockTerms {
  return {
    payer: row.payer as Address,
    payee: row.payee as Address,
    token: row.token as Address,
    amount: BigInt(row.amount!),
    resolver: row.resolver as Address,
    feeBps: Number(row.fee_bps),
    resolverFeeBps: Number(row.resolver_fee_bps),
    expiry: BigInt(row.expiry!),
    nonce: BigInt(row.nonce!),
    partialRelease: row.partial_release === true,
  }
}

/** The fields of `EscrowLockTerms` an op row is read with, split off into its `terms`. */
const TERM_FIELDS = [
  'payer',
  'payee',
  'token',
  'amount',
  'resolver',
  'fee_bps',
  'resolver_fee_bps',
  'expiry',
  'nonce',
  'partial_release',
] as const

function escrowOpOf(row: Record<string, unknown>): EscrowOpRow {
  const op: Record<string, unknown> = { ...row }
  const columns: Record<string, string | boolean> = {}
  for (const column of TERM_FIELDS) {
    columns[column] = row[column] as string | boolean
    delete op[column]
  }
  return { ...op, terms: termsOf(columns) } as EscrowOpRow
}

/** Stores an escrow's terms, once: a second call for the same escrow changes nothing. */
export async function insertEscrowTerms(
  db: Queryable,
  escrow: { chainId: number; escrowId: Hex; vaultAddress: Address; terms: EscrowLockTerms },
): Promise<void> {
  const { terms } = escrow
  await db.query(
    `INSERT INTO escrow_terms (chain_id, escrow_id, vault_address, payer, payee, token, amount, resolver,
                               fee_bps, resolver_fee_bps, expiry, nonce, partial_release)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
     ON CONFLICT DO NOTHING`,
    [
      escrow.chainId,
      escrow.escrowId.toLowerCase(),
      escrow.vaultAddress.toLowerCase(),
      terms.payer.toLowerCase(),
      terms.payee.toLowerCase(),
      terms.token.toLowerCase(),
      terms.amount.toString(),
      terms.resolver.toLowerCase(),
      terms.feeBps,
      terms.resolverFeeBps,
      terms.expiry.toString(),
      terms.nonce.toString(),
      terms.partialRelease,
    ],
  )
}

/** The terms of escrow `escrowId` of chain `chainId`, or null for an escrow the coordinator never made. */
export async function selectEscrowTerms(
  db: Queryable,
  chainId: number,
  escrowId: string,
): Promise<EscrowLockTerms | null> {
  const { rows } = await db.query(
    `SELECT ${TERMS_COLUMNS} FROM escrow_terms AS t WHERE t.chain_id = $1 AND t.escrow_id = $2`,
    [chainId, escrowId.toLowerCase()],
  )
  return rows[0] ? termsOf(rows[0]) : null
}

/** Records an op on an escrow whose terms are stored; a second op of the same kind for the subject changes nothing. */
export async function insertEscrowOp(
  db: Queryable,
  op: {
    subject: EscrowSubject
    kind: ChainOpKind
    escrowId: Hex
    chainId: number
    signerAddress: string
    signature: Hex | null
    payeeBps?: number
    releaseAmount?: bigint
  },
): Promise<void> {
  const [column, id] = subjectColumn(op.subject)
  await db.query(
    `INSERT INTO escrow_ops (${column}, kind, escrow_id, chain_id, signer_address, signature, status, payee_bps,
                             release_amount)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
     ON CONFLICT DO NOTHING`,
    [
      id,
      op.kind,
      op.escrowId.toLowerCase(),
      op.chainId,
      op.signerAddress.toLowerCase(),
      op.signature?.toLowerCase() ?? null,
      op.signature ? 'signed' : 'awaiting_signature',
      op.payeeBps ?? null,
      op.releaseAmount?.toString() ?? null,
    ],
  )
}

const OP_COLUMNS = `o.id::text, o.assignment_id, o.entry_id, o.dispute_id, o.micro_job_id, o.session_id, o.kind,
  o.release_amount::text, o.payee_bps, o.escrow_id, o.chain_id::text, o.signer_address,
  o.signature, o.status, o.chain_op_id::text, o.failure_reason, o.created_at, ${TERMS_COLUMNS}`

/** A subject's escrow ops in the order they must settle, with the settler queue's status. */
export async function selectEscrowOps(
  db: Queryable,
  subject: EscrowSubject,
  options: { forUpdate?: boolean } = {},
): Promise<EscrowOpRow[]> {
  const [column, id] = subjectColumn(subject)
  const { rows } = await db.query(
    `SELECT ${OP_COLUMNS}, c.status AS chain_op_status, c.failure_reason AS chain_op_failure_reason
       FROM escrow_ops AS o
       JOIN escrow_terms AS t ON t.chain_id = o.chain_id AND t.escrow_id = o.escrow_id
       LEFT JOIN chain_op_states AS c ON c.id = o.chain_op_id
      WHERE o.${column} = $1
      ORDER BY o.id ${options.forUpdate ? 'FOR UPDATE OF o' : ''}`,
    [id],
  )
  return rows.map(escrowOpOf)
}

/** The subjects with a signed op not yet queued on one of the escrows `escrowIds` of chain `chainId`. */
export async function selectSubjectsWaitingFor(
  db: Queryable,
  chainId: number,
  escrowIds: readonly string[],
): Promise<EscrowSubject[]> {
  const { rows } = await db.query(
    `SELECT DISTINCT o.assignment_id, o.entry_id, o.dispute_id, o.micro_job_id, o.session_id FROM escrow_ops AS o
      WHERE o.status = 'signed' AND o.chain_id = $1 AND o.escrow_id = ANY($2::text[])`,
    [chainId, escrowIds.map((id) => id.toLowerCase())],
  )
  return rows.map(subjectOfRow)
}

/** The escrow lock op behind escrow `escrowId` of chain `chainId`, or null for an escrow the coordinator never locked. */
export async function selectEscrowLockOp(
  db: Queryable,
  chainId: number,
  escrowId: string,
): Promise<Pick<
  EscrowOpRow,
  'assignment_id' | 'entry_id' | 'dispute_id' | 'micro_job_id' | 'session_id' | 'terms'
> | null> {
  const { rows } = await db.query(
    `SELECT o.assignment_id, o.entry_id, o.dispute_id, o.micro_job_id, o.session_id, ${TERMS_COLUMNS} FROM escrow_ops AS o
       JOIN escrow_terms AS t ON t.chain_id = o.chain_id AND t.escrow_id = o.escrow_id
      WHERE o.kind = 'escrow_lock' AND o.chain_id = $1 AND o.escrow_id = $2`,
    [chainId, escrowId.toLowerCase()],
  )
  return rows[0]
    ? {
        assignment_id: rows[0].assignment_id,
        entry_id: rows[0].entry_id,
        dispute_id: rows[0].dispute_id,
        micro_job_id: rows[0].micro_job_id,
        session_id: rows[0].session_id,
        terms: termsOf(rows[0]),
      }
    : null
}

export async function setEscrowOpSignature(db: Queryable, opId: string, signature: Hex): Promise<void> {
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
    `SELECT ${OP_COLUMNS}, NULL AS chain_op_status, NULL AS chain_op_failure_reason
       FROM escrow_ops AS o JOIN escrow_terms AS t ON t.chain_id = o.chain_id AND t.escrow_id = o.escrow_id
      WHERE o.chain_op_id = $1::bigint FOR UPDATE OF o`,
    [chainOpId],
  )
  return rows[0] ? escrowOpOf(rows[0]) : null
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

/** Records whether the vault has closed the escrow (released, refunded, ruled or reclaimed it). */
export async function setEscrowClosed(
  db: Queryable,
  chainId: number,
  escrowId: string,
  closed: boolean,
): Promise<void> {
  await db.query(
    `UPDATE escrow_terms SET closed_at = CASE WHEN $3 THEN coalesce(closed_at, now()) END
      WHERE chain_id = $1 AND escrow_id = $2`,
    [chainId, escrowId.toLowerCase(), closed],
  )
}

/**
 * Up to `limit` escrows of chain `chainId` the vault holds (their lock is indexed), has not closed,
 * and that expired by `nowSeconds` (the chain's clock), with no reclaim queued yet; locked.
 */
export async function selectExpiredOpenEscrows(
  db: Queryable,
  chainId: number,
  nowSeconds: bigint,
  limit: number,
): Promise<Array<{ escrowId: Hex; terms: EscrowLockTerms }>> {
  const { rows } = await db.query(
    `SELECT t.escrow_id, ${TERMS_COLUMNS} FROM escrow_terms AS t
       JOIN escrow_locks AS l ON l.chain_id = t.chain_id AND l.escrow_id = t.escrow_id
      WHERE t.chain_id = $1 AND t.closed_at IS NULL AND t.reclaim_op_id IS NULL AND t.expiry <= $2::numeric
      ORDER BY t.expiry LIMIT $3 FOR UPDATE OF t SKIP LOCKED`,
    [chainId, nowSeconds.toString(), limit],
  )
  return rows.map((row) => ({ escrowId: row.escrow_id as Hex, terms: termsOf(row) }))
}

/** Links the escrow to the settler's op that reclaims it. */
export async function setReclaimOp(
  db: Queryable,
  chainId: number,
  escrowId: string,
  chainOpId: string,
): Promise<void> {
  await db.query(
    'UPDATE escrow_terms SET reclaim_op_id = $3::bigint WHERE chain_id = $1 AND escrow_id = $2',
    [chainId, escrowId.toLowerCase(), chainOpId],
  )
}
