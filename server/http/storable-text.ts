import type { RequestHandler } from 'express'
import { ERROR_CODES } from '../../protocol/errors'
import { fieldError, ValidationError } from '../errors'

// Valid JSON and URLs can carry both, but Postgres `text` cannot hold U+0000, `jsonb` refuses an
// unpaired UTF-16 surrogate, and RFC 8785 (idempotency and signed-request hashes) cannot encode one.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

/**
 * Deepest nesting of arrays and objects a body or query may have (`{}` is 1, `[[1]]` is 2). No
 * route reads more than a few levels; the cap keeps every later walk over the input (zod,
 * pino, jsonb, the hashes) far from the stack limit, which tens of thousands of nested arrays,
 * well under the body size limit, would otherwise reach.
 */
export const MAX_INPUT_DEPTH = 64

function isUnstorable(text: string): boolean {
  return text.includes('\u0000') || LONE_SURROGATE.test(text)
}

/** What is wrong with a piece of input, and where (`['items', 2, 'name']`). */
export type InputProblem =
  { kind: 'unstorable_text'; path: (string | number)[] } | { kind: 'too_deep'; path: (string | number)[] }

/** A value still to visit; `parent` and `key` rebuild its path only when it is reported. */
interface Visit {
  value: unknown
  depth: number
  parent: Visit | null
  key: string | number | null
}

function pathOf(visit: Visit, last?: string): (string | number)[] {
  const path: (string | number)[] = last === undefined ? [] : [last]
  for (let at: Visit | null = visit; at && at.key !== null; at = at.parent) path.push(at.key)
  return path.reverse()
}

/**
 * The first string or object key Postgres cannot store, or the first array or object nested
 * deeper than `maxDepth`, in document order; null when there is none. Walks with an explicit
 * stack, never recursion, so no input can overflow the call stack.
 */
export function findInputProblem(value: unknown, maxDepth: number = MAX_INPUT_DEPTH): InputProblem | null {
  const stack: Visit[] = [{ value, depth: 0, parent: null, key: null }]
  while (stack.length > 0) {
    const visit = stack.pop()!
    const current = visit.value
    if (typeof current === 'string') {
      if (isUnstorable(current)) return { kind: 'unstorable_text', path: pathOf(visit) }
      continue
    }
    if (current === null || typeof current !== 'object') continue
    const depth = visit.depth + 1
    if (depth > maxDepth) return { kind: 'too_deep', path: pathOf(visit) }
    const children: Visit[] = []
    if (Array.isArray(current)) {
      current.forEach((item, index) => children.push({ value: item, depth, parent: visit, key: index }))
    } else {
      for (const [key, item] of Object.entries(current)) {
        if (isUnstorable(key)) return { kind: 'unstorable_text', path: pathOf(visit, key) }
        children.push({ value: item, depth, parent: visit, key })
      }
    }
    // Reversed onto the stack, so the first child is visited first: document order.
    for (let index = children.length - 1; index >= 0; index -= 1) stack.push(children[index]!)
  }
  return null
}

/** A 400 naming the field that holds text no part of the system can store or hash. */
export function unstorableTextError(
  where: 'body' | 'query' | 'params',
  path: (string | number)[],
): ValidationError {
  const field = path.length ? path.join('.') : where
  return fieldError(where, field, 'must not contain NUL characters or unpaired UTF-16 surrogates')
}

/** A 400 `validation_failed` for input nested deeper than `MAX_INPUT_DEPTH`. */
export function tooDeepError(where: 'body' | 'query' | 'params', path: (string | number)[]): ValidationError {
  const field = path.length ? path.join('.') : where
  const message = `nests arrays and objects deeper than ${MAX_INPUT_DEPTH} levels`
  return new ValidationError(ERROR_CODES.validation, `${where} ${message}`, {
    details: { where, max_depth: MAX_INPUT_DEPTH, fields: [{ field, message }] },
  })
}

/** The 400 for `problem`, found in `where`. */
export function inputProblemError(
  where: 'body' | 'query' | 'params',
  problem: InputProblem,
): ValidationError {
  return problem.kind === 'too_deep'
    ? tooDeepError(where, problem.path)
    : unstorableTextError(where, problem.path)
}

/**
 * Refuses, in the body or query of every request and before anything reads them (authentication
 * hashes the body for a signed request, idempotency hashes it too), text Postgres cannot store
 * and nesting deeper than `MAX_INPUT_DEPTH`: a 400 `validation_failed` in the error shape, never
 * a stack overflow's 500.
 */
export const rejectUnsafeInput: RequestHandler = (req, _res, next) => {
  const inBody = findInputProblem(req.body)
  if (inBody) return next(inputProblemError('body', inBody))
  const inQuery = findInputProblem(req.query)
  if (inQuery) return next(inputProblemError('query', inQuery))
  next()
}
