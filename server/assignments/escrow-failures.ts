import type { Logger } from 'pino'
import { OpKind } from '../../protocol/typed-data'
import { findAgentByWallet } from '../agents/agents-service'
import type { ChainOpFailureHandler, FailedChainOp } from '../chain/settler/chain-op-failures'
import type { Queryable } from '../db/pool'
import { selectJob, setJobStatus } from '../jobs/jobs-queries'
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
  countFilledSlots,
  insertEscrowLockFailure,
  markEscrowOpsFailed,
  restoreFailedEscrowOps,
  selectAssignment,
  selectEscrowOpByChainReference,
  setAssignmentStatus,
  takeEscrowLockFailure,
  type EscrowOpRow,
  type EscrowSubject,
} from './assignments-queries'
import { ledgerReleaseReference, storedLockTerms } from './escrow-ops'

const lockFailureBase = (escrowId: string) => `escrow-lock-failure:${escrowId.toLowerCase()}`
// The same base the escrow outcome handlers use for a booked release the chain will not carry out.
const releaseReversalBase = (escrowId: string) => `escrow-release-reversal:${escrowId.toLowerCase()}`

function subjectOf(op: EscrowOpRow): EscrowSubject {
  return op.assignment_id ? { assignmentId: op.assignment_id } : { entryId: op.entry_id! }
}

/**
 * An assignment whose escrow can never be locked ends: it is `cancelled` (no work can be submitted
 * or accepted on money the vault does not hold), and its job has the slot back, open to award
 * again when no other assignment holds it. Returns what it changed, for a reorg to undo.
 */
async function cancelUnfundedAssignment(db: Queryable, assignmentId: string) {
  const found = await selectAssignment(db, assignmentId)
  if (!found) return { assignmentStatusBefore: null, jobStatusBefore: null }
  // The job's row first, as every job-flow transaction takes it, so this never deadlocks with one.
  const job = await selectJob(db, found.job_id, { forUpdate: true })
  const assignment = await selectAssignment(db, assignmentId, { forUpdate: true })
  if (!job || !assignment || assignment.status === 'cancelled') {
    return { assignmentStatusBefore: null, jobStatusBefore: null }
  }
  await setAssignmentStatus(db, assignment.id, 'cancelled')
  const live = await countFilledSlots(db, job.id)
  let jobStatus = job.status
  if (['filling', 'in_progress', 'completed'].includes(job.status)) {
    if (live === 0) jobStatus = 'open'
    else if (job.status === 'in_progress' && live < job.current_max_slots) jobStatus = 'filling'
  }
  if (jobStatus !== job.status) await setJobStatus(db, job.id, jobStatus)
  return { assignmentStatusBefore: assignment.status, jobStatusBefore: job.status }
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
 * 4. an assignment is cancelled and its job's slot freed; a prize stays unpaid with its pool share
 *    back with the creator.
 * A reorg that drops the `OpSkipped` log undoes all four (`restored`).
 */
export function escrowLockFailureHandler(logger: Logger): ChainOpFailureHandler {
  return {
    kind: OpKind.EscrowLock,
    async failed(db, op: FailedChainOp) {
      const lock = await selectEscrowOpByChainReference(db, op.reference)
      if (!lock || lock.kind !== 'escrow_lock' || !lock.escrow_id) {
        logger.error({ reference: op.reference, reason: op.reason }, 'failed escrow lock names no escrow op')
        return
      }
      if (lock.status === 'failed') return
      const subject = subjectOf(lock)
      const terms = storedLockTerms(lock.typed_data)
      const token = terms.token.toLowerCase() as `0x${string}`
      const payer = await findAgentByWallet(db, terms.payer)
      const payee = await findAgentByWallet(db, terms.payee)
      const assignmentChange =
        subject && 'assignmentId' in subject ? await cancelUnfundedAssignment(db, subject.assignmentId) : null
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
        assignmentId: 'assignmentId' in subject ? subject.assignmentId : null,
        assignmentStatusBefore: assignmentChange?.assignmentStatusBefore ?? null,
        jobStatusBefore: assignmentChange?.jobStatusBefore ?? null,
      })
      logger.warn(
        { escrowId: lock.escrow_id, subject, reason: op.reason },
        'escrow lock failed on-chain: escrow returned to the payer, dependent ops failed',
      )
    },
    async restored(db, op: FailedChainOp) {
      const lock = await selectEscrowOpByChainReference(db, op.reference)
      if (!lock || !lock.escrow_id || lock.status !== 'failed') return
      const subject = subjectOf(lock)
      const failure = await takeEscrowLockFailure(db, op.chainId, lock.escrow_id)
      if (failure?.assignmentId && failure.assignmentStatusBefore) {
        const assignment = await selectAssignment(db, failure.assignmentId)
        if (assignment) {
          await selectJob(db, assignment.job_id, { forUpdate: true })
          await setAssignmentStatus(db, assignment.id, failure.assignmentStatusBefore)
          if (failure.jobStatusBefore) await setJobStatus(db, assignment.job_id, failure.jobStatusBefore)
        }
      }
      await reverseChainBooking(db, lockFailureBase(lock.escrow_id))
      await reverseChainBooking(db, releaseReversalBase(lock.escrow_id))
      await restoreFailedEscrowOps(db, subject)
    },
  }
}
