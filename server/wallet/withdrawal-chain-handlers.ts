import { normalizeAddress } from '../../protocol/address'
import type { Hex } from 'viem'
import { randomUUID } from 'node:crypto'
import type { ChainEventHandler, IndexedEvent } from '../chain/indexer/indexed-event'
import type { Queryable } from '../db/pool'
import { debitChainWithdrawal, reverseChainWithdrawal } from '../ledger/ledger-service'
import { lockWallet, selectAgentIdByWallet } from './deposits-queries'
import { chainReference } from './deposits-service'
import { publishEvent } from '../events/event-bus'
import {
  insertSlowWithdrawal,
  lockPendingWithdrawalByNonce,
  lockWithdrawalByEvent,
  markSlowWithdrawalReorged,
  markWithdrawalSettled,
  markWithdrawalUnsettled,
  reviveSlowWithdrawal,
} from './withdrawals-queries'

/**
 * The withdrawals' reactions to vault logs, for the indexer: `Withdrawn` confirms the fast
 * withdrawal with its nonce, `WithdrawalExecuted` books a slow-path exit. Both run inside the
 * indexer's transaction, and `undo` exactly reverses `apply` on a reorg. A fast withdrawal whose
 * op failed has no handler here: the ledger booked it ahead of the op, and the refunds worker
 * (`withdrawal-refunds-worker.ts`) gives the money back from the withdrawal's own status.
 */
export function withdrawalChainEventHandlers(): ChainEventHandler[] {
  return [
    { eventName: 'Withdrawn', apply: applyWithdrawn, undo: undoWithdrawn },
    { eventName: 'WithdrawalExecuted', apply: applyWithdrawn, undo: undoWithdrawn },
  ]
}

/** `Withdrawn(account, token, to, amount, nonce)` or `WithdrawalExecuted(account, token, to, amount)` args, addresses lowercase. */
function withdrawnArgs(event: IndexedEvent) {
  const args = event.args as { account: string; token: string; to: string; amount: string; nonce?: string }
  return {
    account: normalizeAddress(args.account),
    token: normalizeAddress(args.token),
    to: normalizeAddress(args.to),
    amount: BigInt(args.amount),
    nonce: args.nonce === undefined ? null : BigInt(args.nonce),
  }
}

/**
 * A confirmed `Withdrawn` log (a fast withdrawal) or `WithdrawalExecuted` log (a slow one), inside
 * the indexer's transaction. A `Withdrawn` carrying the nonce of a fast withdrawal we queued
 * settles it (the ledger paid out when it was queued). Anything else left the vault without the
 * ledger knowing (a slow exit, made without the coordinator): the ledger follows the chain and
 * debits the agent (or the unclaimed account), past its available balance into debt if it must.
 */
async function applyWithdrawn(db: Queryable, event: IndexedEvent): Promise<void> {
  const args = withdrawnArgs(event)
  if (args.amount === 0n) return
  const txHash = event.txHash.toLowerCase() as Hex
  const settledBy = { txHash, logIndex: event.logIndex, blockNumber: event.blockNumber }
  await lockWallet(db, args.account)
  const known = await lockWithdrawalByEvent(db, event.chainId, txHash, event.logIndex)
  if (known) {
    if (known.path === 'slow' && known.status === 'failed') {
      const agentId = await selectAgentIdByWallet(db, args.account)
      const debitTransactionId = await debitChainWithdrawal(db, {
        agentId,
        token: args.token,
        amount: args.amount,
        reference: chainReference('chain-withdrawal', event, known.reorgCount),
      })
      await reviveSlowWithdrawal(db, known.id, { agentId, debitTransactionId, event: settledBy })
    }
    return
  }

  if (args.nonce !== null) {
    const queued = await lockPendingWithdrawalByNonce(db, {
      chainId: event.chainId,
      account: args.account,
      nonce: args.nonce,
    })
    if (queued) {
      await markWithdrawalSettled(db, queued.id, settledBy)
      await publishEvent(db, {
        type: 'withdrawal_completed',
        audience: [queued.agentId],
        data: {
          withdrawal_id: queued.id,
          token_address: queued.token,
          amount_base_units: queued.amount.toString(),
          to: queued.toAddress,
          tx_hash: txHash,
        },
      })
      return
    }
  }

  const agentId = await selectAgentIdByWallet(db, args.account)
  const debitTransactionId = await debitChainWithdrawal(db, {
    agentId,
    token: args.token,
    amount: args.amount,
    reference: chainReference('chain-withdrawal', event, 0),
  })
  await insertSlowWithdrawal(db, {
    id: randomUUID(),
    agentId,
    chainId: event.chainId,
    account: args.account,
    token: args.token,
    amount: args.amount,
    toAddress: args.to,
    debitTransactionId,
    eventTxHash: txHash,
    eventLogIndex: event.logIndex,
    eventBlockNumber: event.blockNumber,
  })
}

/**
 * Undoes `applyWithdrawn` when a reorg drops the log: a fast withdrawal goes back to pending (the
 * settler's batch may land again; the ledger already paid out), a slow one is credited back.
 */
async function undoWithdrawn(db: Queryable, event: IndexedEvent): Promise<void> {
  const args = withdrawnArgs(event)
  if (args.amount === 0n) return
  await lockWallet(db, args.account)
  const row = await lockWithdrawalByEvent(db, event.chainId, event.txHash.toLowerCase(), event.logIndex)
  if (!row || row.status !== 'success') return
  if (row.path === 'fast') {
    await markWithdrawalUnsettled(db, row.id)
    return
  }
  await reverseChainWithdrawal(db, {
    agentId: row.agentId,
    token: row.token,
    amount: row.amount,
    reference: chainReference('chain-withdrawal-reversal', event, row.reorgCount),
  })
  await markSlowWithdrawalReorged(db, row.id)
}
