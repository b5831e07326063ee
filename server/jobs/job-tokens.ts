import { AmountPrecisionError, formatAmount, parseAmount } from '../../protocol/amounts'
import { AppError, ConflictError, fieldError } from '../errors'

/** The vault stores an escrow's amount in 96 bits, so no bid or budget may exceed it. */
export const MAX_ESCROW_AMOUNT = 2n ** 96n - 1n

/**
 * The ledger's `insufficient_balance` (in base units) said in the job's token: `message` names
 * what needed `amount`, the details what is available and what is required. Any other error is
 * returned as it is, for the caller to throw.
 */
export function insufficientBalanceFor(
  error: unknown,
  token: { symbol: string; decimals: number },
  amount: bigint,
  message: string,
): unknown {
  if (!(error instanceof AppError) || error.code !== 'insufficient_balance') return error
  const balance = (error.details as { balance?: string } | null)?.balance
  return new ConflictError('insufficient_balance', message, {
    details: {
      token: token.symbol,
      available: balance === undefined ? null : formatUnits(balance, token.decimals),
      required: formatUnits(amount, token.decimals),
    },
    cause: error,
  })
}

/** Parses a decimal-string amount in `decimals`, or throws a 400 naming `field`. */
export function parseTokenAmount(
  value: string,
  decimals: number,
  field: string,
  options: { positive?: boolean } = {},
): bigint {
  let units: bigint
  try {
    units = parseAmount(value, decimals)
  } catch (error) {
    if (error instanceof AmountPrecisionError) {
      throw fieldError('body', field, `must have at most ${decimals} decimal places`)
    }
    throw error
  }
  if (options.positive && units <= 0n) throw fieldError('body', field, 'must be greater than zero')
  if (units > MAX_ESCROW_AMOUNT) throw fieldError('body', field, 'is larger than an escrow can hold')
  return units
}

/** Base units from the database (numeric comes back as a string) as a decimal string. */
export function formatUnits(units: string | bigint, decimals: number): string {
  return formatAmount(BigInt(units), decimals)
}
