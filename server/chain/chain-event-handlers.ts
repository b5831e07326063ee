import type { AppContext } from '../app-context'
import type { ChainEventHandler } from './indexer/indexed-event'
import { depositHandlers } from '../wallet/deposit-handler'

/**
 * Every domain's reaction to vault events, registered with the indexer in one place. Domains add
 * their handlers here (deposits and withdrawals credit and debit the ledger).
 */
export function chainEventHandlers(context: AppContext): ChainEventHandler[] {
  return [...depositHandlers(context)]
}
