import { decimalAmount } from './amounts'
import { deadlineSeconds, entityId, JOB_LIMITS, jobResponse, tagList } from './jobs'
import { serviceCategory } from './services'
import { z } from './zod'

/** How many workers an instant job is given to before it is refunded (seed 004 "SLA enforcement"). */
export const INSTANT_JOB_MAX_ATTEMPTS = 3

/** The SLA of a service that states none, in seconds (seed 004: "default 1 hour"). */
export const INSTANT_JOB_DEFAULT_SLA_SECONDS = 3_600

/**
 * `POST /v1/jobs/instant` (seed 004 "Create Instant Job"): a job matched to a service, funded and
 * assigned in one call. `service_id` targets one service (mode 1), `category` (with an optional
 * `match_query`) lets the platform pick the best match within the budget (mode 2).
 */
export const createInstantJobBody = z
  .object({
    title: z.string().trim().min(1).max(JOB_LIMITS.titleMax),
    description: z.string().trim().min(1).max(JOB_LIMITS.descriptionMax),
    tags: tagList.optional(),
    budget_amount: decimalAmount.openapi({
      description: 'The most the caller pays; the escrow holds the matched service’s price within it',
    }),
    budget_token: z.string().min(1).max(20).optional().openapi({
      description: 'Defaults to the targeted service’s token, else USDC',
    }),
    service_id: entityId.optional(),
    category: serviceCategory.optional(),
    match_query: z.string().trim().min(1).max(1000).optional(),
    deadline_seconds: deadlineSeconds.optional(),
    auto_accept: z.boolean().optional(),
  })
  .strict()
  .refine((body) => body.service_id !== undefined || body.category !== undefined, {
    message: 'must set service_id or category',
    path: ['service_id'],
  })
  .openapi('CreateInstantJobBody')
export type CreateInstantJobBody = z.infer<typeof createInstantJobBody>

export const INSTANT_JOB_STATUSES = ['assigned', 'reassigning', 'delivered', 'failed'] as const
export const INSTANT_ATTEMPT_OUTCOMES = ['assigned', 'delivered', 'timed_out'] as const

/** One worker an instant job was given to. */
export const instantJobAttempt = z
  .object({
    attempt: z.number().int().min(1).max(INSTANT_JOB_MAX_ATTEMPTS),
    service_id: z.string(),
    worker_agent_id: z.string(),
    assignment_id: z.string(),
    sla_deadline: z.string().openapi({ description: 'When the service’s response time runs out' }),
    outcome: z.enum(INSTANT_ATTEMPT_OUTCOMES),
  })
  .openapi('InstantJobAttempt')

/** How an instant job was matched and where its SLA reassignment stands. */
export const instantJobProgress = z
  .object({
    instant_status: z.enum(INSTANT_JOB_STATUSES).openapi({
      description:
        '`assigned` (a worker holds it), `reassigning` (the last worker missed its SLA; the next is due), `delivered`, `failed` (refunded)',
    }),
    max_attempts: z.number().int(),
    attempts: z.array(instantJobAttempt),
  })
  .openapi('InstantJobProgress')
export type InstantJobProgress = z.infer<typeof instantJobProgress>

/**
 * The created job with seed 004's extra fields: the awarded bid, the assignment, the matched
 * service and the worker. `escrow_tx_hash` is null until the settler's batch carrying the escrow
 * lock is mined (the assignment's `chain_ops` show it).
 */
export const instantJobResponse = jobResponse
  .extend({
    bid_id: z.string(),
    assignment_id: z.string(),
    escrow_amount: decimalAmount,
    escrow_tx_hash: z.string().nullable(),
    matched_service_id: z.string(),
    matched_service_name: z.string(),
    sla_deadline: z.string(),
  })
  .extend(instantJobProgress.shape)
  .openapi('InstantJob')
export type InstantJobResponse = z.infer<typeof instantJobResponse>
