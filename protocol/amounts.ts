import { z } from './zod'

/**
 * A JSON number as the decimal string it was written as: its shortest round-trip form (what
 * `String(number)` gives, the digits JSON.parse read), with an exponent spelt out in digits
 * ("1e-7" → "0.0000001"), never through float arithmetic. Anything else passes through unchanged.
 */
export function numberAsDecimalString(value: unknown): unknown {
  if (typeof value !== 'number' || !Number.isFinite(value)) return value
  const written = String(value)
  const match = /^(-?)(\d+)(?:\.(\d+))?e([+-]\d+)$/.exec(written)
  if (!match) return written
  const [, sign, whole, fraction = '', exponentText] = match
  const digits = `${whole}${fraction}`
  const point = whole!.length + Number(exponentText)
  const plain =
    point <= 0
      ? `0.${'0'.repeat(-point)}${digits}`
      : point >= digits.length
        ? `${digits}${'0'.repeat(point - digits.length)}`
        : `${digits.slice(0, point)}.${digits.slice(point)}`
  return `${sign}${plain.replace(/^0+(?=\d)/, '')}`
}

/**
 * A token amount on the wire: a non-negative decimal string in token units ("5.25"). Precision is
 * checked against the token's decimals when it is parsed, because the schema does not know the token.
 * A JSON number (`5`, `4.5`), as clients of seed 004's API send, is read through its shortest decimal
 * form (`numberAsDecimalString`), so it is refused past the token's decimals like the string would be.
 */
export const decimalAmount = z
  .preprocess(
    numberAsDecimalString,
    z.string().regex(/^(0|[1-9]\d{0,29})(\.\d{1,36})?$/, 'must be a decimal string such as "5.25"'),
  )
  .openapi({
    example: '5.25',
    description: 'a decimal string in token units; a JSON number is read through its shortest decimal form',
  })

/** Raised when a decimal string has more fractional digits than the token allows. */
export class AmountPrecisionError extends Error {
  override name = 'AmountPrecisionError'
}

/** "5.25" with 6 decimals → 5_250_000n. Never goes through a JavaScript number. */
export function parseAmount(value: string, decimals: number): bigint {
  const match = /^(-)?(\d+)(?:\.(\d+))?$/.exec(value)
  if (!match) throw new AmountPrecisionError(`"${value}" is not a decimal amount`)
  const [, sign, whole, fraction = ''] = match
  const trimmed = fraction.replace(/0+$/, '')
  if (trimmed.length > decimals) {
    throw new AmountPrecisionError(`"${value}" has more than ${decimals} decimal places`)
  }
  const units = BigInt(whole!) * 10n ** BigInt(decimals) + BigInt(trimmed.padEnd(decimals, '0') || '0')
  return sign ? -units : units
}

/** 5_250_000n with 6 decimals → "5.25"; whole amounts have no fraction ("100"), negatives keep "-". */
export function formatAmount(units: bigint, decimals: number): string {
  const negative = units < 0n
  const digits = (negative ? -units : units).toString().padStart(decimals + 1, '0')
  const whole = digits.slice(0, digits.length - decimals)
  const fraction = digits.slice(digits.length - decimals).replace(/0+$/, '')
  return `${negative ? '-' : ''}${whole}${fraction ? `.${fraction}` : ''}`
}

/** bigint → decimal string, recursively: decoded chain values as JSON without losing precision. */
export function bigintsToDecimalStrings(value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString()
  if (Array.isArray(value)) return value.map(bigintsToDecimalStrings)
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, inner]) => [key, bigintsToDecimalStrings(inner)]),
    )
  }
  return value
}

/** A token named by its symbol (`USDC`) or its address: which of the allowlisted tokens is meant. */
export const tokenReference = z.string().min(1).max(42)
