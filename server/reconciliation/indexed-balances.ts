import type { Address } from 'viem'
import type { Queryable } from '../db/pool'
import { selectMirroredAccountBalances } from './vault-mirror-queries'

// Reads of the vault mirror for other rooms: it depends on nothing but its queries, so any room
// may read what the vault holds without importing reconciliation (and what that imports).

/**
 * The vault's internal balances of `account` at the indexed block, by lowercase token address:
 * the mirror the indexer keeps from the vault's own logs, so a read never waits on the chain.
 */
export function indexedVaultBalances(
  db: Queryable,
  chainId: number,
  account: Address,
): Promise<Map<string, bigint>> {
  return selectMirroredAccountBalances(db, chainId, account)
}
