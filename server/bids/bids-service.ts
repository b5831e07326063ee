import { randomUUID } from 'node:crypto'
import type { BidResponse, ListBidsQuery, PlaceBidBody } from '../../protocol/bids'
import type { AppContext } from '../app-context'
import type { Queryable } from '../db/pool'
import { withRetryingTransaction } from '../db/retrying-transaction'
import { publishEvent } from '../events/event-bus'
import { ConflictError, fieldError, ForbiddenError, NotFoundError } from '../errors'
import { agentHasVerifiedClaim, resolveAgentRef } from '../jobs/job-agents'
import { formatUnits, parseTokenAmount } from '../jobs/job-tokens'
import type { Actor } from '../auth/actor'
import { findVisibleJob, isJobVisible, isPastDeadline, type JobRow } from '../jobs/job-records'
import {
  countJobBids as countBidsOnJob,
  insertBid,
  rejectPendingBids as rejectPendingBidRows,
  selectBid,
  selectBids,
  selectPendingBidBy,
  setBidStatus,
  setBidTerms,
  type BidRow,
  type BidScope,
} from './bids-queries'

export type { BidRow }

/**
 * The bid as `viewerId` may see it (seed 004 "Bid Visibility"): the bidder and the job's creator
 * see everything; anyone else sees it only once accepted, and never its proposal.
 */
export function toBidResponse(bid: BidRow, viewerId: string | null): BidResponse {
  const response: BidResponse = {
    bid_id: bid.id,
    job_id: bid.job_id,
    bidder_agent_id: bid.bidder_agent_id,
    amount: formatUnits(bid.amount, bid.token_decimals),
    budget_token: bid.token_symbol,
    eta_seconds: bid.eta_seconds,
    status: bid.status,
    created_at: bid.created_at.toISOString(),
    updated_at: bid.updated_at.toISOString(),
  }
  if (viewerId === bid.bidder_agent_id || viewerId === bid.job_creator_agent_id) {
    response.proposal = bid.proposal
  }
  return response
}

/** Postgres' unique_violation: here, a second pending bid by the same agent on the same job. */
function isUniqueViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: string }).code === '23505'
}

/**
 * What `placeBid` checked of a bid that must still hold when it is awarded, because the job or
 * the bidder may have changed since (or the bid predates a check). Call it in the award
 * transaction with the job row locked. The bidder may not be the job's payer or resolver (an
 * escrow naming one wallet twice could be ruled or released by its own payee), the bid may not
 * exceed the job's current budget (the creator may have lowered it), and a job that requires a
 * verified claim still requires it (an issuer may have been removed from the configuration).
 */
export async function requireAwardable(
  context: Pick<AppContext, 'verifiableClaimIssuers'>,
  db: Queryable,
  job: JobRow,
  bid: BidRow,
): Promise<void> {
  if (bid.bidder_agent_id === job.creator_agent_id) {
    throw new ConflictError(
      'bidder_is_creator',
      `bid ${bid.id} is by the job's creator, who would pay itself`,
      {
        details: { bid_id: bid.id, bidder_agent_id: bid.bidder_agent_id },
      },
    )
  }
  if (job.dispute_agent_id !== null && bid.bidder_agent_id === job.dispute_agent_id) {
    throw new ConflictError(
      'bidder_is_resolver',
      `bid ${bid.id} is by the job's resolver, who could rule its own escrow`,
      {
        details: {
          bid_id: bid.id,
          bidder_agent_id: bid.bidder_agent_id,
          dispute_agent_id: job.dispute_agent_id,
        },
      },
    )
  }
  if (job.budget_amount !== null && BigInt(bid.amount) > BigInt(job.budget_amount)) {
    const budget = formatUnits(job.budget_amount, job.token_decimals)
    const amount = formatUnits(bid.amount, job.token_decimals)
    throw new ConflictError(
      'bid_above_budget',
      `bid ${bid.id} of ${amount} ${job.token_symbol} is above the job's budget of ${budget} ${job.token_symbol}`,
      {
        details: {
          bid_id: bid.id,
          bid_amount: amount,
          budget_amount: budget,
          budget_token: job.token_symbol,
        },
      },
    )
  }
  if (job.requires_verifiable && !(await agentHasVerifiedClaim(context, db, bid.bidder_agent_id))) {
    throw new ConflictError(
      'bidder_not_verified',
      `the bidder of bid ${bid.id} holds no verified claim, which this job requires`,
      { details: { bid_id: bid.id, bidder_agent_id: bid.bidder_agent_id } },
    )
  }
}

/** `POST /v1/jobs/{job_id}/bids`. */
export async function placeBid(
  context: AppContext,
  actor: Actor,
  jobId: string,
  body: PlaceBidBody,
): Promise<BidResponse> {
  const bidId = randomUUID()
  try {
    await withRetryingTransaction(context.pool, async (db) => {
      // The job row lock orders this bid against a concurrent award, cancel or expiry.
      const job = await findVisibleJob(db, jobId, actor.id, { forUpdate: true })
      if (job.job_type === 'competition') {
        throw new ConflictError(
          'competition_job',
          'competitions take entries (POST /v1/jobs/{job_id}/entries), not bids',
        )
      }
      if (job.job_type === 'instant') {
        throw new ConflictError(
          'instant_job',
          'an instant job is assigned to its matched services, not bid on',
        )
      }
      if (job.job_type === 'reservable') {
        throw new ConflictError('reservable_job', 'a reservable job is taken by reserving it, not bid on')
      }
      if (job.creator_agent_id === actor.id) {
        throw new ForbiddenError('own_job', 'you cannot bid on your own job')
      }
      if (job.dispute_agent_id === actor.id) {
        // The vault refuses an escrow whose resolver is its payee: it could rule itself paid.
        throw new ForbiddenError('resolver_cannot_bid', "a job's resolver cannot bid on it")
      }
      if (job.status !== 'open' && job.status !== 'filling') {
        throw new ConflictError('job_not_open', `job ${job.id} is ${job.status}; bids are closed`)
      }
      if (isPastDeadline(job)) {
        throw new ConflictError('job_expired', `job ${job.id} passed its deadline`)
      }
      // A bid of 0 offers the work for nothing: a free assignment moves no money.
      const amount = parseTokenAmount(body.amount, job.token_decimals, 'amount')
      if (job.budget_amount !== null && amount > BigInt(job.budget_amount)) {
        throw fieldError(
          'body',
          'amount',
          `must not exceed the job's budget of ${formatUnits(job.budget_amount, job.token_decimals)} ${job.token_symbol}`,
        )
      }
      if (job.requires_verifiable && !(await agentHasVerifiedClaim(context, db, actor.id))) {
        throw new ForbiddenError(
          'verifiable_claim_required',
          'this job requires bidders whose verifiable claim is signed by an issuer this coordinator trusts',
        )
      }
      await insertBid(db, {
        id: bidId,
        jobId: job.id,
        bidderAgentId: actor.id,
        amount,
        etaSeconds: body.eta_seconds,
        proposal: body.proposal ?? null,
      })
      await publishEvent(db, {
        type: 'bid_received',
        audience: [job.creator_agent_id],
        data: {
          job_id: job.id,
          job_title: job.title,
          bid_id: bidId,
          amount: formatUnits(amount, job.token_decimals),
        },
        // Public: that someone bid, not how much (a pending bid's amount is the creator's alone).
        feed: { event_type: 'bid_placed', job_id: job.id, job_title: job.title, bidder_account_id: actor.id },
      })
    })
  } catch (error) {
    if (isUniqueViolation(error)) {
      throw new ConflictError('bid_exists', 'you already have a pending bid on this job; withdraw it first')
    }
    throw error
  }
  const bid = await selectBid(context.pool, bidId)
  return toBidResponse(bid!, actor.id)
}

/**
 * A bid the platform places for an agent inside the caller's transaction (an instant job assigns
 * a matched service at its listed price, a reservation its job at the reward): no bidding window,
 * no event, since the award follows in the same transaction. Returns its id.
 */
export async function placePlatformBid(
  db: Queryable,
  bid: { jobId: string; bidderAgentId: string; amount: bigint; etaSeconds: number; proposal: string },
): Promise<string> {
  const id = randomUUID()
  await insertBid(db, { id, ...bid })
  return id
}

/**
 * `GET /v1/jobs/{job_id}/bids`: the creator sees every bid with proposals; a bidder sees its own
 * bids and everyone's accepted ones; the public sees accepted bids, sanitized.
 */
export async function listJobBids(
  context: AppContext,
  viewerId: string | null,
  jobId: string,
  query: ListBidsQuery,
): Promise<BidResponse[]> {
  const job = await findVisibleJob(context.pool, jobId, viewerId)
  const reach: BidScope['reach'] =
    viewerId === job.creator_agent_id ? 'all' : viewerId ? 'own_or_accepted' : 'accepted'
  const rows = await selectBids(context.pool, { viewerId, jobId: job.id, status: query.status, reach }, query)
  return rows.map((row) => toBidResponse(row, viewerId))
}

/** `GET /v1/agents/me/bids`: the caller's own bids, every status, with proposals. */
export async function listMyBids(
  context: AppContext,
  actor: Actor,
  query: ListBidsQuery,
): Promise<BidResponse[]> {
  const rows = await selectBids(
    context.pool,
    { viewerId: actor.id, bidderId: actor.id, status: query.status, reach: 'all' },
    query,
  )
  return rows.map((row) => toBidResponse(row, actor.id))
}

/** `GET /v1/agents/me/jobs/bids`: every bid on the caller's jobs, with proposals. */
export async function listBidsOnMyJobs(
  context: AppContext,
  actor: Actor,
  query: ListBidsQuery,
): Promise<BidResponse[]> {
  const rows = await selectBids(
    context.pool,
    { viewerId: actor.id, jobCreatorId: actor.id, status: query.status, reach: 'all' },
    query,
  )
  return rows.map((row) => toBidResponse(row, actor.id))
}

async function agentIdOf(context: AppContext, ref: string): Promise<string> {
  const agentId = await resolveAgentRef(context, context.pool, ref)
  if (!agentId) throw new NotFoundError('agent_not_found', `agent ${ref} not found`)
  return agentId
}

/** `GET /v1/agents/{agent_id}/bids`: everything when it is the caller, else accepted bids only, no proposals. */
export async function listAgentBids(
  context: AppContext,
  viewerId: string | null,
  agentRef: string,
  query: ListBidsQuery,
): Promise<BidResponse[]> {
  const agentId = await agentIdOf(context, agentRef)
  const reach = viewerId === agentId ? 'all' : 'accepted'
  const rows = await selectBids(
    context.pool,
    { viewerId, bidderId: agentId, status: query.status, reach },
    query,
  )
  return rows.map((row) => toBidResponse(row, viewerId))
}

/** `GET /v1/agents/{agent_id}/jobs/bids`: all bids when the jobs are the caller's, else accepted only. */
export async function listBidsOnAgentJobs(
  context: AppContext,
  viewerId: string | null,
  agentRef: string,
  query: ListBidsQuery,
): Promise<BidResponse[]> {
  const agentId = await agentIdOf(context, agentRef)
  const reach = viewerId === agentId ? 'all' : 'accepted'
  const rows = await selectBids(
    context.pool,
    { viewerId, jobCreatorId: agentId, status: query.status, reach },
    query,
  )
  return rows.map((row) => toBidResponse(row, viewerId))
}

/** `POST /v1/bids/{bid_id}/withdraw`: the bidder takes back a pending bid. */
export async function withdrawBid(context: AppContext, actor: Actor, bidId: string): Promise<BidResponse> {
  await withRetryingTransaction(context.pool, async (db) => {
    const bid = await selectBid(db, bidId, { forUpdate: true })
    // A bid the caller may not see (someone else's pending bid) is a 404, exactly like a missing one.
    const maySee =
      bid !== null &&
      (bid.bidder_agent_id === actor.id ||
        bid.job_creator_agent_id === actor.id ||
        bid.status === 'accepted') &&
      (await isJobVisible(db, bid.job_id, actor.id))
    if (!bid || !maySee) throw new NotFoundError('bid_not_found', `bid ${bidId} not found`)
    if (bid.bidder_agent_id !== actor.id) {
      throw new ForbiddenError('not_bidder', 'only the bidder may withdraw a bid')
    }
    if (bid.status !== 'pending') {
      throw new ConflictError(
        'bid_not_pending',
        `bid ${bid.id} is ${bid.status}; only pending bids can be withdrawn`,
      )
    }
    await setBidStatus(db, bid.id, 'withdrawn')
  })
  const bid = await selectBid(context.pool, bidId)
  return toBidResponse(bid!, actor.id)
}

/** Bids on a job that count for its detail (all but withdrawn ones). */
export async function countJobBids(db: Queryable, jobId: string): Promise<number> {
  return countBidsOnJob(db, jobId)
}

/** Rejects every pending bid on a job (it filled, was cancelled or expired); returns how many. */
export async function rejectPendingBids(db: Queryable, jobId: string): Promise<number> {
  return rejectPendingBidRows(db, jobId)
}

/** The bid, optionally locked for the caller's transaction, or null (the award path). */
export async function findBid(
  db: Queryable,
  bidId: string,
  options: { forUpdate?: boolean } = {},
): Promise<BidRow | null> {
  return selectBid(db, bidId, options)
}

/** Marks a pending bid accepted: the award made from it. */
export async function acceptBid(db: Queryable, bidId: string): Promise<void> {
  await setBidStatus(db, bidId, 'accepted')
}

/**
 * The bid a negotiation agreed on, inside its accept's transaction (the job row locked by the
 * caller): the bidder's pending bid on the job at the agreed amount, or a new one. Returns its id.
 * The award that follows checks it like any bid (`requireAwardable`).
 */
export async function placeNegotiatedBid(
  db: Queryable,
  bid: { jobId: string; bidderAgentId: string; amount: bigint; etaSeconds: number; proposal: string | null },
): Promise<string> {
  const pending = await selectPendingBidBy(db, bid.jobId, bid.bidderAgentId)
  if (pending) {
    await setBidTerms(db, pending, bid.amount, bid.etaSeconds)
    return pending
  }
  const id = randomUUID()
  await insertBid(db, { id, ...bid })
  return id
}
