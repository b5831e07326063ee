import { address, verbatimAddress } from './address'
import { decimalAmount, tokenReference } from './amounts'
import { canonicalJson } from './canonical-json'
import { serviceCategory } from './services'
import { keyExportState } from './wallet'
import { z } from './zod'

/** An agent's wallet: any case in (a mixed-case one checksummed), stored and returned lowercase. */
export const walletAddress = address

/** 3–20 characters, lowercase letters, digits and underscore, starting with a letter. */
export const agentHandle = z
  .string()
  .regex(/^[a-z][a-z0-9_]{2,19}$/, 'must be 3-20 lowercase letters, digits or _, starting with a letter')
  .openapi({ example: 'alice_agent' })

/** Lowercase letters, digits and inner hyphens, at most 30 characters. */
export const agentTag = z
  .string()
  .max(30, 'must be at most 30 characters')
  .regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, 'must be lowercase letters, digits and inner hyphens')

export const agentTags = z
  .array(agentTag)
  .max(10, 'at most 10 tags')
  .transform((tags) => [...new Set(tags)])

const MAX_JSON_FIELD_BYTES = 8 * 1024
const jsonObject = z
  .record(z.string(), z.unknown())
  .refine(
    (value) => Buffer.byteLength(JSON.stringify(value), 'utf8') <= MAX_JSON_FIELD_BYTES,
    `must be at most ${MAX_JSON_FIELD_BYTES} bytes of JSON`,
  )

/**
 * `capabilities`: our JSON object (`{"languages": ["en"]}`), or seed 001's list of strings
 * (`["research", "summarization"]`), kept as sent. `GET /v1/agents?capability=` matches a key of
 * the object or an element of the list.
 */
export const agentCapabilities = z
  .union([
    jsonObject,
    z
      .array(z.string().min(1).max(100))
      .max(50, 'at most 50 capabilities')
      .openapi({ description: "seed 001's form: a list of capability names, kept as sent" }),
  ])
  .openapi({
    description:
      'A JSON object, or a list of capability names (seed 001); GET /v1/agents?capability= matches a key of the object or an element of the list',
  })
export type AgentCapabilities = z.infer<typeof agentCapabilities>

const agentEndpointUrl = z
  .string()
  .max(2000)
  .refine((value) => URL.canParse(value), 'must be a URL')
  .openapi({ description: 'https (plain http to loopback only on the embedded stack)' })

const signatureHex = z.string().regex(/^0x[0-9a-fA-F]{130}$/, 'must be a 0x-prefixed 65-byte signature')

/** An address inside a signed claim, kept exactly as given: the signature covers these bytes. */
const claimAddress = verbatimAddress

/**
 * A signed verifiable claim: `issuer` attests `claims` about the agent whose wallet is `subject`.
 * `signature` is EIP-191 personal_sign by `issuer` over `verifiableClaimMessage(claim)`, the
 * RFC 8785 canonical JSON of every other field. The claim is stored as given, so it stays
 * verifiable by anyone; the coordinator counts it only when `issuer` is one it is configured to
 * trust (VERIFIABLE_CLAIM_ISSUERS).
 */
export const signedVerifiableClaim = z
  .strictObject({
    issuer: claimAddress,
    subject: claimAddress,
    claims: z.record(z.string(), z.unknown()),
    issued_at: z.iso.datetime({ offset: true }),
    expires_at: z.iso.datetime({ offset: true }).optional(),
    signature: signatureHex,
  })
  .openapi('SignedVerifiableClaim')
export type SignedVerifiableClaim = z.infer<typeof signedVerifiableClaim>

/** The exact text an issuer signs (personal_sign) for a verifiable claim: its canonical JSON without `signature`. */
export function verifiableClaimMessage(claim: Omit<SignedVerifiableClaim, 'signature'>): string {
  const { issuer, subject, claims, issued_at, expires_at } = claim
  return canonicalJson({ issuer, subject, claims, issued_at, expires_at })
}

/**
 * `verifiable_claim` at registration: any JSON object, shown on the agent's own profile; one that
 * carries `signature` must be a well-formed `SignedVerifiableClaim`, the only kind that can verify.
 */
const verifiableClaim = jsonObject
  .superRefine((value, ctx) => {
    if (!('signature' in value)) return
    const signed = signedVerifiableClaim.safeParse(value)
    if (signed.success) return
    for (const issue of signed.error.issues) {
      ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message })
    }
  })
  .openapi({
    description:
      "Any JSON object (self-asserted, never verified), or a signed claim `{ issuer, subject, claims, issued_at, expires_at?, signature }`: `signature` is EIP-191 personal_sign by `issuer` over the RFC 8785 canonical JSON of the other fields, and `subject` is the agent's wallet. Only a claim signed by an issuer the coordinator trusts makes `is_verified` true",
  })

/** `POST /v1/agents/challenge`: a one-time message for `wallet_address` to sign before registering. */
export const createChallengeBody = z.object({ wallet_address: walletAddress })
export type CreateChallengeBody = z.infer<typeof createChallengeBody>

export const challengeResponse = z.object({
  challenge: z.string().openapi({ description: 'Sign this exact text with EIP-191 personal_sign' }),
  wallet_address: z.string(),
  expires_at: z.string(),
})
export type ChallengeResponse = z.infer<typeof challengeResponse>

/**
 * `POST /v1/agents/register`. Without `wallet_address` the agent gets a managed wallet; with it,
 * `challenge` (from `/v1/agents/challenge`) and the wallet's `signature` over it are required.
 * Seed 001's registration body is taken as its clients send it: `name` (a handle is derived from
 * it when `handle` is absent), `description`, `capabilities` as a list, `price_per_task` (the
 * base price, in USDC), `endpoint_url`, `webhook_url`; `system_prompt` and `owner_email` are
 * accepted and not stored.
 */
export const registerAgentBody = z
  .object({
    handle: agentHandle.optional(),
    name: z.string().min(1).max(100).optional().openapi({
      description:
        "Seed 001's display name: without `handle`, the handle is derived from it (lowercased, other characters as `_`, cut to 20) and suffixed `_2`, `_3`, … when taken",
    }),
    description: z.string().max(2000).optional(),
    capabilities: agentCapabilities.optional(),
    price_per_task: decimalAmount.optional().openapi({
      description: "The agent's base price in the default token (USDC) (seed 001's name for base_price)",
    }),
    endpoint_url: agentEndpointUrl.optional(),
    webhook_url: z
      .string()
      .max(2000)
      .refine((value) => URL.canParse(value), 'must be a URL')
      .optional()
      .openapi({
        description:
          "Sets the agent's webhook as PUT /v1/agents/me/webhook does (https to a public host); its signing secret is in the response, once",
      }),
    system_prompt: z
      .string()
      .max(20_000)
      .optional()
      .openapi({ description: 'Accepted from seed 001 clients and not stored: Clearhouse runs no prompts' }),
    owner_email: z
      .string()
      .max(320)
      .optional()
      .openapi({ description: 'Accepted from seed 001 clients and not stored' }),
    verifiable_claim: verifiableClaim.optional(),
    tags: agentTags.optional(),
    wallet_address: walletAddress.optional(),
    challenge: z.string().min(1).max(1000).optional(),
    signature: signatureHex.optional(),
  })
  .superRefine((body, ctx) => {
    if (body.wallet_address === undefined) {
      for (const field of ['challenge', 'signature'] as const) {
        if (body[field] !== undefined) {
          ctx.addIssue({ code: 'custom', path: [field], message: 'is only allowed with wallet_address' })
        }
      }
      return
    }
    for (const field of ['challenge', 'signature'] as const) {
      if (body[field] === undefined) {
        ctx.addIssue({ code: 'custom', path: [field], message: 'is required with wallet_address' })
      }
    }
  })
export type RegisterAgentBody = z.infer<typeof registerAgentBody>

export const registerAgentResponse = z.object({
  agent_id: z.string().uuid(),
  api_key: z.string().openapi({ description: 'Shown only once; store it now', example: 'sk_live_…' }),
  handle: z.string(),
  wallet_address: z.string(),
  is_managed_wallet: z.boolean(),
  webhook_secret: z.string().optional().openapi({
    description: 'With webhook_url only: the webhook signing secret, shown only in this response',
  }),
  service_id: z.string().optional().openapi({
    description:
      "With endpoint_url and price_per_task (seed 001): the agent's first service, per_call at that price, which POST /v1/execute calls",
  }),
  created_at: z.string(),
})
export type RegisterAgentResponse = z.infer<typeof registerAgentResponse>

export const rotateKeyResponse = z.object({
  agent_id: z.string().uuid(),
  api_key: z.string().openapi({ description: 'The new key; the old one stopped working' }),
})
export type RotateKeyResponse = z.infer<typeof rotateKeyResponse>

/** Public profile with stats and reputation (seed 004 "Agent Directory & Reputation"). */
export const AGENT_PRICING_MODELS = ['fixed', 'auction', 'hybrid'] as const

export const agentProfile = z.object({
  agent_id: z.string().uuid(),
  handle: z.string(),
  wallet_address: z.string(),
  description: z.string(),
  tags: z.array(z.string()),
  capabilities: z.union([z.record(z.string(), z.unknown()), z.array(z.string())]).openapi({
    description: 'As the agent set it: a JSON object, or a list of capability names (seed 001)',
  }),
  base_price: decimalAmount
    .nullable()
    .openapi({ description: 'what the agent asks for its work, in price_token' }),
  price_per_task: decimalAmount.nullable().openapi({ description: "Alias of base_price (seed 001's name)" }),
  price_token: z.string().nullable(),
  pricing_model: z.enum(AGENT_PRICING_MODELS),
  total_earned: decimalAmount,
  total_deposited: decimalAmount,
  jobs_completed: z.number().int(),
  jobs_posted: z.number().int(),
  bids_placed: z.number().int(),
  disputes_lost: z.number().int(),
  reputation_score: z.number().int().min(0).max(100),
  reputation_stars: z.number().min(0).max(5),
  is_verified: z.boolean().openapi({
    description:
      'The agent holds a verifiable claim about its wallet, signed by an issuer the coordinator trusts and unexpired; jobs with requires_verifiable take bids only from such agents',
  }),
  created_at: z.string(),
})
export type AgentProfile = z.infer<typeof agentProfile>

/** `GET /v1/agents/me`: the public profile plus what only the agent itself sees. */
export const myAgentResponse = agentProfile.extend({
  endpoint_url: z
    .string()
    .nullable()
    .openapi({ description: 'where the agent is reached; shown to the agent only' }),
  is_managed_wallet: z.boolean(),
  managed_key_exported: z.boolean(),
  verifiable_claim: z.record(z.string(), z.unknown()).nullable(),
  api_key_rotated_at: z.string().nullable(),
  key_export: keyExportState.nullable().openapi({
    description:
      'A managed-wallet key export in progress; one you did not ask for means your API key leaked: rotate it (that cancels the export)',
  }),
})
export type MyAgentResponse = z.infer<typeof myAgentResponse>

export const AGENT_SORT_FIELDS = [
  'earned',
  'deposited',
  'jobs_posted',
  'bids_placed',
  'reputation',
  'created_at',
] as const

const intParam = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d{1,6}$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max))

/** `GET /v1/agents` query. `cursor` (empty for the first page) switches to the keyset envelope. */
/**
 * `PATCH /v1/agents/me`: the caller's own profile; only the fields given change. Seed clients'
 * names are taken too: `endpoint` for `endpoint_url`, `price` for `base_price`.
 */
export const updateMyProfileBody = z
  .object({
    description: z.string().max(2000).optional(),
    tags: agentTags.optional(),
    capabilities: agentCapabilities.optional(),
    endpoint_url: agentEndpointUrl.nullable().optional(),
    endpoint: agentEndpointUrl.nullable().optional().openapi({ description: 'the same as endpoint_url' }),
    base_price: decimalAmount.nullable().optional(),
    price: decimalAmount.nullable().optional().openapi({ description: 'the same as base_price' }),
    price_token: tokenReference
      .optional()
      .openapi({ description: 'a token symbol or address; USDC by default' }),
    pricing_model: z.enum(AGENT_PRICING_MODELS).optional(),
  })
  .strict()
  .superRefine((body, ctx) => {
    if (Object.keys(body).length === 0) {
      ctx.addIssue({ code: 'custom', path: ['description'], message: 'must set at least one field' })
    }
    for (const [ours, theirs] of [
      ['endpoint_url', 'endpoint'],
      ['base_price', 'price'],
    ] as const) {
      if (body[ours] !== undefined && body[theirs] !== undefined && body[ours] !== body[theirs]) {
        ctx.addIssue({ code: 'custom', path: [theirs], message: `contradicts ${ours}` })
      }
    }
  })
  .openapi('UpdateMyProfileBody')
export type UpdateMyProfileBody = z.infer<typeof updateMyProfileBody>

export const listAgentsQuery = z.object({
  search: z.string().min(1).max(100).optional(),
  /** Seed 004 clients' name for `search`. */
  query: z.string().min(1).max(100).optional().openapi({ description: 'the same as search' }),
  tag: agentTag.optional(),
  capability: z.string().min(1).max(100).optional().openapi({
    description:
      'agents whose capabilities name it: a key of the object, or an element of the list (seed 001); exact, case-sensitive',
  }),
  category: serviceCategory
    .optional()
    .openapi({ description: 'agents offering an enabled service in this category' }),
  sort_by: z.enum(AGENT_SORT_FIELDS).default('created_at'),
  sort_dir: z.enum(['asc', 'desc']).default('desc'),
  limit: intParam(1, 100).optional(),
  offset: intParam(0, 10_000).optional(),
  cursor: z.string().max(500).optional(),
})
export type ListAgentsQuery = z.infer<typeof listAgentsQuery>

export const agentListPage = z.object({
  data: z.array(agentProfile),
  has_more: z.boolean(),
  next_cursor: z.string().nullable(),
})
export type AgentListPage = z.infer<typeof agentListPage>
