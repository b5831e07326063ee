/**
 * RFC 8785 JSON Canonicalization Scheme (JCS): the exact bytes a wallet-signed request hashes.
 *
 * Objects have their keys sorted by UTF-16 code units, no whitespace is emitted, strings and
 * numbers are serialized the way ECMAScript's `JSON.stringify` does (RFC 8785 §3.2.2 defers to
 * it). Inputs outside I-JSON (non-finite numbers, lone surrogates, bigint, functions) are rejected
 * instead of being silently changed, because a signer and a verifier must never disagree.
 */
export function canonicalJson(value: unknown): string {
  return serialize(value, '$')
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

function serialize(value: unknown, path: string): string {
  if (value === null) return 'null'
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false'
    case 'number':
      if (!Number.isFinite(value)) throw new CanonicalJsonError(path, 'number is not finite')
      // ECMAScript's Number-to-string is exactly RFC 8785's number format (and -0 becomes 0).
      return JSON.stringify(value)
    case 'string':
      if (LONE_SURROGATE.test(value)) throw new CanonicalJsonError(path, 'string has a lone surrogate')
      return JSON.stringify(value)
    case 'object': {
      if (Array.isArray(value)) {
        return `[${value.map((item, index) => serialize(item === undefined ? null : item, `${path}[${index}]`)).join(',')}]`
      }
      const prototype = Object.getPrototypeOf(value)
      if (prototype !== Object.prototype && prototype !== null) {
        throw new CanonicalJsonError(path, 'only plain objects, arrays and primitives are JSON')
      }
      const record = value as Record<string, unknown>
      // Default string ordering compares UTF-16 code units, which is what RFC 8785 §3.2.3 asks.
      const keys = Object.keys(record)
        .filter((key) => record[key] !== undefined)
        .sort()
      return `{${keys
        .map((key) => {
          if (LONE_SURROGATE.test(key)) throw new CanonicalJsonError(path, 'key has a lone surrogate')
          return `${JSON.stringify(key)}:${serialize(record[key], `${path}.${key}`)}`
        })
        .join(',')}}`
    }
    default:
      throw new CanonicalJsonError(path, `${typeof value} is not JSON`)
  }
}
