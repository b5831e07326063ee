import type { ChainEventHandler } from '../chain/indexer/indexed-event'
import {
  applyDeposited,
  applyDepositedLogs,
  observeUnconfirmedDeposits,
  undoDeposited,
} from './deposits-service'

/**
 * The deposits' reaction to vault logs, for the indexer: `Deposited` is shown as pending while it
 * waits for its confirmations, then credits the account's agent (or holds it unclaimed). It runs
 * inside the indexer's transaction, and `undo` exactly reverses `apply` on a reorg. Withdrawals
 * have their own (`withdrawal-chain-handlers.ts`).
 */
export function depositHandlers(): ChainEventHandler[] {
  return [
    {
      eventName: 'Deposited',
      apply: applyDeposited,
      applyMany: applyDepositedLogs,
      undo: undoDeposited,
      observeUnconfirmed: observeUnconfirmedDeposits,
    },
  ]
}
