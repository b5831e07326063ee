import { createHash, randomUUID } from 'node:crypto'
import type { Address, Hex } from 'viem'
import type {
  AcceptResponse,
  AssignmentResponse,
  AwardResponse,
  EscrowSignatureBody,
  CriterionAnswer,
  SubmitDeliverableBody,
} from '../../protocol/assignments'
import type { AppContext } from '../app-context'
import { chainNow } from '../chain/clients'
import type { Queryable } from '../db/pool'
import { withRetryingTransaction } from '../db/retrying-transaction'
import { ConflictError, fieldError, ForbiddenError, NotFoundError } from '../errors'
import { agentActor } from '../jobs/job-agents'
import { formatUnits } from '../jobs/job-tokens'
import type { Actor } from '../auth/actor'
import {
  findJob,
  findOwnJob,
  findVisibleJob,
  isPastDeadline,
  recordJobAward,
  toJobResponse,
  transitionJob,
  type JobRow,
} from '../jobs/job-records'
import { acceptBid, findBid, rejectPendingBids, requireAwardable, type BidRow } from '../bids/bids-service'
import type { EscrowLockTerms } from '../../protocol/escrow-sets'
import { isHttpUrl } from '../../protocol/urls'
import { protocolFeeBps } from '../chain/vault-fees'
import { postSystemMessage } from '../messages/messages-service'
import { publishEvent } from '../events/event-bus'
import { finishJobIfDone } from './assignment-records'
import {
  countFilledSlots,
  insertAssignment,
  recordSubmission,
  selectAssignment,
  selectJobAssignments,
  setAssignmentStatus,
  type AssignmentRow,
} from './assignments-queries'
import {
  ESCROW_EXPIRY_MARGIN_SECONDS,
  ESCROW_RESOLVER_FEE_BPS,
  recordEscrowLock,
  bookSignedRelease,
  lockSubjectEscrow,
  listEscrowOps,
  queueSignedEscrowOps,
  recordEscrowRelease,
  saveEscrowOpSignature,
  toChainOpResponse,
  verifyEscrowOpSignature,
} from '../escrow/escrow-ops'

function iso(value: Date | null): string | null {
  return value ? value.toISOString() : null
}

/** The assignment with its escrow ops, as its participants see it. */
async function toAssignmentResponse(db: Queryable, assignment: AssignmentRow): Promise<AssignmentResponse> {
  const ops = await listEscrowOps(db, { assignmentId: assignment.id })
  return {
    assignment_id: assignment.id,
    job_id: assignment.job_id,
    bid_id: assignment.bid_id,
    creator_agent_id: assignment.creator_agent_id,
    worker_agent_id: assignment.worker_agent_id,
    status: assignment.status,
    escrow_amount: formatUnits(assignment.escrow_amount, assignment.token_decimals),
    budget_token: assignment.token_symbol,
    fee_bps: assignment.fee_bps,
    escrow_id: assignment.escrow_id,
    deliverable: assignment.deliverable,
    criteria_answers: assignment.criteria_answers,
    deliverable_hash: assignment.deliverable_hash,
    submitted_at: iso(assignment.submitted_at),
    accepted_at: iso(assignment.accepted_at),
    due_at: assignment.due_at.toISOString(),
    created_at: assignment.created_at.toISOString(),
    updated_at: assignment.updated_at.toISOString(),
    chain_ops: ops.map(toChainOpResponse),
  }
}

async function loadAssignmentResponse(db: Queryable, assignmentId: string): Promise<AssignmentResponse> {
  return toAssignmentResponse(db, (await selectAssignment(db, assignmentId))!)
}

async function loadJobResponse(db: Queryable, jobId: string, viewerId: string) {
  return toJobResponse((await findJob(db, jobId))!, viewerId)
}

function isParticipant(assignment: AssignmentRow, agentId: string): boolean {
  return (
    agentId === assignment.creator_agent_id ||
    agentId === assignment.worker_agent_id ||
    agentId === assignment.dispute_agent_id
  )
}

/** The assignment if the caller takes part in it (creator, worker, resolver); a 404 to anyone else. */
async function findParticipantAssignment(
  db: Queryable,
  assignmentId: string,
  actor: Actor,
): Promise<AssignmentRow> {
  const assignment = await selectAssignment(db, assignmentId)
  if (!assignment || !isParticipant(assignment, actor.id)) {
    throw new NotFoundError('assignment_not_found', `assignment ${assignmentId} not found`)
  }
  return assignment
}

/**
 * The award's escrow, inside its transaction: the bid amount from the payer's available balance
 * into escrow in the ledger, and the terms of the vault escrow that holds it, naming the job's
 * resolver or the platform's (every escrow can be ruled on-chain) and the vault's fee.
 */
async function lockAwardEscrow(
  db: Queryable,
  context: AppContext,
  award: { assignmentId: string; job: JobRow; bid: BidRow; actor: Actor; now: bigint; feeBps: number },
): Promise<{ terms: EscrowLockTerms; escrowId: Hex }> {
  const { job, bid, actor } = award
  const resolverId = job.dispute_agent_id ?? context.platformResolverAgentId ?? null
  if (!resolverId) {
    throw new ConflictError(
      'no_resolver',
      `job ${job.id} names no resolver and there is no platform resolver`,
    )
  }
  const amount = BigInt(bid.amount)
  return lockSubjectEscrow(db, context, {
    subject: { assignmentId: award.assignmentId },
    payer: actor,
    payeeAgentId: bid.bidder_agent_id,
    resolverAgentId: resolverId,
    token: { address: job.token_address as Address, symbol: job.token_symbol, decimals: job.token_decimals },
    amount,
    feeBps: award.feeBps,
    resolverFeeBps: ESCROW_RESOLVER_FEE_BPS,
    expiry: award.now + BigInt(bid.eta_seconds + ESCROW_EXPIRY_MARGIN_SECONDS),
    partialRelease: false,
    shortfall: `awarding needs ${formatUnits(amount, job.token_decimals)} ${job.token_symbol} available`,
  })
}

/**
 * `POST /v1/jobs/{job_id}/award` (seed 004 "Award Job"). In one transaction: the job row lock
 * (so two awards on one job serialize and slots never overfill), the bid row lock, the escrow
 * lock of the bid amount (the ledger locks the payer's balance row, so concurrent awards on
 * different jobs never overdraw), the assignment, the accepted bid, the job's new status and the
 * payer's EscrowLock for the settler. Anything refused rolls all of it back.
 */
export async function awardBid(
  context: AppContext,
  actor: Actor,
  jobId: string,
  bidId: string,
): Promise<AwardResponse> {
  const prepared = await prepareAward(context)
  const assignmentId = await withRetryingTransaction(context.pool, (db) =>
    awardBidInTransaction(db, context, actor, jobId, bidId, prepared),
  )
  return {
    job: await loadJobResponse(context.pool, jobId, actor.id),
    assignment: await loadAssignmentResponse(context.pool, assignmentId),
  }
}

/** What an award reads from the chain before its transaction: the vault's clock and fee rate. */
export interface AwardChainState {
  now: bigint
  feeBps: number
}

/** The vault judges an escrow's expiry by the chain's clock; read it (and the fee) before any row is locked. */
export async function prepareAward(context: AppContext): Promise<AwardChainState> {
  return { now: await chainNow(context.chain?.client ?? null), feeBps: await protocolFeeBps(context) }
}

/**
 * `awardBid`'s work inside the caller's transaction (a negotiation's accept awards in the same
 * transaction that accepts it). `actor` is the job's creator, who pays. Returns the assignment id.
 * A retried transaction calls it again, so it draws a fresh assignment id each time. Only the
 * platform assigns an instant or reservable job (`assignedByPlatform`): its creator cannot award it.
 */
export async function awardBidInTransaction(
  db: Queryable,
  context: AppContext,
  actor: Actor,
  jobId: string,
  bidId: string,
  { now, feeBps }: AwardChainState,
  options: { assignedByPlatform?: boolean } = {},
): Promise<string> {
  const assignmentId = randomUUID()
  const job = await findOwnJob(db, jobId, actor)
  if (job.job_type === 'instant' && !options.assignedByPlatform) {
    throw new ConflictError(
      'instant_job',
      'an instant job is assigned to its matched services by the platform, not awarded',
    )
  }
  if (job.job_type === 'reservable' && !options.assignedByPlatform) {
    throw new ConflictError(
      'reservable_job',
      'a reservable job goes to the agent that reserves it, not awarded',
    )
  }
  if (job.job_type === 'competition') {
    throw new ConflictError('competition_job', 'competitions are resolved by their judge, not awarded')
  }
  if (job.status !== 'open' && job.status !== 'filling') {
    throw new ConflictError('job_not_open', `job ${job.id} is ${job.status}; it cannot be awarded`)
  }
  if (isPastDeadline(job)) throw new ConflictError('job_expired', `job ${job.id} passed its deadline`)
  const bid = await findBid(db, bidId, { forUpdate: true })
  if (!bid || bid.job_id !== job.id)
    throw new NotFoundError('bid_not_found', `bid ${bidId} not found on this job`)
  if (bid.status !== 'pending') {
    throw new ConflictError(
      'bid_not_pending',
      `bid ${bid.id} is ${bid.status}; only pending bids can be awarded`,
    )
  }
  // Payee, resolver and payer distinct, the bid within the current budget, a verified bidder
  // where the job requires one: checked again here, since any of them may have changed since the bid.
  await requireAwardable(context, db, job, bid)
  const filled = await countFilledSlots(db, job.id)
  if (filled >= job.current_max_slots) {
    throw new ConflictError('no_open_slots', `job ${job.id} has all ${job.current_max_slots} slots filled`)
  }
  const amount = BigInt(bid.amount)
  // A free assignment (a bid of 0) moves no money: no escrow (the vault refuses an empty one), no fee.
  const escrow =
    amount > 0n ? await lockAwardEscrow(db, context, { assignmentId, job, bid, actor, now, feeBps }) : null
  await insertAssignment(db, {
    id: assignmentId,
    jobId: job.id,
    bidId: bid.id,
    workerAgentId: bid.bidder_agent_id,
    escrowAmount: amount,
    feeBps: escrow ? feeBps : 0,
    escrowId: escrow?.escrowId ?? null,
    etaSeconds: bid.eta_seconds,
    // A self-custody payer's lock waits for its signature, and no work starts before it: the
    // ledger holds the money, but the vault does not until the payer signs.
    status: actor.isManagedWallet || !escrow ? 'in_progress' : 'awaiting_escrow',
  })
  await acceptBid(db, bid.id)
  await recordJobAward(db, job.id, bid.id, bid.bidder_agent_id)
  if (filled + 1 >= job.current_max_slots) {
    await rejectPendingBids(db, job.id)
    await transitionJob(db, job.id, 'in_progress')
  } else if (job.status === 'open') {
    await transitionJob(db, job.id, 'filling')
  }
  if (escrow) {
    await recordEscrowLock(db, context, { subject: { assignmentId }, ...escrow, payer: actor })
    await queueSignedEscrowOps(db, { assignmentId })
  }
  await publishEvent(db, {
    type: 'job_awarded',
    audience: [bid.bidder_agent_id],
    data: { job_id: job.id, job_title: job.title, amount: formatUnits(amount, job.token_decimals) },
    feed: {
      event_type: 'job_awarded',
      job_id: job.id,
      job_title: job.title,
      worker_account_id: bid.bidder_agent_id,
      amount: `${formatUnits(amount, job.token_decimals)} ${job.token_symbol}`,
    },
  })
  return assignmentId
}

/** `sha256:<hex>` of inline text; a URL's content is not ours to fetch, so it keeps the caller's hash. */
export function deliverableHashFor(body: { deliverable: string; deliverable_hash?: string }): string | null {
  if (isHttpUrl(body.deliverable)) return body.deliverable_hash ?? null
  const hash = `sha256:${createHash('sha256').update(body.deliverable, 'utf8').digest('hex')}`
  if (body.deliverable_hash !== undefined && body.deliverable_hash !== hash) {
    throw fieldError('body', 'deliverable_hash', 'does not match the sha256 of the inline deliverable')
  }
  return hash
}

/**
 * `POST /v1/jobs/{job_id}/submit` (seed 004 "Submit Deliverable"): the worker's live assignment
 * on the job goes to `submitted`. Submitting again while `submitted` replaces the deliverable;
 * the old one stays in the assignment's deliverable history and is logged as a private message.
 */
export async function submitDeliverable(
  context: AppContext,
  actor: Actor,
  jobId: string,
  body: SubmitDeliverableBody,
): Promise<AssignmentResponse> {
  const hash = deliverableHashFor(body)
  const assignmentId = await withRetryingTransaction(context.pool, async (db) => {
    const job = await findVisibleJob(db, jobId, actor.id, { forUpdate: true })
    const mine = await selectJobAssignments(db, job.id, { workerId: actor.id, forUpdate: true })
    if (!mine.length) throw new ForbiddenError('not_assigned', 'you have no assignment on this job')
    const live = mine.find(
      (assignment) => assignment.status === 'in_progress' || assignment.status === 'submitted',
    )
    if (!live) {
      const latest = mine[mine.length - 1]!
      if (latest.status === 'awaiting_escrow') {
        throw new ConflictError(
          'escrow_not_signed',
          `your assignment ${latest.id} waits for the payer to sign its escrow; work starts once the vault holds the money`,
        )
      }
      throw new ConflictError(
        'assignment_not_active',
        `your assignment ${latest.id} is ${latest.status}; there is nothing to submit to`,
      )
    }
    if (live.status === 'submitted' && live.deliverable !== null) {
      await postSystemMessage(db, {
        jobId: job.id,
        assignmentId: live.id,
        senderAgentId: actor.id,
        kind: 'deliverable_log',
        body: `Replaced deliverable (submitted ${live.submitted_at?.toISOString()}, ${live.deliverable_hash ?? 'no hash'}):\n${live.deliverable}`,
      })
    }
    requireKnownCriteria(job, body.criteria_answers)
    await recordSubmission(db, live.id, body.deliverable, hash, body.criteria_answers)
    await publishEvent(db, {
      type: 'submission_received',
      audience: [job.creator_agent_id],
      data: { job_id: job.id, job_title: job.title, assignment_id: live.id },
    })
    if (job.auto_accept) await acceptOnSubmission(db, context, job, live)
    return live.id
  })
  return loadAssignmentResponse(context.pool, assignmentId)
}

/**
 * A job with `auto_accept`: the creator accepts the submission as it arrives, in the submission's
 * transaction, exactly as `acceptWork` would (the escrow released to the worker less the fee; a
 * self-custody creator's release waits for its signature as always), and the job completes when
 * nothing is left open.
 */
async function acceptOnSubmission(
  db: Queryable,
  context: AppContext,
  job: JobRow,
  submitted: AssignmentRow,
): Promise<void> {
  const creator = await agentActor(db, job.creator_agent_id)
  await acceptAssignment(db, context, creator, submitted)
  await finishJobIfDone(db, job, 'completed')
}

/** Each answer names one of the job's acceptance criteria, each at most once, or a 400 naming the answer. */
function requireKnownCriteria(job: JobRow, answers: readonly CriterionAnswer[]): void {
  const known = new Set(job.acceptance_criteria.map((criterion) => criterion.id))
  const answered = new Set<string>()
  answers.forEach((answer, index) => {
    const field = `criteria_answers.${index}.criterion_id`
    if (!known.has(answer.criterion_id))
      throw fieldError('body', field, 'is not an acceptance criterion of this job')
    if (answered.has(answer.criterion_id))
      throw fieldError('body', field, `answers ${answer.criterion_id} twice`)
    answered.add(answer.criterion_id)
  })
}

/**
 * Accepts submitted work inside the caller's transaction (job row already locked): the assignment
 * `accepted` and the payer's EscrowRelease for the settler. The worker is credited (unsettled,
 * less the fee) once the release is signed: at once for a managed payer, when a self-custody
 * payer posts its signature otherwise.
 */
async function acceptAssignment(
  db: Queryable,
  context: AppContext,
  actor: Actor,
  assignment: AssignmentRow,
): Promise<void> {
  await setAssignmentStatus(db, assignment.id, 'accepted')
  if (assignment.escrow_id === null) return
  await recordEscrowRelease(db, context, {
    subject: { assignmentId: assignment.id },
    escrowId: assignment.escrow_id as Hex,
    payer: actor,
  })
  if (actor.isManagedWallet) await bookAssignmentRelease(db, assignment)
  await queueSignedEscrowOps(db, { assignmentId: assignment.id })
}

/** `bookSignedRelease` for an assignment's escrow. */
async function bookAssignmentRelease(db: Queryable, assignment: AssignmentRow): Promise<void> {
  await bookSignedRelease(
    db,
    { assignmentId: assignment.id },
    {
      payerId: assignment.creator_agent_id,
      payeeId: assignment.worker_agent_id,
      token: assignment.token_address,
      amount: BigInt(assignment.escrow_amount),
      feeBps: assignment.fee_bps,
    },
    // Only an assignment with an escrow has a release to book.
    assignment.escrow_id!,
  )
}

/**
 * `POST /v1/jobs/{job_id}/accept` (seed 004 "Accept Deliverable"): the creator accepts one
 * submitted assignment (`assignment_id`) or, without it, every submitted one. Each releases its
 * escrow to its worker less the platform fee; the job completes when nothing is left unfinished.
 */
export async function acceptWork(
  context: AppContext,
  actor: Actor,
  jobId: string,
  assignmentId: string | undefined,
): Promise<AcceptResponse> {
  const accepted = await withRetryingTransaction(context.pool, async (db) => {
    const job = await findOwnJob(db, jobId, actor)
    const assignments = await selectJobAssignments(db, job.id, { forUpdate: true })
    let targets: AssignmentRow[]
    if (assignmentId !== undefined) {
      const target = assignments.find((assignment) => assignment.id === assignmentId)
      if (!target)
        throw new NotFoundError('assignment_not_found', `assignment ${assignmentId} is not on this job`)
      if (target.status !== 'submitted') {
        throw new ConflictError(
          'assignment_not_submitted',
          `assignment ${target.id} is ${target.status}; only submitted work can be accepted`,
        )
      }
      targets = [target]
    } else {
      targets = assignments.filter((assignment) => assignment.status === 'submitted')
      if (!targets.length)
        throw new ConflictError('no_submitted_work', `job ${job.id} has no submitted work to accept`)
    }
    for (const target of targets) await acceptAssignment(db, context, actor, target)
    await finishJobIfDone(db, job, 'completed')
    return targets.map((target) => target.id)
  })
  return {
    job: await loadJobResponse(context.pool, jobId, actor.id),
    assignments: await Promise.all(accepted.map((id) => loadAssignmentResponse(context.pool, id))),
  }
}

async function sendBack(
  db: Queryable,
  actor: Actor,
  assignment: AssignmentRow,
  message: string,
): Promise<void> {
  await setAssignmentStatus(db, assignment.id, 'in_progress')
  await postSystemMessage(db, {
    jobId: assignment.job_id,
    assignmentId: assignment.id,
    senderAgentId: actor.id,
    kind: 'feedback',
    body: message,
  })
  const job = (await findJob(db, assignment.job_id))!
  await publishEvent(db, {
    type: 'changes_requested',
    audience: [assignment.worker_agent_id],
    data: { job_id: job.id, job_title: job.title, assignment_id: assignment.id },
    feed: { event_type: 'changes_requested', job_id: job.id, job_title: job.title },
  })
}

/**
 * `POST /v1/jobs/{job_id}/request-changes`: sends the job's one submitted assignment back to
 * `in_progress` with feedback, posted on the assignment's private channel. With several
 * submitted (multi-slot) it is ambiguous: use the assignment-level route.
 */
export async function requestJobChanges(
  context: AppContext,
  actor: Actor,
  jobId: string,
  message: string,
): Promise<AssignmentResponse> {
  const assignmentId = await withRetryingTransaction(context.pool, async (db) => {
    const job = await findOwnJob(db, jobId, actor)
    const submitted = await selectJobAssignments(db, job.id, { statuses: ['submitted'], forUpdate: true })
    if (!submitted.length) throw new ConflictError('no_submitted_work', `job ${job.id} has no submitted work`)
    if (submitted.length > 1) {
      throw new ConflictError(
        'ambiguous_assignment',
        `job ${job.id} has ${submitted.length} submitted assignments; use POST /v1/assignments/{assignment_id}/request-changes`,
        { details: { assignment_ids: submitted.map((assignment) => assignment.id) } },
      )
    }
    await sendBack(db, actor, submitted[0]!, message)
    return submitted[0]!.id
  })
  return loadAssignmentResponse(context.pool, assignmentId)
}

/** `POST /v1/assignments/{assignment_id}/request-changes`: the same for one assignment of a multi-slot job. */
export async function requestAssignmentChanges(
  context: AppContext,
  actor: Actor,
  assignmentId: string,
  message: string,
): Promise<AssignmentResponse> {
  await withRetryingTransaction(context.pool, async (db) => {
    const found = await findParticipantAssignment(db, assignmentId, actor)
    if (found.creator_agent_id !== actor.id) {
      throw new ForbiddenError('not_job_creator', 'only the job creator may request changes')
    }
    // Job row first, then the assignment: the lock order every job-flow transaction follows.
    await findJob(db, found.job_id, { forUpdate: true })
    const assignment = (await selectAssignment(db, assignmentId, { forUpdate: true }))!
    if (assignment.status !== 'submitted') {
      throw new ConflictError(
        'assignment_not_submitted',
        `assignment ${assignment.id} is ${assignment.status}; only submitted work can be sent back`,
      )
    }
    await sendBack(db, actor, assignment, message)
  })
  return loadAssignmentResponse(context.pool, assignmentId)
}

/** `GET /v1/assignments/{assignment_id}`: the assignment and its escrow ops, for its participants. */
export async function getAssignment(
  context: AppContext,
  actor: Actor,
  assignmentId: string,
): Promise<AssignmentResponse> {
  const assignment = await findParticipantAssignment(context.pool, assignmentId, actor)
  return toAssignmentResponse(context.pool, assignment)
}

/**
 * `GET /v1/jobs/{job_id}/assignments` (what seed 004 clients read): the job's assignments the
 * caller takes part in, oldest first: all of them for the creator and the job's resolver, a
 * worker's own for a worker, none for anyone else; a job the caller cannot see is a 404.
 */
export async function listJobAssignments(
  context: AppContext,
  actor: Actor,
  jobId: string,
): Promise<AssignmentResponse[]> {
  await findVisibleJob(context.pool, jobId, actor.id)
  const assignments = await selectJobAssignments(context.pool, jobId)
  const visible = assignments.filter((assignment) => isParticipant(assignment, actor.id))
  return Promise.all(visible.map((assignment) => toAssignmentResponse(context.pool, assignment)))
}

/**
 * `POST /v1/assignments/{assignment_id}/accept` (what seed 004 clients send): accepts one
 * submitted assignment exactly as `POST /v1/jobs/{job_id}/accept` with its `assignment_id`.
 * Anyone who does not take part in it gets a 404, a worker or resolver a 403 as there.
 */
export async function acceptAssignmentWork(
  context: AppContext,
  actor: Actor,
  assignmentId: string,
): Promise<AcceptResponse> {
  const assignment = await findParticipantAssignment(context.pool, assignmentId, actor)
  return acceptWork(context, actor, assignment.job_id, assignment.id)
}

/**
 * `POST /v1/assignments/{assignment_id}/escrow-signature`: a self-custody payer's signature over
 * an escrow op's typed data (returned by award or accept). It must recover to the payer's wallet;
 * then the op, and any later op it was holding back, goes to the settler queue.
 */
export async function submitEscrowSignature(
  context: AppContext,
  actor: Actor,
  assignmentId: string,
  body: EscrowSignatureBody,
): Promise<AssignmentResponse> {
  await withRetryingTransaction(context.pool, async (db) => {
    const found = await findParticipantAssignment(db, assignmentId, actor)
    if (found.creator_agent_id !== actor.id) {
      throw new ForbiddenError('not_payer', 'only the payer (the job creator) signs escrow operations')
    }
    // Job row first, then the assignment, then its ops: the lock order every job-flow transaction follows.
    await findJob(db, found.job_id, { forUpdate: true })
    const assignment = (await selectAssignment(db, found.id, { forUpdate: true }))!
    const ops = await listEscrowOps(db, { assignmentId: assignment.id }, { forUpdate: true })
    const op = ops.find((candidate) => candidate.kind === body.kind)
    if (!op) {
      throw new ConflictError(
        'escrow_op_not_found',
        `assignment ${assignment.id} has no ${body.kind} to sign yet`,
      )
    }
    if (op.status !== 'awaiting_signature') {
      throw new ConflictError(
        'escrow_op_signed',
        `the ${body.kind} of assignment ${assignment.id} is already signed`,
      )
    }
    const signature = body.signature.toLowerCase() as Hex
    await verifyEscrowOpSignature(op, signature)
    await saveEscrowOpSignature(db, op.id, signature)
    // A signed lock lets the work start; a signed release is what credits the worker.
    if (op.kind === 'escrow_lock' && assignment.status === 'awaiting_escrow') {
      await setAssignmentStatus(db, assignment.id, 'in_progress')
    }
    if (op.kind === 'escrow_release') await bookAssignmentRelease(db, assignment)
    await queueSignedEscrowOps(db, { assignmentId: assignment.id })
  })
  return loadAssignmentResponse(context.pool, assignmentId)
}
