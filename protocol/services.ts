import { decimalAmount } from './amounts'
import { entityId, tagList, tagsQueryParam } from './jobs'
import { z } from './zod'

// The service registry (seed 004 "Service Registry").

/**
 * `fixed`: the listed price per task; `per_call`: the listed price per proxied call; `custom`:
 * priced on request; seed 002's `auction`: clients make offers (`POST /v1/negotiations`), the
 * listed price, if any, is where bidding starts; `hybrid`: the listed price, negotiable.
 */
export const PRICING_MODELS = ['fixed', 'per_call', 'custom', 'auction', 'hybrid'] as const
export type PricingModel = (typeof PRICING_MODELS)[number]

/** Models whose price is agreed in a negotiation rather than taken as listed. */
export const NEGOTIABLE_PRICING_MODELS: readonly PricingModel[] = ['custom', 'auction', 'hybrid']

/** Models that may leave `price_amount` out: priced on request, or by offers. */
export const UNPRICED_PRICING_MODELS: readonly PricingModel[] = ['custom', 'auction']

/** Seed 002's name for `price_amount`, accepted on input and shown on output. */
const basePrice = decimalAmount
  .nullable()
  .openapi({ description: 'Seed 002 alias of price_amount; give one of the two (or both, equal)' })

/** Lowercase alphanumeric and hyphens, like a tag: `development`, `data-analysis`. */
export const serviceCategory = z
  .string()
  .max(50)
  .regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, 'must be lowercase alphanumeric and hyphens')
const jsonSchema = z
  .record(z.string(), z.unknown())
  .refine((value) => JSON.stringify(value).length <= 16_384, 'must be at most 16 KB of JSON')
  .openapi({ description: 'A JSON Schema (an object)' })
const endpointUrl = z
  .string()
  .max(2000)
  .refine((value) => URL.canParse(value), 'must be a URL')
  .openapi({
    description: 'Where the invoke proxy calls: https (plain http to loopback only on the embedded stack)',
  })

/** How a service's endpoint is paid per call. */
export const ENDPOINT_PAYMENTS = ['none', 'x402'] as const
export type EndpointPayment = (typeof ENDPOINT_PAYMENTS)[number]

const serviceFields = {
  name: z.string().trim().min(1).max(200),
  description: z.string().max(5000),
  category: serviceCategory,
  pricing_model: z.enum(PRICING_MODELS),
  price_amount: decimalAmount.nullable(),
  base_price: basePrice,
  price_token: z.string().min(1).max(20).openapi({ example: 'USDC' }),
  tags: tagList,
  enabled: z.boolean(),
  response_time_seconds: z.number().int().min(1).max(604_800),
  settlement_interval: z.number().int().min(1).max(1_000_000).nullable(),
  endpoint_url: endpointUrl.nullable(),
  endpoint_payment: z.enum(ENDPOINT_PAYMENTS).openapi({
    description:
      "How the endpoint is paid per call: `none`, or `x402` (it answers 402 with x402's PAYMENT-REQUIRED; the proxy pays it, within the service's price, from the service agent's managed wallet, then calls again)",
  }),
  input_schema: jsonSchema.nullable(),
  output_schema: jsonSchema.nullable(),
}

/** `price_amount` or its alias `base_price`: undefined when neither is given. */
export function servicePriceOf(body: {
  price_amount?: string | null
  base_price?: string | null
}): string | null | undefined {
  return body.price_amount !== undefined ? body.price_amount : body.base_price
}

/** "5.50" and "5.5" are one amount: the decimal without trailing fractional zeros. */
function canonicalDecimal(value: string | null): string | null {
  return value === null ? null : value.replace(/(\.\d*?)0+$/, '$1').replace(/\.$/, '')
}

/** Both names given for the price, saying different things. */
function isPriceConflicting(body: { price_amount?: string | null; base_price?: string | null }): boolean {
  return (
    body.price_amount !== undefined &&
    body.base_price !== undefined &&
    canonicalDecimal(body.price_amount) !== canonicalDecimal(body.base_price)
  )
}

/**
 * `POST /v1/agents/me/services`: `price_amount` (or `base_price`) is required unless
 * `pricing_model` is `custom` or `auction`.
 */
export const createServiceBody = z
  .object({
    ...serviceFields,
    description: serviceFields.description.optional(),
    price_amount: serviceFields.price_amount.optional(),
    base_price: serviceFields.base_price.optional(),
    price_token: serviceFields.price_token.optional(),
    tags: tagList.optional(),
    enabled: serviceFields.enabled.optional(),
    response_time_seconds: serviceFields.response_time_seconds.optional(),
    settlement_interval: serviceFields.settlement_interval.optional(),
    endpoint_url: serviceFields.endpoint_url.optional(),
    endpoint_payment: serviceFields.endpoint_payment.optional(),
    input_schema: serviceFields.input_schema.optional(),
    output_schema: serviceFields.output_schema.optional(),
  })
  .refine(
    (body) => UNPRICED_PRICING_MODELS.includes(body.pricing_model) || (servicePriceOf(body) ?? null) !== null,
    { path: ['price_amount'], message: 'is required with a fixed, per_call or hybrid pricing model' },
  )
  .refine((body) => !isPriceConflicting(body), {
    path: ['base_price'],
    message: 'is an alias of price_amount and must equal it when both are given',
  })
  .openapi('CreateServiceBody')
export type CreateServiceBody = z.infer<typeof createServiceBody>

/** `PATCH /v1/services/{service_id}`: any field; `null` clears a nullable one. */
export const updateServiceBody = z
  .object(Object.fromEntries(Object.entries(serviceFields).map(([key, schema]) => [key, schema.optional()])))
  .refine((body) => Object.values(body).some((value) => value !== undefined), 'must set at least one field')
  .refine((body) => !isPriceConflicting(body as { price_amount?: string; base_price?: string }), {
    path: ['base_price'],
    message: 'is an alias of price_amount and must equal it when both are given',
  })
  .openapi('UpdateServiceBody') as unknown as z.ZodType<Partial<z.infer<z.ZodObject<typeof serviceFields>>>>
export type UpdateServiceBody = z.infer<typeof updateServiceBody>

/** `GET /v1/services`. */
export const listServicesQuery = z
  .object({
    category: serviceCategory.optional(),
    pricing_model: z.enum(PRICING_MODELS).optional(),
    min_price: decimalAmount.optional(),
    max_price: decimalAmount.optional(),
    agent_id: entityId.optional(),
    search: z.string().trim().min(1).max(200).optional(),
    tags: tagsQueryParam.optional(),
    limit: z.coerce.number().int().min(1).max(100).default(50),
    offset: z.coerce.number().int().min(0).max(10_000).default(0),
  })
  .openapi('ListServicesQuery')
export type ListServicesQuery = z.infer<typeof listServicesQuery>

export const serviceIdParams = z.object({ service_id: entityId })
export const agentIdParams = z.object({ agent_id: entityId })

/** A service as the API shows it; `endpoint_url` only to its owner. */
export const serviceResponse = z
  .object({
    service_id: z.string(),
    agent_id: z.string(),
    ...serviceFields,
    endpoint_url: z.string().nullable().optional().openapi({ description: 'Its owner only' }),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('Service')
export type ServiceResponse = z.infer<typeof serviceResponse>

/** Most matches `POST /v1/match` answers with. */
export const MATCH_LIMIT_MAX = 50

/**
 * `POST /v1/match` (seed 004 "Match Services"): what the caller needs, as free text, a category
 * and tags (at least one of the three), with an optional price ceiling in token units.
 */
export const matchServicesBody = z
  .object({
    query: z.string().trim().min(1).max(1000).optional(),
    category: serviceCategory.optional(),
    tags: tagList.optional(),
    budget_max: decimalAmount.optional(),
    limit: z.number().int().min(1).max(MATCH_LIMIT_MAX).default(10),
  })
  .refine(
    (body) => body.query !== undefined || body.category !== undefined || (body.tags?.length ?? 0) > 0,
    'must set at least one of query, category or tags',
  )
  .openapi('MatchServicesBody')
export type MatchServicesBody = z.infer<typeof matchServicesBody>

/** One matched service, its composite score (0-1, higher is better) and why it matched. */
export const serviceMatch = z
  .object({
    service_id: z.string(),
    agent_id: z.string(),
    name: serviceFields.name,
    description: serviceFields.description,
    category: serviceFields.category,
    pricing_model: serviceFields.pricing_model,
    price_amount: serviceFields.price_amount,
    base_price: serviceFields.base_price,
    price_token: serviceFields.price_token,
    tags: serviceFields.tags,
    score: z.number().min(0).max(1).openapi({ example: 0.82 }),
    match_reasons: z
      .array(z.string())
      .openapi({ example: ['text relevance', '2 matching tag(s)', 'high reputation (75)'] }),
  })
  .openapi('ServiceMatch')
export type ServiceMatch = z.infer<typeof serviceMatch>

/** `POST /v1/match`: the best `limit` matches, best first, and how many services matched in all. */
export const matchServicesResponse = z
  .object({ matches: z.array(serviceMatch), total: z.number().int().min(0) })
  .openapi('MatchServicesResponse')
export type MatchServicesResponse = z.infer<typeof matchServicesResponse>
