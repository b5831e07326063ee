import type { OpKind } from '../../../protocol/typed-data'
import type { Queryable } from '../../db/pool'

/** A queued op the vault will not carry out: the settler's simulation or the vault (`OpSkipped`) refused it. */
export interface FailedChainOp {
  id: string
  chainId: number
  kind: OpKind
  reference: string
  reason: string
}

/**
 * What the domain that queued ops of `kind` does when one fails: whatever the ledger booked ahead
 * of the op (and of any op that depended on it) is reversed in the transaction that marks it
 * failed, so it happens exactly once. `restored` undoes that when a reorg drops the `OpSkipped`
 * log that failed it: the op is back in its batch, which the settler sends again.
 */
export interface ChainOpFailureHandler {
  kind: OpKind
  failed(db: Queryable, op: FailedChainOp): Promise<void>
  restored(db: Queryable, op: FailedChainOp): Promise<void>
}

/** Runs the handlers of `op.kind` for a newly failed op (or, with `restored`, an op failed no longer). */
export async function notifyChainOpFailure(
  db: Queryable,
  handlers: readonly ChainOpFailureHandler[],
  op: FailedChainOp,
  event: 'failed' | 'restored',
): Promise<void> {
  for (const handler of handlers) {
    if (handler.kind === op.kind) await handler[event](db, op)
  }
}
