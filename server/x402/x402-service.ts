import { createHash, randomUUID } from 'node:crypto'
import { erc20Abi, parseSignature, verifyTypedData, type Address, type Hex } from 'viem'
import { formatAmount } from '../../protocol/amounts'
import { canonicalJson } from '../../protocol/canonical-json'
import { clearhouseVaultAbi } from '../../protocol/vault-abi'
import {
  PAYMENT_IDENTIFIER_EXTENSION,
  X402_REFUSALS,
  decodeX402Header,
  paymentIdentifier as paymentIdentifierSchema,
  paymentIdentifierDeclaration,
  transferWithAuthorizationTypes,
  x402PaymentPayloadV1,
  x402PaymentPayloadV2,
  type X402CallResponse,
  type X402ListQuery,
  type X402Payment,
  type X402PaymentPayload,
  type X402PaymentRequired,
  type X402PaymentRequirements,
  type X402PaymentsPage,
  type X402ReceiptsPage,
  type X402Refusal,
  type X402SettleResponse,
} from '../../protocol/x402'
import type { AppContext } from '../app-context'
import type { Actor } from '../auth/actor'
import { findAgentById } from '../agents/agents-service'
import { chainNow } from '../chain/clients'
import { tokenSignatureAbi } from '../chain/token-abi'
import { sendConfirmed, senderOverClient } from '../chain/settler/transaction-sender'
import { nextSeqCursor, seqAfterCursor } from '../cursor'
import {
  ConflictError,
  ServiceUnavailableError,
  UnauthorizedError,
  UpstreamError,
  ValidationError,
} from '../errors'
import { answerRecordOf, callServiceEndpoint, outputOf } from '../invoke/invoke-service'
import { checkCallInput } from '../invoke/input-schemas'
import type { OutboundResponse } from '../outbound/outbound-http'
import { findCallableService, type CallableService } from '../services/services-service'
import {
  insertX402Payment,
  markFailed,
  markPaid,
  markSettling,
  selectPaidPayments,
  selectPaymentByAuthorization,
  selectPaymentByIdentifier,
  selectProviderPayments,
  type X402PaymentRow,
} from './x402-queries'

/**
 * How long an authorization a client signs for us stays valid (x402's `maxTimeoutSeconds`): long
 * enough for the provider's answer and the transaction that spends it.
 */
export const X402_MAX_TIMEOUT_SECONDS = 300

/** The least time an authorization must have left when it is checked: the spend needs a block. */
const VALID_BEFORE_MARGIN_SECONDS = 6n

/** An x402 request to a service: where it was sent, what it asks, and the payment it carries. */
export interface X402CallRequest {
  serviceId: string
  /** The absolute URL the client called (the x402 `resource`). */
  resourceUrl: string
  input: unknown
  /** The `PAYMENT-SIGNATURE` (v2) or `X-PAYMENT` (v1) header, if sent. */
  payment: { version: 1 | 2; header: string } | null
}

/** The x402 headers an answer may carry, by what they say; the transport names and encodes them. */
export type X402AnswerHeaders = Partial<{
  paymentRequired: X402PaymentRequired
  paymentResponse: X402SettleResponse
  v1PaymentResponse: X402SettleResponse
}>

/** What the x402 transport answers: a status, its x402 headers and a JSON body. */
export interface X402Answer {
  status: number
  headers: X402AnswerHeaders
  body: unknown
}

/** The settlement header in the version the client paid with. */
function settlementHeader(version: 1 | 2, settlement: X402SettleResponse): X402AnswerHeaders {
  return version === 2 ? { paymentResponse: settlement } : { v1PaymentResponse: settlement }
}

interface X402Chain {
  client: NonNullable<AppContext['chain']>['client']
  chainId: number
  vault: Address
  network: string
}

/** Whether this coordinator takes x402 payments: a chain, a vault on it, and the coordinator key. */
export function takesX402Payments(context: Pick<AppContext, 'chain' | 'coordinatorAccount'>): boolean {
  return Boolean(context.chain?.deployment.contracts.ClearhouseVault && context.coordinatorAccount)
}

function x402ChainOf(context: AppContext): X402Chain {
  const chain = context.chain
  if (!chain || !takesX402Payments(context)) {
    throw new ServiceUnavailableError(
      'x402_unavailable',
      'this coordinator takes no x402 payments: it runs without a chain, a vault or the coordinator key',
      { retryAfterSeconds: 60 },
    )
  }
  const chainId = chain.deployment.chainId
  const vault = chain.deployment.contracts.ClearhouseVault as Address
  return { client: chain.client, chainId, vault, network: `eip155:${chainId}` }
}

// A token's EIP-712 name and version never change: read once per chain and token.
const tokenDomains = new Map<string, Promise<{ name: string; version: string }>>()

function tokenDomainOf(chain: X402Chain, token: Address): Promise<{ name: string; version: string }> {
  const key = `${chain.chainId}:${token}`
  let domain = tokenDomains.get(key)
  if (!domain) {
    domain = chain.client
      .readContract({ address: token, abi: tokenSignatureAbi, functionName: 'eip712Domain' })
      .then(([, name, version]) => ({ name, version }))
    domain.catch(() => tokenDomains.delete(key))
    tokenDomains.set(key, domain)
  }
  return domain
}

/**
 * What an x402 client must pay for one call of `service`: its price, to the vault, in its token.
 * The client dates its authorization by its wall clock, the token by block time: where the chain
 * runs ahead (a dev chain moved forward), the window asked for covers the difference.
 */
async function requirementsOf(
  chain: X402Chain,
  service: CallableService,
  now: bigint,
): Promise<X402PaymentRequirements> {
  const domain = await tokenDomainOf(chain, service.token.address)
  const chainLead = Number(now) - Math.floor(Date.now() / 1000)
  return {
    scheme: 'exact',
    network: chain.network,
    asset: service.token.address,
    amount: service.priceAmount!.toString(),
    payTo: chain.vault,
    maxTimeoutSeconds: X402_MAX_TIMEOUT_SECONDS + Math.max(0, chainLead),
    extra: { name: domain.name, version: domain.version },
  }
}

function paymentRequiredOf(
  requirements: X402PaymentRequirements,
  service: CallableService,
  request: X402CallRequest,
  error: string,
): X402PaymentRequired {
  return {
    x402Version: 2,
    error,
    resource: { url: request.resourceUrl, description: service.name, mimeType: 'application/json' },
    accepts: [requirements],
    extensions: { [PAYMENT_IDENTIFIER_EXTENSION]: paymentIdentifierDeclaration },
  }
}

/**
 * A 402: the `PAYMENT-REQUIRED` header the x402 client reads (with `error`, the reason a payment
 * was refused), and the same in the API's error shape for a person reading the body.
 */
function paymentRequiredAnswer(
  requirements: X402PaymentRequirements,
  service: CallableService,
  request: X402CallRequest,
  refusal: { code: X402Refusal | 'payment_required'; message: string },
  extraHeaders: X402AnswerHeaders = {},
): X402Answer {
  const required = paymentRequiredOf(requirements, service, request, refusal.code)
  return {
    status: 402,
    headers: { ...extraHeaders, paymentRequired: required },
    body: { error: { code: refusal.code, message: refusal.message, details: { x402: required } } },
  }
}

/** The 402 for a refused payment, with its reason; anything else is rethrown. */
function refusedAnswer(
  context: Pick<AppContext, 'metrics'>,
  error: unknown,
  requirements: X402PaymentRequirements,
  service: CallableService,
  request: X402CallRequest,
): X402Answer {
  if (!(error instanceof PaymentRefused)) throw error
  context.metrics.x402Calls.labels('refused').inc()
  return paymentRequiredAnswer(requirements, service, request, { code: error.code, message: error.message })
}

/** A refusal of the payment sent: the 402 a client can act on, with the reason. */
class PaymentRefused extends Error {
  override name = 'PaymentRefused'
  constructor(
    readonly code: X402Refusal,
    message: string,
  ) {
    super(message)
  }
}

interface VerifiedPayment {
  version: 1 | 2
  payer: Address
  value: bigint
  validAfter: bigint
  validBefore: bigint
  nonce: Hex
  signature: Hex
  paymentIdentifier: string | null
}

function decodePayment(header: string, version: 1 | 2): X402PaymentPayload {
  const json = decodeX402Header(header)
  const parsed = version === 2 ? x402PaymentPayloadV2.safeParse(json) : x402PaymentPayloadV1.safeParse(json)
  if (!parsed.success) {
    const where = parsed.error.issues[0]
    throw new PaymentRefused(
      X402_REFUSALS.invalidPayload,
      `the ${version === 2 ? 'PAYMENT-SIGNATURE' : 'X-PAYMENT'} header is not base64 of an x402 v${version} exact payment${where ? ` (${where.path.join('.') || 'payload'}: ${where.message})` : ''}`,
    )
  }
  return parsed.data
}

/**
 * Checks the payment itself: it accepted this call's requirement, pays the vault exactly the price
 * within its window (by the later of the wall clock and block time), signed by its payer. The
 * payer's nonce and balance on-chain are checked apart (`checkPayerOnChain`).
 */
async function verifyPayment(
  chain: X402Chain,
  requirements: X402PaymentRequirements,
  payload: X402PaymentPayload,
  now: bigint,
): Promise<VerifiedPayment> {
  const { authorization, signature } = payload.payload
  if (payload.x402Version === 2) {
    const accepted = payload.accepted
    if (accepted.scheme !== 'exact') {
      throw new PaymentRefused(X402_REFUSALS.scheme, `scheme ${accepted.scheme} is not taken; pay with exact`)
    }
    if (accepted.network !== requirements.network) {
      throw new PaymentRefused(
        X402_REFUSALS.network,
        `network ${accepted.network} is not ${requirements.network}`,
      )
    }
    const sameRequirement =
      accepted.asset.toLowerCase() === requirements.asset.toLowerCase() &&
      accepted.payTo.toLowerCase() === requirements.payTo.toLowerCase() &&
      accepted.amount === requirements.amount
    if (!sameRequirement) {
      throw new PaymentRefused(
        X402_REFUSALS.requirementsMismatch,
        'the payment accepted other requirements than this call’s (asset, payTo or amount)',
      )
    }
  } else {
    if (payload.scheme !== 'exact') {
      throw new PaymentRefused(X402_REFUSALS.scheme, `scheme ${payload.scheme} is not taken; pay with exact`)
    }
    if (payload.network !== requirements.network) {
      throw new PaymentRefused(
        X402_REFUSALS.network,
        `network ${payload.network} is not ${requirements.network}`,
      )
    }
  }
  if (authorization.to !== chain.vault.toLowerCase()) {
    throw new PaymentRefused(
      X402_REFUSALS.recipient,
      `the authorization pays ${authorization.to}, not the vault ${chain.vault}`,
    )
  }
  const value = BigInt(authorization.value)
  if (value !== BigInt(requirements.amount)) {
    throw new PaymentRefused(
      X402_REFUSALS.value,
      `the authorization is for ${authorization.value} base units; the call costs ${requirements.amount}`,
    )
  }
  const validAfter = BigInt(authorization.validAfter)
  const validBefore = BigInt(authorization.validBefore)
  if (validAfter >= now) {
    throw new PaymentRefused(X402_REFUSALS.validAfter, `the authorization is valid only after ${validAfter}`)
  }
  if (validBefore < now + VALID_BEFORE_MARGIN_SECONDS) {
    throw new PaymentRefused(
      X402_REFUSALS.validBefore,
      `the authorization expired (valid before ${validBefore}, now ${now})`,
    )
  }
  const { name, version } = requirements.extra as { name: string; version: string }
  const isSigned = await verifyTypedData({
    address: authorization.from,
    domain: { name, version, chainId: chain.chainId, verifyingContract: requirements.asset as Address },
    types: transferWithAuthorizationTypes,
    primaryType: 'TransferWithAuthorization',
    message: {
      from: authorization.from,
      to: authorization.to,
      value,
      validAfter,
      validBefore,
      nonce: authorization.nonce as Hex,
    },
    signature: signature as Hex,
  }).catch(() => false)
  if (!isSigned) {
    throw new PaymentRefused(
      X402_REFUSALS.signature,
      `the signature is not ${authorization.from}'s TransferWithAuthorization`,
    )
  }
  return {
    version: payload.x402Version,
    payer: authorization.from,
    value,
    validAfter,
    validBefore,
    nonce: authorization.nonce.toLowerCase() as Hex,
    signature: signature as Hex,
    paymentIdentifier: paymentIdentifierOf(payload),
  }
}

/** x402's payment-identifier extension's id, when the client sent one. */
function paymentIdentifierOf(payload: X402PaymentPayload): string | null {
  if (payload.x402Version !== 2) return null
  const extension = payload.extensions?.[PAYMENT_IDENTIFIER_EXTENSION] as
    { info?: { id?: unknown } } | undefined
  const id = extension?.info?.id
  if (id === undefined) return null
  const parsed = paymentIdentifierSchema.safeParse(id)
  if (!parsed.success) {
    throw new PaymentRefused(
      X402_REFUSALS.invalidPayload,
      'the payment identifier must be 16 to 128 of [A-Za-z0-9_-]',
    )
  }
  return parsed.data
}

/** What the chain must say before the provider is called: the nonce unused, the payer funded. */
async function checkPayerOnChain(chain: X402Chain, token: Address, payment: VerifiedPayment): Promise<void> {
  const [isUsed, balance] = await Promise.all([
    chain.client.readContract({
      address: token,
      abi: tokenSignatureAbi,
      functionName: 'authorizationState',
      args: [payment.payer, payment.nonce],
    }),
    chain.client.readContract({
      address: token,
      abi: erc20Abi,
      functionName: 'balanceOf',
      args: [payment.payer],
    }),
  ])
  if (isUsed) throw new PaymentRefused(X402_REFUSALS.nonceUsed, 'this authorization was already spent')
  if (balance < payment.value) {
    throw new PaymentRefused(
      X402_REFUSALS.insufficientBalance,
      `${payment.payer} holds ${balance} base units, less than the ${payment.value} it authorized`,
    )
  }
}

/** sha256 of what a payment identifier may be retried with: the service and the input. */
function requestHashOf(serviceId: string, input: unknown): string {
  return createHash('sha256')
    .update(`${serviceId}\n${canonicalJson(input ?? null)}`)
    .digest('hex')
}

function settleResponseOf(
  chain: X402Chain,
  payer: Address,
  result: { success: true; transaction: Hex } | { success: false; errorReason: string },
): X402SettleResponse {
  return result.success
    ? { success: true, transaction: result.transaction, network: chain.network, payer }
    : { success: false, errorReason: result.errorReason, transaction: '', network: chain.network, payer }
}

function paidAnswer(
  chain: X402Chain,
  service: CallableService,
  payment: { version: 1 | 2; payer: Address },
  row: Pick<X402PaymentRow, 'id' | 'txHash' | 'output'>,
): X402Answer {
  const body: X402CallResponse = {
    output: row.output,
    result: row.output,
    cost: formatAmount(service.priceAmount!, service.token.decimals),
    payment_id: row.id,
    tx_hash: row.txHash,
  }
  return {
    status: 200,
    headers: settlementHeader(
      payment.version,
      settleResponseOf(chain, payment.payer, { success: true, transaction: row.txHash! }),
    ),
    body,
  }
}

/**
 * One call of a service paid by an x402 client (`/x402/services/{id}`, or the invoke endpoint
 * without an API key). Without a payment: 402 with what to pay. With one: the authorization is
 * checked (the requirement it accepted, the vault as recipient, the exact price, the time window,
 * the payer's signature, the nonce unused on-chain, the payer's balance), recorded (so it is spent
 * at most once, and a retry under the same payment identifier gets the same answer without paying
 * again), the provider is called, and only once it answered does the coordinator spend the
 * authorization through the vault, which credits the provider less the fee in the same
 * transaction. A provider that fails costs nothing: the authorization is never spent, and the
 * answer says so. A spend that fails after the provider answered withholds the answer (402 with
 * the failed settlement), as x402 servers do.
 */
export async function callServiceWithX402(
  context: AppContext,
  request: X402CallRequest,
): Promise<X402Answer> {
  const chain = x402ChainOf(context)
  const service = await findCallableService(context.pool, request.serviceId, null)
  if (!service.endpointUrl || service.priceAmount === null) {
    throw new ValidationError(
      'service_not_callable',
      `service ${service.id} has no ${service.endpointUrl ? 'price' : 'endpoint_url'}; it cannot be called`,
    )
  }
  checkCallInput(service, request.input ?? null)
  // Nothing to pay, so nothing says who calls: the proxy serves free calls to agents it knows.
  if (service.priceAmount === 0n) {
    throw new UnauthorizedError(
      'unauthorized',
      `service ${service.id} is free: call it with an API key (POST /v1/services/${service.id}/invoke)`,
    )
  }
  // The token judges an authorization's window by block time, which tests (and a lagging node)
  // may run ahead of the wall clock: the later of the two, read once for the request.
  const now = await chainNow(chain.client)
  const requirements = await requirementsOf(chain, service, now)
  if (!request.payment) {
    context.metrics.x402Calls.labels('payment_required').inc()
    return paymentRequiredAnswer(requirements, service, request, {
      code: 'payment_required',
      message: `this call costs ${formatAmount(service.priceAmount, service.token.decimals)} ${service.token.symbol}: pay with x402 (PAYMENT-REQUIRED says how), or call with an API key`,
    })
  }
  let payment: VerifiedPayment
  try {
    payment = await verifyPayment(
      chain,
      requirements,
      decodePayment(request.payment.header, request.payment.version),
      now,
    )
  } catch (error) {
    return refusedAnswer(context, error, requirements, service, request)
  }
  const requestHash = requestHashOf(service.id, request.input)
  if (payment.paymentIdentifier !== null) {
    const earlier = await selectPaymentByIdentifier(
      context.pool,
      payment.payer,
      service.id,
      payment.paymentIdentifier,
    )
    if (earlier) return answerOfEarlierPayment(context, chain, service, payment, earlier, requestHash)
  }
  try {
    await checkPayerOnChain(chain, service.token.address, payment)
  } catch (error) {
    return refusedAnswer(context, error, requirements, service, request)
  }
  const provider = await findAgentById(context.pool, service.agentId)
  if (!provider) throw new Error(`service ${service.id}'s agent ${service.agentId} is gone`)
  const id = randomUUID()
  const isRecorded = await insertX402Payment(context.pool, {
    id,
    serviceId: service.id,
    providerAgentId: provider.id,
    payee: provider.walletAddress,
    payer: payment.payer,
    tokenAddress: service.token.address,
    tokenDecimals: service.token.decimals,
    amount: payment.value,
    nonce: payment.nonce,
    paymentIdentifier: payment.paymentIdentifier,
    requestHash,
  })
  if (!isRecorded) {
    // Another request got there first: with this authorization (a replay), or with this
    // payment identifier (a concurrent retry).
    if (await selectPaymentByAuthorization(context.pool, payment.payer, payment.nonce)) {
      context.metrics.x402Calls.labels('refused').inc()
      return paymentRequiredAnswer(requirements, service, request, {
        code: X402_REFUSALS.nonceUsed,
        message: 'this authorization was already used for a call',
      })
    }
    const earlier = await selectPaymentByIdentifier(
      context.pool,
      payment.payer,
      service.id,
      payment.paymentIdentifier!,
    )
    return answerOfEarlierPayment(context, chain, service, payment, earlier!, requestHash)
  }

  let response: OutboundResponse
  try {
    response = await callServiceEndpoint(context, service, request.input, {
      'x-clearhouse-caller': `x402:${payment.payer}`,
      'x-clearhouse-x402-payment': id,
    })
  } catch (error) {
    context.metrics.x402Calls.labels('upstream_failed').inc()
    await markFailed(context.pool, id, (error as Error).message)
    if (error instanceof UpstreamError) {
      throw new UpstreamError(
        error.code as ConstructorParameters<typeof UpstreamError>[0],
        `${error.message}; nothing was charged: the authorization was not spent`,
        {
          details: { ...(error.details ?? {}), charged: false, payment_id: id },
        },
      )
    }
    throw error
  }
  const output = outputOf(response)
  await markSettling(context.pool, id, { output, ...answerRecordOf(response) })
  let txHash: Hex
  try {
    txHash = await spendAuthorization(context, chain, service.token.address, payment, provider.walletAddress)
  } catch (error) {
    const reason = `the payment could not be settled: ${(error as Error).message.split('\n')[0]}`
    context.logger.warn({ paymentId: id, payer: payment.payer, err: error }, 'x402 settlement failed')
    context.metrics.x402Calls.labels('settle_failed').inc()
    await markFailed(context.pool, id, reason)
    return paymentRequiredAnswer(
      requirements,
      service,
      request,
      { code: X402_REFUSALS.transactionFailed, message: reason },
      settlementHeader(
        payment.version,
        settleResponseOf(chain, payment.payer, {
          success: false,
          errorReason: X402_REFUSALS.transactionFailed,
        }),
      ),
    )
  }
  await markPaid(context.pool, id, txHash)
  context.metrics.x402Calls.labels('paid').inc()
  return paidAnswer(chain, service, payment, { id, txHash, output })
}

/** The answer to a retry under a payment identifier already used: its answer, never a second payment. */
function answerOfEarlierPayment(
  context: Pick<AppContext, 'metrics'>,
  chain: X402Chain,
  service: CallableService,
  payment: VerifiedPayment,
  earlier: X402PaymentRow,
  requestHash: string,
): X402Answer {
  if (earlier.requestHash !== requestHash) {
    throw new ConflictError(
      'payment_identifier_reused',
      'this payment identifier was used for another request to this service; send a new one',
      { details: { payment_id: earlier.id } },
    )
  }
  if (earlier.status === 'paid') {
    context.metrics.x402Calls.labels('replayed').inc()
    return paidAnswer(chain, service, payment, earlier)
  }
  if (earlier.status === 'failed') {
    throw new ConflictError(
      'payment_identifier_failed',
      `the call paid with this identifier failed (${earlier.failureReason}); nothing was charged. Send a new identifier to try again`,
      { details: { payment_id: earlier.id } },
    )
  }
  throw new ConflictError('payment_in_progress', 'the call paid with this identifier is still running', {
    details: { payment_id: earlier.id },
  })
}

/** The coordinator spends the authorization through the vault, to the provider's wallet. */
async function spendAuthorization(
  context: AppContext,
  chain: X402Chain,
  token: Address,
  payment: VerifiedPayment,
  payee: Address,
): Promise<Hex> {
  const { r, s, v, yParity } = parseSignature(payment.signature)
  const sender = senderOverClient(chain.client, context.coordinatorAccount!)
  return sendConfirmed(
    chain.client,
    sender,
    {
      address: chain.vault,
      abi: clearhouseVaultAbi,
      functionName: 'payWithTransferAuthorization',
      args: [
        token,
        {
          from: payment.payer,
          value: payment.value,
          validAfter: payment.validAfter,
          validBefore: payment.validBefore,
          nonce: payment.nonce,
          v: Number(v ?? BigInt(yParity + 27)),
          r,
          s,
        },
        payee,
      ],
    },
    'x402 payment',
  )
}

function paymentOf(row: X402PaymentRow): X402Payment {
  return {
    payment_id: row.id,
    service_id: row.serviceId,
    payer: row.payer,
    token: row.tokenAddress,
    amount: formatAmount(row.amount, row.tokenDecimals),
    fee: row.fee === null ? null : formatAmount(row.fee, row.tokenDecimals),
    status: row.status,
    failure_reason: row.failureReason,
    tx_hash: row.txHash,
    response_hash: row.responseHash,
    upstream_status: row.upstreamStatus,
    duration_ms: row.durationMs,
    created_at: row.createdAt.toISOString(),
  }
}

/** `GET /v1/x402/payments`: the calls x402 clients paid to the agent's services, newest first. */
export async function listProviderPayments(
  context: AppContext,
  agent: Actor,
  query: X402ListQuery,
): Promise<X402PaymentsPage> {
  const rows = await selectProviderPayments(context.pool, agent.id, seqAfterCursor(query.cursor), query.limit)
  return { payments: rows.map(paymentOf), next_cursor: nextSeqCursor(rows, query.limit) }
}

/** `GET /v1/x402/receipts`: every paid x402 call, oldest first, as the auditor checks them. */
export async function listReceipts(context: AppContext, query: X402ListQuery): Promise<X402ReceiptsPage> {
  const rows = await selectPaidPayments(context.pool, seqAfterCursor(query.cursor), query.limit)
  return {
    receipts: rows.map((row) => ({
      payment_id: row.id,
      service_id: row.serviceId,
      tx_hash: row.txHash!,
      payer: row.payer,
      payee: row.payee,
      token: row.tokenAddress,
      nonce: row.nonce,
      amount_base_units: row.amount.toString(),
    })),
    next_cursor: nextSeqCursor(rows, query.limit),
  }
}
