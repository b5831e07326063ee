import type { z } from 'zod'
import { ValidationError } from '../errors'
import { ERROR_CODES } from '../../protocol/errors'
import { findInputProblem, inputProblemError } from './storable-text'

/** Parses `value` with `schema`, or throws a 400 naming every bad field as `details.fields`. */
export function parseInput<T extends z.ZodType>(
  schema: T,
  value: unknown,
  where: 'body' | 'query' | 'params',
): z.infer<T> {
  // Path parameters never pass the app-wide check (routing decodes them later).
  const problem = findInputProblem(value)
  if (problem) throw inputProblemError(where, problem)
  const parsed = schema.safeParse(value)
  if (parsed.success) return parsed.data
  // An unknown key of a strict object is named itself, not the object that holds it.
  const fields = parsed.error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({ field: [...issue.path, key].join('.'), message: 'is not a known field' }))
      : [{ field: issue.path.length ? issue.path.join('.') : where, message: issue.message }],
  )
  const first = fields[0]!
  throw new ValidationError(ERROR_CODES.validation, `${where} ${first.field}: ${first.message}`, {
    details: { where, fields },
  })
}
