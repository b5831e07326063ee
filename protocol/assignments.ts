import type { Hex, TypedDataDefinition } from 'viem'
import { decimalAmount } from './amounts'
import { ACCEPTANCE_CRITERIA_MAX, entityId, jobResponse } from './jobs'
import { OpKind } from './typed-data'
import { z } from './zod'

/**
 * Per-worker lifecycle (seed 004 "Assignment lifecycle"), plus `awaiting_escrow`: awarded by a
 * self-custody payer who has not yet signed the escrow lock, so no work can start on it.
 */
export const ASSIGNMENT_STATUSES = [
  'awaiting_escrow',
  'in_progress',
  'submitted',
  'accepted',
  'disputed',
  'cancelled',
] as const
export type AssignmentStatus = (typeof ASSIGNMENT_STATUSES)[number]

/** Largest inline deliverable, in characters (seed 004 "Submit Deliverable"). */
export const DELIVERABLE_MAX = 50_000

/** `sha256:` and 64 lowercase hex digits. */
export const deliverableHash = z
  .string()
  .regex(/^sha256:[0-9a-f]{64}$/, 'must be "sha256:" followed by 64 lowercase hex digits')

/** A submission's answer to one acceptance criterion. */
export const criterionAnswer = z
  .object({
    criterion_id: z.string().min(1).max(40),
    status: z.enum(['met', 'not_met', 'n/a']),
    note: z.string().max(2000).optional(),
  })
  .openapi('CriterionAnswer')
export type CriterionAnswer = z.infer<typeof criterionAnswer>

/**
 * `POST /v1/jobs/{job_id}/submit`: a URL (`http://` or `https://`) or inline text. `deliverable_url`
 * is the old name and still accepted. Without `deliverable_hash`, inline text is hashed here; with
 * one, inline text must match it.
 */
export const submitDeliverableBody = z
  .object({
    deliverable: z.string().min(1).max(DELIVERABLE_MAX).optional(),
    deliverable_url: z.string().min(1).max(DELIVERABLE_MAX).optional(),
    deliverable_hash: deliverableHash.optional(),
    criteria_answers: z.array(criterionAnswer).max(ACCEPTANCE_CRITERIA_MAX).optional().openapi({
      description:
        "The worker's answer to each of the job's acceptance criteria it addresses, each at most once",
    }),
  })
  .transform((body, ctx) => {
    const deliverable = body.deliverable ?? body.deliverable_url
    if (deliverable === undefined || deliverable.trim() === '') {
      ctx.addIssue({ code: 'custom', path: ['deliverable'], message: 'is required (a URL or inline text)' })
      return z.NEVER
    }
    return {
      deliverable,
      deliverable_hash: body.deliverable_hash,
      criteria_answers: body.criteria_answers ?? [],
    }
  })
  .openapi('SubmitDeliverableBody')
export type SubmitDeliverableBody = z.infer<typeof submitDeliverableBody>

/** Kinds of chain operation the coordinator queues for the settler, each needing the payer's signature. */
export const CHAIN_OP_KINDS = [
  'escrow_lock',
  'escrow_release',
  'escrow_ruling',
  'escrow_refund',
  'escrow_partial_release',
] as const
export type ChainOpKind = (typeof CHAIN_OP_KINDS)[number]

/** The one mapping from the API's (and `escrow_ops.kind`'s) op names to the vault's `OpKind`. */
export const OP_KIND_OF = {
  escrow_lock: OpKind.EscrowLock,
  escrow_release: OpKind.EscrowRelease,
  escrow_ruling: OpKind.EscrowRuling,
  escrow_refund: OpKind.EscrowRefund,
  escrow_partial_release: OpKind.EscrowPartialRelease,
} as const satisfies Record<ChainOpKind, OpKind>

/**
 * `awaiting_signature` (a self-custody payer must sign) → `signed` (waiting for the assignment's
 * earlier op) → the settler queue's own statuses: `pending` → `batched` → `confirmed` | `failed`.
 * An op whose escrow lock failed is `failed` too, whatever it was waiting for (`failure_reason`).
 */
export const CHAIN_OP_STATUSES = [
  'awaiting_signature',
  'signed',
  'pending',
  'batched',
  'confirmed',
  'failed',
] as const
export type ChainOpStatus = (typeof CHAIN_OP_STATUSES)[number]

const hex = z.string().regex(/^0x[0-9a-fA-F]*$/)

/**
 * EIP-712 typed data as JSON. Integer fields of `message` (amount, fees, expiry) are decimal
 * strings; turn them into bigint (`BigInt(x)`) before signing with viem. Bool fields (an
 * `EscrowLock`'s `partialRelease`) are `"true"` or `"false"`; turn them into booleans.
 */
export const typedDataJson = z
  .object({
    domain: z.object({
      name: z.string(),
      version: z.string(),
      chainId: z.number().int(),
      verifyingContract: hex,
    }),
    types: z.record(z.string(), z.array(z.object({ name: z.string(), type: z.string() }))),
    primaryType: z.string(),
    message: z.record(z.string(), z.string()),
  })
  .openapi('TypedData')
export type TypedDataJson = z.infer<typeof typedDataJson>

function boolFromJson(name: string, value: string): boolean {
  if (value !== 'true' && value !== 'false')
    throw new Error(`typed data field ${name} is not "true" or "false"`)
  return value === 'true'
}

/**
 * Typed data in the API's JSON shape back in the shape viem and ethers sign: integer fields of the
 * message as bigint, bool fields as booleans. Anyone asked to sign an op (`typed_data`,
 * `funding_to_sign`, `close_to_sign`) passes it through this first.
 */
export function typedDataFromJson(json: TypedDataJson): TypedDataDefinition {
  const fields = json.types[json.primaryType] ?? []
  const message: Record<string, unknown> = {}
  for (const field of fields) {
    const value = json.message[field.name]!
    message[field.name] = /^u?int\d*$/.test(field.type)
      ? BigInt(value)
      : field.type === 'bool'
        ? boolFromJson(field.name, value)
        : value
  }
  return {
    domain: { ...json.domain, verifyingContract: json.domain.verifyingContract as Hex },
    types: json.types,
    primaryType: json.primaryType,
    message,
  } as unknown as TypedDataDefinition
}

/** A signed (or to-be-signed) operation the settler will put on-chain. */
export const chainOpResponse = z
  .object({
    op_id: z.string(),
    kind: z.enum(CHAIN_OP_KINDS),
    status: z.enum(CHAIN_OP_STATUSES),
    signer_address: hex,
    typed_data: typedDataJson,
    signature: hex.nullable(),
    failure_reason: z.string().nullable().openapi({
      description:
        "Why a failed op will never be carried out: the vault's revert (e.g. `VaultInsufficientBalance(…)`), or its lock's",
    }),
    created_at: z.string(),
  })
  .openapi('ChainOp')
export type ChainOpResponse = z.infer<typeof chainOpResponse>

/** An assignment: one worker's slot on a job, with its escrow and the chain ops that back it. */
export const assignmentResponse = z
  .object({
    assignment_id: z.string(),
    job_id: z.string(),
    bid_id: z.string(),
    creator_agent_id: z.string(),
    worker_agent_id: z.string(),
    status: z.enum(ASSIGNMENT_STATUSES),
    escrow_amount: decimalAmount,
    budget_token: z.string(),
    fee_bps: z.number().int(),
    escrow_id: hex
      .nullable()
      .openapi({ description: 'Null for a free assignment (a bid of 0): no money, no escrow' }),
    deliverable: z.string().nullable(),
    deliverable_hash: z.string().nullable(),
    criteria_answers: z.array(criterionAnswer),
    submitted_at: z.string().nullable(),
    accepted_at: z.string().nullable(),
    due_at: z.string(),
    created_at: z.string(),
    updated_at: z.string(),
    chain_ops: z.array(chainOpResponse),
  })
  .openapi('Assignment')
export type AssignmentResponse = z.infer<typeof assignmentResponse>

/** `POST /v1/jobs/{job_id}/award`: the job after the award and the new assignment. */
export const awardResponse = z
  .object({ job: jobResponse, assignment: assignmentResponse })
  .openapi('AwardResponse')
export type AwardResponse = z.infer<typeof awardResponse>

/** `POST /v1/jobs/{job_id}/accept`: the job after acceptance and every assignment accepted. */
export const acceptResponse = z
  .object({ job: jobResponse, assignments: z.array(assignmentResponse) })
  .openapi('AcceptResponse')
export type AcceptResponse = z.infer<typeof acceptResponse>

/** `POST /v1/assignments/{assignment_id}/escrow-signature`: the payer's signature over an op's typed data. */
/** The ops a payer signs: the lock at award, the release at accept (rulings and refunds are others'). */
export const PAYER_OP_KINDS = ['escrow_lock', 'escrow_release'] as const satisfies readonly ChainOpKind[]

export const escrowSignatureBody = z
  .object({
    kind: z.enum(PAYER_OP_KINDS),
    signature: z.string().regex(/^0x[0-9a-fA-F]{130}$/, 'must be a 65-byte 0x-prefixed hex signature'),
  })
  .openapi('EscrowSignatureBody')
export type EscrowSignatureBody = z.infer<typeof escrowSignatureBody>

/** Path parameter of every `/v1/assignments/{assignment_id}` route. */
export const assignmentIdParams = z.object({ assignment_id: entityId })
