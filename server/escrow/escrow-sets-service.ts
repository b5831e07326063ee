import type { Hex } from 'viem'
import type { Logger } from 'pino'
import { escrowSetTree, type EscrowPosition } from '../../protocol/escrow-sets'
import type { ChainEventHandler, IndexedEvent } from '../chain/indexer/indexed-event'
import type { Queryable } from '../db/pool'
import {
  deleteEscrowLock,
  deleteEscrowSet,
  findEscrowLock,
  findEscrowSet,
  insertEscrowLock,
  insertEscrowSet,
  selectEscrowSetIds,
} from './escrow-sets-queries'

/** A locked escrow's place in the vault: what every later op on it passes. */
export interface LocatedEscrow {
  position: EscrowPosition
  proof: Hex[]
}

/**
 * Where escrow `escrowId` sits and its Merkle proof, once the indexer has seen its whole set
 * committed (and the set's leaves rebuild the committed root); null until then.
 */
export async function locateEscrow(
  db: Queryable,
  chainId: number,
  escrowId: string,
): Promise<LocatedEscrow | null> {
  const lock = await findEscrowLock(db, chainId, escrowId)
  if (!lock) return null
  const set = await findEscrowSet(db, chainId, lock.setId)
  if (!set) return null
  const ids = await selectEscrowSetIds(db, chainId, lock.setId)
  if (ids.length !== set.count) return null
  const tree = escrowSetTree(ids)
  if (tree.root.toLowerCase() !== set.root.toLowerCase()) return null
  return {
    position: { setId: lock.setId, index: BigInt(lock.index) },
    proof: tree.getProof(lock.index) as Hex[],
  }
}

/**
 * The indexer's side of escrow sets: `EscrowLocked` records an escrow's position,
 * `EscrowSetCommitted` (the vault emits it after the set's last lock) records the set's root and
 * hands the set's escrow ids to `onSetCommitted`, whose ops waiting for a proof can now be queued.
 * A committed root that the indexed leaves do not rebuild is logged loudly; its escrows stay
 * unlocated, so nothing is queued against a proof the vault would refuse.
 */
export function escrowSetHandlers(
  logger: Logger,
  onSetCommitted: (db: Queryable, chainId: number, escrowIds: Hex[]) => Promise<void>,
): ChainEventHandler[] {
  return [
    {
      eventName: 'EscrowLocked',
      async apply(db, event) {
        const args = event.args as { escrowId: string; setId: string; index: string }
        await insertEscrowLock(db, {
          chainId: event.chainId,
          escrowId: args.escrowId,
          setId: BigInt(args.setId),
          index: Number(args.index),
          txHash: event.txHash,
          logIndex: event.logIndex,
        })
      },
      undo: (db, event) => deleteEscrowLock(db, logOf(event)),
    },
    {
      eventName: 'EscrowSetCommitted',
      async apply(db, event) {
        const args = event.args as { setId: string; root: string; count: string }
        const setId = BigInt(args.setId)
        await insertEscrowSet(db, {
          chainId: event.chainId,
          setId,
          root: args.root,
          count: Number(args.count),
          txHash: event.txHash,
          logIndex: event.logIndex,
        })
        const ids = await selectEscrowSetIds(db, event.chainId, setId)
        if (
          ids.length !== Number(args.count) ||
          escrowSetTree(ids).root.toLowerCase() !== args.root.toLowerCase()
        ) {
          logger.error(
            { setId: args.setId, root: args.root, indexed: ids.length, txHash: event.txHash },
            'EscrowSetCommitted root does not match the indexed EscrowLocked logs of its set',
          )
          return
        }
        await onSetCommitted(db, event.chainId, ids)
      },
      undo: (db, event) => deleteEscrowSet(db, logOf(event)),
    },
  ]
}

function logOf(event: IndexedEvent) {
  return { chainId: event.chainId, txHash: event.txHash, logIndex: event.logIndex }
}
