import type { EndpointPayment, PricingModel } from '../../protocol/services'
import type { Queryable } from '../db/pool'

// The services table.

export interface ServiceRow {
  id: string
  agent_id: string
  name: string
  description: string
  category: string
  pricing_model: PricingModel
  price_amount: string | null
  token_symbol: string
  token_address: string
  token_decimals: number
  tags: string[]
  enabled: boolean
  response_time_seconds: number
  settlement_interval: number | null
  endpoint_url: string | null
  endpoint_payment: EndpointPayment
  input_schema: Record<string, unknown> | null
  output_schema: Record<string, unknown> | null
  created_at: Date
  updated_at: Date
}

const COLUMNS = `s.id, s.agent_id, s.name, s.description, s.category, s.pricing_model, s.price_amount::text,
  s.token_symbol, s.token_address, s.token_decimals, s.tags, s.enabled, s.response_time_seconds,
  s.settlement_interval, s.endpoint_url, s.endpoint_payment, s.input_schema, s.output_schema, s.created_at,
  s.updated_at`

/** What a service is written with. */
export interface ServiceFields {
  name: string
  description: string
  category: string
  pricingModel: PricingModel
  priceAmount: bigint | null
  token: { symbol: string; address: string; decimals: number }
  tags: string[]
  enabled: boolean
  responseTimeSeconds: number
  settlementInterval: number | null
  endpointUrl: string | null
  endpointPayment: EndpointPayment
  inputSchema: Record<string, unknown> | null
  outputSchema: Record<string, unknown> | null
}

function values(fields: ServiceFields): unknown[] {
  return [
    fields.name,
    fields.description,
    fields.category,
    fields.pricingModel,
    fields.priceAmount === null ? null : fields.priceAmount.toString(),
    fields.token.symbol,
    fields.token.address,
    fields.token.decimals,
    fields.tags,
    fields.enabled,
    fields.responseTimeSeconds,
    fields.settlementInterval,
    fields.endpointUrl,
    fields.inputSchema === null ? null : JSON.stringify(fields.inputSchema),
    fields.outputSchema === null ? null : JSON.stringify(fields.outputSchema),
    fields.endpointPayment,
  ]
}

export async function insertService(
  db: Queryable,
  id: string,
  agentId: string,
  fields: ServiceFields,
): Promise<void> {
  await db.query(
    `INSERT INTO services (id, agent_id, name, description, category, pricing_model, price_amount, token_symbol,
       token_address, token_decimals, tags, enabled, response_time_seconds, settlement_interval, endpoint_url,
       input_schema, output_schema, endpoint_payment)
     VALUES ($1, $2, $3, $4, $5, $6, $7::numeric, $8, $9, $10, $11::text[], $12, $13, $14, $15, $16::jsonb, $17::jsonb,
       $18)`,
    [id, agentId, ...values(fields)],
  )
}

export async function updateService(db: Queryable, id: string, fields: ServiceFields): Promise<void> {
  await db.query(
    `UPDATE services SET name = $2, description = $3, category = $4, pricing_model = $5, price_amount = $6::numeric,
       token_symbol = $7, token_address = $8, token_decimals = $9, tags = $10::text[], enabled = $11,
       response_time_seconds = $12, settlement_interval = $13, endpoint_url = $14, input_schema = $15::jsonb,
       output_schema = $16::jsonb, endpoint_payment = $17, updated_at = now()
     WHERE id = $1`,
    [id, ...values(fields)],
  )
}

export async function deleteServiceRow(db: Queryable, id: string): Promise<void> {
  await db.query('DELETE FROM services WHERE id = $1', [id])
}

/** The service, or null; `forUpdate` locks it. */
export async function selectService(
  db: Queryable,
  id: string,
  options: { forUpdate?: boolean } = {},
): Promise<ServiceRow | null> {
  const { rows } = await db.query(
    `SELECT ${COLUMNS} FROM services AS s WHERE s.id = $1 ${options.forUpdate ? 'FOR UPDATE' : ''}`,
    [id],
  )
  return (rows[0] as ServiceRow | undefined) ?? null
}

/** An agent's services, newest first; disabled ones only with `includeDisabled`. */
export async function selectAgentServices(
  db: Queryable,
  agentId: string,
  options: { includeDisabled: boolean },
): Promise<ServiceRow[]> {
  const { rows } = await db.query(
    `SELECT ${COLUMNS} FROM services AS s WHERE s.agent_id = $1 AND ($2 OR s.enabled)
      ORDER BY s.created_at DESC, s.id`,
    [agentId, options.includeDisabled],
  )
  return rows as ServiceRow[]
}

export interface ServiceFilter {
  category?: string
  pricingModel?: PricingModel
  /** Prices in base units of the service's token. */
  minPrice?: bigint
  maxPrice?: bigint
  agentId?: string
  search?: string
  tags?: string[]
  limit: number
  offset: number
}

/** Positional parameters for a query built from optional conditions: `add(value)` answers its `$n`. */
function parameterList(): { parameters: unknown[]; add: (value: unknown) => string } {
  const parameters: unknown[] = []
  return {
    parameters,
    add(value) {
      parameters.push(value)
      return `$${parameters.length}`
    },
  }
}

/** Enabled services matching `filter`: the best full-text match first when searching, else newest first. */
export async function selectServicePage(db: Queryable, filter: ServiceFilter): Promise<ServiceRow[]> {
  const where = ['s.enabled']
  const { parameters, add } = parameterList()
  if (filter.category) where.push(`s.category = ${add(filter.category)}`)
  if (filter.pricingModel) where.push(`s.pricing_model = ${add(filter.pricingModel)}`)
  if (filter.minPrice !== undefined)
    where.push(`s.price_amount >= ${add(filter.minPrice.toString())}::numeric`)
  if (filter.maxPrice !== undefined)
    where.push(`s.price_amount <= ${add(filter.maxPrice.toString())}::numeric`)
  if (filter.agentId) where.push(`s.agent_id = ${add(filter.agentId)}::uuid`)
  if (filter.tags?.length) where.push(`s.tags && ${add(filter.tags)}::text[]`)
  let order = 's.created_at DESC, s.id'
  if (filter.search) {
    const query = `websearch_to_tsquery('english', ${add(filter.search)})`
    where.push(`s.search @@ ${query}`)
    order = `ts_rank(s.search, ${query}) DESC, s.created_at DESC, s.id`
  }
  const { rows } = await db.query(
    `SELECT ${COLUMNS} FROM services AS s WHERE ${where.join(' AND ')}
      ORDER BY ${order} LIMIT ${add(filter.limit)} OFFSET ${add(filter.offset)}`,
    parameters,
  )
  return rows as ServiceRow[]
}

/** What `POST /v1/match` looks for; at least one of `query`, `category` and `tags` is set. */
export interface MatchFilter {
  query?: string
  category?: string
  /** Distinct. */
  tags: string[]
  /** Base units; services priced above it are left out, custom-priced ones are not. */
  budgetMax?: bigint
}

/** How much each criterion counts in a match's score; they sum to 1 over the criteria in play. */
export interface MatchWeights {
  text: number
  tags: number
  reputation: number
  responseTime: number
  price: number
}

/** A matched service: its row, each criterion's score in [0, 1], and the composite. */
export interface ServiceMatchRow extends ServiceRow {
  /** `ts_rank_cd` over the query's words, divided by the best among the candidates. */
  text_score: number
  matching_tags: number
  reputation: number
  score: number
  /** How many services matched, before the limit. */
  total: number
}

/**
 * The query's words as a tsquery that matches any of them: a request is described in prose, and a
 * service that covers some of it is a candidate that `ts_rank_cd` ranks below one that covers all.
 * A lexeme never holds a space, so ` & ` only ever is plainto_tsquery's operator.
 */
const ANY_WORD_QUERY = (text: string) =>
  `replace(plainto_tsquery('english', ${text})::text, ' & ', ' | ')::tsquery`

/**
 * What a service must be to match `filter`: enabled, in the category, within the budget, and
 * sharing a word of the query (`rq.query`) or a tag with it, where those are given.
 */
function matchConditions(filter: MatchFilter, add: (value: unknown) => string): string[] {
  const where = ['s.enabled']
  if (filter.category !== undefined) where.push(`s.category = ${add(filter.category)}`)
  if (filter.budgetMax !== undefined) {
    where.push(
      // An auction's listed price is only where offers start, so it is within any budget.
      `(s.pricing_model IN ('custom', 'auction') OR s.price_amount <= ${add(filter.budgetMax.toString())}::numeric)`,
    )
  }
  const relevance = []
  if (filter.query !== undefined) relevance.push('s.search @@ rq.query')
  if (filter.tags.length > 0) relevance.push(`s.tags && ${add(filter.tags)}::text[]`)
  if (relevance.length > 0) where.push(`(${relevance.join(' OR ')})`)
  return where
}

/** The agents owning a service `filter` matches: whose reputation the ranking needs. */
export async function selectMatchAgentIds(db: Queryable, filter: MatchFilter): Promise<string[]> {
  const { parameters, add } = parameterList()
  const query = ANY_WORD_QUERY(`${add(filter.query ?? null)}::text`)
  const where = matchConditions(filter, add)
  const { rows } = await db.query(
    `SELECT DISTINCT s.agent_id FROM services AS s CROSS JOIN (SELECT ${query} AS query) AS rq
      WHERE ${where.join(' AND ')}`,
    parameters,
  )
  return rows.map((row) => row.agent_id as string)
}

/**
 * The best `limit` services `filter` matches among those of the agents in `reputations` (others
 * are left out), ranked by the weighted sum of the criteria's scores, each in [0, 1]: text
 * relevance (relative to the best candidate), the share of the requested tags the service has,
 * reputation / 100, 3600 / (3600 + response time in seconds), and 1 - price / budget (0.5 for a
 * custom price). The score is rounded to 3 decimals; ties go to the older service, then the id.
 */
export async function selectMatches(
  db: Queryable,
  filter: MatchFilter,
  reputations: ReadonlyMap<string, number>,
  weights: MatchWeights,
  limit: number,
): Promise<ServiceMatchRow[]> {
  const { parameters, add } = parameterList()
  const query = ANY_WORD_QUERY(`${add(filter.query ?? null)}::text`)
  const where = matchConditions(filter, add)
  const agentIds = add([...reputations.keys()])
  const scores = add([...reputations.values()])
  const tagCount = add(filter.tags.length)
  const budget = add(filter.budgetMax?.toString() ?? null)
  const weight = (value: number) => `${add(value)}::float8`
  const { rows } = await db.query(
    `WITH reputations AS (
       SELECT r.agent_id, r.score FROM unnest(${agentIds}::uuid[], ${scores}::int[]) AS r (agent_id, score)
     ),
     candidates AS (
       SELECT ${COLUMNS},
         coalesce(ts_rank_cd(s.search, rq.query), 0)::float8 AS text_rank,
         (SELECT count(*) FROM unnest(s.tags) AS t (tag) WHERE t.tag = ANY(${add(filter.tags)}::text[]))::int
           AS matching_tags,
         r.score AS reputation,
         CASE WHEN ${budget}::numeric IS NULL OR s.pricing_model IN ('custom', 'auction') THEN 0.5
              WHEN ${budget}::numeric = 0 THEN 1
              ELSE 1 - s.price_amount / ${budget}::numeric END::float8 AS price_score
       FROM services AS s
       CROSS JOIN (SELECT ${query} AS query) AS rq
       JOIN reputations AS r ON r.agent_id = s.agent_id
       WHERE ${where.join(' AND ')}
     ),
     scored AS (
       SELECT c.*, coalesce(c.text_rank / nullif(max(c.text_rank) OVER (), 0), 0) AS text_score
       FROM candidates AS c
     )
     SELECT c.*,
       round((${weight(weights.text)} * c.text_score
         + ${weight(weights.tags)} * c.matching_tags / greatest(${tagCount}::int, 1)
         + ${weight(weights.reputation)} * c.reputation / 100.0
         + ${weight(weights.responseTime)} * 3600.0 / (3600 + c.response_time_seconds)
         + ${weight(weights.price)} * c.price_score)::numeric, 3)::float8 AS score,
       count(*) OVER ()::int AS total
     FROM scored AS c
     ORDER BY score DESC, c.created_at, c.id
     LIMIT ${add(limit)}`,
    parameters,
  )
  return rows as ServiceMatchRow[]
}
