import type { PricingModel } from '../../protocol/services'
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
  input_schema: Record<string, unknown> | null
  output_schema: Record<string, unknown> | null
  created_at: Date
  updated_at: Date
}

const COLUMNS = `s.id, s.agent_id, s.name, s.description, s.category, s.pricing_model, s.price_amount::text,
  s.token_symbol, s.token_address, s.token_decimals, s.tags, s.enabled, s.response_time_seconds,
  s.settlement_interval, s.endpoint_url, s.input_schema, s.output_schema, s.created_at, s.updated_at`

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
       input_schema, output_schema)
     VALUES ($1, $2, $3, $4, $5, $6, $7::numeric, $8, $9, $10, $11::text[], $12, $13, $14, $15, $16::jsonb, $17::jsonb)`,
    [id, agentId, ...values(fields)],
  )
}

export async function updateService(db: Queryable, id: string, fields: ServiceFields): Promise<void> {
  await db.query(
    `UPDATE services SET name = $2, description = $3, category = $4, pricing_model = $5, price_amount = $6::numeric,
       token_symbol = $7, token_address = $8, token_decimals = $9, tags = $10::text[], enabled = $11,
       response_time_seconds = $12, settlement_interval = $13, endpoint_url = $14, input_schema = $15::jsonb,
       output_schema = $16::jsonb, updated_at = now()
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

/** Enabled services matching `filter`: the best full-text match first when searching, else newest first. */
export async function selectServicePage(db: Queryable, filter: ServiceFilter): Promise<ServiceRow[]> {
  const where = ['s.enabled']
  const parameters: unknown[] = []
  const add = (value: unknown) => {
    parameters.push(value)
    return `$${parameters.length}`
  }
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
