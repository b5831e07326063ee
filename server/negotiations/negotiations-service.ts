import { randomUUID } from 'node:crypto'
import {
  DEFAULT_OFFER_SECONDS,
  type AnswerNegotiationBody,
  type CounterNegotiationBody,
  type CreateNegotiationBody,
  type ListNegotiationsQuery,
  type NegotiationResponse,
} from '../../protocol/negotiations'
import { NEGOTIABLE_PRICING_MODELS } from '../../protocol/services'
import type { AppContext } from '../app-context'
import { awardBidInTransaction, prepareAward } from '../assignments/assignments-service'
import type { Actor } from '../auth/actor'
import { placeNegotiatedBid } from '../bids/bids-service'
import type { Queryable } from '../db/pool'
import { withRetryingTransaction } from '../db/retrying-transaction'
import { ConflictError, fieldError, ForbiddenError, NotFoundError } from '../errors'
import { agentActor } from '../jobs/job-agents'
import { findJob, findVisibleJob, isPastDeadline, type JobRow } from '../jobs/job-records'
import { formatUnits, parseTokenAmount } from '../jobs/job-tokens'
import { createJobInTransaction } from '../jobs/jobs-service'
import { resolveToken } from '../ledger/tokens'
import { findServiceTerms } from '../services/services-service'
import {
  expireLapsedNegotiations,
  expireLapsedOn,
  insertNegotiation,
  insertOffer,
  markAccepted,
  markRejected,
  selectAgentNegotiations,
  selectNegotiation,
  selectOffers,
  setStandingOffer,
  type NegotiationRow,
  type OfferRow,
} from './negotiations-queries'

/** A job offer's ETA when the worker names none: a day, like the default offer. */
const DEFAULT_JOB_ETA_SECONDS = 86_400

function toNegotiationResponse(row: NegotiationRow, offers: OfferRow[]): NegotiationResponse {
  const format = (units: string) => formatUnits(units, row.token_decimals)
  const isOpen = row.status === 'open'
  return {
    negotiation_id: row.id,
    subject: row.subject,
    service_id: row.service_id,
    job_id: row.job_id,
    buyer_agent_id: row.buyer_agent_id,
    seller_agent_id: row.seller_agent_id,
    initiator_agent_id: row.initiator_agent_id,
    amount: format(row.amount),
    token: row.token_symbol,
    status: row.status,
    last_offer_by_agent_id: row.last_offer_by,
    turn_agent_id: isOpen ? otherParty(row, row.last_offer_by) : null,
    offers: offers.map((offer) => ({
      by_agent_id: offer.agent_id,
      amount: format(offer.amount),
      message: offer.message,
      created_at: offer.created_at.toISOString(),
    })),
    expires_at: row.expires_at.toISOString(),
    closed_at: row.closed_at ? row.closed_at.toISOString() : null,
    award:
      row.assignment_id && row.awarded_job_id && row.awarded_bid_id
        ? { job_id: row.awarded_job_id, bid_id: row.awarded_bid_id, assignment_id: row.assignment_id }
        : null,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  }
}

function otherParty(row: NegotiationRow, agentId: string): string {
  return agentId === row.buyer_agent_id ? row.seller_agent_id : row.buyer_agent_id
}

function isParty(row: NegotiationRow, agentId: string): boolean {
  return agentId === row.buyer_agent_id || agentId === row.seller_agent_id
}

async function loadResponse(db: Queryable, id: string): Promise<NegotiationResponse> {
  const row = (await selectNegotiation(db, id))!
  return toNegotiationResponse(row, await selectOffers(db, [id]))
}

/** The negotiation if the caller is one of its parties; a 404 like a missing one to anyone else. */
async function findPartyNegotiation(
  db: Queryable,
  id: string,
  actor: Actor,
  options: { forUpdate?: boolean } = {},
): Promise<NegotiationRow> {
  const row = await selectNegotiation(db, id, options)
  if (!row || !isParty(row, actor.id)) {
    throw new NotFoundError('negotiation_not_found', `negotiation ${id} not found`)
  }
  return row
}

/**
 * The negotiation, locked, if the caller may answer its standing offer now: it is open and
 * unexpired, and the offer is the other party's (a party never answers its own offer).
 */
async function findAnswerable(db: Queryable, id: string, actor: Actor): Promise<NegotiationRow> {
  const row = await findPartyNegotiation(db, id, actor, { forUpdate: true })
  if (row.status === 'expired') {
    throw new ConflictError('negotiation_expired', `negotiation ${row.id}'s standing offer expired`, {
      details: { expires_at: row.expires_at.toISOString() },
    })
  }
  if (row.status !== 'open') {
    throw new ConflictError('negotiation_not_open', `negotiation ${row.id} is ${row.status}`)
  }
  if (row.last_offer_by === actor.id) {
    throw new ConflictError('not_your_turn', 'the standing offer is yours: the other party answers it', {
      details: { turn_agent_id: otherParty(row, actor.id) },
    })
  }
  return row
}

/** A job offer's amount may not exceed the job's budget, as a bid may not (the award would refuse it). */
function requireWithinBudget(job: JobRow, amount: bigint): void {
  if (job.budget_amount !== null && amount > BigInt(job.budget_amount)) {
    throw fieldError(
      'body',
      'amount',
      `must not exceed the job's budget of ${formatUnits(job.budget_amount, job.token_decimals)} ${job.token_symbol}`,
    )
  }
}

/** A job that takes offers from `actor`: what `placeBid` requires of a bid. */
function requireOpenToOffers(job: JobRow, actor: Actor): void {
  if (job.job_type === 'competition') {
    throw new ConflictError('competition_job', 'competitions take entries, not offers')
  }
  if (job.job_type === 'instant') {
    throw new ConflictError(
      'instant_job',
      'an instant job is assigned to its matched services, not negotiated',
    )
  }
  if (job.job_type === 'reservable') {
    throw new ConflictError('reservable_job', 'a reservable job pays its reward to whoever reserves it')
  }
  if (job.creator_agent_id === actor.id)
    throw new ForbiddenError('own_job', 'you cannot make an offer on your own job')
  if (job.dispute_agent_id === actor.id) {
    throw new ForbiddenError('resolver_cannot_bid', "a job's resolver cannot make an offer on it")
  }
  if (job.status !== 'open' && job.status !== 'filling') {
    throw new ConflictError('job_not_open', `job ${job.id} is ${job.status}; it takes no offers`)
  }
  if (isPastDeadline(job)) throw new ConflictError('job_expired', `job ${job.id} passed its deadline`)
}

function requireSameToken(
  named: string | undefined,
  context: AppContext,
  token: { address: string; symbol: string },
) {
  if (named === undefined) return
  if (resolveToken(context, named, 'token').address !== token.address.toLowerCase()) {
    throw fieldError('body', 'token', `must be ${token.symbol}, the token it is priced in`)
  }
}

/** Postgres' unique_violation: here, a second open negotiation by one initiator on one subject. */
function isUniqueViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: string }).code === '23505'
}

/**
 * `POST /v1/negotiations` (seed 002 "Start a price negotiation"): the buyer's offer on a service,
 * to its owner, or a worker's on an open job, to its creator. A service whose price is not
 * negotiable (`fixed`, `per_call`) refuses with 409 `price_not_negotiable`.
 */
export async function openNegotiation(
  context: AppContext,
  actor: Actor,
  body: CreateNegotiationBody,
): Promise<NegotiationResponse> {
  const id = randomUUID()
  const expiresInSeconds = body.expires_in_seconds ?? DEFAULT_OFFER_SECONDS
  try {
    await withRetryingTransaction(context.pool, async (db) => {
      let row: Parameters<typeof insertNegotiation>[1]
      if (body.service_id !== undefined) {
        const service = await findServiceTerms(db, body.service_id, actor.id)
        if (service.agentId === actor.id) {
          throw new ForbiddenError('own_service', 'you cannot negotiate on your own service')
        }
        if (!NEGOTIABLE_PRICING_MODELS.includes(service.pricingModel)) {
          throw new ConflictError(
            'price_not_negotiable',
            `service ${service.id} is priced ${service.pricingModel}: its listed price is the price`,
            { details: { pricing_model: service.pricingModel, negotiable: NEGOTIABLE_PRICING_MODELS } },
          )
        }
        requireSameToken(body.token, context, service.token)
        row = {
          id,
          subject: 'service',
          serviceId: service.id,
          jobId: null,
          buyerId: actor.id,
          sellerId: service.agentId,
          initiatorId: actor.id,
          token: service.token,
          amount: parseTokenAmount(body.amount, service.token.decimals, 'amount'),
          etaSeconds: service.responseTimeSeconds,
          expiresInSeconds,
        }
      } else {
        // The job row lock orders this offer against a concurrent award, cancel or expiry.
        const job = await findVisibleJob(db, body.job_id!, actor.id, { forUpdate: true })
        requireOpenToOffers(job, actor)
        requireSameToken(body.token, context, { address: job.token_address, symbol: job.token_symbol })
        const amount = parseTokenAmount(body.amount, job.token_decimals, 'amount')
        requireWithinBudget(job, amount)
        row = {
          id,
          subject: 'job',
          serviceId: null,
          jobId: job.id,
          buyerId: job.creator_agent_id,
          sellerId: actor.id,
          initiatorId: actor.id,
          token: { symbol: job.token_symbol, address: job.token_address, decimals: job.token_decimals },
          amount,
          etaSeconds: body.eta_seconds ?? DEFAULT_JOB_ETA_SECONDS,
          expiresInSeconds,
        }
      }
      // A lapsed negotiation on the same subject no longer stands in the way of a new one.
      await expireLapsedOn(db, { serviceId: row.serviceId, jobId: row.jobId }, actor.id)
      await insertNegotiation(db, row)
      await insertOffer(db, {
        id: randomUUID(),
        negotiationId: id,
        agentId: actor.id,
        amount: row.amount,
        message: body.message ?? null,
      })
    })
  } catch (error) {
    if (isUniqueViolation(error)) {
      throw new ConflictError(
        'negotiation_exists',
        'you already have an open negotiation on this; counter there, or wait for an answer',
      )
    }
    throw error
  }
  return loadResponse(context.pool, id)
}

/** `POST /v1/negotiations/{id}/counter`: the party whose turn it is replaces the standing offer. */
export async function counterNegotiation(
  context: AppContext,
  actor: Actor,
  id: string,
  body: CounterNegotiationBody,
): Promise<NegotiationResponse> {
  await withRetryingTransaction(context.pool, async (db) => {
    const row = await findAnswerable(db, id, actor)
    const amount = parseTokenAmount(body.amount, row.token_decimals, 'amount')
    if (row.subject === 'job') {
      const job = (await findJob(db, row.job_id!))!
      requireWithinBudget(job, amount)
    }
    await setStandingOffer(db, row.id, {
      agentId: actor.id,
      amount,
      expiresInSeconds: body.expires_in_seconds ?? DEFAULT_OFFER_SECONDS,
    })
    await insertOffer(db, {
      id: randomUUID(),
      negotiationId: row.id,
      agentId: actor.id,
      amount,
      message: body.message ?? null,
    })
  })
  return loadResponse(context.pool, id)
}

/** `POST /v1/negotiations/{id}/reject`: the party whose turn it is ends the negotiation. */
export async function rejectNegotiation(
  context: AppContext,
  actor: Actor,
  id: string,
  body: AnswerNegotiationBody,
): Promise<NegotiationResponse> {
  await withRetryingTransaction(context.pool, async (db) => {
    const row = await findAnswerable(db, id, actor)
    if (body.message !== undefined) {
      await insertOffer(db, {
        id: randomUUID(),
        negotiationId: row.id,
        agentId: actor.id,
        amount: BigInt(row.amount),
        message: body.message,
      })
    }
    await markRejected(db, row.id)
  })
  return loadResponse(context.pool, id)
}

/**
 * `POST /v1/negotiations/{id}/accept`: the party whose turn it is takes the standing offer, and
 * in the same transaction it becomes an award at that price, paid by the buyer. On a job: the
 * seller's bid at the agreed amount (its pending bid revised, or a new one), awarded through the
 * award path (escrow locked from the buyer's balance). On a service: a job for the buyer priced
 * at the agreed amount, the owner's bid on it, and its award. The negotiation row lock serializes
 * accepts and counters, so one accept wins and a second finds it no longer open (409); anything
 * the award refuses (the job closed, the buyer's balance short) rolls the accept back with it.
 */
export async function acceptNegotiation(
  context: AppContext,
  actor: Actor,
  id: string,
  body: AnswerNegotiationBody,
): Promise<NegotiationResponse> {
  const chainState = await prepareAward(context)
  await withRetryingTransaction(context.pool, async (db) => {
    const row = await findAnswerable(db, id, actor)
    const amount = BigInt(row.amount)
    const buyer = await agentActor(db, row.buyer_agent_id)
    const lastMessage = body.message ?? null
    let jobId: string
    if (row.subject === 'job') {
      jobId = row.job_id!
      // Lock the job before its bids, in placeBid's order.
      await findJob(db, jobId, { forUpdate: true })
    } else {
      if (row.service_id === null) {
        throw new NotFoundError('service_not_found', 'the service of this negotiation was deleted')
      }
      const service = await findServiceTerms(db, row.service_id, buyer.id)
      jobId = await createJobInTransaction(
        db,
        context,
        buyer,
        {
          title: `Service: ${service.name.slice(0, 150)} (negotiated)`,
          description:
            `Negotiated in ${row.id} for service ${service.id} ("${service.name}") at ${formatUnits(amount, row.token_decimals)} ${row.token_symbol}.${service.description ? `\n\n${service.description}` : ''}`.slice(
              0,
              50_000,
            ),
          tags: service.tags,
          budget_amount: formatUnits(amount, row.token_decimals),
          budget_token: row.token_symbol,
        },
        { skipMinimumBalance: true },
      )
    }
    const bidId = await placeNegotiatedBid(db, {
      jobId,
      bidderAgentId: row.seller_agent_id,
      amount,
      etaSeconds: row.eta_seconds,
      proposal: lastMessage ?? `Agreed in negotiation ${row.id}`,
    })
    const assignmentId = await awardBidInTransaction(db, context, buyer, jobId, bidId, chainState)
    if (lastMessage !== null) {
      await insertOffer(db, {
        id: randomUUID(),
        negotiationId: row.id,
        agentId: actor.id,
        amount,
        message: lastMessage,
      })
    }
    await markAccepted(db, row.id, { jobId, bidId, assignmentId })
  })
  return loadResponse(context.pool, id)
}

/** `GET /v1/negotiations/{id}`: its two parties only; a 404 to anyone else. */
export async function getNegotiation(
  context: AppContext,
  actor: Actor,
  id: string,
): Promise<NegotiationResponse> {
  const row = await findPartyNegotiation(context.pool, id, actor)
  return toNegotiationResponse(row, await selectOffers(context.pool, [row.id]))
}

/** `GET /v1/negotiations`: the caller's, as buyer, seller or either, newest first. */
export async function listNegotiations(
  context: AppContext,
  actor: Actor,
  query: ListNegotiationsQuery,
): Promise<NegotiationResponse[]> {
  const rows = await selectAgentNegotiations(context.pool, actor.id, query)
  const offers = await selectOffers(
    context.pool,
    rows.map((row) => row.id),
  )
  return rows.map((row) =>
    toNegotiationResponse(
      row,
      offers.filter((offer) => offer.negotiation_id === row.id),
    ),
  )
}

/** The timers' sweep: open negotiations whose standing offer lapsed are marked expired; returns how many. */
export async function expireDueNegotiations(context: AppContext, limit = 100): Promise<number> {
  return withRetryingTransaction(context.pool, (db) => expireLapsedNegotiations(db, limit))
}
