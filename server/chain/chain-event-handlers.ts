import type { AppContext } from '../app-context'
import type { ChainEventHandler } from './indexer/indexed-event'
import { depositHandlers } from '../wallet/deposit-handler'
import { batchSettledHandler } from './settler/batch-settled-handler'

/**
 * Every domain's reaction to vault events, registered with the indexer in one place. Domains add
 * their handlers here (deposits and withdrawals move the ledger; settled batches are confirmed).
 */
export function chainEventHandlers(context: AppContext): ChainEventHandler[] {
  return [...depositHandlers(context), batchSettledHandler(context.logger.child({ component: 'indexer' }))]
}
