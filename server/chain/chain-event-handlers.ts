import type { AppContext } from '../app-context'
import { queueEscrowOpsWaitingFor } from '../assignments/escrow-ops'
import { escrowSetHandlers } from '../escrow/escrow-sets-service'
import type { ChainEventHandler } from './indexer/indexed-event'
import { depositHandlers } from '../wallet/deposit-handler'
import { batchSettledHandler, opSkippedHandler } from './settler/batch-settled-handler'

/**
 * Every domain's reaction to vault events, registered with the indexer in one place. Domains add
 * their handlers here (deposits and withdrawals move the ledger; settled batches and the ops they
 * skipped are recorded; committed escrow sets release the ops waiting for their escrows' proofs).
 */
export function chainEventHandlers(context: AppContext): ChainEventHandler[] {
  const logger = context.logger.child({ component: 'indexer' })
  return [
    ...depositHandlers(),
    ...escrowSetHandlers(logger, queueEscrowOpsWaitingFor),
    opSkippedHandler(logger),
    batchSettledHandler(logger),
  ]
}
