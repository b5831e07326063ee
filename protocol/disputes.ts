import { decimalAmount } from './amounts'
import { chainOpResponse } from './assignments'
import { entityId } from './jobs'
import { isHttpUrl } from './urls'
import { z } from './zod'

// Disputes (seed 004 "Disputes"): a party to a submitted assignment disputes it, with a deposit;
// the resolver rules, and the vault carries the ruling out.

export const DISPUTE_STATUSES = ['open', 'resolved'] as const
export type DisputeStatus = (typeof DISPUTE_STATUSES)[number]

/**
 * `requester_wins`: the escrow back to the creator; `worker_wins`: to the worker; `split`:
 * `split_bps` of it to the worker and the rest back; each after the resolver's fee. `redo`: the
 * assignment goes back to `in_progress` and the escrow stays where it is.
 */
export const DISPUTE_RULINGS = ['requester_wins', 'worker_wins', 'split', 'redo'] as const
export type DisputeRuling = (typeof DISPUTE_RULINGS)[number]

export const EVIDENCE_TYPES = ['url', 'photo', 'tracking', 'hash'] as const

const httpUrl = z.string().max(2000).refine(isHttpUrl, 'must be an http(s) URL')

/** `POST /v1/jobs/{job_id}/dispute`. */
export const openDisputeBody = z
  .object({
    assignment_id: entityId.optional().openapi({
      description: "Which worker's submitted assignment; needed by the creator of a job with several",
    }),
    reason: z.string().trim().min(1).max(5000),
    evidence_urls: z.array(httpUrl).max(10).optional(),
    criteria: z.array(z.string().min(1).max(40)).max(20).optional().openapi({
      description: "Ids of the job's acceptance criteria in question",
    }),
  })
  .openapi('OpenDisputeBody')
export type OpenDisputeBody = z.infer<typeof openDisputeBody>

const description = z.string().trim().min(1).max(5000).optional()

/** `POST /v1/disputes/{dispute_id}/evidence`: one piece, by type. */
export const addEvidenceBody = z
  .discriminatedUnion('type', [
    z.object({ type: z.literal('url'), url: httpUrl, description }),
    z.object({ type: z.literal('photo'), url: httpUrl, description }),
    z.object({
      type: z.literal('tracking'),
      carrier: z.string().trim().min(1).max(100),
      tracking_number: z.string().trim().min(1).max(100),
      description,
    }),
    z.object({
      type: z.literal('hash'),
      algorithm: z.string().trim().min(1).max(40),
      value: z.string().trim().min(1).max(200),
      description,
    }),
  ])
  .openapi('AddEvidenceBody')
export type AddEvidenceBody = z.infer<typeof addEvidenceBody>

/** The resolver's finding on one criterion in question. */
export const criterionFinding = z
  .object({
    criterion_id: z.string().min(1).max(40),
    finding: z.enum(['met', 'not_met', 'n/a']),
    note: z.string().max(2000).optional(),
  })
  .openapi('CriterionFinding')
export type CriterionFinding = z.infer<typeof criterionFinding>

/** `POST /v1/disputes/{dispute_id}/rule` (resolver only). */
export const ruleDisputeBody = z
  .object({
    ruling: z.enum(DISPUTE_RULINGS),
    split_bps: z.number().int().min(0).max(10_000).optional().openapi({
      description: "With `split`: basis points of the escrow (after the resolver's fee) to the worker",
    }),
    reasoning: z.string().trim().max(5000).optional(),
    findings: z.array(criterionFinding).max(20).optional(),
  })
  .superRefine((body, ctx) => {
    if (body.ruling === 'split' && body.split_bps === undefined)
      ctx.addIssue({ code: 'custom', path: ['split_bps'], message: 'is required with a split ruling' })
    if (body.ruling !== 'split' && body.split_bps !== undefined)
      ctx.addIssue({ code: 'custom', path: ['split_bps'], message: 'goes only with a split ruling' })
  })
  .openapi('RuleDisputeBody')
export type RuleDisputeBody = z.infer<typeof ruleDisputeBody>

/** `POST /v1/disputes/{dispute_id}/escrow-signature`: a self-custody signer's signature on one of the dispute's ops. */
export const disputeSignatureBody = z
  .object({
    op_id: z.string().regex(/^\d{1,18}$/, 'must be an op id'),
    signature: z.string().regex(/^0x[0-9a-fA-F]{130}$/, 'must be a 65-byte 0x-prefixed hex signature'),
  })
  .openapi('DisputeSignatureBody')
export type DisputeSignatureBody = z.infer<typeof disputeSignatureBody>

export const disputeIdParams = z.object({ dispute_id: entityId })

export const evidenceResponse = z
  .object({
    evidence_id: z.string(),
    dispute_id: z.string(),
    agent_id: z.string(),
    type: z.enum(EVIDENCE_TYPES),
    url: z.string().nullable(),
    carrier: z.string().nullable(),
    tracking_number: z.string().nullable(),
    algorithm: z.string().nullable(),
    value: z.string().nullable(),
    description: z.string().nullable(),
    created_at: z.string(),
  })
  .openapi('DisputeEvidence')
export type EvidenceResponse = z.infer<typeof evidenceResponse>

/** A dispute as its parties and resolver see it. */
export const disputeResponse = z
  .object({
    dispute_id: z.string(),
    job_id: z.string(),
    assignment_id: z.string(),
    opened_by_agent_id: z.string().nullable().openapi({ description: 'Null when the coordinator opened it' }),
    resolver_agent_id: z.string(),
    reason: z.string(),
    evidence_urls: z.array(z.string()),
    criteria_in_question: z.array(z.string()),
    deposit_amount: decimalAmount,
    budget_token: z.string(),
    status: z.enum(DISPUTE_STATUSES),
    ruling: z.enum(DISPUTE_RULINGS).nullable(),
    split_bps: z.number().int().nullable(),
    reasoning: z.string().nullable(),
    findings: z.array(criterionFinding),
    evidence: z.array(evidenceResponse),
    chain_ops: z.array(chainOpResponse).openapi({
      description:
        "The deposit's EscrowLock (signed by the opener) and, once ruled, the EscrowRuling ops on the job's escrow and on the deposit's (signed by the resolver)",
    }),
    created_at: z.string(),
    resolved_at: z.string().nullable(),
  })
  .openapi('Dispute')
export type DisputeResponse = z.infer<typeof disputeResponse>

/** `GET /v1/platform/dispute-info`. */
export const disputeInfoResponse = z
  .object({
    resolver_fee_bps: z.number().int(),
    dispute_deposit_bps: z.number().int(),
    platform_resolver_agent_id: z.string().nullable(),
  })
  .openapi('DisputeInfo')
export type DisputeInfoResponse = z.infer<typeof disputeInfoResponse>
