import type { AppContext } from '../app-context'
import { queueEscrowOpsWaitingFor } from '../assignments/escrow-ops'
import { escrowOutcomeHandlers } from '../assignments/escrow-outcomes'
import { escrowSetHandlers } from '../escrow/escrow-sets-service'
import type { ChainEventHandler } from './indexer/indexed-event'
import { depositHandlers } from '../wallet/deposit-handler'
import { batchSettledHandler, opSkippedHandler } from './settler/batch-settled-handler'

/**
 * Every domain's reaction to vault events, registered with the indexer in one place. Domains add
 * their handlers here (deposits and withdrawals move the ledger; settled batches and the ops they
 * skipped are recorded; committed escrow sets release the ops waiting for their escrows' proofs;
 * escrow outcomes turn booked releases into available money, or book how the vault settled an
 * escrow without the coordinator).
 */
export function chainEventHandlers(context: AppContext): ChainEventHandler[] {
  const logger = context.logger.child({ component: 'indexer' })
  return [
    ...depositHandlers(),
    ...escrowSetHandlers(logger, queueEscrowOpsWaitingFor),
    ...escrowOutcomeHandlers(logger),
    opSkippedHandler(logger),
    batchSettledHandler(logger),
  ]
}
