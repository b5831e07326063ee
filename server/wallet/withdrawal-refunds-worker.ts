import type pg from 'pg'
import { withTransaction } from '../db/pool'
import { refundWithdrawal } from '../ledger/ledger-service'
import { lockWithdrawal, markWithdrawalFailed, selectStuckWithdrawalIds } from './withdrawals-queries'

/**
 * The `withdrawal_refunds` worker's round (`startWorkers` runs it every SETTLER_POLL_MS by the
 * chain's clock): settles fast withdrawals that can no longer go through. An op the settler marked
 * failed is refunded (vault → available, once, by reference) and one never signed by its deadline
 * is closed. Each is decided under its row lock, so concurrent rounds close it once. `agentId`
 * narrows to one agent. Returns how many were closed.
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
      const row = await lockWithdrawal(db, id)
      if (!row) return false
      if (row.status === 'pending' && row.opStatus === 'failed') {
        const refundTransactionId = await refundWithdrawal(db, {
          agentId: row.agentId!,
          token: row.token,
          amount: row.amount,
          reference: `withdrawal-refund:${row.id}`,
        })
        await markWithdrawalFailed(
          db,
          row.id,
          row.opFailureReason ?? 'settlement op failed',
          refundTransactionId,
        )
        return true
      }
      if (row.status === 'awaiting_signature' && row.deadline! < now) {
        await markWithdrawalFailed(db, row.id, 'signature_expired', null)
        return true
      }
      return false
    })
    if (didClose) closed += 1
  }
  return closed
}
