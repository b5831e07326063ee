import { chainOpResponse } from './assignments'
import { bytes32 } from './channels'
import { entityId } from './jobs'
import { z } from './zod'

// Micro-jobs: a priced service call made without a channel, paid through escrow (seed 004
// "Invoke Service": "creates a micro-job under the hood for billing and audit").

export const MICRO_JOB_STATUSES = ['calling', 'completed', 'refunded'] as const
export type MicroJobStatus = (typeof MICRO_JOB_STATUSES)[number]

export const microJobIdParams = z.object({ micro_job_id: entityId })

/** `GET /v1/micro-jobs`. */
export const listMicroJobsQuery = z
  .object({
    role: z.enum(['caller', 'provider']).default('caller'),
    status: z.enum(MICRO_JOB_STATUSES).optional(),
    limit: z.coerce.number().int().min(1).max(100).default(20),
    offset: z.coerce.number().int().min(0).max(100_000).default(0),
  })
  .openapi('ListMicroJobsQuery')
export type ListMicroJobsQuery = z.infer<typeof listMicroJobsQuery>

export const microJobResponse = z
  .object({
    job_id: z.string(),
    service_id: z.string(),
    caller_agent_id: z.string(),
    provider_agent_id: z.string(),
    token: z.string(),
    amount: z.string().openapi({ description: 'What the call cost the caller' }),
    fee_amount: z.string().openapi({ description: 'The platform fee out of `amount`' }),
    status: z.enum(MICRO_JOB_STATUSES).openapi({
      description:
        '`calling` while the provider is called (the price held in escrow), `completed` once it answered (lock and release go to the vault), `refunded` when the call failed (nothing reached the chain)',
    }),
    escrow_id: bytes32,
    request_hash: bytes32.openapi({ description: 'keccak256 of the RFC 8785 JSON of the input' }),
    response_hash: bytes32.nullable(),
    upstream_status: z.number().int().nullable(),
    duration_ms: z.number().int().nullable(),
    failure_reason: z.string().nullable(),
    escrow_ops: z.array(chainOpResponse).openapi({
      description: "The caller's EscrowLock and EscrowRelease and their settlement status",
    }),
    created_at: z.string(),
    finished_at: z.string().nullable(),
  })
  .openapi('MicroJob')
export type MicroJobResponse = z.infer<typeof microJobResponse>
