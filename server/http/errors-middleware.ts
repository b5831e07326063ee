import type { ErrorRequestHandler, RequestHandler } from 'express'
import { BaseError, TimeoutError } from 'viem'
import type { Logger } from 'pino'
import { describeDatabaseError, isDatabaseUnavailable } from '../db/database-errors'
import {
  AppError,
  NotFoundError,
  PayloadTooLargeError,
  ServiceUnavailableError,
  UpstreamError,
  ValidationError,
} from '../errors'
import { ERROR_CODES, type ErrorResponse } from '../../protocol/errors'

/** What `Retry-After` asks of a client while the database is unavailable: a restart or failover takes seconds. */
export const DATABASE_RETRY_AFTER_SECONDS = 2

/**
 * A connection-level failure (refused, reset, terminated by a shutdown, timed out) means the
 * database is away, not that the request is wrong: a 503 the client can retry, not a 500.
 */
export function databaseUnavailableError(cause: unknown): ServiceUnavailableError {
  return new ServiceUnavailableError(
    ERROR_CODES.databaseUnavailable,
    'the database is unavailable; retry later (with the same Idempotency-Key, if the request had one)',
    {
      cause,
      retryAfterSeconds: DATABASE_RETRY_AFTER_SECONDS,
      details: { dependency: 'database', retry_after_seconds: DATABASE_RETRY_AFTER_SECONDS },
    },
  )
}

/** 404 in the API's error shape for any path no route matched. */
export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(new NotFoundError(ERROR_CODES.notFound, `no route for ${req.method} ${req.path}`))
}

interface BodyParserError {
  type?: string
  status?: number
}

/** Turns body-parser failures (the client's fault) into typed 4xx errors before rendering. */
function fromBodyParser(error: BodyParserError): AppError | null {
  if (error.type === 'entity.parse.failed') {
    return new ValidationError(ERROR_CODES.malformedJson, 'request body is not valid JSON')
  }
  if (error.type === 'entity.too.large') {
    return new PayloadTooLargeError(ERROR_CODES.payloadTooLarge, 'request body is too large')
  }
  if (typeof error.status === 'number' && error.status >= 400 && error.status < 500) {
    return new ValidationError('bad_request', 'request could not be read', {
      details: { reason: error.type ?? null },
    })
  }
  return null
}

/**
 * A chain call a request needed failed: the node is the upstream, so 504 `chain_timeout` when it
 * did not answer in time and 502 `chain_error` for anything else it answered (or refused) with;
 * never a 500, which would blame the coordinator's own code.
 */
function fromChainCall(error: unknown): UpstreamError | null {
  if (!(error instanceof BaseError)) return null
  const timedOut = error.walk((cause) => cause instanceof TimeoutError) !== null
  if (timedOut) {
    return new UpstreamError('chain_timeout', 'the chain node did not answer in time', { cause: error })
  }
  return new UpstreamError('chain_error', `the chain node failed: ${error.shortMessage}`, { cause: error })
}

/**
 * Renders `{ error: { code, message, details } }`. Only unexpected errors are logged with their
 * stack, and their message never reaches the client. A database outage is one warning line per
 * request, without a stack: it says nothing about the code.
 */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, req, res, _next) => {
    let appError = error instanceof AppError ? error : fromBodyParser(error as BodyParserError)
    if (!appError) {
      appError = fromChainCall(error)
      if (appError)
        logger.warn({ reqId: req.id, cause: (appError.cause as BaseError).shortMessage }, 'chain call failed')
    }
    if (!appError && isDatabaseUnavailable(error)) {
      logger.warn({ reqId: req.id, cause: describeDatabaseError(error) }, 'database unavailable')
      appError = databaseUnavailableError(error)
    }
    if (appError) {
      if (appError instanceof ServiceUnavailableError) {
        res.setHeader('Retry-After', String(appError.retryAfterSeconds))
      }
      const body: ErrorResponse = {
        error: { code: appError.code, message: appError.message, details: appError.details },
      }
      res.status(appError.statusCode).json(body)
      return
    }
    logger.error({ err: error, reqId: req.id }, 'unexpected error')
    const body: ErrorResponse = {
      error: {
        code: ERROR_CODES.internal,
        message: 'internal error',
        details: { request_id: String(req.id) },
      },
    }
    res.status(500).json(body)
  }
}
