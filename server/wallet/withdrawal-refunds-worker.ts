import type pg from 'pg'
import { withTransaction } from '../db/pool'
import { refundWithdrawal } from '../ledger/ledger-service'
import { lockWithdrawal, markWithdrawalFailed, selectStuckWithdrawalIds } from './withdrawals-queries'

/**
 * The `withdrawal_refunds` worker's round (`startWorkers` runs it every SETTLER_POLL_MS by the
 * chain's clock), and the only place a failed withdrawal is closed: each one the API already shows
 * failed (`apiStatus` in withdrawals-queries.ts, which reads compute without writing) is marked
 * failed with the reason the API showed, and if the ledger paid it out (its op failed) refunded,
 * vault → available, once, by reference. Each is decided under its row lock, so concurrent rounds
 * close it once. `agentId` narrows to one agent. Returns how many were closed.
 */
export async function reconcileWithdrawals(
  pool: pg.Pool,
  options: { agentId?: string; nowSeconds?: bigint } = {},
): Promise<number> {
  const now = options.nowSeconds ?? BigInt(Math.floor(Date.now() / 1000))
  const ids = await selectStuckWithdrawalIds(pool, now, options.agentId ?? null)
  let closed = 0
  for (const id of ids) {
    const didClose = await withTransaction(pool, async (db) => {
      const row = await lockWithdrawal(db, id, now)
      // Another round closed it first, or a reorg restored its op since the ids were read.
      if (!row || row.status === 'failed' || row.apiStatus !== 'failed') return false
      // Only a queued withdrawal was paid out; one never signed holds nothing.
      const refundTransactionId =
        row.status === 'pending'
          ? await refundWithdrawal(db, {
              agentId: row.agentId!,
              token: row.token,
              amount: row.amount,
              reference: `withdrawal-refund:${row.id}`,
            })
          : null
      await markWithdrawalFailed(db, row.id, row.apiFailureReason!, refundTransactionId)
      return true
    })
    if (didClose) closed += 1
  }
  return closed
}
