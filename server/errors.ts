/** Base of every error the API renders: `{ error: { code, message, details } }` with `statusCode`. */
export abstract class AppError extends Error {
  abstract readonly statusCode: number
  readonly code: string
  readonly details: unknown

  constructor(code: string, message: string, options: { details?: unknown; cause?: unknown } = {}) {
    super(message, { cause: options.cause })
    this.code = code
    this.details = options.details ?? null
  }
}

export class ValidationError extends AppError {
  override name = 'ValidationError'
  readonly statusCode = 400
}

export class UnauthorizedError extends AppError {
  override name = 'UnauthorizedError'
  readonly statusCode = 401
}

export class ForbiddenError extends AppError {
  override name = 'ForbiddenError'
  readonly statusCode = 403
}

export class NotFoundError extends AppError {
  override name = 'NotFoundError'
  readonly statusCode = 404
}

export class ConflictError extends AppError {
  override name = 'ConflictError'
  readonly statusCode = 409
}

export class PayloadTooLargeError extends AppError {
  override name = 'PayloadTooLargeError'
  readonly statusCode = 413
}

export class RateLimitedError extends AppError {
  override name = 'RateLimitedError'
  readonly statusCode = 429
}

export class UpstreamError extends AppError {
  override name = 'UpstreamError'
  readonly statusCode: 502 | 504 = 502
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
    code: string,
    message: string,
    options: { details?: unknown; cause?: unknown; retryAfterSeconds?: number } = {},
  ) {
    super(code, message, options)
    this.retryAfterSeconds = options.retryAfterSeconds ?? 1
  }
}

/** Configuration that cannot start the process; `main` prints its message as one line and exits. */
export class ConfigError extends Error {
  override name = 'ConfigError'
}
