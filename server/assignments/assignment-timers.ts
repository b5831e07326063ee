import { findAgentById, findAgentByWallet } from '../agents/agents-service'
import type { AppContext } from '../app-context'
import {
  findEscrowTerms,
  queueSignedEscrowOps,
  recordEscrowRefund,
  recordEscrowRuling,
} from '../escrow/escrow-ops'
import { postSystemMessage } from '../messages/messages-service'
import type { Queryable } from '../db/pool'
import type { JobRow } from '../jobs/job-records'
import { cancelAssignment, onTimedOutAssignments, type AssignmentRow } from './assignment-records'

/** How the money of a cancelled lapsed assignment goes back to its payer. */
export type OverdueRefund = 'payee_refund' | 'platform_ruling' | 'escrow_expiry' | 'no_escrow'

const OVERDUE_MESSAGE: Record<OverdueRefund, string> = {
  payee_refund:
    'Cancelled: not submitted within 24 hours of its due time; the escrow goes back to the payer.',
  platform_ruling:
    'Cancelled: not submitted within 24 hours of its due time; the escrow goes back to the payer.',
  escrow_expiry:
    'Cancelled: not submitted within 24 hours of its due time; the escrow goes back to the payer once it expires.',
  no_escrow: 'Cancelled: not submitted within 24 hours of its due time.',
}

/**
 * Seed 004's overdue release, one pass: each assignment not submitted 24 hours past its due time
 * (the bid's ETA) is `cancelled`, its job gets the slot back, and its escrow goes back to the payer
 * on-chain (`cancelAndRefundAssignment`). Returns how many it cancelled.
 */
export async function cancelOverdueAssignments(context: AppContext, limit = 100): Promise<number> {
  return onTimedOutAssignments(context.pool, 'overdue', limit, async (db, job, assignment) => {
    const refund = await cancelAndRefundAssignment(db, context, job, assignment)
    await postSystemMessage(db, {
      jobId: job.id,
      assignmentId: assignment.id,
      senderAgentId: null,
      kind: 'system',
      body: OVERDUE_MESSAGE[refund],
    })
  })
}

/**
 * Cancels an assignment its worker let lapse (job and assignment locked by the caller, job
 * first), gives its job the slot back, and sends its escrow back to the payer on-chain:
 * - an EscrowRefund signed by the worker's managed wallet (the coordinator holds that key), else
 * - an EscrowRuling giving the worker nothing, signed by the platform resolver, if the escrow
 *   names it (the resolver's fee is paid, as on any ruling), else
 * - the escrow's expiry: the timers then reclaim it on the vault (`reclaimExpiredEscrows`).
 * The ledger moves when the indexer sees the vault's refund, ruling or expiry. Returns which way
 * the money goes back.
 */
export async function cancelAndRefundAssignment(
  db: Queryable,
  context: AppContext,
  job: JobRow,
  assignment: AssignmentRow,
): Promise<OverdueRefund> {
  await cancelAssignment(db, job, assignment.id)
  const subject = { assignmentId: assignment.id }
  const escrowId = assignment.escrow_id
  if (!escrowId) return 'no_escrow'
  let refund: OverdueRefund = 'escrow_expiry'
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
  return refund
}
