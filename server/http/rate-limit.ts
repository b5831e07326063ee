import type { Request, RequestHandler, Response } from 'express'
import { ipKeyGenerator, rateLimit } from 'express-rate-limit'
import { ERROR_CODES } from '../../protocol/errors'
import type { AppContext } from '../app-context'
import type { Logger } from '../logger'
import { RateLimitedError } from '../errors'
import { currentAgent } from './auth'

/**
 * Per-client-IP limit for registration and authentication routes (`authRateLimitPerMinute`), a
 * 429 in the API's error shape. Counters live in this process: with several replicas behind a
 * balancer each enforces its own window, which still bounds a brute-force attempt. The client IP
 * is the connecting peer unless `trustProxy` names the proxies allowed to forward another.
 * On a route that authenticates, mount it after `requireAgent`: authentication claims a signed
 * request's id, so a request answered 429 cannot be replayed from another address.
 */
export function authRateLimit(
  context: Pick<AppContext, 'authRateLimitPerMinute' | 'logger'>,
): RequestHandler {
  return perMinute(context.logger, context.authRateLimitPerMinute)
}

/**
 * Per-agent limit for requests that make the coordinator send a transaction and pay its gas
 * (withdrawals, the dev faucet): without it one agent could drain the coordinator's gas with
 * dust. Mount after authentication; the key is the agent, not the IP.
 */
export function chainWriteRateLimit(
  context: Pick<AppContext, 'chainWriteRateLimitPerMinute' | 'logger'>,
): RequestHandler {
  // One counter per app across every such route: the budget is the agent's, not the route's.
  let limiter = chainWriteLimiters.get(context)
  if (!limiter) {
    limiter = perMinute(context.logger, context.chainWriteRateLimitPerMinute, {
      key: (_req, res) => `agent:${currentAgent(res).id}`,
    })
    chainWriteLimiters.set(context, limiter)
  }
  return limiter
}

const chainWriteLimiters = new WeakMap<object, RequestHandler>()

/** Seed 004: calls per minute per caller per service through the invoke proxy, when not configured. */
export const DEFAULT_INVOKE_RATE_LIMIT_PER_MINUTE = 60

/**
 * Per caller per service limit of the invoke proxy (`invokeRateLimitPerMinute`, seed 004's 60 a
 * minute): one caller cannot flood a provider through the coordinator. `serviceOf` names the
 * service the request calls. Mount after authentication.
 */
export function invokeRateLimit(
  context: Pick<AppContext, 'invokeRateLimitPerMinute' | 'logger'>,
  serviceOf: (req: Request) => string,
): RequestHandler {
  return perMinute(context.logger, context.invokeRateLimitPerMinute ?? DEFAULT_INVOKE_RATE_LIMIT_PER_MINUTE, {
    key: (req, res) => `${currentAgent(res).id}:${serviceOf(req)}`,
    message: 'too many calls to this service; slow down',
  })
}

/**
 * Per client IP per service limit of x402 calls, which carry no API key to count by: the invoke
 * proxy's rate (`invokeRateLimitPerMinute`).
 */
export function x402RateLimit(
  context: Pick<AppContext, 'invokeRateLimitPerMinute' | 'logger'>,
  serviceOf: (req: Request) => string,
): RequestHandler {
  return perMinute(context.logger, context.invokeRateLimitPerMinute ?? DEFAULT_INVOKE_RATE_LIMIT_PER_MINUTE, {
    key: (req) => `${ipKeyGenerator(req.ip ?? '')}:${serviceOf(req)}`,
    message: 'too many calls to this service; slow down',
  })
}

function perMinute(
  logger: Logger,
  limit: number,
  options: { key?: (req: Request, res: Response) => string; message?: string } = {},
): RequestHandler {
  const { key, message = 'too many requests; slow down' } = options
  return rateLimit({
    windowMs: 60_000,
    // Its configuration checks (an X-Forwarded-For the trust proxy setting ignores, …) go to our log.
    logger: {
      warn: (warning: unknown) => logger.warn({ err: warning }, 'rate limiter warning'),
      error: (error: unknown) => logger.warn({ err: error }, 'rate limiter configuration'),
    },
    limit,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    ...(key ? { keyGenerator: key } : {}),
    handler: (_req, _res, next, limiter) => {
      next(
        new RateLimitedError(ERROR_CODES.rateLimited, message, {
          details: { limit: limiter.limit, window_seconds: limiter.windowMs / 1000 },
        }),
      )
    },
  })
}
