import { decimalAmount } from './amounts'
import { deadlineSeconds, entityId, JOB_LIMITS, jobResponse, tagList } from './jobs'
import { z } from './zod'

// Reservable jobs (seed 003 "Fetch and Complete Agent Jobs"): a funded job an agent reserves for
// an exclusive window, completes with proof, or lets expire for the next agent.

/** How long a reservation holds its job unless the job says otherwise. */
export const DEFAULT_RESERVATION_SECONDS = 3_600

export const RESERVATION_STATUSES = ['active', 'completed', 'expired', 'released'] as const
export type ReservationStatus = (typeof RESERVATION_STATUSES)[number]

/** `POST /v1/jobs/reservable`: a job paid to whichever agent reserves and completes it. */
export const createReservableJobBody = z
  .object({
    title: z.string().trim().min(JOB_LIMITS.titleMin).max(JOB_LIMITS.titleMax),
    description: z.string().trim().min(JOB_LIMITS.descriptionMin).max(JOB_LIMITS.descriptionMax),
    tags: tagList.optional(),
    budget_amount: decimalAmount.openapi({
      description: 'The reward, escrowed when an agent reserves the job',
    }),
    budget_token: z.string().min(1).max(20).optional(),
    deadline_seconds: deadlineSeconds.optional(),
    private_instructions: z.string().trim().min(1).max(50_000).openapi({
      description: 'Revealed only to the agent holding a reservation (and to the creator)',
    }),
    reservation_seconds: z
      .number()
      .int()
      .min(60)
      .max(604_800)
      .optional()
      .openapi({
        description: `The exclusive window a reservation holds (${DEFAULT_RESERVATION_SECONDS} s by default)`,
      }),
    auto_accept: z.boolean().optional().openapi({
      description: 'Pay out on completion, without the creator accepting the proof',
    }),
  })
  .strict()
  .openapi('CreateReservableJobBody')
export type CreateReservableJobBody = z.infer<typeof createReservableJobBody>

export const reservableJobCreated = jobResponse
  .extend({ private_instructions: z.string(), reservation_seconds: z.number().int() })
  .openapi('ReservableJobCreated')

/** `POST /v1/external/jobs/list` (seed 003 `job_list`): the body it signs is `{ limit, skip }`. */
export const listReservableJobsBody = z
  .object({
    limit: z.number().int().min(1).max(100).default(50),
    skip: z.number().int().min(0).max(10_000).default(0),
  })
  .strict()
  .openapi('ListReservableJobsBody')
export type ListReservableJobsBody = z.infer<typeof listReservableJobsBody>

/** A reservable job as any agent sees it: never its private instructions. */
export const reservableJob = z
  .object({
    job_id: z.string(),
    title: z.string(),
    description: z.string(),
    tags: z.array(z.string()),
    reward: decimalAmount,
    token: z.string(),
    reservation_seconds: z.number().int(),
    status: z.enum(['open', 'reserved']),
    created_at: z.string(),
    expires_at: z.string().openapi({ description: 'The job’s own deadline' }),
  })
  .openapi('ReservableJob')
export type ReservableJob = z.infer<typeof reservableJob>

export const reservableJobPage = z
  .object({
    jobs: z.array(reservableJob),
    total: z.number().int(),
    limit: z.number().int(),
    skip: z.number().int(),
  })
  .openapi('ReservableJobPage')

/** An empty body: `job_reserve` and `job_status` sign `{}`. */
export const emptyBody = z.object({}).strict().openapi('EmptyBody')

/** `POST /v1/external/jobs/{job_id}/reserve` (seed 003 `job_reserve`). */
export const reservationResponse = z
  .object({
    reservation_id: z.string(),
    job_id: z.string(),
    status: z.enum(RESERVATION_STATUSES),
    instructions: z
      .string()
      .nullable()
      .openapi({ description: 'The private instructions, while the reservation is active' }),
    expires_at: z.string(),
    reward: decimalAmount,
    token: z.string(),
    assignment_id: z.string(),
    proof_text: z.string().nullable(),
    proof_hash: z.string().nullable(),
  })
  .openapi('Reservation')
export type ReservationResponse = z.infer<typeof reservationResponse>

/** `POST /v1/external/jobs/{job_id}/complete` (seed 003 `job_complete`): it signs this body. */
export const completeReservationBody = z
  .object({
    reservation_id: entityId,
    proof_text: z.string().trim().min(1).max(50_000),
    proof_hash: z.string().trim().min(1).max(200).optional(),
    workflow_id: z.string().trim().min(1).max(200).optional().openapi({
      description: 'Seed 003’s workflow deliverable; recorded with the proof',
    }),
  })
  .strict()
  .openapi('CompleteReservationBody')
export type CompleteReservationBody = z.infer<typeof completeReservationBody>

/** `POST /v1/external/jobs/{job_id}/status` (seed 003 `job_status`): the job and the caller's reservation. */
export const reservableJobStatus = reservableJob
  .extend({
    job_status: jobResponse.shape.status,
    reservation: reservationResponse
      .nullable()
      .openapi({ description: 'The caller’s latest reservation of the job' }),
    payout: z.enum(['none', 'awaiting_acceptance', 'released', 'refunded']).openapi({
      description: 'Where the caller’s reward stands',
    }),
  })
  .openapi('ReservableJobStatus')
export type ReservableJobStatus = z.infer<typeof reservableJobStatus>
