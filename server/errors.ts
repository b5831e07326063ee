import { ERROR_CATALOGUE, ERROR_CODES, type ErrorCode, type ErrorCodeFor } from '../protocol/errors'

type ErrorOptions = { details?: unknown; cause?: unknown }

/**
 * Base of every error the API renders: `{ error: { code, message, details } }` with `statusCode`.
 * Each subclass takes only the codes of its own status in `ERROR_CATALOGUE` (protocol/errors.ts),
 * so a code means one status everywhere.
 */
export abstract class AppError extends Error {
  abstract readonly statusCode: number
  readonly code: ErrorCode
  readonly details: unknown

  constructor(code: ErrorCode, message: string, options: ErrorOptions = {}) {
    super(message, { cause: options.cause })
    this.code = code
    this.details = options.details ?? null
  }
}

export class ValidationError extends AppError {
  override name = 'ValidationError'
  readonly statusCode = 400
  constructor(code: ErrorCodeFor<400>, message: string, options?: ErrorOptions) {
    super(code, message, options)
  }
}

/** A 400 naming one field of a request, in the same shape `parseInput` produces. */
export function fieldError(
  where: 'body' | 'query' | 'params' | 'headers',
  field: string,
  message: string,
): ValidationError {
  return new ValidationError(ERROR_CODES.validation, `${where} ${field}: ${message}`, {
    details: { where, fields: [{ field, message }] },
  })
}

export class UnauthorizedError extends AppError {
  override name = 'UnauthorizedError'
  readonly statusCode = 401
  constructor(code: ErrorCodeFor<401>, message: string, options?: ErrorOptions) {
    super(code, message, options)
  }
}

export class ForbiddenError extends AppError {
  override name = 'ForbiddenError'
  readonly statusCode = 403
  constructor(code: ErrorCodeFor<403>, message: string, options?: ErrorOptions) {
    super(code, message, options)
  }
}

export class NotFoundError extends AppError {
  override name = 'NotFoundError'
  readonly statusCode = 404
  constructor(code: ErrorCodeFor<404>, message: string, options?: ErrorOptions) {
    super(code, message, options)
  }
}

export class ConflictError extends AppError {
  override name = 'ConflictError'
  readonly statusCode = 409
  constructor(code: ErrorCodeFor<409>, message: string, options?: ErrorOptions) {
    super(code, message, options)
  }
}

export class PayloadTooLargeError extends AppError {
  override name = 'PayloadTooLargeError'
  readonly statusCode = 413
  constructor(code: ErrorCodeFor<413>, message: string, options?: ErrorOptions) {
    super(code, message, options)
  }
}

export class RateLimitedError extends AppError {
  override name = 'RateLimitedError'
  readonly statusCode = 429
  constructor(code: ErrorCodeFor<429>, message: string, options?: ErrorOptions) {
    super(code, message, options)
  }
}

/** The chain node failed a call a request needed: 502 `chain_error`, or 504 `chain_timeout` when it did not answer. */
export class UpstreamError extends AppError {
  override name = 'UpstreamError'
  readonly statusCode: 502 | 504
  constructor(code: ErrorCodeFor<502> | ErrorCodeFor<504>, message: string, options?: ErrorOptions) {
    super(code, message, options)
    this.statusCode = ERROR_CATALOGUE[code].status
  }
}

/**
 * A dependency (the database) is unavailable for now: nothing was done, and the same request may be
 * sent again after `retryAfterSeconds`, which the error handler sends as `Retry-After`.
 */
export class ServiceUnavailableError extends AppError {
  override name = 'ServiceUnavailableError'
  readonly statusCode = 503
  readonly retryAfterSeconds: number

  constructor(
    code: ErrorCodeFor<503>,
    message: string,
    options: ErrorOptions & { retryAfterSeconds?: number } = {},
  ) {
    super(code, message, options)
    this.retryAfterSeconds = options.retryAfterSeconds ?? 1
  }
}

/** Configuration that cannot start the process; `main` prints its message as one line and exits. */
export class ConfigError extends Error {
  override name = 'ConfigError'
}

/**
 * A worker failure that retrying cannot mend (a settlement gap, say): the worker logs it at error
 * level and stops, and health reports it, instead of failing every round forever.
 */
export class FatalWorkerError extends Error {
  override name = 'FatalWorkerError'
}
