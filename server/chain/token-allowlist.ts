import type { AppContext } from '../app-context'
import type { Queryable } from '../db/pool'
import { ConflictError } from '../errors'
import type { TokenInfo } from '../ledger/tokens'
import type { ChainEventHandler } from './indexer/indexed-event'
import { deleteAllowlistChange, insertAllowlistChange, selectAllowlistState } from './token-allowlist-queries'

/**
 * Follows `TokenAllowlistUpdated`: the owner turning a token on or off is recorded as the indexer
 * sees it (confirmed), and undone by a reorg that drops it.
 */
export function tokenAllowlistHandler(): ChainEventHandler {
  return {
    eventName: 'TokenAllowlistUpdated',
    async apply(db, event) {
      await insertAllowlistChange(db, {
        chainId: event.chainId,
        txHash: event.txHash,
        logIndex: event.logIndex,
        blockNumber: event.blockNumber,
        token: event.args.token as string,
        allowed: event.args.allowed as boolean,
      })
    },
    async undo(db, event) {
      await deleteAllowlistChange(db, event)
    },
  }
}

/**
 * Whether the vault takes new money in `token` (deposits, escrows, channel fundings): what its
 * newest indexed allowlist log says, or, before any is indexed, yes for a token of the deployment
 * (the vault's constructor allowlisted them). Without a chain there is no allowlist to follow.
 */
export async function isTokenAllowed(
  db: Queryable,
  context: Pick<AppContext, 'chain'>,
  token: Pick<TokenInfo, 'address'>,
): Promise<boolean> {
  if (!context.chain) return true
  return (await selectAllowlistState(db, context.chain.deployment.chainId, token.address)) ?? true
}

/**
 * 409 `token_not_allowed` when the vault no longer takes new money in `token`: the owner took it
 * off the allowlist, so what `action` would put into the vault would fail there. Exits (withdrawals,
 * releases and refunds of what is already in) are never refused for it.
 */
export async function requireTokenAllowed(
  db: Queryable,
  context: Pick<AppContext, 'chain'>,
  token: Pick<TokenInfo, 'address'> & { symbol?: string },
  action: string,
): Promise<void> {
  if (await isTokenAllowed(db, context, token)) return
  throw new ConflictError(
    'token_not_allowed',
    `${token.symbol ?? token.address} is off the vault's allowlist: ${action} would put new money into it; withdrawals still work`,
    { details: { token: token.symbol ?? null, token_address: token.address.toLowerCase() } },
  )
}
