import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi'
import { Router } from 'express'
import { createSessionBody, sessionResponse, type SessionResponse } from '../../protocol/auth'
import { errorResponse } from '../../protocol/errors'
import type { AppContext } from '../app-context'
import { authRateLimit } from '../http/rate-limit'
import { parseInput } from '../http/validate'
import { createSession } from './auth-service'

/** `POST /v1/auth/session`: the session nonce wallet-signed requests carry. */
export function authRoutes(context: AppContext): Router {
  const router = Router()
  router.post('/auth/session', authRateLimit(context), async (req, res) => {
    const body = parseInput(createSessionBody, req.body, 'body')
    const session = await createSession(context.pool, body.wallet_address)
    const response: SessionResponse = {
      session_nonce: session.nonce,
      wallet_address: body.wallet_address,
      agent_id: session.agentId,
      expires_at: session.expiresAt.toISOString(),
    }
    res.status(201).json(response)
  })
  return router
}

/** Registers the auth routes in the OpenAPI document. */
export function registerAuthOpenApi(registry: OpenAPIRegistry): void {
  registry.registerComponent('securitySchemes', 'walletSignature', {
    type: 'apiKey',
    in: 'header',
    name: 'X-Clearhouse-Signature',
    description:
      'Wallet-signed request: X-Clearhouse-Signature with X-Clearhouse-Wallet, X-Clearhouse-Session, ' +
      'X-Clearhouse-Request-Id and X-Clearhouse-Timestamp (see POST /v1/auth/session). Accepted wherever an API key is.',
  })
  registry.registerPath({
    method: 'post',
    path: '/v1/auth/session',
    summary:
      'Open a session for wallet-signed requests (X-Clearhouse-Wallet/-Session/-Request-Id/-Timestamp/-Signature)',
    description:
      'Each signed request signs, with EIP-191 personal_sign, the lines: clearhouse-request, ' +
      'wallet:<lowercase address>, session:<session_nonce>, request:<request id, single use>, ' +
      'timestamp:<unix seconds, as X-Clearhouse-Timestamp>, action:<METHOD> <path>, ' +
      'product:<raw query string or ->, ' +
      'payload:<sha256 hex of the RFC 8785 canonical JSON body, or empty without a body>. ' +
      'A timestamp more than SIGNED_REQUEST_MAX_AGE_SECONDS (300 by default) from the ' +
      "coordinator's clock, either way, is refused with 401 stale_request.",
    request: { body: { content: { 'application/json': { schema: createSessionBody } } } },
    responses: {
      201: { description: 'Session', content: { 'application/json': { schema: sessionResponse } } },
      400: { description: 'Malformed', content: { 'application/json': { schema: errorResponse } } },
      404: {
        description: 'No agent has this wallet',
        content: { 'application/json': { schema: errorResponse } },
      },
      429: { description: 'Rate limited', content: { 'application/json': { schema: errorResponse } } },
    },
  })
}
