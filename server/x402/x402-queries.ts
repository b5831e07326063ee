import type { Address, Hex } from 'viem'
import type { Queryable } from '../db/pool'

// The x402_payments table (migration 0081).

export type X402PaymentStatus = 'calling' | 'settling' | 'paid' | 'failed'

export interface X402PaymentRow {
  id: string
  seq: string
  serviceId: string
  providerAgentId: string
  payee: Address
  payer: Address
  tokenAddress: Address
  tokenDecimals: number
  amount: bigint
  nonce: Hex
  paymentIdentifier: string | null
  requestHash: string
  status: X402PaymentStatus
  failureReason: string | null
  txHash: Hex | null
  output: unknown
  responseHash: string | null
  upstreamStatus: number | null
  durationMs: number | null
  fee: bigint | null
  createdAt: Date
}

const COLUMNS = `id, seq, service_id, provider_agent_id, payee, payer, token_address, token_decimals, amount,
  nonce, payment_identifier, request_hash, status, failure_reason, tx_hash, output, response_hash,
  upstream_status, duration_ms, fee, created_at`

function toRow(row: Record<string, unknown>): X402PaymentRow {
  return {
    id: row.id as string,
    seq: String(row.seq),
    serviceId: row.service_id as string,
    providerAgentId: row.provider_agent_id as string,
    payee: row.payee as Address,
    payer: row.payer as Address,
    tokenAddress: row.token_address as Address,
    tokenDecimals: row.token_decimals as number,
    amount: BigInt(row.amount as string),
    nonce: row.nonce as Hex,
    paymentIdentifier: row.payment_identifier as string | null,
    requestHash: row.request_hash as string,
    status: row.status as X402PaymentStatus,
    failureReason: row.failure_reason as string | null,
    txHash: row.tx_hash as Hex | null,
    output: row.output,
    responseHash: row.response_hash as string | null,
    upstreamStatus: row.upstream_status as number | null,
    durationMs: row.duration_ms as number | null,
    fee: row.fee === null ? null : BigInt(row.fee as string),
    createdAt: row.created_at as Date,
  }
}

export type NewX402Payment = Pick<
  X402PaymentRow,
  | 'id'
  | 'serviceId'
  | 'providerAgentId'
  | 'payee'
  | 'payer'
  | 'tokenAddress'
  | 'tokenDecimals'
  | 'amount'
  | 'nonce'
  | 'paymentIdentifier'
  | 'requestHash'
>

/**
 * Records a payment about to be made, as `calling`. False when its authorization (payer and
 * nonce) or its payment identifier is already recorded: the insert is what makes each spend once.
 */
export async function insertX402Payment(db: Queryable, payment: NewX402Payment): Promise<boolean> {
  const result = await db.query(
    `INSERT INTO x402_payments (id, service_id, provider_agent_id, payee, payer, token_address, token_decimals,
       amount, nonce, payment_identifier, request_hash, status)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'calling')
     ON CONFLICT DO NOTHING`,
    [
      payment.id,
      payment.serviceId,
      payment.providerAgentId,
      payment.payee,
      payment.payer,
      payment.tokenAddress,
      payment.tokenDecimals,
      payment.amount.toString(),
      payment.nonce,
      payment.paymentIdentifier,
      payment.requestHash,
    ],
  )
  return result.rowCount === 1
}

/** The payment a payer made to a service under a payment identifier, if any. */
export async function selectPaymentByIdentifier(
  db: Queryable,
  payer: Address,
  serviceId: string,
  paymentIdentifier: string,
): Promise<X402PaymentRow | null> {
  const result = await db.query(
    `SELECT ${COLUMNS} FROM x402_payments WHERE payer = $1 AND service_id = $2 AND payment_identifier = $3`,
    [payer, serviceId, paymentIdentifier],
  )
  return result.rows[0] ? toRow(result.rows[0]) : null
}

export async function selectPaymentByAuthorization(
  db: Queryable,
  payer: Address,
  nonce: Hex,
): Promise<X402PaymentRow | null> {
  const result = await db.query(`SELECT ${COLUMNS} FROM x402_payments WHERE payer = $1 AND nonce = $2`, [
    payer,
    nonce,
  ])
  return result.rows[0] ? toRow(result.rows[0]) : null
}

/** The provider answered: what it said, and that the payment goes on-chain now. */
export async function markSettling(
  db: Queryable,
  id: string,
  answer: { output: unknown; responseHash: string; upstreamStatus: number; durationMs: number },
): Promise<void> {
  await db.query(
    `UPDATE x402_payments SET status = 'settling', output = $2, response_hash = $3, upstream_status = $4,
       duration_ms = $5, updated_at = now()
     WHERE id = $1 AND status = 'calling'`,
    [id, JSON.stringify(answer.output), answer.responseHash, answer.upstreamStatus, answer.durationMs],
  )
}

export async function markPaid(db: Queryable, id: string, txHash: Hex): Promise<void> {
  await db.query(
    `UPDATE x402_payments SET status = 'paid', tx_hash = $2, updated_at = now() WHERE id = $1 AND status = 'settling'`,
    [id, txHash.toLowerCase()],
  )
}

/** The call failed or its spend did not land: nothing was spent, and `reason` says why. */
export async function markFailed(db: Queryable, id: string, reason: string): Promise<void> {
  await db.query(
    `UPDATE x402_payments SET status = 'failed', failure_reason = $2, updated_at = now()
     WHERE id = $1 AND status IN ('calling', 'settling')`,
    [id, reason.slice(0, 1000)],
  )
}

/**
 * The vault's log of the payment landed: the fee it charged, and the call paid by that
 * transaction (also when the coordinator stopped waiting for it and wrote the spend off as failed).
 */
export async function recordPaymentLanded(
  db: Queryable,
  payer: Address,
  nonce: Hex,
  fee: bigint,
  txHash: Hex,
): Promise<void> {
  await db.query(
    `UPDATE x402_payments SET fee = $3, status = 'paid', failure_reason = NULL, tx_hash = $4, updated_at = now()
     WHERE payer = $1 AND nonce = $2`,
    [payer, nonce, fee.toString(), txHash.toLowerCase()],
  )
}

/**
 * A reorg dropped the payment's log: its fee is unknown, and the call is not paid (`settling`, so
 * not among the receipts) until the transaction lands again.
 */
export async function recordPaymentDropped(db: Queryable, payer: Address, nonce: Hex): Promise<void> {
  await db.query(
    `UPDATE x402_payments SET fee = NULL, status = CASE WHEN status = 'paid' THEN 'settling' ELSE status END,
       updated_at = now()
     WHERE payer = $1 AND nonce = $2`,
    [payer, nonce],
  )
}

/** A provider's payments, newest first, after `beforeSeq` when given. */
export async function selectProviderPayments(
  db: Queryable,
  providerAgentId: string,
  beforeSeq: string | null,
  limit: number,
): Promise<X402PaymentRow[]> {
  const result = await db.query(
    `SELECT ${COLUMNS} FROM x402_payments
     WHERE provider_agent_id = $1 AND ($2::bigint IS NULL OR seq < $2::bigint)
     ORDER BY seq DESC LIMIT $3`,
    [providerAgentId, beforeSeq, limit],
  )
  return result.rows.map(toRow)
}

/** Paid payments, oldest first, after `afterSeq` when given. */
export async function selectPaidPayments(
  db: Queryable,
  afterSeq: string | null,
  limit: number,
): Promise<X402PaymentRow[]> {
  const result = await db.query(
    `SELECT ${COLUMNS} FROM x402_payments
     WHERE status = 'paid' AND ($1::bigint IS NULL OR seq > $1::bigint)
     ORDER BY seq LIMIT $2`,
    [afterSeq, limit],
  )
  return result.rows.map(toRow)
}
