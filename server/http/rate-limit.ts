import type { RequestHandler } from 'express'
import { rateLimit } from 'express-rate-limit'
import { ERROR_CODES } from '../../protocol/errors'
import type { AppContext } from '../app-context'
import { RateLimitedError } from '../errors'

/**
 * Per-client-IP limit for registration and authentication routes (`authRateLimitPerMinute`), a
 * 429 in the API's error shape. Counters live in this process: with several replicas behind a
 * balancer each enforces its own window, which still bounds a brute-force attempt.
 */
export function authRateLimit(context: Pick<AppContext, 'authRateLimitPerMinute'>): RequestHandler {
  return rateLimit({
    windowMs: 60_000,
    limit: context.authRateLimitPerMinute,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    handler: (_req, _res, next, options) => {
      next(
        new RateLimitedError(ERROR_CODES.rateLimited, 'too many requests; slow down', {
          details: { limit: options.limit, window_seconds: options.windowMs / 1000 },
        }),
      )
    },
  })
}
