import type { Hex } from 'viem'
import type { Logger } from 'pino'
import type { ChainEventHandler, IndexedEvent } from '../indexer/indexed-event'
import { publishEvent } from '../../events/event-bus'
import { notifyChainOpFailure, type ChainOpFailureHandler } from './chain-op-failures'
import { describeRevert } from './revert-reasons'
import {
  clearBatchSettledLog,
  markBatchOpSkipped,
  recordBatchSettledLog,
  unmarkBatchOpSkipped,
} from './chain-ops-queries'

function batchSettledArgs(event: IndexedEvent) {
  const args = event.args as { batchNumber: string; opsRoot: string }
  return {
    batchNumber: BigInt(args.batchNumber),
    opsRoot: args.opsRoot,
    txHash: event.txHash.toLowerCase(),
    blockNumber: event.blockNumber,
  }
}

/**
 * The indexer's side of settlement: a `BatchSettled` log confirms the recorded batch with the
 * same number and ops root, independently of the settler's receipt (which a crash can lose). A
 * log whose root differs from the recorded batch is logged loudly and confirms nothing: the chain
 * settled other ops under that number than the ones the ledger waits for.
 */
export function batchSettledHandler(logger: Logger): ChainEventHandler {
  return {
    eventName: 'BatchSettled',
    async apply(db, event) {
      const log = batchSettledArgs(event)
      if (!(await recordBatchSettledLog(db, event.chainId, log))) {
        logger.error(
          { batchNumber: log.batchNumber.toString(), opsRoot: log.opsRoot, txHash: log.txHash },
          'BatchSettled log matches no recorded batch (number and ops root)',
        )
        return
      }
      // Public, like its record (GET /v1/settlements/{batch_number}); no agent is its audience.
      await publishEvent(db, {
        type: 'batch_settled',
        audience: [],
        data: { batch_number: Number(log.batchNumber), ops_root: log.opsRoot, tx_hash: log.txHash },
      })
    },
    async undo(db, event) {
      await clearBatchSettledLog(db, event.chainId, batchSettledArgs(event))
    },
  }
}

/**
 * An op the vault skipped inside a batch that landed (`OpSkipped`: state moved between the
 * settler's simulation and the block) failed for good: it is marked failed with its reason, as an
 * op the simulation left out is, and its domain reverses what the ledger booked ahead of it
 * (`failureHandlers`; a withdrawal's refund follows from its status). On a reorg it goes back to
 * its batch, which the settler sends again, and the reversal is undone.
 */
export function opSkippedHandler(
  logger: Logger,
  failureHandlers: readonly ChainOpFailureHandler[] = [],
): ChainEventHandler {
  return {
    eventName: 'OpSkipped',
    async apply(db, event) {
      const args = event.args as { batchNumber: string; index: string; reason: Hex }
      const reason = describeRevert(args.reason)
      const marked = await markBatchOpSkipped(
        db,
        event.chainId,
        BigInt(args.batchNumber),
        Number(args.index),
        reason,
      )
      if (!marked) {
        logger.error(
          { batchNumber: args.batchNumber, index: args.index, reason },
          'OpSkipped names no recorded op',
        )
        return
      }
      await notifyChainOpFailure(db, failureHandlers, { ...marked, chainId: event.chainId, reason }, 'failed')
    },
    async undo(db, event) {
      const args = event.args as { batchNumber: string; index: string }
      const restored = await unmarkBatchOpSkipped(
        db,
        event.chainId,
        BigInt(args.batchNumber),
        Number(args.index),
      )
      if (restored) {
        await notifyChainOpFailure(
          db,
          failureHandlers,
          { ...restored, chainId: event.chainId, reason: '' },
          'restored',
        )
      }
    },
  }
}
