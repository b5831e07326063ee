import type { Request } from 'express'
import { executeBody, invokeBody, invokeResponse } from '../../protocol/channels'
import { serviceIdParams } from '../../protocol/services'
import { x402EndpointPaymentsPage, x402ListQuery } from '../../protocol/x402'
import type { AppContext } from '../app-context'
import { errors, json } from '../http/openapi-parts'
import { invokeRateLimit } from '../http/rate-limit'
import { defineRoute, type Route } from '../http/route'
import { executeAgent, invokeServiceById } from './invoke-service'
import { listEndpointPayments } from './x402-endpoint-payment'

const INVOKE_ERRORS = {
  400: 'Malformed input, invalid_input (against input_schema), self_invocation, service_not_callable, invalid_voucher',
  401: 'Not authenticated',
  404: 'service_not_found (or disabled)',
  409: 'channel_required (a self-custody caller without a channel), insufficient_balance (a call without a channel), no_resolver, channel_not_active, channel_busy, voucher_required, voucher_out_of_order, voucher_over_deposit',
  429: 'More than INVOKE_RATE_LIMIT_PER_MINUTE (60) calls a minute to this service',
  502: 'upstream_error (the service failed, answered an error or more than 1 MB), upstream_refused (its endpoint resolves to a private address)',
  504: 'upstream_timeout',
}

const INVOKE_DESCRIPTION =
  "The proxy calls the service's endpoint (https; plain http to loopback only on the embedded stack; never a private, loopback or link-local address after DNS resolution or on a redirect) with `{\"input\": …}` and returns its JSON as `output`. With an open channel to the service the call is paid on it: a self-custody caller sends `voucher` (the channel's next voucher, see `nextVoucher` in protocol/channels.ts); a managed wallet's is signed for it. The call is recorded with its voucher before the answer is sent. Without a channel, a managed wallet's call is a micro-job (`job_id`, see GET /v1/micro-jobs/{micro_job_id}): the price is held in escrow during the call, then the caller's signed EscrowLock and EscrowRelease go to the vault and the provider is credited less the fee; a self-custody caller needs a channel. A provider that fails costs nothing. A free service (price 0) needs neither. A request with no API key and no signature is answered in x402 instead, as `/x402/services/{service_id}` answers it."

const invokeLimit = (context: AppContext) =>
  invokeRateLimit(context, (req: Request) => `service:${String(req.params.service_id)}`)
const executeLimit = (context: AppContext) =>
  invokeRateLimit(
    context,
    (req: Request) => `agent:${String((req.body as { agent_id?: unknown })?.agent_id)}`,
  )

/** The invoke proxy (seed 004 "Invoke Service") and direct execution (seed 001). */
export const invokeRoutes: readonly Route[] = [
  defineRoute({
    method: 'post',
    path: '/v1/services/{service_id}/invoke',
    summary: 'Call a service through the proxy, paid on the caller’s channel to it or as a micro-job',
    description: INVOKE_DESCRIPTION,
    auth: 'agent',
    rateLimit: invokeLimit,
    isBodyOptional: true,
    params: serviceIdParams,
    body: invokeBody,
    responses: {
      200: json(invokeResponse, "The provider's answer and what it cost"),
      ...errors(INVOKE_ERRORS),
    },
    handler: ({ context, agent, params, body }) => invokeServiceById(context, agent, params.service_id, body),
  }),
  defineRoute({
    method: 'post',
    path: '/v1/execute',
    summary: "Call an agent's service directly by agent id (its only service, or `service_id`)",
    description: INVOKE_DESCRIPTION,
    auth: 'agent',
    rateLimit: executeLimit,
    body: executeBody,
    responses: {
      200: json(invokeResponse, "The provider's answer and what it cost"),
      ...errors({
        ...INVOKE_ERRORS,
        404: 'agent_not_found, service_not_found',
        409: `${INVOKE_ERRORS[409]}, service_ambiguous, price_over_budget (the price is over budget; nothing charged)`,
      }),
    },
    handler: ({ context, agent, body }) => executeAgent(context, agent, body),
  }),
  defineRoute({
    method: 'get',
    path: '/v1/agents/me/endpoint-payments',
    summary: "What your managed wallet signed to pay your services' x402 endpoints, newest first",
    description:
      'One entry per TransferWithAuthorization the proxy sent an endpoint of a service registered with ' +
      '`endpoint_payment: "x402"`, with what the paid call came to. An endpoint that refused the payment or never ' +
      'answered still holds the authorization and can spend it until `valid_before`.',
    auth: 'agent',
    query: x402ListQuery,
    responses: {
      200: json(x402EndpointPaymentsPage, 'Endpoint payments'),
      ...errors({ 400: 'Malformed query, invalid_cursor', 401: 'Not authenticated' }),
    },
    handler: ({ context, agent, query }) => listEndpointPayments(context, agent, query),
  }),
]
