import { randomUUID } from 'node:crypto'
import type {
  CreateServiceBody,
  ListServicesQuery,
  ServiceResponse,
  UpdateServiceBody,
} from '../../protocol/services'
import { findAgentById } from '../agents/agents-service'
import type { AppContext } from '../app-context'
import type { Actor } from '../auth/actor'
import type { Queryable } from '../db/pool'
import { withTransaction } from '../db/pool'
import { ForbiddenError, NotFoundError } from '../errors'
import { fieldError, formatUnits, parseTokenAmount } from '../jobs/job-tokens'
import { resolveToken } from '../ledger/tokens'
import {
  deleteServiceRow,
  insertService,
  selectAgentServices,
  selectService,
  selectServicePage,
  updateService,
  type ServiceFields,
  type ServiceRow,
} from './services-queries'

/** Seed 004's default for how long a provider takes to answer. */
const DEFAULT_RESPONSE_TIME_SECONDS = 3600

/**
 * Where the invoke proxy may call: https anywhere, or plain http to this machine on the embedded
 * stack (a provider running beside `npm start`). The proxy checks the resolved address again on
 * every call; this refuses what can never be valid.
 */
function checkEndpointUrl(context: Pick<AppContext, 'isDevChain'>, value: string | null): string | null {
  if (value === null) return null
  const url = new URL(value)
  const isLoopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname)
  if (url.username || url.password) throw fieldError('body', 'endpoint_url', 'must not carry credentials')
  if (url.protocol === 'https:') return url.toString()
  if (url.protocol === 'http:' && isLoopback && context.isDevChain) return url.toString()
  throw fieldError(
    'body',
    'endpoint_url',
    'must be an https URL (plain http only to loopback on the embedded stack)',
  )
}

function toServiceResponse(row: ServiceRow, viewerId: string | null): ServiceResponse {
  return {
    service_id: row.id,
    agent_id: row.agent_id,
    name: row.name,
    description: row.description,
    category: row.category,
    pricing_model: row.pricing_model,
    price_amount: row.price_amount === null ? null : formatUnits(row.price_amount, row.token_decimals),
    price_token: row.token_symbol,
    tags: row.tags,
    enabled: row.enabled,
    response_time_seconds: row.response_time_seconds,
    settlement_interval: row.settlement_interval,
    // The endpoint is where the proxy calls; others call through the proxy, which is paid.
    ...(viewerId === row.agent_id ? { endpoint_url: row.endpoint_url } : {}),
    input_schema: row.input_schema,
    output_schema: row.output_schema,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  }
}

/** The service if the viewer may see it (an enabled one, or any of its own), else a 404 like a missing one. */
async function findVisibleService(
  db: Queryable,
  serviceId: string,
  viewerId: string | null,
  options: { forUpdate?: boolean } = {},
): Promise<ServiceRow> {
  const service = await selectService(db, serviceId, options)
  if (!service || (!service.enabled && service.agent_id !== viewerId)) {
    throw new NotFoundError('service_not_found', `service ${serviceId} not found`)
  }
  return service
}

/** A service's fields after `changes`, checked together (a price for every model but `custom`). */
function serviceFields(
  context: Pick<AppContext, 'tokens' | 'isDevChain'>,
  base: ServiceFields | null,
  changes: UpdateServiceBody,
): ServiceFields {
  const token =
    changes.price_token !== undefined
      ? resolveToken(context, changes.price_token, 'price_token')
      : (base?.token ?? resolveToken(context, undefined, 'price_token'))
  const priceText = changes.price_amount
  const priceAmount =
    priceText === undefined
      ? (base?.priceAmount ?? null)
      : priceText === null
        ? null
        : parseTokenAmount(priceText, token.decimals, 'price_amount')
  const fields: ServiceFields = {
    name: changes.name ?? base?.name ?? '',
    description: changes.description ?? base?.description ?? '',
    category: changes.category ?? base?.category ?? '',
    pricingModel: changes.pricing_model ?? base!.pricingModel,
    priceAmount,
    token,
    tags: changes.tags ? [...new Set(changes.tags)] : (base?.tags ?? []),
    enabled: changes.enabled ?? base?.enabled ?? true,
    responseTimeSeconds:
      changes.response_time_seconds ?? base?.responseTimeSeconds ?? DEFAULT_RESPONSE_TIME_SECONDS,
    settlementInterval:
      changes.settlement_interval === undefined
        ? (base?.settlementInterval ?? null)
        : changes.settlement_interval,
    endpointUrl:
      changes.endpoint_url === undefined
        ? (base?.endpointUrl ?? null)
        : checkEndpointUrl(context, changes.endpoint_url),
    inputSchema: changes.input_schema === undefined ? (base?.inputSchema ?? null) : changes.input_schema,
    outputSchema: changes.output_schema === undefined ? (base?.outputSchema ?? null) : changes.output_schema,
  }
  if (fields.pricingModel !== 'custom' && fields.priceAmount === null) {
    throw fieldError('body', 'price_amount', 'is required with a fixed or per_call pricing model')
  }
  return fields
}

function fieldsOf(row: ServiceRow): ServiceFields {
  return {
    name: row.name,
    description: row.description,
    category: row.category,
    pricingModel: row.pricing_model,
    priceAmount: row.price_amount === null ? null : BigInt(row.price_amount),
    token: { symbol: row.token_symbol, address: row.token_address, decimals: row.token_decimals },
    tags: row.tags,
    enabled: row.enabled,
    responseTimeSeconds: row.response_time_seconds,
    settlementInterval: row.settlement_interval,
    endpointUrl: row.endpoint_url,
    inputSchema: row.input_schema,
    outputSchema: row.output_schema,
  }
}

/** `POST /v1/agents/me/services`. */
export async function createService(
  context: AppContext,
  actor: Actor,
  body: CreateServiceBody,
): Promise<ServiceResponse> {
  const id = randomUUID()
  await insertService(context.pool, id, actor.id, serviceFields(context, null, body))
  return toServiceResponse((await selectService(context.pool, id))!, actor.id)
}

/** `GET /v1/agents/me/services`: all the caller's services, disabled ones too. */
export async function listMyServices(context: AppContext, actor: Actor): Promise<ServiceResponse[]> {
  const rows = await selectAgentServices(context.pool, actor.id, { includeDisabled: true })
  return rows.map((row) => toServiceResponse(row, actor.id))
}

/** `GET /v1/agents/{agent_id}/services`: its enabled services, and its disabled ones for itself. */
export async function listAgentServices(
  context: AppContext,
  viewerId: string | null,
  agentId: string,
): Promise<ServiceResponse[]> {
  if (!(await findAgentById(context.pool, agentId)))
    throw new NotFoundError('agent_not_found', `agent ${agentId} not found`)
  const rows = await selectAgentServices(context.pool, agentId, { includeDisabled: viewerId === agentId })
  return rows.map((row) => toServiceResponse(row, viewerId))
}

/** `GET /v1/services`: enabled services by category, pricing, price range, agent, tags and full-text search. */
export async function browseServices(
  context: AppContext,
  viewerId: string | null,
  query: ListServicesQuery,
): Promise<ServiceResponse[]> {
  // Prices compare in base units of the default token (services of other tokens compare by their own units).
  const decimals = resolveToken(context, undefined, 'price_token').decimals
  const price = (value: string | undefined, field: string) =>
    value === undefined ? undefined : parseTokenAmount(value, decimals, field)
  const rows = await selectServicePage(context.pool, {
    category: query.category,
    pricingModel: query.pricing_model,
    minPrice: price(query.min_price, 'min_price'),
    maxPrice: price(query.max_price, 'max_price'),
    agentId: query.agent_id,
    search: query.search,
    tags: query.tags,
    limit: query.limit,
    offset: query.offset,
  })
  return rows.map((row) => toServiceResponse(row, viewerId))
}

/** `GET /v1/services/{service_id}`. */
export async function getService(
  context: AppContext,
  viewerId: string | null,
  serviceId: string,
): Promise<ServiceResponse> {
  return toServiceResponse(await findVisibleService(context.pool, serviceId, viewerId), viewerId)
}

/** `PATCH /v1/services/{service_id}` (owner only): a partial update; `null` clears a nullable field. */
export async function changeService(
  context: AppContext,
  actor: Actor,
  serviceId: string,
  body: UpdateServiceBody,
): Promise<ServiceResponse> {
  await withTransaction(context.pool, async (db) => {
    const service = await findVisibleService(db, serviceId, actor.id, { forUpdate: true })
    if (service.agent_id !== actor.id)
      throw new ForbiddenError('not_service_owner', 'only its owner may change a service')
    await updateService(db, service.id, serviceFields(context, fieldsOf(service), body))
  })
  return toServiceResponse((await selectService(context.pool, serviceId))!, actor.id)
}

/** `DELETE /v1/services/{service_id}` (owner only). */
export async function deleteService(context: AppContext, actor: Actor, serviceId: string): Promise<void> {
  await withTransaction(context.pool, async (db) => {
    const service = await findVisibleService(db, serviceId, actor.id, { forUpdate: true })
    if (service.agent_id !== actor.id)
      throw new ForbiddenError('not_service_owner', 'only its owner may delete a service')
    await deleteServiceRow(db, service.id)
  })
}
