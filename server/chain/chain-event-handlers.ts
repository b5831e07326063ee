import type { AppContext } from '../app-context'
import type { ChainEventHandler } from './indexer/indexed-event'

/**
 * Every domain's reaction to vault events, registered with the indexer in one place. Domains add
 * their handlers here (deposits and withdrawals credit and debit the ledger).
 */
export function chainEventHandlers(_context: AppContext): ChainEventHandler[] {
  return []
}
