import { AmountPrecisionError, parseAmount } from '../../protocol/amounts'
import { ValidationError } from '../errors'
import type { TokenInfo } from '../ledger/tokens'

/** Parses a decimal amount for `token`, or throws 400 naming `field`. */
export function parseTokenAmount(value: string, token: TokenInfo, field: string): bigint {
  try {
    return parseAmount(value, token.decimals)
  } catch (error) {
    if (error instanceof AmountPrecisionError) {
      throw new ValidationError(
        'validation_failed',
        `body ${field}: ${token.symbol} has ${token.decimals} decimals`,
        {
          details: {
            where: 'body',
            fields: [{ field, message: `at most ${token.decimals} decimal places` }],
          },
        },
      )
    }
    throw error
  }
}
