import { normalizeAddress } from '../../protocol/address'
import type { Address } from 'viem'
import type { AppContext } from '../app-context'
import { ValidationError } from '../errors'

/** An allowlisted token with its address normalised to lowercase. */
export interface TokenInfo {
  symbol: string
  address: Address
  decimals: number
}

function normalise(token: AppContext['tokens'][number]): TokenInfo {
  return {
    symbol: token.symbol,
    address: normalizeAddress(token.address),
    decimals: token.decimals,
  }
}

/** Every allowlisted token, addresses lowercase. */
export function listTokens(context: Pick<AppContext, 'tokens'>): TokenInfo[] {
  return context.tokens.map(normalise)
}

/** The default token (the first allowlisted, USDC on the dev chain), or null when none is configured. */
export function defaultToken(context: Pick<AppContext, 'tokens'>): TokenInfo | null {
  const first = context.tokens[0]
  return first ? normalise(first) : null
}

/**
 * The allowlisted token named by symbol (case-insensitive) or address; the default token when
 * `value` is undefined. Anything else is a 400 `unknown_token` naming `field`.
 */
export function resolveToken(
  context: Pick<AppContext, 'tokens'>,
  value?: string,
  field = 'token',
): TokenInfo {
  const tokens = listTokens(context)
  const wanted = value?.toLowerCase()
  const token =
    wanted === undefined
      ? tokens[0]
      : tokens.find((candidate) => candidate.symbol.toLowerCase() === wanted || candidate.address === wanted)
  if (!token) {
    throw new ValidationError(
      'unknown_token',
      value === undefined ? 'no token is configured' : `${field}: ${value} is not an allowlisted token`,
      { details: { field, allowed: tokens.map((candidate) => candidate.symbol) } },
    )
  }
  return token
}

/** The allowlisted token at `address`, or null. */
export function tokenByAddress(context: Pick<AppContext, 'tokens'>, address: string): TokenInfo | null {
  return listTokens(context).find((token) => token.address === address.toLowerCase()) ?? null
}
