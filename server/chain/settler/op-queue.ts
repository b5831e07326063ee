import type { Hex } from 'viem'
import type { OpKind } from '../../../protocol/typed-data'
import type { Queryable } from '../../db/pool'
import { enqueueChainOp } from './chain-ops-queries'

/** An op for the vault, as a domain hands it to the settler. */
export interface ChainOpToQueue {
  chainId: number
  kind: OpKind
  /** The op's ABI-encoded data, as `settleBatch` takes it. */
  data: Hex
  /** The domain's name for it (`withdrawal:<id>`, `escrow-lock:<assignment>`): queueing it twice queues it once. */
  reference: string
}

/**
 * The settler's intake, the one way a domain gets an op onto the chain: call it inside the
 * transaction that made the off-chain decision, so the decision and its op commit together.
 * Returns the op's id.
 */
export async function queueChainOp(db: Queryable, op: ChainOpToQueue): Promise<string> {
  return enqueueChainOp(db, op)
}
