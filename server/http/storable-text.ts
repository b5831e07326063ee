import type { RequestHandler } from 'express'
import { ERROR_CODES } from '../../protocol/errors'
import { ValidationError } from '../errors'

// Valid JSON and URLs can carry both, but Postgres `text` cannot hold U+0000, `jsonb` refuses an
// unpaired UTF-16 surrogate, and RFC 8785 (idempotency and signed-request hashes) cannot encode one.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

function isUnstorable(text: string): boolean {
  return text.includes('\u0000') || LONE_SURROGATE.test(text)
}

/** The path of the first string or object key in `value` that Postgres cannot store, or null. */
export function findUnstorable(value: unknown, path: (string | number)[] = []): (string | number)[] | null {
  if (typeof value === 'string') return isUnstorable(value) ? path : null
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) {
      const found = findUnstorable(item, [...path, index])
      if (found) return found
    }
    return null
  }
  if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      if (isUnstorable(key)) return [...path, key]
      const found = findUnstorable(item, [...path, key])
      if (found) return found
    }
  }
  return null
}

/** A 400 naming the field that holds text no part of the system can store or hash. */
export function unstorableTextError(
  where: 'body' | 'query' | 'params',
  path: (string | number)[],
): ValidationError {
  const field = path.length ? path.join('.') : where
  const message = 'must not contain NUL characters or unpaired UTF-16 surrogates'
  return new ValidationError(ERROR_CODES.validation, `${where} ${field}: ${message}`, {
    details: { where, fields: [{ field, message }] },
  })
}

/**
 * Refuses such text in the body or query of every request before anything reads it: the
 * idempotency and signature checks hash the body before a route validates it.
 */
export const rejectUnstorableText: RequestHandler = (req, _res, next) => {
  const inBody = findUnstorable(req.body)
  if (inBody) return next(unstorableTextError('body', inBody))
  const inQuery = findUnstorable(req.query)
  if (inQuery) return next(unstorableTextError('query', inQuery))
  next()
}
