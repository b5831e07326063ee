import type { Queryable } from '../db/pool'

/** A TransferWithAuthorization the proxy sent an x402 endpoint, and what came of the call. */
export interface EndpointPaymentRow {
  id: string
  seq: string
  serviceId: string
  agentId: string
  payer: string
  payTo: string
  tokenAddress: string
  tokenDecimals: number
  amount: bigint
  nonce: string
  validBefore: bigint
  outcome: 'answered' | 'refused' | 'failed' | 'unanswered'
  upstreamStatus: number | null
  txHash: string | null
  createdAt: Date
}

const COLUMNS = `id, seq::text, service_id, agent_id, payer, pay_to, token_address, token_decimals,
  amount::text, nonce, valid_before::text, outcome, upstream_status, tx_hash, created_at`

function toRow(row: Record<string, unknown>): EndpointPaymentRow {
  return {
    id: row.id as string,
    seq: row.seq as string,
    serviceId: row.service_id as string,
    agentId: row.agent_id as string,
    payer: row.payer as string,
    payTo: row.pay_to as string,
    tokenAddress: row.token_address as string,
    tokenDecimals: row.token_decimals as number,
    amount: BigInt(row.amount as string),
    nonce: row.nonce as string,
    validBefore: BigInt(row.valid_before as string),
    outcome: row.outcome as EndpointPaymentRow['outcome'],
    upstreamStatus: row.upstream_status as number | null,
    txHash: row.tx_hash as string | null,
    createdAt: row.created_at as Date,
  }
}

export async function insertEndpointPayment(
  db: Queryable,
  payment: Omit<EndpointPaymentRow, 'seq' | 'createdAt'>,
): Promise<void> {
  await db.query(
    `INSERT INTO x402_endpoint_payments (id, service_id, agent_id, payer, pay_to, token_address,
       token_decimals, amount, nonce, valid_before, outcome, upstream_status, tx_hash)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
    [
      payment.id,
      payment.serviceId,
      payment.agentId,
      payment.payer.toLowerCase(),
      payment.payTo.toLowerCase(),
      payment.tokenAddress.toLowerCase(),
      payment.tokenDecimals,
      payment.amount.toString(),
      payment.nonce.toLowerCase(),
      payment.validBefore.toString(),
      payment.outcome,
      payment.upstreamStatus,
      payment.txHash,
    ],
  )
}

/** The agent's endpoint payments, newest first, before `beforeSeq` when given. */
export async function selectEndpointPayments(
  db: Queryable,
  agentId: string,
  beforeSeq: string | null,
  limit: number,
): Promise<EndpointPaymentRow[]> {
  const result = await db.query(
    `SELECT ${COLUMNS} FROM x402_endpoint_payments
     WHERE agent_id = $1 AND ($2::bigint IS NULL OR seq < $2::bigint)
     ORDER BY seq DESC LIMIT $3`,
    [agentId, beforeSeq, limit],
  )
  return result.rows.map(toRow)
}
