import { randomUUID } from 'node:crypto'
import type { Hex } from 'viem'
import type {
  AddEvidenceBody,
  DisputeInfoResponse,
  DisputeResponse,
  DisputeRuling,
  DisputeSignatureBody,
  EvidenceResponse,
  OpenDisputeBody,
  RuleDisputeBody,
} from '../../protocol/disputes'
import { BPS } from '../../protocol/typed-data'
import { findAgentById, findAgentByWallet } from '../agents/agents-service'
import type { AppContext } from '../app-context'
import {
  finishJobIfDone,
  findAssignment,
  onTimedOutAssignments,
  listJobAssignments,
  moveAssignment,
  type AssignmentRow,
} from '../assignments/assignment-records'
import type { Actor } from '../auth/actor'
import { chainNow } from '../chain/clients'
import type { Queryable } from '../db/pool'
import { withRetryingTransaction } from '../db/retrying-transaction'
import { publishEvent } from '../events/event-bus'
import { ConflictError, fieldError, ForbiddenError, NotFoundError } from '../errors'
import {
  abandonUnqueuedEscrow,
  ESCROW_EXPIRY_MARGIN_SECONDS,
  ESCROW_RESOLVER_FEE_BPS,
  findEscrowTerms,
  listEscrowOps,
  newEscrowTerms,
  queueSignedEscrowOps,
  recordEscrowLock,
  recordEscrowRuling,
  saveEscrowOpSignature,
  toChainOpResponse,
  verifyEscrowOpSignature,
  type EscrowOpRow,
  type EscrowSubject,
} from '../escrow/escrow-ops'
import { findJob, findVisibleJob, isJobVisible, type JobRow } from '../jobs/job-records'
import { formatUnits, insufficientBalanceFor } from '../jobs/job-tokens'
import { lockEscrow, refundEscrow } from '../ledger/ledger-service'
import { postSystemMessage } from '../messages/messages-service'
import {
  insertDispute,
  insertEvidence,
  recordRuling,
  selectDispute,
  selectEvidence,
  selectJobDisputes,
  selectOpenDispute,
  type DisputeRow,
  type EvidenceRow,
} from './disputes-queries'

/**
 * What opening a dispute costs its opener, in basis points of the disputed escrow (seed 004's
 * example: 5 %): skin in the game, back to a winner, to the counterparty of a loser.
 */
export const DISPUTE_DEPOSIT_BPS = 500

/** `GET /v1/platform/dispute-info`. */
export function disputeInfo(context: Pick<AppContext, 'platformResolverAgentId'>): DisputeInfoResponse {
  return {
    resolver_fee_bps: ESCROW_RESOLVER_FEE_BPS,
    dispute_deposit_bps: DISPUTE_DEPOSIT_BPS,
    platform_resolver_agent_id: context.platformResolverAgentId ?? null,
  }
}

/** Whose side the caller is on in a dispute: its job's creator, the disputed worker, its resolver, or none. */
function roleIn(dispute: DisputeRow, job: JobRow, agentId: string): 'creator' | 'worker' | 'resolver' | null {
  if (agentId === job.creator_agent_id) return 'creator'
  if (agentId === dispute.worker_agent_id) return 'worker'
  if (agentId === dispute.resolver_agent_id) return 'resolver'
  return null
}

/**
 * The dispute and its job, locked when `forUpdate` (job row first, as every job-flow transaction
 * takes it), if the caller is one of its parties; anyone else gets the 404 of a missing dispute,
 * so a dispute's existence never shows.
 */
async function findPartyDispute(
  db: Queryable,
  disputeId: string,
  agentId: string,
  options: { forUpdate?: boolean } = {},
): Promise<{ dispute: DisputeRow; job: JobRow; role: 'creator' | 'worker' | 'resolver' }> {
  const found = await selectDispute(db, disputeId)
  const job = found && (await findJob(db, found.job_id, options))
  const dispute = job && (options.forUpdate ? await selectDispute(db, disputeId, options) : found)
  const role = dispute && job ? roleIn(dispute, job, agentId) : null
  if (!dispute || !job || !role)
    throw new NotFoundError('dispute_not_found', `dispute ${disputeId} not found`)
  return { dispute, job, role }
}

/** The assignment a dispute is opened on: the caller's own as a worker; the named or only submitted one as the creator. */
function disputedAssignment(
  job: JobRow,
  assignments: AssignmentRow[],
  actor: Actor,
  named?: string,
): AssignmentRow {
  const candidates =
    actor.id === job.creator_agent_id
      ? assignments
      : assignments.filter((assignment) => assignment.worker_agent_id === actor.id)
  if (!candidates.length) {
    throw new ForbiddenError(
      'not_dispute_party',
      'only the job’s creator or a worker on it may open a dispute',
    )
  }
  if (named !== undefined) {
    const assignment = candidates.find((candidate) => candidate.id === named)
    if (!assignment)
      throw new NotFoundError('assignment_not_found', `assignment ${named} is not yours to dispute`)
    return assignment
  }
  const submitted = candidates.filter((assignment) => assignment.status === 'submitted')
  if (submitted.length > 1) {
    throw new ConflictError(
      'ambiguous_assignment',
      'several assignments are submitted; name one with assignment_id',
    )
  }
  return submitted[0] ?? candidates[candidates.length - 1]!
}

/**
 * `POST /v1/jobs/{job_id}/dispute` (seed 004 "Open Dispute"): the creator or the worker disputes a
 * submitted assignment. In one transaction: the assignment `disputed`, the dispute naming the
 * resolver its escrow names, and the opener's deposit (`DISPUTE_DEPOSIT_BPS` of the escrow) taken
 * from its available balance into a vault escrow of its own, payable to the counterparty and ruled
 * on by the same resolver, so nothing about a dispute is custodial. The opener signs the deposit's
 * lock (a managed wallet at once; a self-custody one posts it to the dispute's escrow-signature).
 */
export async function openDispute(
  context: AppContext,
  actor: Actor,
  jobId: string,
  body: OpenDisputeBody,
): Promise<DisputeResponse> {
  const disputeId = randomUUID()
  // The vault judges the deposit escrow's expiry by the chain's clock; read it before any row is locked.
  const now = await chainNow(context.chain?.client ?? null)
  await withRetryingTransaction(context.pool, async (db) => {
    const job = await findVisibleJob(db, jobId, actor.id, { forUpdate: true })
    const named = disputedAssignment(job, await listJobAssignments(db, job.id), actor, body.assignment_id)
    const assignment = (await findAssignment(db, named.id, { forUpdate: true }))!
    if (assignment.status !== 'submitted') {
      if (await selectOpenDispute(db, assignment.id))
        throw new ConflictError('dispute_open', `assignment ${assignment.id} already has an open dispute`)
      throw new ConflictError(
        'assignment_not_submitted',
        `assignment ${assignment.id} is ${assignment.status}; only submitted work can be disputed`,
      )
    }
    const known = new Set(job.acceptance_criteria.map((criterion) => criterion.id))
    const criteria = [...new Set(body.criteria ?? [])]
    criteria.forEach((id, index) => {
      if (!known.has(id))
        throw fieldError('body', `criteria.${index}`, 'is not an acceptance criterion of this job')
    })
    await startDispute(db, context, {
      disputeId,
      job,
      assignment,
      opener: actor,
      reason: body.reason,
      evidenceUrls: body.evidence_urls ?? [],
      criteria,
      now,
    })
  })
  return loadDispute(context.pool, disputeId)
}

/**
 * Opens a dispute on a submitted assignment its caller has locked (after its job): the resolver is
 * whoever the escrow names (only that wallet's ruling moves it on-chain); an agent opener pays the
 * deposit, the coordinator (a review timeout, `opener` null) none; the assignment becomes
 * `disputed` and both parties are told on its private channel.
 */
async function startDispute(
  db: Queryable,
  context: AppContext,
  dispute: {
    disputeId: string
    job: JobRow
    assignment: AssignmentRow
    opener: Actor | null
    reason: string
    evidenceUrls: string[]
    criteria: string[]
    now: bigint
  },
): Promise<void> {
  const { job, assignment, opener } = dispute
  // The resolver is whoever the escrow names (only that wallet's ruling moves it on-chain); a free
  // assignment has no escrow, so the job's resolver or the platform's rules on it off-chain.
  const escrowTerms = assignment.escrow_id ? await findEscrowTerms(db, context, assignment.escrow_id) : null
  const resolverId = job.dispute_agent_id ?? context.platformResolverAgentId ?? null
  const resolver = escrowTerms
    ? await findAgentByWallet(db, escrowTerms.resolver)
    : resolverId
      ? await findAgentById(db, resolverId)
      : null
  if ((assignment.escrow_id && !escrowTerms) || !resolver) {
    throw new ConflictError('no_resolver', `assignment ${assignment.id} has no agent to rule on it`)
  }
  const deposit =
    opener && escrowTerms
      ? (BigInt(assignment.escrow_amount) * BigInt(DISPUTE_DEPOSIT_BPS)) / BigInt(BPS)
      : 0n
  await insertDispute(db, {
    id: dispute.disputeId,
    jobId: job.id,
    assignmentId: assignment.id,
    openedByAgentId: opener?.id ?? null,
    resolverAgentId: resolver.id,
    reason: dispute.reason,
    evidenceUrls: dispute.evidenceUrls,
    criteriaInQuestion: dispute.criteria,
    depositAmount: deposit,
  })
  if (opener && escrowTerms && deposit > 0n) {
    await takeDeposit(db, context, {
      disputeId: dispute.disputeId,
      opener,
      counterpartyWallet: opener.id === job.creator_agent_id ? escrowTerms.payee : escrowTerms.payer,
      resolverWallet: escrowTerms.resolver,
      job,
      amount: deposit,
      expiry: dispute.now + BigInt(ESCROW_EXPIRY_MARGIN_SECONDS),
    })
  }
  await moveAssignment(db, assignment.id, 'disputed')
  await postSystemMessage(db, {
    jobId: job.id,
    assignmentId: assignment.id,
    senderAgentId: opener?.id ?? null,
    kind: 'system',
    body: `Dispute opened: ${dispute.reason}`,
  })
  // Seed 004: the counterparty hears of it (the requester, when the coordinator opens one for the worker).
  const counterparty = opener?.id === job.creator_agent_id ? assignment.worker_agent_id : job.creator_agent_id
  await publishEvent(db, {
    type: 'dispute_opened',
    audience: [counterparty],
    data: { job_id: job.id, job_title: job.title, dispute_id: dispute.disputeId },
    feed: { event_type: 'dispute_opened', job_id: job.id, job_title: job.title },
  })
}

/** Why the coordinator disputes work nobody reviewed (seed 004 "Auto-Dispute"). */
export const REVIEW_TIMEOUT_REASON = 'Submitted work was not reviewed within 24 hours'

/**
 * Seed 004's auto-dispute, one pass: work submitted 24 hours ago that the requester neither
 * accepted, sent back nor disputed is disputed by the coordinator on the worker's behalf, with no
 * deposit. Returns how many it opened.
 */
export async function openReviewTimeoutDisputes(context: AppContext, limit = 100): Promise<number> {
  const now = await chainNow(context.chain?.client ?? null)
  return onTimedOutAssignments(context.pool, 'review', limit, async (db, job, assignment) => {
    await startDispute(db, context, {
      disputeId: randomUUID(),
      job,
      assignment,
      opener: null,
      reason: REVIEW_TIMEOUT_REASON,
      evidenceUrls: [],
      criteria: [],
      now,
    })
  })
}

/** The opener's deposit: its available balance into escrow in the ledger, and the vault escrow that holds it. */
async function takeDeposit(
  db: Queryable,
  context: AppContext,
  deposit: {
    disputeId: string
    opener: Actor
    counterpartyWallet: Hex
    resolverWallet: Hex
    job: JobRow
    amount: bigint
    expiry: bigint
  },
): Promise<void> {
  const { job, amount } = deposit
  try {
    await lockEscrow(db, {
      payerId: deposit.opener.id,
      token: job.token_address,
      amount,
      reference: `dispute-deposit:${deposit.disputeId}`,
    })
  } catch (error) {
    const token = { symbol: job.token_symbol, decimals: job.token_decimals }
    throw insufficientBalanceFor(
      error,
      token,
      amount,
      `opening a dispute needs a deposit of ${formatUnits(amount, token.decimals)} ${token.symbol} available`,
    )
  }
  const subject = { disputeId: deposit.disputeId }
  const { terms, escrowId } = await newEscrowTerms(db, context, {
    payer: deposit.opener.walletAddress,
    payee: deposit.counterpartyWallet,
    token: job.token_address,
    amount,
    resolver: deposit.resolverWallet,
    // The deposit pays no platform fee and no resolver fee: the disputed escrow pays the resolver.
    feeBps: 0,
    resolverFeeBps: 0,
    expiry: deposit.expiry,
    partialRelease: false,
  })
  await recordEscrowLock(db, context, { subject, escrowId, terms, payer: deposit.opener })
  await queueSignedEscrowOps(db, subject)
}

/** The payee's share of the disputed escrow a ruling gives the worker, in basis points; null for a redo. */
function workerShareBps(ruling: DisputeRuling, splitBps: number | undefined): number | null {
  switch (ruling) {
    case 'requester_wins':
      return 0
    case 'worker_wins':
      return BPS
    case 'split':
      return splitBps!
    case 'redo':
      return null
  }
}

/**
 * Where the deposit goes, as the payee's share of its escrow (the payee is the opener's
 * counterparty): to the counterparty when the opener lost, back to the opener otherwise (a win, a
 * split, a redo).
 */
function depositPayeeBps(dispute: DisputeRow, job: JobRow, ruling: DisputeRuling): number {
  const openerIsCreator = dispute.opened_by_agent_id === job.creator_agent_id
  const openerLost = openerIsCreator ? ruling === 'worker_wins' : ruling === 'requester_wins'
  return openerLost ? BPS : 0
}

/**
 * `POST /v1/disputes/{dispute_id}/rule` (resolver only). `requester_wins`, `worker_wins` and
 * `split` rule on the disputed escrow on-chain (an EscrowRuling signed by the resolver's wallet:
 * at once for a managed one), paying the resolver's fee, and end the assignment (`cancelled` when
 * the requester wins, `accepted` otherwise); `redo` sends it back to `in_progress` and leaves the
 * escrow locked. The deposit's escrow is ruled on too. The ledger follows the vault: each escrow
 * moves when the indexer sees its `EscrowRuled`. The reasoning is posted on the assignment's
 * private channel, which both parties see.
 */
export async function ruleDispute(
  context: AppContext,
  actor: Actor,
  disputeId: string,
  body: RuleDisputeBody,
): Promise<DisputeResponse> {
  await withRetryingTransaction(context.pool, async (db) => {
    const { dispute, job, role } = await findPartyDispute(db, disputeId, actor.id, { forUpdate: true })
    if (role !== 'resolver')
      throw new ForbiddenError('not_resolver', 'only the dispute’s resolver may rule on it')
    if (dispute.status !== 'open')
      throw new ConflictError('dispute_resolved', `dispute ${dispute.id} is already ruled on`)
    const inQuestion = new Set(dispute.criteria_in_question)
    ;(body.findings ?? []).forEach((finding, index) => {
      if (!inQuestion.has(finding.criterion_id))
        throw fieldError('body', `findings.${index}.criterion_id`, 'is not a criterion this dispute is about')
    })
    const assignment = (await findAssignment(db, dispute.assignment_id, { forUpdate: true }))!
    const share = workerShareBps(body.ruling, body.split_bps)
    if (share === null) {
      await moveAssignment(db, assignment.id, 'in_progress')
    } else {
      const subject = { assignmentId: assignment.id }
      if (assignment.escrow_id) {
        await recordEscrowRuling(db, context, {
          subject,
          escrowId: assignment.escrow_id,
          resolver: actor,
          payeeBps: share,
        })
        await queueSignedEscrowOps(db, subject)
      }
      await moveAssignment(db, assignment.id, body.ruling === 'requester_wins' ? 'cancelled' : 'accepted')
    }
    const depositLock = (await listEscrowOps(db, { disputeId })).find((op) => op.kind === 'escrow_lock')
    // A deposit whose lock the opener never signed never reached the vault: it goes back in the
    // ledger, and there is nothing to rule on.
    const unsigned = await abandonUnqueuedEscrow(db, { disputeId }, 'the opener never signed the deposit')
    if (unsigned) {
      await refundEscrow(db, {
        payerId: dispute.opened_by_agent_id!,
        token: job.token_address,
        amount: BigInt(dispute.deposit_amount),
        reference: `dispute-deposit-return:${dispute.id}`,
      })
    } else if (depositLock) {
      const subject = { disputeId }
      await recordEscrowRuling(db, context, {
        subject,
        escrowId: depositLock.escrow_id,
        resolver: actor,
        payeeBps: depositPayeeBps(dispute, job, body.ruling),
      })
      await queueSignedEscrowOps(db, subject)
    }
    await recordRuling(db, dispute.id, {
      ruling: body.ruling,
      splitBps: body.split_bps ?? null,
      reasoning: body.reasoning ?? null,
      findings: body.findings ?? [],
    })
    await postSystemMessage(db, {
      jobId: job.id,
      assignmentId: assignment.id,
      senderAgentId: actor.id,
      kind: 'system',
      body: `Dispute ruled: ${body.ruling}${body.split_bps === undefined ? '' : ` (${body.split_bps} bps to the worker)`}${body.reasoning ? `\n${body.reasoning}` : ''}`,
    })
    if (share !== null) await finishJobIfDone(db, job, 'resolved')
    // The feed names the job only while it is public: a ruling that ends the job closes it.
    const isJobPublic = (await findJob(db, job.id))!.status !== 'closed'
    await publishEvent(db, {
      type: 'dispute_resolved',
      audience: [job.creator_agent_id, assignment.worker_agent_id],
      data: { job_id: job.id, job_title: job.title, ruling: body.ruling },
      ...(isJobPublic
        ? { feed: { event_type: 'dispute_resolved', job_id: job.id, job_title: job.title } }
        : {}),
    })
  })
  return loadDispute(context.pool, disputeId)
}

/** `POST /v1/disputes/{dispute_id}/evidence`: the creator or the worker adds evidence while the dispute is open. */
export async function addEvidence(
  context: AppContext,
  actor: Actor,
  disputeId: string,
  body: AddEvidenceBody,
): Promise<EvidenceResponse> {
  const evidenceId = randomUUID()
  await withRetryingTransaction(context.pool, async (db) => {
    const { dispute, role } = await findPartyDispute(db, disputeId, actor.id, { forUpdate: true })
    if (role === 'resolver') throw new ForbiddenError('not_dispute_party', 'evidence comes from the parties')
    if (dispute.status !== 'open')
      throw new ConflictError('dispute_resolved', `dispute ${dispute.id} is already ruled on`)
    await insertEvidence(db, { id: evidenceId, disputeId, agentId: actor.id, body })
  })
  const evidence = await selectEvidence(context.pool, disputeId)
  return toEvidenceResponse(evidence.find((row) => row.id === evidenceId)!)
}

/**
 * `POST /v1/disputes/{dispute_id}/escrow-signature`: a self-custody signer posts its signature on
 * one of the dispute's ops (the opener on the deposit's lock, the resolver on a ruling); the op
 * then goes to the settler in its escrow's order.
 */
export async function submitDisputeSignature(
  context: AppContext,
  actor: Actor,
  disputeId: string,
  body: DisputeSignatureBody,
): Promise<DisputeResponse> {
  await withRetryingTransaction(context.pool, async (db) => {
    const { dispute } = await findPartyDispute(db, disputeId, actor.id, { forUpdate: true })
    const ops = await disputeOps(db, dispute)
    const op = ops.find((candidate) => candidate.id === body.op_id)
    if (!op) throw new ConflictError('escrow_op_not_found', `dispute ${dispute.id} has no op ${body.op_id}`)
    if (op.signer_address !== actor.walletAddress)
      throw new ForbiddenError('not_signer', `op ${op.id} is signed by ${op.signer_address}`)
    if (op.status !== 'awaiting_signature')
      throw new ConflictError('escrow_op_signed', `op ${op.id} is ${op.status}; it needs no signature`)
    const signature = body.signature.toLowerCase() as Hex
    await verifyEscrowOpSignature(op, signature)
    await saveEscrowOpSignature(db, op.id, signature)
    const subject: EscrowSubject = op.dispute_id
      ? { disputeId: op.dispute_id }
      : { assignmentId: op.assignment_id! }
    await queueSignedEscrowOps(db, subject)
  })
  return loadDispute(context.pool, disputeId)
}

/** `GET /v1/disputes/{dispute_id}`: its parties and resolver only. */
export async function getDispute(
  context: AppContext,
  actor: Actor,
  disputeId: string,
): Promise<DisputeResponse> {
  await findPartyDispute(context.pool, disputeId, actor.id)
  return loadDispute(context.pool, disputeId)
}

/**
 * `GET /v1/jobs/{job_id}/disputes`: every dispute of the job for its creator, a worker's own, a
 * resolver's own (an empty list for a worker or the job's resolver before any); 403 to anyone else
 * who can see the job, 404 to whoever cannot.
 */
export async function listJobDisputes(
  context: AppContext,
  actor: Actor,
  jobId: string,
): Promise<DisputeResponse[]> {
  const job = await findJob(context.pool, jobId)
  const disputes = job ? await selectJobDisputes(context.pool, job.id) : []
  const visible = disputes.filter((dispute) => job && roleIn(dispute, job, actor.id) !== null)
  if (!job || (!visible.length && !(await isJobVisible(context.pool, job.id, actor.id)))) {
    throw new NotFoundError('job_not_found', `job ${jobId} not found`)
  }
  const isWorker = (await listJobAssignments(context.pool, job.id, { workerId: actor.id })).length > 0
  const isNamedResolver = actor.id === job.dispute_agent_id
  if (!visible.length && actor.id !== job.creator_agent_id && !isWorker && !isNamedResolver) {
    throw new ForbiddenError(
      'not_dispute_party',
      'only the job’s creator, its workers and resolvers see its disputes',
    )
  }
  return Promise.all(visible.map((dispute) => loadDispute(context.pool, dispute.id)))
}

/** The dispute's deposit ops and the rulings on its assignment's escrow, in the order they settle. */
async function disputeOps(db: Queryable, dispute: DisputeRow): Promise<EscrowOpRow[]> {
  const deposit = await listEscrowOps(db, { disputeId: dispute.id })
  const rulings = (await listEscrowOps(db, { assignmentId: dispute.assignment_id })).filter(
    (op) => op.kind === 'escrow_ruling' && dispute.status === 'resolved',
  )
  return [...deposit, ...rulings]
}

function toEvidenceResponse(row: EvidenceRow): EvidenceResponse {
  return {
    evidence_id: row.id,
    dispute_id: row.dispute_id,
    agent_id: row.agent_id,
    type: row.type,
    url: row.url,
    carrier: row.carrier,
    tracking_number: row.tracking_number,
    algorithm: row.algorithm,
    value: row.value,
    description: row.description,
    created_at: row.created_at.toISOString(),
  }
}

async function loadDispute(db: Queryable, disputeId: string): Promise<DisputeResponse> {
  const dispute = (await selectDispute(db, disputeId))!
  const job = (await findJob(db, dispute.job_id))!
  const [evidence, ops] = await Promise.all([selectEvidence(db, disputeId), disputeOps(db, dispute)])
  return {
    dispute_id: dispute.id,
    job_id: dispute.job_id,
    assignment_id: dispute.assignment_id,
    opened_by_agent_id: dispute.opened_by_agent_id,
    resolver_agent_id: dispute.resolver_agent_id,
    reason: dispute.reason,
    evidence_urls: dispute.evidence_urls,
    criteria_in_question: dispute.criteria_in_question,
    deposit_amount: formatUnits(dispute.deposit_amount, job.token_decimals),
    budget_token: job.token_symbol,
    status: dispute.status,
    ruling: dispute.ruling,
    split_bps: dispute.split_bps,
    reasoning: dispute.reasoning,
    findings: dispute.findings,
    evidence: evidence.map(toEvidenceResponse),
    chain_ops: ops.map(toChainOpResponse),
    created_at: dispute.created_at.toISOString(),
    resolved_at: dispute.resolved_at?.toISOString() ?? null,
  }
}
