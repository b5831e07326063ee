import type { Request, RequestHandler, Response } from 'express'
import {
  SIGNED_REQUEST_HEADERS,
  SIGNED_ENVELOPE_FIELDS,
  signedRequestAction,
  withoutSignedEnvelope,
  type SignedEnvelope,
  signedRequestPayloadHash,
  signedRequestProduct,
} from '../../protocol/signed-request'
import type { AppContext } from '../app-context'
import type { Actor, Credential } from '../auth/actor'
import { bearerToken } from '../auth/api-key-codec'
import { authenticateApiKey } from '../auth/api-keys'
import { verifySignedEnvelope, verifySignedRequest } from '../auth/auth-service'
import { UnauthorizedError } from '../errors'

function header(req: Request, name: string): string | undefined {
  const value = req.headers[name]
  return typeof value === 'string' ? value : undefined
}

/** A route's own `action:` and `product:` for seed 003's body envelope (protocol/signed-request.ts). */
export interface EnvelopeSigning {
  action: string
  /** From the request's path parameters (Express names); `-` when left out. */
  product?: (params: Record<string, string>) => string
}

/**
 * The agent behind the request's credentials, null when it carries none, 401 when they are wrong.
 * Two kinds reach the same routes: an API key, as `Authorization: Bearer sk_live_…` or as
 * `X-API-Key: sk_live_…` (seed 001's header; both at once must name the same key), the five
 * X-Clearhouse-* headers of a wallet-signed request (protocol/signed-request.ts), or seed 003's
 * signed envelope in the JSON body.
 */
async function authenticate(
  context: AppContext,
  req: Request,
  envelopeSigning: EnvelopeSigning | undefined,
): Promise<{ agent: Actor; credential: Credential } | null> {
  const token = apiKeyOf(req)
  if (token !== null) {
    const authenticated = await authenticateApiKey(context.pool, token)
    if (!authenticated) {
      throw new UnauthorizedError('unauthorized', 'API key is not valid', {
        details: { reason: 'invalid_api_key' },
      })
    }
    return {
      agent: authenticated.actor,
      credential: { kind: 'api_key', apiKeyHash: authenticated.apiKeyHash },
    }
  }

  const signed = {
    wallet: header(req, SIGNED_REQUEST_HEADERS.wallet),
    session: header(req, SIGNED_REQUEST_HEADERS.session),
    requestId: header(req, SIGNED_REQUEST_HEADERS.requestId),
    timestamp: header(req, SIGNED_REQUEST_HEADERS.timestamp),
    signature: header(req, SIGNED_REQUEST_HEADERS.signature),
  }
  const present = Object.entries(signed).filter(([, value]) => value !== undefined)
  if (present.length === 0) return authenticateEnvelope(context, req, envelopeSigning)
  if (present.length < Object.keys(signed).length) {
    const missing = Object.entries(signed)
      .filter(([, value]) => value === undefined)
      .map(([name]) => SIGNED_REQUEST_HEADERS[name as keyof typeof SIGNED_REQUEST_HEADERS])
    throw new UnauthorizedError('unauthorized', `wallet-signed request is missing ${missing.join(', ')}`, {
      details: { reason: 'incomplete_signed_request', missing },
    })
  }
  const [path, query] = splitUrl(req.originalUrl)
  const agent = await verifySignedRequest(
    context.pool,
    {
      wallet: signed.wallet!,
      session: signed.session!,
      requestId: signed.requestId!,
      timestamp: signed.timestamp!,
      signature: signed.signature!,
      action: signedRequestAction(req.method, path),
      product: signedRequestProduct(query),
      // express.json() turns an empty JSON body into {}; "no body bytes" must still mean "no payload".
      payloadHash: signedRequestPayloadHash(hasBody(req) ? req.body : undefined),
    },
    { maxAgeSeconds: context.signedRequestMaxAgeSeconds },
  )
  return { agent, credential: { kind: 'wallet_signature' } }
}

/**
 * Seed 003's envelope: a JSON body carrying all four of `wallet_address`, `session_nonce`,
 * `request_id` and `signature` (a body with only some of them is the route's own business, as on
 * `POST /v1/agents/register`). Verified over the body without them, which is what the route then
 * reads. Null when the body carries no envelope.
 */
async function authenticateEnvelope(
  context: AppContext,
  req: Request,
  signing: EnvelopeSigning | undefined,
): Promise<{ agent: Actor; credential: Credential } | null> {
  const body = req.body as unknown
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return null
  const fields = body as Record<string, unknown>
  if (!SIGNED_ENVELOPE_FIELDS.every((field) => field in fields)) return null
  const malformed = SIGNED_ENVELOPE_FIELDS.filter((field) => typeof fields[field] !== 'string')
  if (malformed.length > 0) {
    throw new UnauthorizedError(
      'unauthorized',
      `the signed envelope's ${malformed.join(', ')} must be strings`,
      {
        details: { reason: 'malformed_signed_envelope', fields: malformed },
      },
    )
  }
  const envelope = fields as SignedEnvelope
  const payload = withoutSignedEnvelope(fields)
  const [path, query] = splitUrl(req.originalUrl)
  const agent = await verifySignedEnvelope(context.pool, {
    wallet: envelope.wallet_address,
    session: envelope.session_nonce,
    requestId: envelope.request_id,
    signature: envelope.signature,
    action: signing?.action ?? signedRequestAction(req.method, path),
    product: signing
      ? (signing.product?.(req.params as Record<string, string>) ?? '-')
      : signedRequestProduct(query),
    payloadHash: signedRequestPayloadHash(payload),
  })
  req.body = payload
  return { agent, credential: { kind: 'wallet_signature' } }
}

/**
 * Whether the request carries any credential this API reads (an API key, a wallet-signed request's
 * headers, seed 003's body envelope): one without is an x402 client's on the invoke endpoint.
 */
export function carriesCredentials(req: Request): boolean {
  if (header(req, 'authorization') !== undefined || header(req, 'x-api-key') !== undefined) return true
  if (Object.values(SIGNED_REQUEST_HEADERS).some((name) => header(req, name) !== undefined)) return true
  const body = req.body as unknown
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return false
  return SIGNED_ENVELOPE_FIELDS.some((field) => field in (body as Record<string, unknown>))
}

/** The API key the request carries, from `Authorization: Bearer` or `X-API-Key`; null when neither is sent. */
function apiKeyOf(req: Request): string | null {
  const authorization = header(req, 'authorization')
  const apiKeyHeader = header(req, 'x-api-key')?.trim()
  const fromAuthorization = authorization === undefined ? undefined : bearerToken(authorization)
  if (fromAuthorization === null) {
    throw new UnauthorizedError('unauthorized', 'Authorization must be "Bearer sk_live_…"', {
      details: { reason: 'malformed_authorization' },
    })
  }
  if (apiKeyHeader !== undefined && !/^\S+$/.test(apiKeyHeader)) {
    throw new UnauthorizedError('unauthorized', 'X-API-Key must be an API key (sk_live_…)', {
      details: { reason: 'malformed_api_key_header' },
    })
  }
  if (fromAuthorization !== undefined && apiKeyHeader !== undefined && fromAuthorization !== apiKeyHeader) {
    throw new UnauthorizedError('unauthorized', 'Authorization and X-API-Key name different API keys', {
      details: { reason: 'conflicting_api_keys' },
    })
  }
  return fromAuthorization ?? apiKeyHeader ?? null
}

function hasBody(req: Request): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? '0') > 0
}

function splitUrl(url: string): [string, string | undefined] {
  const index = url.indexOf('?')
  return index === -1 ? [url, undefined] : [url.slice(0, index), url.slice(index + 1)]
}

/**
 * Requires an authenticated agent (API key or wallet-signed request); 401 `unauthorized` otherwise.
 * Mount it before any limiter or other check that can refuse the request: authenticating claims
 * a signed request's single-use id, so whatever the answer, that request cannot be sent again.
 */
export function requireAgent(context: AppContext): RequestHandler {
  return async (req, res, next) => {
    try {
      const authenticated = await authenticate(
        context,
        req,
        res.locals.envelopeSigning as EnvelopeSigning | undefined,
      )
      if (!authenticated) {
        throw new UnauthorizedError(
          'unauthorized',
          'send Authorization: Bearer sk_live_… (or X-API-Key) or a wallet-signed request',
          { details: { reason: 'missing_credentials' } },
        )
      }
      res.locals.agent = authenticated.agent
      res.locals.credential = authenticated.credential
      next()
    } catch (error) {
      next(error)
    }
  }
}

/** Sets `res.locals.agent` when credentials are given; wrong credentials are still a 401. */
export function optionalAgent(context: AppContext): RequestHandler {
  return async (req, res, next) => {
    try {
      const authenticated = await authenticate(
        context,
        req,
        res.locals.envelopeSigning as EnvelopeSigning | undefined,
      )
      if (authenticated) {
        res.locals.agent = authenticated.agent
        res.locals.credential = authenticated.credential
      }
      next()
    } catch (error) {
      next(error)
    }
  }
}

/** The agent `requireAgent` authenticated; throws UnauthorizedError if none (a wiring mistake or optional auth). */
export function currentAgent(res: Response): Actor {
  const agent = res.locals.agent as Actor | undefined
  if (!agent)
    throw new UnauthorizedError('unauthorized', 'authentication required', {
      details: { reason: 'missing_credentials' },
    })
  return agent
}

/** The authenticated agent, or null on a route with optional authentication. */
export function maybeAgent(res: Response): Actor | null {
  return (res.locals.agent as Actor | undefined) ?? null
}

/** The credential `requireAgent` accepted for this request. */
export function currentCredential(res: Response): Credential {
  const credential = res.locals.credential as Credential | undefined
  if (!credential) {
    throw new UnauthorizedError('unauthorized', 'authentication required', {
      details: { reason: 'missing_credentials' },
    })
  }
  return credential
}
