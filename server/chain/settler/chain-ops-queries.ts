import type { Hex } from 'viem'
import type { Queryable } from '../../db/pool'
import type { OpKind } from '../../../protocol/typed-data'

export interface ChainOp {
  id: string
  kind: OpKind
  data: Hex
  reference: string
}

export interface SettlementBatch {
  batchNumber: bigint
  opsRoot: Hex
  coordinatorSignature: Hex
  status: 'prepared' | 'sent' | 'confirmed'
  txHash: Hex | null
}

/**
 * Queues `data` of `kind` for the settler. Idempotent by `reference`: queueing it again returns
 * the op already queued. Call it inside the transaction that made the off-chain decision, so
 * the decision and its on-chain op commit together.
 */
export async function enqueueChainOp(
  db: Queryable,
  op: { chainId: number; kind: OpKind; data: Hex; reference: string },
): Promise<string> {
  const { rows } = await db.query(
    `WITH inserted AS (
       INSERT INTO chain_ops (chain_id, kind, data, reference) VALUES ($1, $2, $3, $4)
       ON CONFLICT (reference) DO NOTHING RETURNING id
     )
     SELECT id FROM inserted UNION ALL SELECT o.id FROM chain_ops AS o WHERE o.reference = $4`,
    [op.chainId, op.kind, op.data.toLowerCase(), op.reference],
  )
  return String(rows[0].id)
}

/** Status of the op queued under `reference`, or null. */
export async function findChainOp(
  db: Queryable,
  reference: string,
): Promise<{ id: string; status: string; batchNumber: bigint | null; failureReason: string | null } | null> {
  const { rows } = await db.query(
    'SELECT o.id, o.status, o.batch_number, o.failure_reason FROM chain_ops AS o WHERE o.reference = $1',
    [reference],
  )
  const row = rows[0]
  if (!row) return null
  return {
    id: String(row.id),
    status: row.status,
    batchNumber: row.batch_number === null ? null : BigInt(row.batch_number),
    failureReason: row.failure_reason,
  }
}

export async function selectPendingOps(db: Queryable, chainId: number, limit: number): Promise<ChainOp[]> {
  const { rows } = await db.query(
    `SELECT o.id, o.kind, o.data, o.reference FROM chain_ops AS o
      WHERE o.chain_id = $1 AND o.status = 'pending' ORDER BY o.id LIMIT $2 FOR UPDATE`,
    [chainId, limit],
  )
  return rows.map((row) => ({ id: String(row.id), kind: row.kind, data: row.data, reference: row.reference }))
}

export async function oldestPendingAgeMs(db: Queryable, chainId: number): Promise<number | null> {
  const { rows } = await db.query(
    `SELECT (extract(epoch FROM now() - min(o.created_at)) * 1000)::float8 AS age
       FROM chain_ops AS o WHERE o.chain_id = $1 AND o.status = 'pending'`,
    [chainId],
  )
  return rows[0].age === null ? null : Number(rows[0].age)
}

export async function countPendingOps(db: Queryable, chainId: number): Promise<number> {
  const { rows } = await db.query(
    "SELECT count(*)::int AS n FROM chain_ops AS o WHERE o.chain_id = $1 AND o.status = 'pending'",
    [chainId],
  )
  return rows[0].n
}

export async function selectBatchOps(
  db: Queryable,
  chainId: number,
  batchNumber: bigint,
): Promise<ChainOp[]> {
  const { rows } = await db.query(
    `SELECT o.id, o.kind, o.data, o.reference FROM chain_ops AS o
      WHERE o.chain_id = $1 AND o.batch_number = $2::bigint ORDER BY o.id`,
    [chainId, batchNumber.toString()],
  )
  return rows.map((row) => ({ id: String(row.id), kind: row.kind, data: row.data, reference: row.reference }))
}

export async function findInFlightBatch(db: Queryable, chainId: number): Promise<SettlementBatch | null> {
  const { rows } = await db.query(
    `SELECT b.batch_number, b.ops_root, b.coordinator_signature, b.status, b.tx_hash
       FROM settlement_batches AS b WHERE b.chain_id = $1 AND b.status <> 'confirmed'`,
    [chainId],
  )
  const row = rows[0]
  if (!row) return null
  return {
    batchNumber: BigInt(row.batch_number),
    opsRoot: row.ops_root,
    coordinatorSignature: row.coordinator_signature,
    status: row.status,
    txHash: row.tx_hash,
  }
}

export async function highestBatchNumber(db: Queryable, chainId: number): Promise<bigint> {
  const { rows } = await db.query(
    'SELECT coalesce(max(b.batch_number), 0)::text AS n FROM settlement_batches AS b WHERE b.chain_id = $1',
    [chainId],
  )
  return BigInt(rows[0].n)
}

export async function insertBatch(
  db: Queryable,
  chainId: number,
  batch: { batchNumber: bigint; opsRoot: string; coordinatorSignature: string; opIds: string[] },
): Promise<void> {
  await db.query(
    `INSERT INTO settlement_batches (chain_id, batch_number, ops_root, op_count, coordinator_signature, status)
     VALUES ($1, $2::bigint, $3, $4, $5, 'prepared')`,
    [chainId, batch.batchNumber.toString(), batch.opsRoot, batch.opIds.length, batch.coordinatorSignature],
  )
  await db.query(
    `UPDATE chain_ops AS o SET status = 'batched', batch_number = $2::bigint, updated_at = now()
      WHERE o.id = ANY($1::bigint[])`,
    [batch.opIds, batch.batchNumber.toString()],
  )
}

/** Stores a new coordinator signature for a batch that has not landed (same number, same ops root). */
export async function replaceBatchSignature(
  db: Queryable,
  chainId: number,
  batchNumber: bigint,
  signature: string,
): Promise<void> {
  await db.query(
    `UPDATE settlement_batches AS b SET coordinator_signature = $3
      WHERE b.chain_id = $1 AND b.batch_number = $2::bigint AND b.status <> 'confirmed'`,
    [chainId, batchNumber.toString(), signature],
  )
}

export async function markBatchSent(
  db: Queryable,
  chainId: number,
  batchNumber: bigint,
  txHash: string,
): Promise<void> {
  await db.query(
    `UPDATE settlement_batches AS b SET status = 'sent', tx_hash = $3, sent_at = now()
      WHERE b.chain_id = $1 AND b.batch_number = $2::bigint`,
    [chainId, batchNumber.toString(), txHash],
  )
}

export async function markBatchConfirmed(
  db: Queryable,
  chainId: number,
  batchNumber: bigint,
  txHash: string | null,
): Promise<void> {
  await db.query(
    `UPDATE settlement_batches AS b SET status = 'confirmed', tx_hash = coalesce($3, b.tx_hash), confirmed_at = now()
      WHERE b.chain_id = $1 AND b.batch_number = $2::bigint`,
    [chainId, batchNumber.toString(), txHash],
  )
  await db.query(
    `UPDATE chain_ops AS o SET status = 'confirmed', updated_at = now()
      WHERE o.chain_id = $1 AND o.batch_number = $2::bigint AND o.status <> 'failed'`,
    [chainId, batchNumber.toString()],
  )
}

/**
 * Marks op `index` of landed batch `batchNumber` failed: the vault skipped it. It keeps its batch
 * number, so the batch's ops keep their indexes (and a reorg re-sends the batch unchanged).
 * Returns the op, or null when the batch has no op at that index.
 */
export async function markBatchOpSkipped(
  db: Queryable,
  chainId: number,
  batchNumber: bigint,
  index: number,
  reason: string,
): Promise<ChainOp | null> {
  const { rows } = await db.query(
    `UPDATE chain_ops AS o SET status = 'failed', failure_reason = $4, updated_at = now()
      WHERE o.id = (SELECT b.id FROM chain_ops AS b WHERE b.chain_id = $1 AND b.batch_number = $2::bigint
                     ORDER BY b.id OFFSET $3 LIMIT 1)
      RETURNING o.id, o.kind, o.data, o.reference`,
    [chainId, batchNumber.toString(), index, reason],
  )
  const row = rows[0]
  return row ? { id: String(row.id), kind: row.kind, data: row.data, reference: row.reference } : null
}

/**
 * Undoes `markBatchOpSkipped` when a reorg drops the `OpSkipped` log: the op is in its batch again.
 * Returns the op, or null when it was not failed.
 */
export async function unmarkBatchOpSkipped(
  db: Queryable,
  chainId: number,
  batchNumber: bigint,
  index: number,
): Promise<ChainOp | null> {
  const { rows } = await db.query(
    `UPDATE chain_ops AS o SET status = 'batched', failure_reason = NULL, updated_at = now()
      WHERE o.status = 'failed' AND o.id = (SELECT b.id FROM chain_ops AS b
              WHERE b.chain_id = $1 AND b.batch_number = $2::bigint ORDER BY b.id OFFSET $3 LIMIT 1)
      RETURNING o.id, o.kind, o.data, o.reference`,
    [chainId, batchNumber.toString(), index],
  )
  const row = rows[0]
  return row ? { id: String(row.id), kind: row.kind, data: row.data, reference: row.reference } : null
}

/**
 * Un-prepares a batch that never landed: its ops go back to pending (those in `failed` to failed,
 * each with its reason), and the number is free again, since the chain never saw it.
 */
export async function dissolveBatch(
  db: Queryable,
  chainId: number,
  batchNumber: bigint,
  failed: ReadonlyArray<{ opId: string; reason: string }>,
): Promise<void> {
  for (const op of failed) {
    await db.query(
      `UPDATE chain_ops AS o SET status = 'failed', batch_number = NULL, failure_reason = $2, updated_at = now()
        WHERE o.id = $1::bigint`,
      [op.opId, op.reason],
    )
  }
  await db.query(
    `UPDATE chain_ops AS o SET status = 'pending', batch_number = NULL, updated_at = now()
      WHERE o.chain_id = $1 AND o.batch_number = $2::bigint AND o.status = 'batched'`,
    [chainId, batchNumber.toString()],
  )
  await db.query(
    'DELETE FROM settlement_batches AS b WHERE b.chain_id = $1 AND b.batch_number = $2::bigint',
    [chainId, batchNumber.toString()],
  )
}

/** Batches recorded as confirmed whose number is above what the vault has settled: a reorg dropped them. */
export async function selectDroppedBatches(
  db: Queryable,
  chainId: number,
  lastOnChain: bigint,
): Promise<SettlementBatch[]> {
  const { rows } = await db.query(
    `SELECT b.batch_number, b.ops_root, b.coordinator_signature, b.status, b.tx_hash
       FROM settlement_batches AS b
      WHERE b.chain_id = $1 AND b.status = 'confirmed' AND b.batch_number > $2::bigint
      ORDER BY b.batch_number`,
    [chainId, lastOnChain.toString()],
  )
  return rows.map((row) => ({
    batchNumber: BigInt(row.batch_number),
    opsRoot: row.ops_root,
    coordinatorSignature: row.coordinator_signature,
    status: row.status,
    txHash: row.tx_hash,
  }))
}

/**
 * Puts a confirmed batch that a reorg dropped back in flight, exactly as it was signed, so the
 * settler sends the same number with the same ops and signature again.
 */
export async function reopenBatch(db: Queryable, chainId: number, batchNumber: bigint): Promise<void> {
  await db.query(
    `UPDATE settlement_batches AS b SET status = 'sent', confirmed_at = NULL
      WHERE b.chain_id = $1 AND b.batch_number = $2::bigint AND b.status = 'confirmed'`,
    [chainId, batchNumber.toString()],
  )
  await db.query(
    `UPDATE chain_ops AS o SET status = 'batched', updated_at = now()
      WHERE o.chain_id = $1 AND o.batch_number = $2::bigint AND o.status = 'confirmed'`,
    [chainId, batchNumber.toString()],
  )
}

/**
 * Records the `BatchSettled` log of batch `batchNumber` when its ops root is the one recorded (a
 * batch of other ops under that number must not be confirmed by it), confirming the batch and
 * its ops if the settler had not yet. Returns false on a root mismatch or an unknown batch.
 */
export async function recordBatchSettledLog(
  db: Queryable,
  chainId: number,
  log: { batchNumber: bigint; opsRoot: string; txHash: string; blockNumber: bigint },
): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE settlement_batches AS b
        SET settled_tx_hash = $4, settled_block_number = $5::bigint, status = 'confirmed',
            tx_hash = coalesce(b.tx_hash, $4), confirmed_at = coalesce(b.confirmed_at, now())
      WHERE b.chain_id = $1 AND b.batch_number = $2::bigint AND lower(b.ops_root) = lower($3)`,
    [chainId, log.batchNumber.toString(), log.opsRoot, log.txHash, log.blockNumber.toString()],
  )
  if (rowCount === 0) return false
  await db.query(
    `UPDATE chain_ops AS o SET status = 'confirmed', updated_at = now()
      WHERE o.chain_id = $1 AND o.batch_number = $2::bigint AND o.status = 'batched'`,
    [chainId, log.batchNumber.toString()],
  )
  return true
}

/** Forgets a `BatchSettled` log a reorg dropped; the settler notices the vault's lower batch number. */
export async function clearBatchSettledLog(
  db: Queryable,
  chainId: number,
  log: { batchNumber: bigint; txHash: string },
): Promise<void> {
  await db.query(
    `UPDATE settlement_batches AS b SET settled_tx_hash = NULL, settled_block_number = NULL
      WHERE b.chain_id = $1 AND b.batch_number = $2::bigint AND b.settled_tx_hash = $3`,
    [chainId, log.batchNumber.toString(), log.txHash],
  )
}

/** A settlement batch as its public record shows it (`GET /v1/settlements`). */
export interface PublicBatchRow {
  batchNumber: bigint
  opsRoot: Hex
  opCount: number
  coordinatorSignature: Hex
  status: 'prepared' | 'sent' | 'confirmed'
  txHash: Hex | null
  blockNumber: bigint | null
  /** The `totals` of the batch's indexed `BatchSettled` log; null until it is indexed. */
  totals: Record<string, string>[] | null
  createdAt: Date
  confirmedAt: Date | null
}

/** Up to `limit` batches of chain `chainId` numbered above `after`, in order, with their indexed totals. */
export async function selectPublicBatches(
  db: Queryable,
  chainId: number,
  page: { after: bigint; limit: number } | { batchNumber: bigint },
): Promise<PublicBatchRow[]> {
  const [condition, values] =
    'batchNumber' in page
      ? ['b.batch_number = $2::bigint LIMIT 1', [page.batchNumber.toString()]]
      : ['b.batch_number > $2::bigint ORDER BY b.batch_number LIMIT $3', [page.after.toString(), page.limit]]
  const { rows } = await db.query(
    `SELECT b.batch_number::text, b.ops_root, b.op_count, b.coordinator_signature, b.status,
            coalesce(b.settled_tx_hash, b.tx_hash) AS tx_hash, b.settled_block_number::text AS block_number,
            e.args -> 'totals' AS totals, b.created_at, b.confirmed_at
       FROM settlement_batches AS b
       LEFT JOIN LATERAL (
         SELECT ce.args FROM chain_events AS ce
          WHERE ce.chain_id = b.chain_id AND ce.tx_hash = b.settled_tx_hash AND ce.event_name = 'BatchSettled'
            AND ce.args ->> 'batchNumber' = b.batch_number::text
          LIMIT 1
       ) AS e ON true
      WHERE b.chain_id = $1 AND ${condition}`,
    [chainId, ...values],
  )
  return rows.map((row) => ({
    batchNumber: BigInt(row.batch_number),
    opsRoot: row.ops_root,
    opCount: row.op_count,
    coordinatorSignature: row.coordinator_signature,
    status: row.status,
    txHash: row.tx_hash,
    blockNumber: row.block_number === null ? null : BigInt(row.block_number),
    totals: row.totals,
    createdAt: row.created_at,
    confirmedAt: row.confirmed_at,
  }))
}

/** An op of a batch as its public record shows it: no reference (that names private records). */
export interface PublicBatchOpRow {
  id: string
  batchNumber: bigint
  kind: OpKind
  data: Hex
  status: 'batched' | 'confirmed' | 'failed'
  failureReason: string | null
}

/** The ops of batches `batchNumbers` of chain `chainId`, each batch's in batch order. */
export async function selectPublicBatchOps(
  db: Queryable,
  chainId: number,
  batchNumbers: readonly bigint[],
): Promise<PublicBatchOpRow[]> {
  const { rows } = await db.query(
    `SELECT o.id::text, o.batch_number::text, o.kind, o.data, o.status, o.failure_reason
       FROM chain_ops AS o
      WHERE o.chain_id = $1 AND o.batch_number = ANY($2::bigint[])
      ORDER BY o.batch_number, o.id`,
    [chainId, batchNumbers.map(String)],
  )
  return rows.map((row) => ({
    id: row.id,
    batchNumber: BigInt(row.batch_number),
    kind: row.kind,
    data: row.data,
    status: row.status,
    failureReason: row.failure_reason,
  }))
}
