import type { AppContext } from '../app-context'
import type { ChainEventHandler } from '../chain/indexer/indexed-event'
import { applyDeposited, observeUnconfirmedDeposits, undoDeposited } from './deposits-service'
import { applyWithdrawn, readWithdrawnCalls, undoWithdrawn, type WithdrawnCalls } from './withdrawals-service'

/**
 * The wallet's reactions to vault logs, for the indexer: `Deposited` is shown as pending while it
 * waits for its confirmations, then credits the account's agent (or holds it unclaimed);
 * `Withdrawn` confirms a fast withdrawal or books a slow-path exit (its transaction's input, read
 * before the indexer's transaction, tells which). All run inside the indexer's transaction, and
 * `undo` exactly reverses `apply` on a reorg.
 */
export function depositHandlers(context: Pick<AppContext, 'chain'>): ChainEventHandler[] {
  return [
    {
      eventName: 'Deposited',
      apply: applyDeposited,
      undo: undoDeposited,
      observeUnconfirmed: observeUnconfirmedDeposits,
    },
    {
      eventName: 'Withdrawn',
      prepare: (events) => readWithdrawnCalls(context.chain?.client ?? null, events),
      apply: (db, event, calls) => applyWithdrawn(context, db, event, calls as WithdrawnCalls | undefined),
      undo: undoWithdrawn,
    },
  ]
}
