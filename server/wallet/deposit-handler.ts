import type { ChainEventHandler } from '../chain/indexer/indexed-event'
import { applyDeposited, observeUnconfirmedDeposits, undoDeposited } from './deposits-service'
import { applyWithdrawn, undoWithdrawn } from './withdrawals-service'

/**
 * The wallet's reactions to vault logs, for the indexer: `Deposited` is shown as pending while it
 * waits for its confirmations, then credits the account's agent (or holds it unclaimed);
 * `Withdrawn` confirms the fast withdrawal with its nonce, `WithdrawalExecuted` books a slow-path
 * exit. All run inside the indexer's transaction, and `undo` exactly reverses `apply` on a reorg.
 */
export function depositHandlers(): ChainEventHandler[] {
  return [
    {
      eventName: 'Deposited',
      apply: applyDeposited,
      undo: undoDeposited,
      observeUnconfirmed: observeUnconfirmedDeposits,
    },
    { eventName: 'Withdrawn', apply: applyWithdrawn, undo: undoWithdrawn },
    { eventName: 'WithdrawalExecuted', apply: applyWithdrawn, undo: undoWithdrawn },
  ]
}
