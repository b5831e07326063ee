import type { Hex } from 'viem'
import type { ExecuteBody, InvokeBody, InvokeResponse } from '../../protocol/channels'
import { invokeTimeoutOf, type AppContext } from '../app-context'
import type { Actor } from '../auth/actor'
import {
  prepareCallOnChannel,
  recordChannelCall,
  responseHashOf,
  type PreparedChannelCall,
} from '../channels/channel-calls'
import { ConflictError, UpstreamError, ValidationError } from '../errors'
import { formatUnits, parseTokenAmount } from '../jobs/job-tokens'
import {
  ForbiddenDestinationError,
  UpstreamResponseTooLargeError,
  UpstreamTimeoutError,
  type OutboundResponse,
} from '../outbound/outbound-http'
import { outboundClientFor } from '../outbound/app-outbound-client'
import {
  findCallableService,
  findAgentServiceForCall,
  type CallableService,
} from '../services/services-service'
import {
  completeMicroJob,
  openMicroJob,
  refundMicroJob,
  type OpenMicroJob,
} from '../micro-jobs/micro-jobs-service'
import { checkCallInput } from './input-schemas'
import { endpointRefusal, payX402Endpoint, recordEndpointPayment } from './x402-endpoint-payment'
import { X402_HEADERS } from '../../protocol/x402'

/** Seed 004: a provider's answer over this is a 502. */
export const MAX_UPSTREAM_RESPONSE_BYTES = 1024 * 1024

/** Calls the provider's endpoint for `caller`; its failures as the API says them, nothing charged. */
async function callProvider(
  context: EndpointContext,
  service: CallableService,
  caller: Actor,
  input: unknown,
  prepared: PreparedChannelCall | null,
  microJob: OpenMicroJob | null,
): Promise<OutboundResponse> {
  return callServiceEndpoint(context, service, input, {
    'x-clearhouse-caller': caller.id,
    ...(prepared
      ? {
          'x-clearhouse-channel': prepared.channel.id,
          'x-clearhouse-call-sequence': prepared.call.sequence.toString(),
        }
      : {}),
    ...(microJob ? { 'x-clearhouse-job': microJob.id } : {}),
  })
}

/** What the proxy needs to call a service's endpoint, and to pay one that asks for x402. */
type EndpointContext = Pick<
  AppContext,
  'pool' | 'isDevChain' | 'allowLoopbackEndpoints' | 'invokeTimeoutMs' | 'chain' | 'walletEncryptionKey'
>

/**
 * Calls the service's endpoint (SSRF-safe, within its response time) with `{ input }` and
 * `headers` saying who pays how; its failures as the API says them (502, 504). An endpoint the
 * service says is paid with x402 that answers 402 is paid (`payX402Endpoint`) and called again.
 */
export async function callServiceEndpoint(
  context: EndpointContext,
  service: CallableService,
  input: unknown,
  headers: Record<string, string>,
): Promise<OutboundResponse> {
  const calledWith = { ...headers, 'x-clearhouse-service': service.id }
  const body = { input: input ?? null }
  let response = await postServiceEndpoint(context, service, body, calledWith)
  if (response.status === 402 && service.endpointPayment === 'x402') {
    const payment = await payX402Endpoint(context, service, response)
    let paidCall: OutboundResponse | null = null
    try {
      paidCall = await postServiceEndpoint(context, service, body, {
        ...calledWith,
        [X402_HEADERS.paymentSignature]: payment.header,
      })
    } finally {
      await recordEndpointPayment(context.pool, service, payment, paidCall)
    }
    response = paidCall
    if (response.status === 402) throw endpointRefusal(response)
  }
  if (response.status >= 400) {
    throw new UpstreamError('upstream_error', `the service answered ${response.status}`, {
      details: { upstream_status: response.status },
    })
  }
  return response
}

/**
 * POSTs `body` to the service's endpoint through the SSRF-safe client, within the service's
 * response time and the proxy's size limit, whatever the answer's status; a call that gets no
 * answer is the `UpstreamError` the API says (504 on a timeout, 502 otherwise).
 */
export async function postServiceEndpoint(
  context: EndpointContext,
  service: CallableService,
  body: unknown,
  headers: Record<string, string>,
): Promise<OutboundResponse> {
  const timeoutMs = Math.min(service.responseTimeSeconds * 1000, invokeTimeoutOf(context))
  try {
    return await outboundClientFor(context).post({
      url: service.endpointUrl!,
      body,
      headers,
      timeoutMs,
      maxResponseBytes: MAX_UPSTREAM_RESPONSE_BYTES,
    })
  } catch (error) {
    if (error instanceof UpstreamTimeoutError) {
      throw new UpstreamError('upstream_timeout', `the service did not answer within ${timeoutMs} ms`)
    }
    if (error instanceof ForbiddenDestinationError) {
      throw new UpstreamError(
        'upstream_refused',
        `the service's endpoint is not a destination the proxy calls (${error.reason})`,
        { details: { reason: error.reason } },
      )
    }
    if (error instanceof UpstreamResponseTooLargeError) {
      throw new UpstreamError('upstream_error', 'the service answered more than 1 MB', {
        details: { max_bytes: MAX_UPSTREAM_RESPONSE_BYTES },
      })
    }
    throw new UpstreamError('upstream_error', `the service could not be reached: ${(error as Error).message}`)
  }
}

/**
 * The caller's channel to the service, checked for this call, or null to pay it as a micro-job:
 * no open channel, or (seed 004: the channel is used "with sufficient balance") a managed wallet's
 * channel without enough left for the call. A self-custody caller's own voucher over the deposit
 * is refused as it is: it asked to pay on the channel.
 */
async function callOnChannelIfItPays(
  context: AppContext,
  actor: Actor,
  service: CallableService,
  body: InvokeBody,
): Promise<PreparedChannelCall | null> {
  try {
    return await prepareCallOnChannel(context, actor, service.id, body.input ?? null, body.voucher)
  } catch (error) {
    const isExhausted = error instanceof ConflictError && error.code === 'voucher_over_deposit'
    if (isExhausted && actor.isManagedWallet && !body.voucher) return null
    throw error
  }
}

/**
 * Calls a service through the proxy: the caller's voucher (or, for a managed wallet, one signed
 * for it) pays the call on its open channel, the provider is called (SSRF-safe), and the call is
 * recorded with its voucher before the answer goes back. Without a channel a priced call is a
 * micro-job: its price is held in escrow during the call and released to the provider once it
 * answers. A provider that fails, times out or answers too much costs nothing: the voucher is not
 * recorded, or the escrow goes back. A free service (price 0) is called without either.
 */
export async function invokeService(
  context: AppContext,
  actor: Actor,
  service: CallableService,
  body: InvokeBody,
  budget?: bigint,
): Promise<InvokeResponse> {
  if (service.agentId === actor.id)
    throw new ValidationError('self_invocation', 'you cannot call your own service')
  if (!service.endpointUrl || service.priceAmount === null) {
    throw new ValidationError(
      'service_not_callable',
      `service ${service.id} has no ${service.endpointUrl ? 'price' : 'endpoint_url'}; it cannot be called through the proxy`,
    )
  }
  checkCallInput(service, body.input ?? null)
  if (budget !== undefined) checkBudget(service, service.priceAmount, budget)

  // A free call needs no channel, and leaves the caller's (of a service once priced) alone.
  const prepared =
    service.priceAmount > 0n ? await callOnChannelIfItPays(context, actor, service, body) : null
  // A channel charges the price it was opened at, which the service may have raised since.
  if (prepared && budget !== undefined && prepared.call.amount > budget) {
    prepared.release()
    checkBudget(service, prepared.call.amount, budget)
  }
  // A priced call without a channel is a micro-job: its price held in escrow during the call.
  const microJob =
    !prepared && service.priceAmount > 0n
      ? await openMicroJob(context, actor, { ...service, priceAmount: service.priceAmount }, body.input)
      : null

  let response: OutboundResponse
  try {
    response = await callProvider(context, service, actor, body.input, prepared, microJob)
  } catch (error) {
    prepared?.release()
    if (microJob) await refundMicroJob(context, microJob.id, (error as Error).message)
    throw error
  }
  const output = outputOf(response)
  if (microJob) {
    const charged = await completeMicroJob(context, actor, microJob.id, answerRecordOf(response))
    const cost = charged ? formatUnits(microJob.amount, microJob.decimals) : '0'
    return invokeResponseOf(output, { job_id: microJob.id, cost, channel_id: null, call: null })
  }
  if (!prepared) {
    return invokeResponseOf(output, { job_id: null, cost: '0', channel_id: null, call: null })
  }
  const call = await recordChannelCall(context, prepared, answerRecordOf(response))
  return invokeResponseOf(output, {
    job_id: null,
    cost: formatUnits(prepared.call.amount, service.token.decimals),
    channel_id: prepared.channel.id,
    call,
  })
}

/** 409 `price_over_budget` when the call would cost `price` (base units) over `budget`. */
function checkBudget(service: CallableService, price: bigint, budget: bigint): void {
  if (price <= budget) return
  const { decimals, symbol } = service.token
  throw new ConflictError(
    'price_over_budget',
    `service ${service.id} costs ${formatUnits(price, decimals)} ${symbol} a call, over the budget of ${formatUnits(budget, decimals)}`,
    {
      details: {
        field: 'budget',
        price: formatUnits(price, decimals),
        budget: formatUnits(budget, decimals),
        token: symbol,
      },
    },
  )
}

/** What the provider answered: its JSON, else its text. */
export function outputOf(response: OutboundResponse): unknown {
  return response.json !== undefined ? response.json : response.body.toString('utf8')
}

/** What a paid call records of the provider's answer. */
export function answerRecordOf(response: OutboundResponse): {
  responseHash: Hex
  upstreamStatus: number
  durationMs: number
} {
  return {
    responseHash: responseHashOf(response.body) as Hex,
    upstreamStatus: response.status,
    durationMs: Math.round(response.durationMs),
  }
}

/** A proxied call's answer: the provider's `output`, also as `result` (seed 001's name for it). */
function invokeResponseOf(
  output: unknown,
  payment: Omit<InvokeResponse, 'output' | 'result'>,
): InvokeResponse {
  return { output, result: output, ...payment }
}

/** How a routed task's call ended: answered and paid, or failed and refunded. */
export type TaskCallOutcome =
  | { outcome: 'completed'; output: unknown; microJobId: string | null }
  | { outcome: 'failed'; reason: string; microJobId: string | null }

/**
 * The failure a provider declares in an answer it sends with a 2xx status (seed 002: "on failure,
 * funds are refunded"): a JSON object whose `status` is `failed` or `error`, with its `error` or
 * `message` as the reason. Null for any other answer.
 */
function declaredFailure(output: unknown): string | null {
  if (typeof output !== 'object' || output === null || Array.isArray(output)) return null
  const answer = output as Record<string, unknown>
  if (answer['status'] !== 'failed' && answer['status'] !== 'error') return null
  const reason = answer['error'] ?? answer['message']
  return typeof reason === 'string' && reason.length > 0
    ? reason.slice(0, 1000)
    : 'the provider declared the task failed'
}

/**
 * Calls a service for a routed task (seed 002 "Payment Flow (Escrow)"): a priced call always pays
 * through escrow, as a micro-job (never a channel), its price held during the call and released
 * to the provider once it answers. A provider that fails (an error status, a timeout, a refused
 * destination) or declares the task failed in its answer is not paid: the escrow goes back to the
 * caller. A free service is called without escrow and costs nothing either way.
 */
export async function callServiceForTask(
  context: AppContext,
  actor: Actor,
  service: CallableService,
  input: unknown,
): Promise<TaskCallOutcome> {
  if (service.agentId === actor.id)
    throw new ValidationError('self_invocation', 'you cannot call your own service')
  checkCallInput(service, input ?? null)
  const price = service.priceAmount ?? 0n
  const microJob =
    price > 0n ? await openMicroJob(context, actor, { ...service, priceAmount: price }, input) : null
  let response: OutboundResponse
  try {
    response = await callProvider(context, service, actor, input, null, microJob)
  } catch (error) {
    const reason = (error as Error).message
    if (microJob) await refundMicroJob(context, microJob.id, reason)
    return { outcome: 'failed', reason, microJobId: microJob?.id ?? null }
  }
  const output = outputOf(response)
  const failure = declaredFailure(output)
  if (failure !== null) {
    if (microJob) await refundMicroJob(context, microJob.id, failure)
    return { outcome: 'failed', reason: failure, microJobId: microJob?.id ?? null }
  }
  if (microJob) {
    const charged = await completeMicroJob(context, actor, microJob.id, answerRecordOf(response))
    // The timers took the call for stranded and refunded it meanwhile: the answer came, unpaid.
    if (!charged) {
      return { outcome: 'failed', reason: 'the call outlived its escrow', microJobId: microJob.id }
    }
  }
  return { outcome: 'completed', output, microJobId: microJob?.id ?? null }
}

/** `POST /v1/services/{service_id}/invoke`. */
export async function invokeServiceById(
  context: AppContext,
  actor: Actor,
  serviceId: string,
  body: InvokeBody,
): Promise<InvokeResponse> {
  return invokeService(context, actor, await findCallableService(context.pool, serviceId, actor.id), body)
}

/**
 * `POST /v1/execute` (seed 001's direct execution): the agent's named service, or its only one.
 * Seed 001's `task_description` is the input when `input` is absent; its `budget` (in the
 * service's token) caps the price: a dearer call is refused before any money moves.
 */
export async function executeAgent(
  context: AppContext,
  actor: Actor,
  body: ExecuteBody,
): Promise<InvokeResponse> {
  const service = await findAgentServiceForCall(context.pool, body.agent_id, body.service_id, actor.id)
  const budget =
    body.budget === undefined ? undefined : parseTokenAmount(body.budget, service.token.decimals, 'budget')
  const input = body.input !== undefined ? body.input : body.task_description
  return invokeService(context, actor, service, { input, voucher: body.voucher }, budget)
}
