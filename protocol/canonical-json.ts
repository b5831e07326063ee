/**
 * RFC 8785 JSON Canonicalization Scheme (JCS): the exact bytes a wallet-signed request hashes.
 *
 * Objects have their keys sorted by UTF-16 code units, no whitespace is emitted, strings and
 * numbers are serialized the way ECMAScript's `JSON.stringify` does (RFC 8785 §3.2.2 defers to
 * it). Inputs outside I-JSON (non-finite numbers, lone surrogates, bigint, functions, cycles) are
 * rejected instead of being silently changed, because a signer and a verifier must never disagree.
 * The walk uses an explicit stack, not recursion, so no nesting depth overflows the call stack.
 */
export function canonicalJson(value: unknown): string {
  const out: string[] = []
  // Containers being serialized: meeting one again inside itself is a cycle, not JSON.
  const open = new Set<object>()
  const steps: Step[] = [{ kind: 'value', value, at: ROOT }]
  while (steps.length > 0) {
    const step = steps.pop()!
    switch (step.kind) {
      case 'text':
        out.push(step.text)
        break
      case 'close':
        open.delete(step.container)
        out.push(step.text)
        break
      case 'key':
        if (LONE_SURROGATE.test(step.key))
          throw new CanonicalJsonError(formatPath(step.at), 'key has a lone surrogate')
        out.push(`${JSON.stringify(step.key)}:`)
        break
      case 'value':
        out.push(...expand(step, steps, open))
        break
    }
  }
  return out.join('')
}

/** Thrown for a value RFC 8785 cannot represent; `path` points at it (`$.a[2]`). */
export class CanonicalJsonError extends Error {
  override name = 'CanonicalJsonError'
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`${path}: ${message}`)
  }
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

/** Where a value sits, as a linked list to its parent, so a path is only built for an error. */
interface PathNode {
  parent: PathNode | null
  key: string | number | null
}

const ROOT: PathNode = { parent: null, key: null }

type Step =
  | { kind: 'value'; value: unknown; at: PathNode }
  | { kind: 'key'; key: string; at: PathNode }
  | { kind: 'text'; text: string }
  | { kind: 'close'; text: string; container: object }

function formatPath(node: PathNode): string {
  const parts: string[] = []
  for (let at: PathNode | null = node; at && at.key !== null; at = at.parent) {
    parts.push(typeof at.key === 'number' ? `[${at.key}]` : `.${at.key}`)
  }
  return `$${parts.reverse().join('')}`
}

/**
 * The text of a primitive, or the opening bracket of a container whose members (with their
 * separators and closing bracket) are pushed onto `steps` in reverse, so they pop in order.
 */
function expand(step: { value: unknown; at: PathNode }, steps: Step[], open: Set<object>): string[] {
  const { value, at } = step
  if (value === null) return ['null']
  switch (typeof value) {
    case 'boolean':
      return [value ? 'true' : 'false']
    case 'number':
      if (!Number.isFinite(value)) throw new CanonicalJsonError(formatPath(at), 'number is not finite')
      // ECMAScript's Number-to-string is exactly RFC 8785's number format (and -0 becomes 0).
      return [JSON.stringify(value)]
    case 'string':
      if (LONE_SURROGATE.test(value))
        throw new CanonicalJsonError(formatPath(at), 'string has a lone surrogate')
      return [JSON.stringify(value)]
    case 'object': {
      if (open.has(value)) throw new CanonicalJsonError(formatPath(at), 'value contains itself')
      if (Array.isArray(value)) {
        open.add(value)
        steps.push({ kind: 'close', text: ']', container: value })
        for (let index = value.length - 1; index >= 0; index -= 1) {
          const item: unknown = value[index]
          steps.push({
            kind: 'value',
            value: item === undefined ? null : item,
            at: { parent: at, key: index },
          })
          if (index > 0) steps.push({ kind: 'text', text: ',' })
        }
        return ['[']
      }
      const prototype = Object.getPrototypeOf(value)
      if (prototype !== Object.prototype && prototype !== null) {
        throw new CanonicalJsonError(formatPath(at), 'only plain objects, arrays and primitives are JSON')
      }
      const record = value as Record<string, unknown>
      // Default string ordering compares UTF-16 code units, which is what RFC 8785 §3.2.3 asks.
      const keys = Object.keys(record)
        .filter((key) => record[key] !== undefined)
        .sort()
      open.add(value)
      steps.push({ kind: 'close', text: '}', container: value })
      for (let index = keys.length - 1; index >= 0; index -= 1) {
        const key = keys[index]!
        steps.push({ kind: 'value', value: record[key], at: { parent: at, key } })
        steps.push({ kind: 'key', key, at })
        if (index > 0) steps.push({ kind: 'text', text: ',' })
      }
      return ['{']
    }
    default:
      throw new CanonicalJsonError(formatPath(at), `${typeof value} is not JSON`)
  }
}
