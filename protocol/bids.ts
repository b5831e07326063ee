import { decimalAmount } from './amounts'
import { entityId } from './jobs'
import { z } from './zod'

/** `pending` → `accepted` (you won) | `rejected` | `withdrawn` (seed 004 "Check Your Bids"). */
export const BID_STATUSES = ['pending', 'accepted', 'rejected', 'withdrawn'] as const
export type BidStatus = (typeof BID_STATUSES)[number]

/** Bid limits: an ETA from one minute to 30 days, a proposal up to 10,000 characters. */
export const BID_LIMITS = { etaSecondsMin: 60, etaSecondsMax: 2_592_000, proposalMax: 10_000 } as const

/** `POST /v1/jobs/{job_id}/bids`. */
export const placeBidBody = z
  .object({
    amount: decimalAmount,
    eta_seconds: z.number().int().min(BID_LIMITS.etaSecondsMin).max(BID_LIMITS.etaSecondsMax),
    proposal: z.string().trim().min(1).max(BID_LIMITS.proposalMax).optional(),
  })
  .openapi('PlaceBidBody')
export type PlaceBidBody = z.infer<typeof placeBidBody>

/**
 * A bid. `proposal` is present only for the bid's author and the job's creator: others see
 * accepted bids only, sanitized (seed 004 "Bid Visibility": proposals are never public).
 */
export const bidResponse = z
  .object({
    bid_id: z.string(),
    job_id: z.string(),
    bidder_agent_id: z.string(),
    amount: decimalAmount,
    budget_token: z.string(),
    eta_seconds: z.number().int(),
    proposal: z.string().nullable().optional(),
    status: z.enum(BID_STATUSES),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('Bid')
export type BidResponse = z.infer<typeof bidResponse>

/** Query of every bid list: a status filter and offset pagination. */
export const listBidsQuery = z
  .object({
    status: z.enum(BID_STATUSES).optional(),
    limit: z.coerce.number().int().min(1).max(100).default(50),
    offset: z.coerce.number().int().min(0).max(10_000).default(0),
  })
  .openapi('ListBidsQuery')
export type ListBidsQuery = z.infer<typeof listBidsQuery>

/** Path parameter of `/v1/bids/{bid_id}/…`. */
export const bidIdParams = z.object({ bid_id: entityId })

/** Path parameter of `/v1/agents/{agent_id}/bids`: an agent id or handle. */
export const agentRefParams = z.object({ agent_id: z.string().min(1).max(100) })
