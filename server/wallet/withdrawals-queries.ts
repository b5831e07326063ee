import type { Address, Hex } from 'viem'
import type { WithdrawalStatus } from '../../protocol/wallet'
import type { Queryable } from '../db/pool'

/** Stored status; the API adds `processing` for a pending withdrawal whose op is in a sent batch. */
export type StoredWithdrawalStatus = 'awaiting_signature' | 'pending' | 'success' | 'failed'

export interface WithdrawalRow {
  id: string
  path: 'fast' | 'slow'
  agentId: string | null
  chainId: number
  account: Address
  token: Address
  amount: bigint
  toAddress: Address
  withdrawalAddressId: string | null
  nonce: bigint | null
  deadline: bigint | null
  ownerSignature: Hex | null
  status: StoredWithdrawalStatus
  debitTransactionId: string | null
  refundTransactionId: string | null
  eventTxHash: Hex | null
  eventLogIndex: number | null
  eventBlockNumber: bigint | null
  reorgCount: number
  failureReason: string | null
  createdAt: Date
  updatedAt: Date
  completedAt: Date | null
  /** Status of its chain op, when one was queued. */
  opStatus: 'pending' | 'batched' | 'confirmed' | 'failed' | null
  opFailureReason: string | null
  /** The status the API shows (`apiStatus`): the one place it is computed. */
  apiStatus: WithdrawalStatus
  /** The failure reason the API shows: the stored one, or the one closing it will store. */
  apiFailureReason: string | null
}

/**
 * The API status in SQL, for the column every read selects, the listing's filter and the refunds
 * worker's choice of what to close alike. A pending withdrawal whose op is in a batch sent on-chain
 * is `processing`. One that can no longer go through is `failed` as soon as that is true, before
 * the refunds worker closes it (and books the refund), so a read tells the truth without writing:
 * its op failed, or it was never signed and `now` (SQL for the chain's clock in seconds, the one
 * the vault judges the deadline by) is past its deadline. With a NULL clock the deadline is not
 * judged.
 */
/** The SQL of a withdrawal's API status (over `w` and its op `o`, as in `WITHDRAWALS_FROM`) at clock `now`. */
export function apiStatus(now: string): string {
  return `(CASE WHEN w.status = 'pending' AND o.status = 'failed' THEN 'failed'
  WHEN w.status = 'awaiting_signature' AND w.deadline < ${now} THEN 'failed'
  WHEN w.status = 'pending' AND o.status IN ('batched', 'confirmed') THEN 'processing'
  ELSE w.status END)`
}

/**
 * The failure reason the API shows: the stored one, or, for a withdrawal `apiStatus` shows failed
 * that nothing has closed yet, the one the refunds worker will store when it closes it.
 */
function apiFailureReason(now: string): string {
  return `(CASE WHEN w.status <> 'failed' AND ${apiStatus(now)} = 'failed'
  THEN (CASE WHEN w.status = 'pending' THEN coalesce(o.failure_reason, 'settlement op failed') ELSE 'signature_expired' END)
  ELSE w.failure_reason END)`
}

/** The clock of reads that judge no deadline: the indexer's locks, and balance totals (an unsigned withdrawal holds no money). */
/** `apiStatus`'s clock when no deadline is read: an unsigned withdrawal is never shown failed for it. */
export const NO_CLOCK = 'NULL::bigint'

function columns(now: string): string {
  return `w.id, w.path, w.agent_id, w.chain_id, w.account, w.token, w.amount::text AS amount, w.to_address,
  w.withdrawal_address_id, w.nonce::text AS nonce, w.deadline, w.owner_signature, w.status,
  w.debit_transaction_id, w.refund_transaction_id, w.event_tx_hash, w.event_log_index, w.event_block_number, w.reorg_count,
  w.failure_reason, w.created_at, w.updated_at, w.completed_at,
  o.status AS op_status, o.failure_reason AS op_failure_reason, ${apiStatus(now)} AS api_status,
  ${apiFailureReason(now)} AS api_failure_reason`
}

// The settler room's published view of its queue, by the op's id.
export const WITHDRAWALS_FROM = `withdrawals AS w LEFT JOIN chain_op_states AS o ON o.id = w.chain_op_id`
const FROM = WITHDRAWALS_FROM

function toWithdrawal(row: Record<string, unknown>): WithdrawalRow {
  return {
    id: row.id as string,
    path: row.path as WithdrawalRow['path'],
    agentId: (row.agent_id as string | null) ?? null,
    chainId: Number(row.chain_id),
    account: row.account as Address,
    token: row.token as Address,
    amount: BigInt(row.amount as string),
    toAddress: row.to_address as Address,
    withdrawalAddressId: (row.withdrawal_address_id as string | null) ?? null,
    nonce: row.nonce === null ? null : BigInt(row.nonce as string),
    deadline: row.deadline === null ? null : BigInt(row.deadline as string),
    ownerSignature: (row.owner_signature as Hex | null) ?? null,
    status: row.status as StoredWithdrawalStatus,
    debitTransactionId: (row.debit_transaction_id as string | null) ?? null,
    refundTransactionId: (row.refund_transaction_id as string | null) ?? null,
    eventTxHash: (row.event_tx_hash as Hex | null) ?? null,
    eventLogIndex: (row.event_log_index as number | null) ?? null,
    eventBlockNumber: row.event_block_number === null ? null : BigInt(row.event_block_number as string),
    reorgCount: row.reorg_count as number,
    failureReason: (row.failure_reason as string | null) ?? null,
    createdAt: row.created_at as Date,
    updatedAt: row.updated_at as Date,
    completedAt: (row.completed_at as Date | null) ?? null,
    opStatus: (row.op_status as WithdrawalRow['opStatus']) ?? null,
    opFailureReason: (row.op_failure_reason as string | null) ?? null,
    apiStatus: row.api_status as WithdrawalStatus,
    apiFailureReason: (row.api_failure_reason as string | null) ?? null,
  }
}

/** Links a fast withdrawal to the settler queue's op `chainOpId` that pays it out. */
export async function linkWithdrawalOp(
  db: Queryable,
  withdrawalId: string,
  chainOpId: string,
): Promise<void> {
  await db.query('UPDATE withdrawals SET chain_op_id = $2::bigint WHERE id = $1', [withdrawalId, chainOpId])
}

/** The reference of a fast withdrawal's op in the settler queue and of its debit in the ledger. */
export function withdrawalOpReference(withdrawalId: string): string {
  return `withdrawal:${withdrawalId}`
}

export async function insertFastWithdrawal(
  db: Queryable,
  withdrawal: {
    id: string
    agentId: string
    chainId: number
    account: string
    token: string
    amount: bigint
    toAddress: string
    withdrawalAddressId: string | null
    nonce: bigint
    deadline: bigint
    ownerSignature: string | null
    status: 'awaiting_signature' | 'pending'
    debitTransactionId: string | null
  },
): Promise<void> {
  await db.query(
    `INSERT INTO withdrawals (id, path, agent_id, chain_id, account, token, amount, to_address, withdrawal_address_id,
       nonce, deadline, owner_signature, status, debit_transaction_id)
     VALUES ($1, 'fast', $2, $3, $4, $5, $6::numeric, $7, $8, $9::numeric, $10::bigint, $11, $12, $13)`,
    [
      withdrawal.id,
      withdrawal.agentId,
      withdrawal.chainId,
      withdrawal.account,
      withdrawal.token,
      withdrawal.amount.toString(),
      withdrawal.toAddress,
      withdrawal.withdrawalAddressId,
      withdrawal.nonce.toString(),
      withdrawal.deadline.toString(),
      withdrawal.ownerSignature,
      withdrawal.status,
      withdrawal.debitTransactionId,
    ],
  )
}

export async function insertSlowWithdrawal(
  db: Queryable,
  withdrawal: {
    id: string
    agentId: string | null
    chainId: number
    account: string
    token: string
    amount: bigint
    toAddress: string
    debitTransactionId: string
    eventTxHash: string
    eventLogIndex: number
    eventBlockNumber: bigint
  },
): Promise<void> {
  await db.query(
    `INSERT INTO withdrawals (id, path, agent_id, chain_id, account, token, amount, to_address, status,
       debit_transaction_id, event_tx_hash, event_log_index, event_block_number, completed_at)
     VALUES ($1, 'slow', $2, $3, $4, $5, $6::numeric, $7, 'success', $8, $9, $10, $11::bigint, now())`,
    [
      withdrawal.id,
      withdrawal.agentId,
      withdrawal.chainId,
      withdrawal.account,
      withdrawal.token,
      withdrawal.amount.toString(),
      withdrawal.toAddress,
      withdrawal.debitTransactionId,
      withdrawal.eventTxHash,
      withdrawal.eventLogIndex,
      withdrawal.eventBlockNumber.toString(),
    ],
  )
}

/** The withdrawal `id`, locked; its API status judged at `nowSeconds` by the chain's clock. */
export async function lockWithdrawal(
  db: Queryable,
  id: string,
  nowSeconds: bigint,
): Promise<WithdrawalRow | null> {
  const { rows } = await db.query(
    `SELECT ${columns('$2::bigint')} FROM ${FROM} WHERE w.id = $1 FOR UPDATE OF w`,
    [id, nowSeconds.toString()],
  )
  return rows[0] ? toWithdrawal(rows[0]) : null
}

/** The agent's withdrawal `id`, or null; its API status judged at `nowSeconds` by the chain's clock. */
export async function selectAgentWithdrawal(
  db: Queryable,
  agentId: string,
  id: string,
  nowSeconds: bigint,
): Promise<WithdrawalRow | null> {
  const { rows } = await db.query(
    `SELECT ${columns('$3::bigint')} FROM ${FROM} WHERE w.id = $1 AND w.agent_id = $2`,
    [id, agentId, nowSeconds.toString()],
  )
  return rows[0] ? toWithdrawal(rows[0]) : null
}

/** The withdrawal the `Withdrawn` log (tx, log index) settled, locked. */
export async function lockWithdrawalByEvent(
  db: Queryable,
  chainId: number,
  txHash: string,
  logIndex: number,
): Promise<WithdrawalRow | null> {
  const { rows } = await db.query(
    `SELECT ${columns(NO_CLOCK)} FROM ${FROM}
     WHERE w.chain_id = $1 AND w.event_tx_hash = $2 AND w.event_log_index = $3 FOR UPDATE OF w`,
    [chainId, txHash, logIndex],
  )
  return rows[0] ? toWithdrawal(rows[0]) : null
}

/** Fast withdrawals queued and not yet seen on-chain that match a `Withdrawn` log, oldest first, locked. */
/** The pending fast withdrawal of `account` signed with `nonce` on chain `chainId`, locked, or null. */
export async function lockPendingWithdrawalByNonce(
  db: Queryable,
  match: { chainId: number; account: string; nonce: bigint },
): Promise<WithdrawalRow | null> {
  const { rows } = await db.query(
    `SELECT ${columns(NO_CLOCK)} FROM ${FROM}
     WHERE w.chain_id = $1 AND w.account = $2 AND w.nonce = $3::numeric AND w.path = 'fast' AND w.status = 'pending'
     FOR UPDATE OF w`,
    [match.chainId, match.account, match.nonce.toString()],
  )
  return rows[0] ? toWithdrawal(rows[0]) : null
}

export async function markWithdrawalSettled(
  db: Queryable,
  id: string,
  event: { txHash: string; logIndex: number; blockNumber: bigint },
): Promise<void> {
  await db.query(
    `UPDATE withdrawals AS w SET status = 'success', event_tx_hash = $2, event_log_index = $3,
       event_block_number = $4::bigint, completed_at = now(), updated_at = now()
     WHERE w.id = $1`,
    [id, event.txHash, event.logIndex, event.blockNumber.toString()],
  )
}

/** A fast withdrawal whose log a reorg dropped: back to pending until the log comes back. */
export async function markWithdrawalUnsettled(db: Queryable, id: string): Promise<void> {
  await db.query(
    `UPDATE withdrawals AS w SET status = 'pending', event_tx_hash = NULL, event_log_index = NULL,
       event_block_number = NULL, completed_at = NULL, reorg_count = w.reorg_count + 1, updated_at = now()
     WHERE w.id = $1`,
    [id],
  )
}

/** A slow withdrawal whose log a reorg dropped; it keeps the log's identity, so a re-inclusion revives it. */
export async function markSlowWithdrawalReorged(db: Queryable, id: string): Promise<void> {
  await db.query(
    `UPDATE withdrawals AS w SET status = 'failed', failure_reason = 'reorganised out of the chain',
       completed_at = NULL, reorg_count = w.reorg_count + 1, updated_at = now()
     WHERE w.id = $1`,
    [id],
  )
}

export async function reviveSlowWithdrawal(
  db: Queryable,
  id: string,
  update: {
    agentId: string | null
    debitTransactionId: string
    event: { txHash: string; logIndex: number; blockNumber: bigint }
  },
): Promise<void> {
  await db.query(
    `UPDATE withdrawals AS w SET status = 'success', failure_reason = NULL, agent_id = $2, debit_transaction_id = $3,
       event_tx_hash = $4, event_log_index = $5, event_block_number = $6::bigint, completed_at = now(),
       updated_at = now()
     WHERE w.id = $1`,
    [
      id,
      update.agentId,
      update.debitTransactionId,
      update.event.txHash,
      update.event.logIndex,
      update.event.blockNumber.toString(),
    ],
  )
}

export async function markWithdrawalSigned(
  db: Queryable,
  id: string,
  signature: string,
  debitTransactionId: string,
): Promise<void> {
  await db.query(
    `UPDATE withdrawals AS w SET status = 'pending', owner_signature = $2, debit_transaction_id = $3, updated_at = now()
     WHERE w.id = $1`,
    [id, signature, debitTransactionId],
  )
}

export async function markWithdrawalFailed(
  db: Queryable,
  id: string,
  reason: string,
  refundTransactionId: string | null,
): Promise<void> {
  await db.query(
    `UPDATE withdrawals AS w SET status = 'failed', failure_reason = $2, refund_transaction_id = $3,
       completed_at = now(), updated_at = now()
     WHERE w.id = $1`,
    [id, reason, refundTransactionId],
  )
}

/** Slow withdrawals by `account` booked on the platform's unclaimed account, in chain order, locked. */
export async function lockUnclaimedWithdrawals(db: Queryable, account: string): Promise<WithdrawalRow[]> {
  const { rows } = await db.query(
    `SELECT ${columns(NO_CLOCK)} FROM ${FROM}
     WHERE w.account = $1 AND w.agent_id IS NULL AND w.status = 'success'
     ORDER BY w.event_block_number, w.event_log_index FOR UPDATE OF w`,
    [account],
  )
  return rows.map(toWithdrawal)
}

export async function assignWithdrawalAgent(db: Queryable, id: string, agentId: string): Promise<void> {
  await db.query('UPDATE withdrawals AS w SET agent_id = $2, updated_at = now() WHERE w.id = $1', [
    id,
    agentId,
  ])
}

/**
 * Ids of withdrawals `apiStatus` shows failed at `nowSeconds` that nothing has closed yet (a fast
 * one debited whose op failed, to refund; one never signed by its deadline, to expire), oldest
 * first. `agentId` narrows to one agent.
 */
export async function selectStuckWithdrawalIds(
  db: Queryable,
  nowSeconds: bigint,
  agentId: string | null,
): Promise<string[]> {
  const { rows } = await db.query(
    `SELECT w.id FROM ${FROM}
     WHERE ($2::uuid IS NULL OR w.agent_id = $2) AND w.status <> 'failed' AND ${apiStatus('$1::bigint')} = 'failed'
     ORDER BY w.created_at`,
    [nowSeconds.toString(), agentId],
  )
  return rows.map((row) => row.id as string)
}

/**
 * The agent's withdrawals, newest first; `status` filters on the API status, judged at
 * `nowSeconds` by the chain's clock.
 */
export async function selectAgentWithdrawals(
  db: Queryable,
  agentId: string,
  options: {
    status?: string
    token?: string
    limit: number
    offset: number
    after?: string
    nowSeconds: bigint
  },
): Promise<WithdrawalRow[]> {
  // `after`: the last withdrawal of the previous page; rows strictly after it in the listing order.
  const { rows } = await db.query(
    `SELECT ${columns('$7::bigint')} FROM ${FROM}
     WHERE w.agent_id = $1 AND ($2::text IS NULL OR w.token = $2)
       AND ($3::text IS NULL OR ${apiStatus('$7::bigint')} = $3)
       AND ($6::uuid IS NULL OR (w.created_at, w.id) <
         (SELECT c.created_at, c.id FROM withdrawals AS c WHERE c.id = $6))
     ORDER BY w.created_at DESC, w.id DESC
     LIMIT $4 OFFSET $5`,
    [
      agentId,
      options.token ?? null,
      options.status ?? null,
      options.limit,
      options.offset,
      options.after ?? null,
      options.nowSeconds.toString(),
    ],
  )
  return rows.map(toWithdrawal)
}

/**
 * Per token, fast withdrawals the ledger has paid out and the indexer has not yet seen leave the
 * vault: debited, not refunded, no `Withdrawn` log indexed. Reconciliation compares at the
 * indexer's block, where exactly these are still in the vault.
 */
export async function selectInFlightWithdrawalTotals(
  db: Queryable,
  chainId: number,
): Promise<Map<string, bigint>> {
  const { rows } = await db.query(
    `SELECT w.token, sum(w.amount)::text AS total FROM withdrawals AS w
     WHERE w.chain_id = $1 AND w.path = 'fast' AND w.status = 'pending'
     GROUP BY w.token`,
    [chainId],
  )
  return new Map(rows.map((row) => [row.token as string, BigInt(row.total)]))
}
