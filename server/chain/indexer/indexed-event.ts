import type { Hex } from 'viem'
import type { Queryable } from '../../db/pool'

/** A decoded vault log as the indexer stores it; uint values in `args` are decimal strings. */
export interface IndexedEvent {
  chainId: number
  txHash: Hex
  logIndex: number
  blockNumber: bigint
  blockHash: Hex
  contract: string
  eventName: string
  args: Record<string, unknown>
}

/** The blocks past the indexer's cursor, `fromBlock` to the head, that lack their confirmations. */
export interface UnconfirmedWindow {
  chainId: number
  fromBlock: bigint
  toBlock: bigint
}

/**
 * What a domain module does when a vault event is indexed (`apply`) and when a reorg drops it
 * (`undo`). Both run inside the indexer's transaction, so the event row and its effects commit
 * or roll back together; `undo` must exactly reverse `apply`.
 */
export interface ChainEventHandler {
  eventName: string
  apply(db: Queryable, event: IndexedEvent): Promise<void>
  /**
   * Optional: `apply` on each of `events` (consecutive logs of `eventName`, in chain order) in a
   * fixed number of statements, for backfills of busy ranges. The indexer uses it only when every
   * handler of the event has one, running each handler over the whole run in registration order,
   * so a handler's effects must not feed another handler of the same event on a later log.
   */
  applyMany?(db: Queryable, events: IndexedEvent[]): Promise<void>
  undo(db: Queryable, event: IndexedEvent): Promise<void>
  /**
   * Optional preview of what is coming: with confirmations > 0, once the indexer has applied
   * everything up to the safe head, it passes every log of `eventName` in the window, each round,
   * inside its transaction. `events` is the whole unconfirmed set, so anything shown earlier and
   * missing now was dropped by a reorg. It must never move money: the chain may still take it back.
   */
  observeUnconfirmed?(db: Queryable, events: IndexedEvent[], window: UnconfirmedWindow): Promise<void>
}
