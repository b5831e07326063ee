import type { AppContext } from '../app-context'
import { channelChainEventHandlers, channelOpFailureHandlers } from '../channels/channel-chain-handlers'
import { queueEscrowOpsWaitingFor } from '../escrow/escrow-ops'
import { escrowOutcomeHandlers } from '../escrow/escrow-outcomes'
import { assignmentEscrowHooks } from '../assignments/assignment-records'
import { escrowLockFailureHandler } from '../escrow/escrow-failures'
import { escrowSetHandlers } from '../escrow/escrow-sets-service'
import type { ChainEventHandler } from './indexer/indexed-event'
import { depositHandlers } from '../wallet/deposit-handler'
import { withdrawalChainEventHandlers } from '../wallet/withdrawal-chain-handlers'
import { vaultMirrorHandlers } from '../reconciliation/vault-mirror'
import { batchSettledHandler, opSkippedHandler } from './settler/batch-settled-handler'
import type { ChainOpFailureHandler } from './settler/chain-op-failures'
import { feeChangedHandler } from './vault-fees'
import { tokenAllowlistHandler } from './token-allowlist'
import { x402ChainEventHandlers } from '../x402/x402-chain-handlers'

/**
 * Every domain's reaction to vault events, registered with the indexer in one place. Domains add
 * their handlers here (deposits and withdrawals move the ledger; settled batches and the ops they
 * skipped are recorded; committed escrow sets release the ops waiting for their escrows' proofs;
 * escrow outcomes turn booked releases into available money, or book how the vault settled an
 * escrow without the coordinator; channels book their settlements, closes and refunds; x402 payments credit their providers; a vault fee change forgets the cached fee; the owner's allowlist changes are followed); the vault mirror follows every account's vault balance for
 * reconciliation.
 */
export function chainEventHandlers(context: AppContext): ChainEventHandler[] {
  const logger = context.logger.child({ component: 'indexer' })
  return [
    ...vaultMirrorHandlers(logger),
    ...depositHandlers(),
    ...withdrawalChainEventHandlers(),
    ...escrowSetHandlers(logger, queueEscrowOpsWaitingFor),
    ...escrowOutcomeHandlers(logger),
    ...channelChainEventHandlers(logger),
    ...x402ChainEventHandlers(),
    opSkippedHandler(logger, chainOpFailureHandlers(context)),
    batchSettledHandler(logger),
    feeChangedHandler(context),
    tokenAllowlistHandler(),
  ]
}

/**
 * Every domain's reaction to one of its queued ops failing, for the settler (an op its simulation
 * refused) and the `OpSkipped` handler (an op the vault skipped): escrow locks return their escrow
 * and fail what stood on them; channel fundings return their money, settlements are queued again. Withdrawals are refunded from their own status instead, by
 * the `withdrawal_refunds` worker (`reconcileWithdrawals`).
 */
export function chainOpFailureHandlers(context: Pick<AppContext, 'logger'>): ChainOpFailureHandler[] {
  const logger = context.logger.child({ component: 'settlement' })
  return [escrowLockFailureHandler(logger, assignmentEscrowHooks), ...channelOpFailureHandlers(logger)]
}
