import { isAddress, zeroAddress, type Address } from 'viem'
import { z } from './zod'

export type { Address, Hex } from 'viem'

/** `0x` and 40 hex digits, any case. */
const ADDRESS_PATTERN = /^0x[0-9a-fA-F]{40}$/

// Addresses are lowercase everywhere past the schema boundary (the database's CHECKs, map keys,
// comparisons with `===`): `address` below parses every address the API takes.

/** A string that is not an address where one is required. */
export class MalformedAddressError extends Error {
  override name = 'MalformedAddressError'
  constructor(readonly value: string) {
    super(`${JSON.stringify(value)} is not a 0x-prefixed 20-byte address`)
  }
}

/** `value` as the canonical lowercase `Address`, or a `MalformedAddressError`. */
export function normalizeAddress(value: string): Address {
  if (!ADDRESS_PATTERN.test(value)) throw new MalformedAddressError(value)
  return value.toLowerCase() as Address
}

/** Whether two addresses name the same account, whatever their case. */
export function sameAddress(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase()
}

/** Whether `value` is the zero address (an escrow without a resolver, a burnt output). */
export function isZeroAddress(value: string): boolean {
  return sameAddress(value, zeroAddress)
}

/** Mixed case is a checksum (EIP-55) and must be right; all-lower and all-upper carry none. */
function hasValidChecksumOrNone(value: string): boolean {
  const digits = value.slice(2)
  return (
    digits === digits.toLowerCase() || digits === digits.toUpperCase() || isAddress(value, { strict: true })
  )
}

/**
 * The one address field of the API: any case in, a mixed-case address only with a valid EIP-55
 * checksum (a typo in a checksummed address is caught, not paid to), lowercase `Address` out.
 */
export const address = z
  .string()
  .regex(ADDRESS_PATTERN, 'must be a 0x-prefixed 20-byte address')
  .refine(hasValidChecksumOrNone, { message: 'has mixed case that is not a valid EIP-55 checksum' })
  .transform((value) => value.toLowerCase() as Address)
  .openapi({ example: '0x70997970c51812dc3a010c7d01b50e0d17dc79c8' })

/** An address money may be sent to: `address`, and never the zero address. */
export const payoutAddress = address
  .refine((value) => value !== zeroAddress, { message: 'must not be the zero address' })
  .openapi({ example: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8' })

/** An address kept exactly as given (inside signed bytes, where changing its case breaks the signature). */
export const verbatimAddress = z.string().regex(ADDRESS_PATTERN, 'must be a 0x-prefixed 20-byte address')
