import { findAgentById, findAgentByWallet } from '../agents/agents-service'
import type { AppContext } from '../app-context'
import { withRetryingTransaction } from '../db/retrying-transaction'
import {
  findEscrowTerms,
  queueSignedEscrowOps,
  recordEscrowRefund,
  recordEscrowRuling,
} from '../escrow/escrow-ops'
import { findJob } from '../jobs/job-records'
import { postSystemMessage } from '../messages/messages-service'
import { cancelAssignment, findAssignment, findTimedOutAssignments, hasTimedOut } from './assignment-records'

/** How the money of a cancelled overdue assignment goes back to its payer. */
export type OverdueRefund = 'payee_refund' | 'platform_ruling' | 'escrow_expiry' | 'no_escrow'

/**
 * Seed 004's overdue release: an assignment not submitted 24 hours past its due time (the bid's
 * ETA) is `cancelled`, its job gets the slot back, and its escrow goes back to the payer on-chain:
 * - an EscrowRefund signed by the worker's managed wallet (the coordinator holds that key), else
 * - an EscrowRuling giving the worker nothing, signed by the platform resolver, if the escrow
 *   names it (the resolver's fee is paid, as on any ruling), else
 * - the escrow's expiry: after it, the payer (or anyone) reclaims it on the vault, and the indexer
 *   books the `EscrowExpired` like any outcome.
 * The ledger moves when the indexer sees the vault's refund, ruling or expiry. Returns how it goes
 * back, or null when the assignment is no longer overdue (a submission won the race).
 */
export async function cancelOverdueAssignment(
  context: AppContext,
  assignmentId: string,
): Promise<OverdueRefund | null> {
  return withRetryingTransaction(context.pool, async (db) => {
    const found = await findAssignment(db, assignmentId)
    const job = found && (await findJob(db, found.job_id, { forUpdate: true }))
    const assignment = job && (await findAssignment(db, assignmentId, { forUpdate: true }))
    if (!job || !assignment || !(await hasTimedOut(db, assignment.id, 'overdue'))) return null
    await cancelAssignment(db, job, assignment.id)
    const subject = { assignmentId: assignment.id }
    const escrowId = assignment.escrow_id
    let refund: OverdueRefund = escrowId ? 'escrow_expiry' : 'no_escrow'
    if (escrowId) {
      const worker = await findAgentById(db, assignment.worker_agent_id)
      const terms = await findEscrowTerms(db, context, escrowId)
      const resolver = terms && (await findAgentByWallet(db, terms.resolver))
      if (worker?.isManagedWallet) {
        await recordEscrowRefund(db, context, { subject, escrowId, payee: worker })
        refund = 'payee_refund'
      } else if (resolver && resolver.id === context.platformResolverAgentId && resolver.isManagedWallet) {
        await recordEscrowRuling(db, context, { subject, escrowId, resolver, payeeBps: 0 })
        refund = 'platform_ruling'
      }
      if (refund !== 'escrow_expiry') await queueSignedEscrowOps(db, subject)
    }
    await postSystemMessage(db, {
      jobId: job.id,
      assignmentId: assignment.id,
      senderAgentId: null,
      kind: 'system',
      body:
        refund === 'escrow_expiry'
          ? 'Cancelled: not submitted within 24 hours of its due time; the payer reclaims the escrow once it expires.'
          : refund === 'no_escrow'
            ? 'Cancelled: not submitted within 24 hours of its due time.'
            : 'Cancelled: not submitted within 24 hours of its due time; the escrow goes back to the payer.',
    })
    return refund
  })
}

/** One pass of the overdue timer: cancels up to `limit` overdue assignments; returns how many. */
export async function cancelOverdueAssignments(context: AppContext, limit = 100): Promise<number> {
  let cancelled = 0
  for (const { id } of await findTimedOutAssignments(context.pool, 'overdue', limit)) {
    if (await cancelOverdueAssignment(context, id)) cancelled += 1
  }
  return cancelled
}
