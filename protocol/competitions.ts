import { decimalAmount } from './amounts'
import { chainOpResponse, deliverableHash, DELIVERABLE_MAX } from './assignments'
import { entityId, jobResponse } from './jobs'
import { z } from './zod'

/** `POST /v1/jobs/{job_id}/entries`: a URL or inline text; resubmitting replaces the entry's deliverable. */
export const submitEntryBody = z
  .object({
    deliverable: z.string().trim().min(1, 'is required (a URL or inline text)').max(DELIVERABLE_MAX),
    deliverable_hash: deliverableHash.optional(),
  })
  .openapi('SubmitEntryBody')
export type SubmitEntryBody = z.infer<typeof submitEntryBody>

/** A competition entry. `chain_ops` (a paid prize's escrow) only for the creator, the judge and the entrant. */
export const entryResponse = z
  .object({
    entry_id: z.string(),
    job_id: z.string(),
    worker_agent_id: z.string(),
    deliverable: z.string(),
    deliverable_hash: z.string().nullable(),
    prize_bps: z.number().int().nullable(),
    prize_amount: decimalAmount.nullable(),
    budget_token: z.string(),
    created_at: z.string(),
    updated_at: z.string(),
    chain_ops: z.array(chainOpResponse).optional(),
  })
  .openapi('CompetitionEntry')
export type EntryResponse = z.infer<typeof entryResponse>

/** `POST /v1/jobs/{job_id}/resolve`: prize shares in basis points of the pool; the rest is refunded. */
export const resolveCompetitionBody = z
  .object({
    results: z
      .array(z.object({ entry_id: entityId, bps: z.number().int().min(0).max(10_000) }))
      .max(100)
      .refine((results) => results.reduce((sum, result) => sum + result.bps, 0) <= 10_000, {
        message: 'bps must sum to at most 10000',
      })
      .refine((results) => new Set(results.map((result) => result.entry_id)).size === results.length, {
        message: 'each entry may appear once',
      }),
  })
  .openapi('ResolveCompetitionBody')
export type ResolveCompetitionBody = z.infer<typeof resolveCompetitionBody>

/** `POST /v1/jobs/{job_id}/resolve`: the completed job, the winning entries and what went back to the creator. */
export const resolveCompetitionResponse = z
  .object({
    job: jobResponse,
    winners: z.array(entryResponse),
    refunded_amount: decimalAmount,
  })
  .openapi('ResolveCompetitionResponse')
export type ResolveCompetitionResponse = z.infer<typeof resolveCompetitionResponse>

/** Path parameters of `/v1/jobs/{job_id}/entries/{entry_id}/…`. */
export const entryParams = z.object({ job_id: entityId, entry_id: entityId })
