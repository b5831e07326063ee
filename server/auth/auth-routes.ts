import { createSessionBody, sessionResponse } from '../../protocol/auth'
import { errors, json } from '../http/openapi-parts'
import { authRateLimit } from '../http/rate-limit'
import { defineRoute, type Route } from '../http/route'
import { createSession } from './auth-service'

/** `POST /v1/auth/session`: the session nonce wallet-signed requests carry. */
export const authRoutes: readonly Route[] = (['/v1/auth/session', '/v1/external/auth/session'] as const).map(
  (path) =>
    defineRoute({
      method: 'post',
      path,
      summary:
        'Open a session for wallet-signed requests (X-Clearhouse-Wallet/-Session/-Request-Id/-Timestamp/-Signature)',
      description:
        'Each signed request signs, with EIP-191 personal_sign, the lines: clearhouse-request, ' +
        'wallet:<lowercase address>, session:<session_nonce>, request:<request id, single use>, ' +
        'timestamp:<unix seconds, as X-Clearhouse-Timestamp>, action:<METHOD> <path>, ' +
        'product:<raw query string or ->, ' +
        'payload:<sha256 hex of the RFC 8785 canonical JSON body, or empty without a body>. ' +
        'A timestamp more than SIGNED_REQUEST_MAX_AGE_SECONDS (300 by default) from the ' +
        "coordinator's clock, either way, is refused with 401 stale_request. The same nonce signs seed 003's " +
        'body envelope (`/v1/external/auth/session` is its path for agents written for seed 003).',
      auth: 'none',
      rateLimit: authRateLimit,
      body: createSessionBody,
      responses: {
        201: json(sessionResponse, 'Session'),
        ...errors({ 400: 'Malformed', 404: 'No agent has this wallet', 429: 'Rate limited' }),
      },
      handler: async ({ context, body }) => {
        const session = await createSession(context.pool, body.wallet_address)
        return {
          session_nonce: session.nonce,
          wallet_address: body.wallet_address,
          agent_id: session.agentId,
          expires_at: session.expiresAt.toISOString(),
        }
      },
    }),
)
