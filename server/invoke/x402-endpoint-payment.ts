import { randomBytes, randomUUID } from 'node:crypto'
import { erc20Abi, getAddress, type Address, type Hex } from 'viem'
import { formatAmount } from '../../protocol/amounts'
import {
  X402_HEADERS,
  decodeX402Header,
  encodeX402Header,
  transferWithAuthorizationTypes,
  x402PaymentRequirements,
  x402Resource,
  type X402EndpointPaymentsPage,
  type X402ListQuery,
  type X402PaymentRequirements,
} from '../../protocol/x402'
import { z } from '../../protocol/zod'
import type { AppContext } from '../app-context'
import type { Actor } from '../auth/actor'
import { findAgentById } from '../agents/agents-service'
import { chainNow } from '../chain/clients'
import { nextSeqCursor, seqAfterCursor } from '../cursor'
import type { Queryable } from '../db/pool'
import { UpstreamError } from '../errors'
import type { OutboundResponse } from '../outbound/outbound-http'
import type { CallableService } from '../services/services-service'
import { signTypedDataForAgent } from '../wallet/managed-wallets'
import { insertEndpointPayment, selectEndpointPayments } from './invoke-queries'

/** The longest an authorization the proxy signs for an endpoint stays valid, whatever it asks. */
const MAX_AUTHORIZATION_SECONDS = 3_600

/** A 402's `PAYMENT-REQUIRED` as the proxy reads it: x402 v2, with what it accepts. */
const endpointPaymentRequired = z.object({
  x402Version: z.literal(2),
  error: z.string().optional(),
  resource: x402Resource.optional(),
  accepts: z.array(x402PaymentRequirements).min(1),
  extensions: z.record(z.string(), z.unknown()).optional(),
})

/** What the proxy paid an x402 endpoint for one call. */
export interface EndpointPayment {
  /** The `PAYMENT-SIGNATURE` header to call again with. */
  header: string
  amount: bigint
  payTo: Address
  /** The agent's managed wallet, which the authorization spends from. */
  payer: Address
  nonce: Hex
  /** Unix seconds: until then whoever holds the authorization can spend it. */
  validBefore: bigint
}

function refused(message: string, details: Record<string, unknown> = {}): UpstreamError {
  return new UpstreamError('upstream_error', `the service's x402 endpoint could not be paid: ${message}`, {
    details: { ...details, endpoint_payment: 'x402' },
  })
}

/**
 * Pays what a service's x402 endpoint asked for in its 402 (issue 19): the one `exact` requirement
 * in the service's token on this chain, at most the service's price (the caller pays the price, so
 * the service's agent never pays out more than it is paid), signed as an EIP-3009
 * `TransferWithAuthorization` from the agent's managed wallet, which must hold the tokens on-chain.
 * Nothing is sent here: the caller calls the endpoint again with the header.
 */
export async function payX402Endpoint(
  context: Pick<AppContext, 'pool' | 'chain' | 'walletEncryptionKey'>,
  service: CallableService,
  response: OutboundResponse,
): Promise<EndpointPayment> {
  const header = response.headers[X402_HEADERS.paymentRequired]
  const parsed = endpointPaymentRequired.safeParse(
    typeof header === 'string' ? decodeX402Header(header) : null,
  )
  if (!parsed.success) throw refused('it answered 402 without an x402 v2 PAYMENT-REQUIRED header')
  const chain = context.chain
  if (!chain) throw refused('this coordinator runs without a chain')
  const price = service.priceAmount ?? 0n
  const network = `eip155:${chain.deployment.chainId}`
  const requirement = parsed.data.accepts.find(
    (entry) =>
      entry.scheme === 'exact' &&
      entry.network === network &&
      entry.asset.toLowerCase() === service.token.address.toLowerCase() &&
      /^0x[0-9a-fA-F]{40}$/.test(entry.payTo) &&
      typeof entry.extra.name === 'string' &&
      typeof entry.extra.version === 'string' &&
      BigInt(entry.amount) <= price,
  )
  if (!requirement) {
    throw refused(
      `it asks for no exact payment in ${service.token.symbol} on ${network} within the price of ${formatAmount(price, service.token.decimals)}`,
      { accepts: parsed.data.accepts },
    )
  }
  const agent = await findAgentById(context.pool, service.agentId)
  if (!agent) throw refused("the service's agent is gone")
  const amount = BigInt(requirement.amount)
  const held = await chain.client.readContract({
    address: service.token.address,
    abi: erc20Abi,
    functionName: 'balanceOf',
    args: [agent.walletAddress],
  })
  if (held < amount) {
    throw refused(
      `the service agent's wallet ${agent.walletAddress} holds ${formatAmount(held, service.token.decimals)} ${service.token.symbol} on-chain, less than the ${formatAmount(amount, service.token.decimals)} asked`,
    )
  }
  const signed = await signedPayment(context, service, agent.walletAddress, requirement, parsed.data)
  return {
    header: encodeX402Header(signed),
    amount,
    payTo: getAddress(requirement.payTo),
    payer: agent.walletAddress,
    nonce: signed.payload.authorization.nonce,
    validBefore: BigInt(signed.payload.authorization.validBefore),
  }
}

/**
 * Writes down the authorization the proxy sent and what the paid call came to: it is out whatever
 * the endpoint answered (`response` null: no answer), so the agent sees what its wallet paid or
 * may still be charged.
 */
export async function recordEndpointPayment(
  db: Queryable,
  service: CallableService,
  payment: EndpointPayment,
  response: OutboundResponse | null,
): Promise<void> {
  const status = response?.status ?? null
  const transaction = response ? settledTransactionOf(response) : null
  await insertEndpointPayment(db, {
    id: randomUUID(),
    serviceId: service.id,
    agentId: service.agentId,
    payer: payment.payer,
    payTo: payment.payTo,
    tokenAddress: service.token.address,
    tokenDecimals: service.token.decimals,
    amount: payment.amount,
    nonce: payment.nonce,
    validBefore: payment.validBefore,
    outcome:
      status === null ? 'unanswered' : status === 402 ? 'refused' : status < 400 ? 'answered' : 'failed',
    upstreamStatus: status,
    txHash: transaction,
  })
}

/** The transaction the endpoint's `PAYMENT-RESPONSE` names, if it sent a readable one. */
function settledTransactionOf(response: OutboundResponse): string | null {
  const header = response.headers[X402_HEADERS.paymentResponse]
  const decoded = typeof header === 'string' ? decodeX402Header(header) : null
  const transaction = (decoded as { transaction?: unknown } | null)?.transaction
  return typeof transaction === 'string' && /^0x[0-9a-fA-F]{64}$/.test(transaction)
    ? transaction.toLowerCase()
    : null
}

/** `GET /v1/agents/me/endpoint-payments`: what the agent's wallet signed to its services' x402 endpoints, newest first. */
export async function listEndpointPayments(
  context: Pick<AppContext, 'pool'>,
  agent: Actor,
  query: X402ListQuery,
): Promise<X402EndpointPaymentsPage> {
  const rows = await selectEndpointPayments(context.pool, agent.id, seqAfterCursor(query.cursor), query.limit)
  return {
    endpoint_payments: rows.map((row) => ({
      endpoint_payment_id: row.id,
      service_id: row.serviceId,
      payer: row.payer,
      pay_to: row.payTo,
      token: row.tokenAddress,
      amount: formatAmount(row.amount, row.tokenDecimals),
      nonce: row.nonce,
      valid_before: row.validBefore.toString(),
      outcome: row.outcome,
      upstream_status: row.upstreamStatus,
      tx_hash: row.txHash,
      created_at: row.createdAt.toISOString(),
    })),
    next_cursor: nextSeqCursor(rows, query.limit),
  }
}

/** An x402 endpoint that answered 402 again to the payment: a 502 with the reason it gave. */
export function endpointRefusal(response: OutboundResponse): UpstreamError {
  const header = response.headers[X402_HEADERS.paymentRequired]
  const required =
    typeof header === 'string' ? (decodeX402Header(header) as { error?: unknown } | null) : null
  return new UpstreamError('upstream_error', "the service's x402 endpoint refused the payment", {
    details: {
      upstream_status: 402,
      reason: String(required?.error ?? 'none given'),
      endpoint_payment: 'x402',
    },
  })
}

async function signedPayment(
  context: Pick<AppContext, 'pool' | 'chain' | 'walletEncryptionKey'>,
  service: CallableService,
  from: Address,
  requirement: X402PaymentRequirements,
  required: z.infer<typeof endpointPaymentRequired>,
) {
  const chain = context.chain!
  const validBefore =
    (await chainNow(chain.client)) +
    BigInt(Math.min(requirement.maxTimeoutSeconds, MAX_AUTHORIZATION_SECONDS))
  const authorization = {
    from,
    to: getAddress(requirement.payTo),
    value: BigInt(requirement.amount),
    validAfter: 0n,
    validBefore,
    nonce: `0x${randomBytes(32).toString('hex')}` as Hex,
  }
  const { name, version } = requirement.extra as { name: string; version: string }
  const signature = await signTypedDataForAgent(context.pool, context, service.agentId, {
    domain: {
      name,
      version,
      chainId: chain.deployment.chainId,
      verifyingContract: getAddress(requirement.asset),
    },
    types: transferWithAuthorizationTypes,
    primaryType: 'TransferWithAuthorization',
    message: authorization,
  })
  return {
    x402Version: 2,
    payload: {
      authorization: {
        ...authorization,
        value: authorization.value.toString(),
        validAfter: '0',
        validBefore: validBefore.toString(),
      },
      signature,
    },
    accepted: requirement,
    ...(required.resource ? { resource: required.resource } : {}),
    ...(required.extensions ? { extensions: required.extensions } : {}),
  }
}
