import type { Queryable } from '../../db/pool'

/** A decoded vault log as the indexer stores it; uint values in `args` are decimal strings. */
export interface IndexedEvent {
  chainId: number
  txHash: `0x${string}`
  logIndex: number
  blockNumber: bigint
  blockHash: `0x${string}`
  contract: string
  eventName: string
  args: Record<string, unknown>
}

/**
 * What a domain module does when a vault event is indexed (`apply`) and when a reorg drops it
 * (`undo`). Both run inside the indexer's transaction, so the event row and its effects commit
 * or roll back together; `undo` must exactly reverse `apply`.
 */
export interface ChainEventHandler {
  eventName: string
  apply(db: Queryable, event: IndexedEvent): Promise<void>
  undo(db: Queryable, event: IndexedEvent): Promise<void>
}
