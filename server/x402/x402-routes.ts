import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi'
import { Router, type Request, type RequestHandler, type Response } from 'express'
import { invokeBody } from '../../protocol/channels'
import { serviceIdParams } from '../../protocol/services'
import {
  X402_HEADERS,
  encodeX402Header,
  x402CallResponse,
  x402ListQuery,
  x402PaymentsPage,
  x402ReceiptsPage,
} from '../../protocol/x402'
import { z } from '../../protocol/zod'
import type { AppContext } from '../app-context'
import { carriesCredentials } from '../http/auth'
import { errors, json } from '../http/openapi-parts'
import { x402RateLimit } from '../http/rate-limit'
import { defineRoute, type Route } from '../http/route'
import { parseInput } from '../http/validate'
import {
  callServiceWithX402,
  listProviderPayments,
  listReceipts,
  takesX402Payments,
  type X402Answer,
  type X402AnswerHeaders,
} from './x402-service'

/** Each service's public x402 URL. */
export const X402_SERVICE_PATH = '/x402/services/{service_id}'

const HEADER_NAMES: Record<keyof X402AnswerHeaders, string> = {
  paymentRequired: 'PAYMENT-REQUIRED',
  paymentResponse: 'PAYMENT-RESPONSE',
  v1PaymentResponse: 'X-PAYMENT-RESPONSE',
}

const EXPOSED_HEADERS = Object.values(HEADER_NAMES).join(', ')

function paymentOf(req: Request): { version: 1 | 2; header: string } | null {
  const v2 = req.headers[X402_HEADERS.paymentSignature]
  if (typeof v2 === 'string') return { version: 2, header: v2.trim() }
  const v1 = req.headers[X402_HEADERS.v1Payment]
  if (typeof v1 === 'string') return { version: 1, header: v1.trim() }
  return null
}

function send(res: Response, answer: X402Answer): void {
  for (const [name, value] of Object.entries(answer.headers)) {
    res.setHeader(HEADER_NAMES[name as keyof X402AnswerHeaders], encodeX402Header(value))
  }
  // A browser client reads the x402 headers only when they are exposed; no answer is cached.
  res.setHeader('Access-Control-Expose-Headers', EXPOSED_HEADERS)
  res.setHeader('Cache-Control', 'no-store')
  res.status(answer.status).json(answer.body)
}

function x402Handler(context: AppContext): RequestHandler {
  return async (req, res, next) => {
    try {
      const params = parseInput(serviceIdParams, req.params, 'params')
      const body = parseInput(invokeBody, req.method === 'GET' ? {} : (req.body ?? {}), 'body')
      const answer = await callServiceWithX402(context, {
        serviceId: params.service_id,
        resourceUrl: `${req.protocol}://${req.get('host') ?? 'localhost'}${req.originalUrl}`,
        input: body.input,
        payment: paymentOf(req),
      })
      send(res, answer)
    } catch (error) {
      next(error)
    }
  }
}

/**
 * The x402 transport (issue 19): each service's `/x402/services/{id}` (GET or POST), and the
 * invoke endpoint for a request that carries no credential (one with an API key or a signature
 * goes on to the invoke route). Limited per client IP and service, as the proxy limits callers.
 */
export function x402Router(context: AppContext): Router {
  const router = Router()
  const limiter = x402RateLimit(context, (req) => `service:${String(req.params.service_id)}`)
  const handler = x402Handler(context)
  router.get('/x402/services/:service_id', limiter, handler)
  router.post('/x402/services/:service_id', limiter, handler)
  router.post(
    '/v1/services/:service_id/invoke',
    // Where no x402 payment can be taken, a request without credentials is the API's 401.
    (req, _res, next) => (carriesCredentials(req) || !takesX402Payments(context) ? next('route') : next()),
    limiter,
    handler,
  )
  return router
}

const X402_ERRORS = {
  400: 'Malformed input, invalid_input (against input_schema), service_not_callable',
  404: 'service_not_found (or disabled)',
  409: 'payment_identifier_reused, payment_in_progress, payment_identifier_failed',
  429: 'More than INVOKE_RATE_LIMIT_PER_MINUTE (60) calls a minute from this address to this service',
  502: 'upstream_error, upstream_refused: the service failed; the authorization was not spent (details.charged false)',
  503: 'x402_unavailable: no chain, vault or coordinator key',
  504: 'upstream_timeout: nothing was charged',
}

const X402_DESCRIPTION =
  'The x402 v2 HTTP transport, for a client with no API key (the invoke endpoint answers so too, without credentials, where the coordinator takes x402 payments). Without a payment header: 402 with `PAYMENT-REQUIRED` (base64 JSON: `accepts[0]` is scheme `exact`, network `eip155:<chain id>`, the price in base units as `amount`, the token as `asset`, the vault as `payTo`, `maxTimeoutSeconds` and the token’s EIP-712 `name` and `version` in `extra`). Retry with `PAYMENT-SIGNATURE` (v2) or `X-PAYMENT` (v1): an EIP-3009 `TransferWithAuthorization` to the vault for exactly the price. It is checked (requirement, recipient, amount, time window, signature, nonce unused, payer balance), the provider is called, and then the coordinator spends the authorization through the vault (`payWithTransferAuthorization`), which credits the provider the price less the fee in that transaction. The answer carries `PAYMENT-RESPONSE` (`X-PAYMENT-RESPONSE` for v1) with the transaction hash. A refused payment is a 402 whose `PAYMENT-REQUIRED.error` (and `error.code` in the body) is the reason, x402’s `invalid_exact_evm_*` codes. A provider that fails costs nothing (the authorization is not spent). The `payment-identifier` extension makes a paid request idempotent: a retry with the same id and request gets the first answer and spends nothing.'

/** The x402 transport's two paths in the OpenAPI document (Express serves them from `x402Router`). */
export function registerX402Transport(registry: OpenAPIRegistry): void {
  const request = {
    params: serviceIdParams,
    headers: z.object({
      'payment-signature': z.string().optional().openapi({ description: 'x402 v2 payment, base64 JSON' }),
      'x-payment': z.string().optional().openapi({ description: 'x402 v1 payment, base64 JSON' }),
    }),
  }
  const responses = {
    200: json(
      x402CallResponse,
      "The provider's answer; `PAYMENT-RESPONSE` names the transaction that paid it",
    ),
    402: {
      description:
        'Payment required, or the payment was refused: `PAYMENT-REQUIRED` (base64 JSON) says what to pay and, in `error`, why',
    },
    ...errors(X402_ERRORS),
  }
  for (const method of ['get', 'post'] as const) {
    registry.registerPath({
      method,
      path: X402_SERVICE_PATH,
      summary: 'Call a service paying with x402 (no API key)',
      description: X402_DESCRIPTION,
      request:
        method === 'post'
          ? { ...request, body: { content: { 'application/json': { schema: invokeBody } } } }
          : request,
      responses,
    })
  }
}

/** The x402 payments' reads: the provider's call log, and the receipts the auditor checks. */
export const x402Routes: readonly Route[] = [
  defineRoute({
    method: 'get',
    path: '/v1/x402/payments',
    summary: "The calls x402 clients paid to your services, newest first (the provider's call log)",
    auth: 'agent',
    query: x402ListQuery,
    responses: {
      200: json(x402PaymentsPage, 'Payments'),
      ...errors({ 400: 'Malformed query, invalid_cursor', 401: 'Not authenticated' }),
    },
    handler: ({ context, agent, query }) => listProviderPayments(context, agent, query),
  }),
  defineRoute({
    method: 'get',
    path: '/v1/x402/receipts',
    summary: 'Every paid x402 call, oldest first: what the vault’s PaidWithAuthorization logs must match',
    description:
      'Public: each is on-chain already (payer, payee, token, nonce, amount); the auditor checks the two against each other.',
    auth: 'none',
    query: x402ListQuery,
    responses: {
      200: json(x402ReceiptsPage, 'Receipts'),
      ...errors({ 400: 'Malformed query, invalid_cursor' }),
    },
    handler: ({ context, query }) => listReceipts(context, query),
  }),
]
