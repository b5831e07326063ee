import { decimalAmount, tokenReference } from './amounts'
import { entityId } from './jobs'
import { z } from './zod'

// Seed 002 "Financial Negotiation": a price agreed by offers and counter-offers before the work,
// which becomes an award at that price.

export const NEGOTIATION_STATUSES = ['open', 'accepted', 'rejected', 'expired'] as const
export type NegotiationStatus = (typeof NEGOTIATION_STATUSES)[number]

/** How long an offer stands when `expires_in_seconds` is left out: a day. */
export const DEFAULT_OFFER_SECONDS = 86_400

export const NEGOTIATION_LIMITS = {
  offerSecondsMin: 60,
  offerSecondsMax: 30 * 86_400,
  messageMax: 2000,
  etaSecondsMax: 30 * 86_400,
} as const

const message = z.string().trim().min(1).max(NEGOTIATION_LIMITS.messageMax)
const expiresInSeconds = z
  .number()
  .int()
  .min(NEGOTIATION_LIMITS.offerSecondsMin)
  .max(NEGOTIATION_LIMITS.offerSecondsMax)
  .openapi({ description: `How long this offer stands (default ${DEFAULT_OFFER_SECONDS} s)` })

/**
 * `POST /v1/negotiations`: an offer on a service (the buyer to its owner) or on an open job (a
 * worker to its creator); exactly one of `service_id` and `job_id`.
 */
export const createNegotiationBody = z
  .object({
    service_id: entityId.optional(),
    job_id: entityId.optional(),
    amount: decimalAmount,
    token: tokenReference
      .optional()
      .openapi({ description: "Must be the service's or job's token when given" }),
    message: message.optional(),
    expires_in_seconds: expiresInSeconds.optional(),
    eta_seconds: z.number().int().min(1).max(NEGOTIATION_LIMITS.etaSecondsMax).optional().openapi({
      description:
        "The worker's ETA for the bid an accepted offer on a job becomes (default a day); a service's is its response_time_seconds",
    }),
  })
  .refine((body) => (body.service_id === undefined) !== (body.job_id === undefined), {
    path: ['service_id'],
    message: 'give exactly one of service_id and job_id',
  })
  .openapi('CreateNegotiationBody')
export type CreateNegotiationBody = z.infer<typeof createNegotiationBody>

/** `POST /v1/negotiations/{negotiation_id}/counter`: a new offer by the party whose turn it is. */
export const counterNegotiationBody = z
  .object({
    amount: decimalAmount,
    message: message.optional(),
    expires_in_seconds: expiresInSeconds.optional(),
  })
  .openapi('CounterNegotiationBody')
export type CounterNegotiationBody = z.infer<typeof counterNegotiationBody>

/** `POST /v1/negotiations/{negotiation_id}/accept` and `/reject`: an optional note to the other party. */
export const answerNegotiationBody = z
  .object({ message: message.optional() })
  .openapi('AnswerNegotiationBody')
export type AnswerNegotiationBody = z.infer<typeof answerNegotiationBody>

/** `GET /v1/negotiations`: the caller's negotiations, as buyer, seller or either. */
export const listNegotiationsQuery = z
  .object({
    role: z.enum(['buyer', 'seller', 'any']).default('any'),
    status: z.enum(NEGOTIATION_STATUSES).optional(),
    limit: z.coerce.number().int().min(1).max(100).default(50),
    offset: z.coerce.number().int().min(0).max(10_000).default(0),
  })
  .openapi('ListNegotiationsQuery')
export type ListNegotiationsQuery = z.infer<typeof listNegotiationsQuery>

export const negotiationIdParams = z.object({ negotiation_id: entityId })

export const negotiationOffer = z
  .object({
    by_agent_id: z.string(),
    amount: z.string(),
    message: z.string().nullable(),
    created_at: z.string(),
  })
  .openapi('NegotiationOffer')

/**
 * A negotiation as its two parties see it. The buyer pays (a service's client, a job's creator);
 * the seller works. `amount` is the standing offer; `turn_agent_id` may counter, accept or reject
 * it while `status` is open. Once accepted, `award` names the job, bid and assignment it became.
 */
export const negotiationResponse = z
  .object({
    negotiation_id: z.string(),
    subject: z.enum(['service', 'job']),
    service_id: z.string().nullable(),
    job_id: z.string().nullable(),
    buyer_agent_id: z.string(),
    seller_agent_id: z.string(),
    initiator_agent_id: z.string(),
    amount: z.string().openapi({ example: '8.5' }),
    token: z.string().openapi({ example: 'USDC' }),
    status: z.enum(NEGOTIATION_STATUSES),
    last_offer_by_agent_id: z.string(),
    turn_agent_id: z.string().nullable(),
    offers: z.array(negotiationOffer),
    expires_at: z.string(),
    closed_at: z.string().nullable(),
    award: z.object({ job_id: z.string(), bid_id: z.string(), assignment_id: z.string() }).nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('Negotiation')
export type NegotiationResponse = z.infer<typeof negotiationResponse>
