import { normalizeAddress } from '../../protocol/address'
import type { Logger } from 'pino'
import { OpKind } from '../../protocol/typed-data'
import { findAgentByWallet } from '../agents/agents-service'
import type { ChainOpFailureHandler, FailedChainOp } from '../chain/settler/chain-op-failures'
import type { Queryable } from '../db/pool'
import {
  chainBookingReference,
  findChainBooking,
  findLedgerPosting,
  lockLedgerAgents,
  returnFailedEscrowLock,
  reverseChainBooking,
  reverseEscrowRelease,
} from '../ledger/ledger-service'
import {
  insertEscrowLockFailure,
  markEscrowOpsFailed,
  restoreFailedEscrowOps,
  selectEscrowOpByChainOp,
  subjectOfRow,
  takeEscrowLockFailure,
  type EscrowSubject,
} from './escrow-ops-queries'
import { ledgerReleaseReference } from './escrow-ops'

const lockFailureBase = (escrowId: string) => `escrow-lock-failure:${escrowId.toLowerCase()}`
// The same base the escrow outcome handlers use for a booked release the chain will not carry out.
const releaseReversalBase = (escrowId: string) => `escrow-release-reversal:${escrowId.toLowerCase()}`

/**
 * What the room behind an escrow's subject does when the lock fails for good (`lockFailed`: end
 * what stood on the escrow, returning what it changed) and when a reorg takes the failure back
 * (`lockRestored`, given that). Assignments cancel the award and free its slot; a prize has nothing
 * to end. Both run in the transaction that fails (or restores) the op.
 */
export interface EscrowSubjectHooks {
  lockFailed(db: Queryable, subject: EscrowSubject): Promise<unknown>
  lockRestored(db: Queryable, subject: EscrowSubject, before: unknown): Promise<void>
}

/**
 * What happens when the vault refuses an escrow lock the coordinator queued (a reorg took the
 * deposit the lock spent, or the payer front-ran the batch to move the balance out): the money
 * never left the payer's vault balance, so the ledger must not hold it in escrow, and nothing that
 * stood on the lock may be paid. In the transaction that marks the op failed, once:
 * 1. a release already booked to the payee (unsettled, never spendable) goes back to the escrow;
 * 2. the escrow goes back to the payer's available balance, repaying first any debt the reorg left;
 * 3. the lock and every later op of its escrow (the release waiting for the lock's set) are marked
 *    failed, so none is ever queued or signed;
 * 4. the subject's room ends what stood on it (`subjects`: an assignment is cancelled and its job's
 *    slot freed); a prize stays unpaid with its pool share back with the creator.
 * A reorg that drops the `OpSkipped` log undoes all four (`restored`).
 */
export function escrowLockFailureHandler(
  logger: Logger,
  subjects: EscrowSubjectHooks,
): ChainOpFailureHandler {
  return {
    kind: OpKind.EscrowLock,
    async failed(db, op: FailedChainOp) {
      const lock = await selectEscrowOpByChainOp(db, op.id)
      if (!lock || lock.kind !== 'escrow_lock' || !lock.escrow_id) {
        logger.error({ reference: op.reference, reason: op.reason }, 'failed escrow lock names no escrow op')
        return
      }
      if (lock.status === 'failed') return
      const subject = subjectOfRow(lock)
      const terms = lock.terms
      const token = normalizeAddress(terms.token)
      const payer = await findAgentByWallet(db, terms.payer)
      const payee = await findAgentByWallet(db, terms.payee)
      const subjectBefore = await subjects.lockFailed(db, subject)
      if (payer && payee) {
        await lockLedgerAgents(db, [payer.id, payee.id], token)
        const release = await findLedgerPosting(db, ledgerReleaseReference(subject))
        if (release && !(await findChainBooking(db, releaseReversalBase(lock.escrow_id)))) {
          await reverseEscrowRelease(db, {
            payerId: payer.id,
            payeeId: payee.id,
            token,
            amount: terms.amount,
            feeBps: terms.feeBps,
            reference: await chainBookingReference(db, releaseReversalBase(lock.escrow_id)),
          })
        }
        await returnFailedEscrowLock(db, {
          agentId: payer.id,
          token,
          amount: terms.amount,
          reference: await chainBookingReference(db, lockFailureBase(lock.escrow_id)),
        })
      } else {
        logger.error({ escrowId: lock.escrow_id }, 'failed escrow lock whose parties hold no agent')
      }
      await markEscrowOpsFailed(db, subject, op.reason)
      await insertEscrowLockFailure(db, {
        chainId: op.chainId,
        escrowId: lock.escrow_id,
        reason: op.reason,
        subjectBefore,
      })
      logger.warn(
        { escrowId: lock.escrow_id, subject, reason: op.reason },
        'escrow lock failed on-chain: escrow returned to the payer, dependent ops failed',
      )
    },
    async restored(db, op: FailedChainOp) {
      const lock = await selectEscrowOpByChainOp(db, op.id)
      if (!lock || !lock.escrow_id || lock.status !== 'failed') return
      const subject = subjectOfRow(lock)
      const subjectBefore = await takeEscrowLockFailure(db, op.chainId, lock.escrow_id)
      if (subjectBefore !== undefined) await subjects.lockRestored(db, subject, subjectBefore)
      await reverseChainBooking(db, lockFailureBase(lock.escrow_id))
      await reverseChainBooking(db, releaseReversalBase(lock.escrow_id))
      await restoreFailedEscrowOps(db, subject)
    },
  }
}
