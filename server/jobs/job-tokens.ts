import { AmountPrecisionError, formatAmount, parseAmount } from '../../protocol/amounts'
import type { AppContext } from '../app-context'
import type { Queryable } from '../db/pool'
import { AppError, ConflictError, fieldError } from '../errors'
import { getBalances } from '../ledger/ledger-service'
import { resolveToken, type TokenInfo } from '../ledger/tokens'

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

/** The token a job is priced in when its body names none. */
export const DEFAULT_JOB_TOKEN = 'USDC'

/** The token a new job is priced in: `budget_token` by symbol, or USDC, or the first allowlisted. */
export function jobToken(context: Pick<AppContext, 'tokens'>, symbol: string | undefined): TokenInfo {
  if (symbol !== undefined) return resolveToken(context, symbol, 'budget_token')
  const usdc = context.tokens.find((token) => token.symbol.toUpperCase() === DEFAULT_JOB_TOKEN)
  return resolveToken(context, usdc?.symbol, 'budget_token')
}

/**
 * 409 `insufficient_balance` unless the agent has `required` of `token` available (inside the
 * caller's transaction): `message` says what needs it, the details what is available and required.
 */
export async function requireAvailable(
  db: Queryable,
  agentId: string,
  token: TokenInfo,
  required: bigint,
  message: string,
): Promise<void> {
  const { available } = await getBalances(db, agentId, token.address)
  if (available >= required) return
  throw new ConflictError('insufficient_balance', message, {
    details: {
      token: token.symbol,
      available: formatUnits(available, token.decimals),
      required: formatUnits(required, token.decimals),
    },
  })
}
