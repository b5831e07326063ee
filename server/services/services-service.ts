import { randomUUID } from 'node:crypto'
import type { Address } from 'viem'
import type {
  CreateServiceBody,
  ListServicesQuery,
  MatchServicesBody,
  MatchServicesResponse,
  ServiceMatch,
  ServiceResponse,
  UpdateServiceBody,
} from '../../protocol/services'
import { servicePriceOf, UNPRICED_PRICING_MODELS } from '../../protocol/services'
import { findAgentById, findMarketplaceReputations } from '../agents/agents-service'
import type { AppContext } from '../app-context'
import { checkEndpointUrl } from '../outbound/endpoint-urls'
import type { Actor } from '../auth/actor'
import type { Queryable } from '../db/pool'
import { withTransaction } from '../db/pool'
import { ConflictError, fieldError, ForbiddenError, NotFoundError } from '../errors'
import { formatUnits, parseTokenAmount } from '../jobs/job-tokens'
import { resolveToken } from '../ledger/tokens'
import {
  deleteServiceRow,
  insertService,
  selectAgentServices,
  selectMatchAgentIds,
  selectMatches,
  selectService,
  selectServicePage,
  updateService,
  type MatchFilter,
  type MatchWeights,
  type ServiceFields,
  type ServiceMatchRow,
  type ServiceRow,
} from './services-queries'

/** Seed 004's default for how long a provider takes to answer. */
const DEFAULT_RESPONSE_TIME_SECONDS = 3600

/** What every view of a service shows: who offers it, what it is, and what it costs. */
function serviceSummary(row: ServiceRow) {
  const price = row.price_amount === null ? null : formatUnits(row.price_amount, row.token_decimals)
  return {
    service_id: row.id,
    agent_id: row.agent_id,
    name: row.name,
    description: row.description,
    category: row.category,
    pricing_model: row.pricing_model,
    price_amount: price,
    // Seed 002's name for the same price.
    base_price: price,
    price_token: row.token_symbol,
    tags: row.tags,
  }
}

function toServiceResponse(row: ServiceRow, viewerId: string | null): ServiceResponse {
  return {
    ...serviceSummary(row),
    enabled: row.enabled,
    response_time_seconds: row.response_time_seconds,
    settlement_interval: row.settlement_interval,
    // The endpoint is where the proxy calls; others call through the proxy, which is paid.
    ...(viewerId === row.agent_id ? { endpoint_url: row.endpoint_url } : {}),
    endpoint_payment: row.endpoint_payment,
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
  context: Pick<AppContext, 'tokens' | 'isDevChain' | 'allowLoopbackEndpoints'>,
  base: ServiceFields | null,
  changes: UpdateServiceBody,
): ServiceFields {
  const token =
    changes.price_token !== undefined
      ? resolveToken(context, changes.price_token, 'price_token')
      : (base?.token ?? resolveToken(context, undefined, 'price_token'))
  const priceText = servicePriceOf(changes)
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
        : checkEndpointUrl(context, changes.endpoint_url, 'endpoint_url'),
    endpointPayment: changes.endpoint_payment ?? base?.endpointPayment ?? 'none',
    inputSchema: changes.input_schema === undefined ? (base?.inputSchema ?? null) : changes.input_schema,
    outputSchema: changes.output_schema === undefined ? (base?.outputSchema ?? null) : changes.output_schema,
  }
  if (!UNPRICED_PRICING_MODELS.includes(fields.pricingModel) && fields.priceAmount === null) {
    throw fieldError('body', 'price_amount', 'is required with a fixed, per_call or hybrid pricing model')
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
    endpointPayment: row.endpoint_payment,
    inputSchema: row.input_schema,
    outputSchema: row.output_schema,
  }
}

/**
 * An endpoint paid with x402 is paid from the service agent's wallet, which only a managed wallet
 * lets the proxy sign for: 409 `wallet_not_managed` for anyone else.
 */
function checkEndpointPayment(actor: Actor, fields: ServiceFields): ServiceFields {
  if (fields.endpointPayment === 'x402' && !actor.isManagedWallet) {
    throw new ConflictError(
      'wallet_not_managed',
      "an endpoint paid with x402 is paid from the service agent's wallet, which the proxy signs for only when it is managed",
      { details: { field: 'endpoint_payment' } },
    )
  }
  return fields
}

/** `POST /v1/agents/me/services`. */
export async function createService(
  context: AppContext,
  actor: Actor,
  body: CreateServiceBody,
): Promise<ServiceResponse> {
  const id = randomUUID()
  await insertService(
    context.pool,
    id,
    actor.id,
    checkEndpointPayment(actor, serviceFields(context, null, body)),
  )
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
    await updateService(
      db,
      service.id,
      checkEndpointPayment(actor, serviceFields(context, fieldsOf(service), body)),
    )
  })
  return toServiceResponse((await selectService(context.pool, serviceId))!, actor.id)
}

/** `DELETE /v1/services/{service_id}` (owner only). */
export async function deleteService(context: AppContext, actor: Actor, serviceId: string): Promise<void> {
  await withTransaction(context.pool, async (db) => {
    const service = await findVisibleService(db, serviceId, actor.id, { forUpdate: true })
    if (service.agent_id !== actor.id)
      throw new ForbiddenError('not_service_owner', 'only its owner may delete a service')
    try {
      await deleteServiceRow(db, service.id)
    } catch (error) {
      // A channel's calls and settlements, and a micro-job's escrow, name the service for good: it
      // can be disabled, not erased.
      if ((error as { code?: string }).code === '23503') {
        throw new ConflictError(
          'service_has_channels',
          `service ${service.id} has payment channels or paid calls; disable it instead (PATCH enabled: false)`,
        )
      }
      throw error
    }
  })
}

/** What each criterion of a match counts, before they are renormalised over those a request gives. */
const MATCH_WEIGHTS: MatchWeights = { text: 0.4, tags: 0.25, reputation: 0.15, responseTime: 0.1, price: 0.1 }

/** The reputation score from which a match says "high reputation". */
const HIGH_REPUTATION = 60

/** The response time up to which a match says "fast response". */
const FAST_RESPONSE_SECONDS = 600

/**
 * The weights of the criteria a request gives (text with a query, tags with tags, price with a
 * budget; reputation and response time always), scaled to sum to 1: a match perfect on every
 * criterion in play scores 1 whichever the request left out.
 */
function matchWeights(filter: MatchFilter): MatchWeights {
  const inPlay: MatchWeights = {
    text: filter.query !== undefined ? MATCH_WEIGHTS.text : 0,
    tags: filter.tags.length > 0 ? MATCH_WEIGHTS.tags : 0,
    reputation: MATCH_WEIGHTS.reputation,
    responseTime: MATCH_WEIGHTS.responseTime,
    price: filter.budgetMax !== undefined ? MATCH_WEIGHTS.price : 0,
  }
  const total = inPlay.text + inPlay.tags + inPlay.reputation + inPlay.responseTime + inPlay.price
  return {
    text: inPlay.text / total,
    tags: inPlay.tags / total,
    reputation: inPlay.reputation / total,
    responseTime: inPlay.responseTime / total,
    price: inPlay.price / total,
  }
}

/** Why a service matched, in seed 004's words ("2 matching tag(s)", "high reputation (75)"). */
function matchReasons(row: ServiceMatchRow, filter: MatchFilter): string[] {
  const reasons: string[] = []
  if (row.text_score > 0) reasons.push('text relevance')
  if (filter.category !== undefined) reasons.push('category match')
  if (row.matching_tags > 0) reasons.push(`${row.matching_tags} matching tag(s)`)
  if (row.reputation >= HIGH_REPUTATION) reasons.push(`high reputation (${row.reputation})`)
  if (row.response_time_seconds <= FAST_RESPONSE_SECONDS) {
    reasons.push(`fast response (${row.response_time_seconds} s)`)
  }
  // Every priced match is within the budget (the query leaves out the others); a custom price is
  // unknown and an auction's is set by offers.
  if (filter.budgetMax !== undefined && !UNPRICED_PRICING_MODELS.includes(row.pricing_model)) {
    reasons.push('within budget')
  }
  return reasons
}

function toServiceMatch(row: ServiceMatchRow, filter: MatchFilter): ServiceMatch {
  return {
    ...serviceSummary(row),
    score: row.score,
    match_reasons: matchReasons(row, filter),
  }
}

/**
 * `POST /v1/match`: enabled services of marketplace agents for a request, ranked in SQL by a
 * composite score of text relevance, tag overlap, reputation, response time and price.
 */
export async function matchServices(
  context: AppContext,
  body: MatchServicesBody,
): Promise<MatchServicesResponse> {
  // As in browsing, the budget is in the default token's units and compares with each service's own.
  const decimals = resolveToken(context, undefined, 'price_token').decimals
  const filter: MatchFilter = {
    query: body.query,
    category: body.category,
    tags: [...new Set(body.tags ?? [])],
    budgetMax:
      body.budget_max === undefined ? undefined : parseTokenAmount(body.budget_max, decimals, 'budget_max'),
  }
  // Reputation is the agents room's to compute: ask it for the candidates' owners (it leaves out
  // the platform's own agents), then rank with those scores in one query. A service registered
  // in between by an agent not asked about is left out of this answer.
  const agentIds = await selectMatchAgentIds(context.pool, filter)
  const reputations = await findMarketplaceReputations(context, agentIds)
  if (reputations.size === 0) return { matches: [], total: 0 }
  const rows = await selectMatches(context.pool, filter, reputations, matchWeights(filter), body.limit)
  return { matches: rows.map((row) => toServiceMatch(row, filter)), total: rows[0]?.total ?? 0 }
}

/** A service as the invoke proxy and the channels room need it. */
export interface CallableService {
  id: string
  agentId: string
  name: string
  category: string
  pricingModel: ServiceRow['pricing_model']
  priceAmount: bigint | null
  token: { symbol: string; address: Address; decimals: number }
  responseTimeSeconds: number
  settlementInterval: number | null
  endpointUrl: string | null
  endpointPayment: ServiceRow['endpoint_payment']
  inputSchema: Record<string, unknown> | null
  updatedAt: Date
}

function toCallableService(row: ServiceRow): CallableService {
  return {
    id: row.id,
    agentId: row.agent_id,
    name: row.name,
    category: row.category,
    pricingModel: row.pricing_model,
    priceAmount: row.price_amount === null ? null : BigInt(row.price_amount),
    token: { symbol: row.token_symbol, address: row.token_address as Address, decimals: row.token_decimals },
    responseTimeSeconds: row.response_time_seconds,
    settlementInterval: row.settlement_interval,
    endpointUrl: row.endpoint_url,
    endpointPayment: row.endpoint_payment,
    inputSchema: row.input_schema,
    updatedAt: row.updated_at,
  }
}

/** A service `viewerId` may call or open a channel to; 404 `service_not_found` for a missing or disabled one. */
export async function findCallableService(
  db: Queryable,
  serviceId: string,
  viewerId: string | null,
): Promise<CallableService> {
  return toCallableService(await findVisibleService(db, serviceId, viewerId))
}

/** The service as `findCallableService` gives it, or null when it is gone or disabled. */
export async function findCallableServiceOrNull(
  db: Queryable,
  serviceId: string,
  viewerId: string,
): Promise<CallableService | null> {
  try {
    return await findCallableService(db, serviceId, viewerId)
  } catch (error) {
    if (error instanceof NotFoundError) return null
    throw error
  }
}

/**
 * `POST /v1/match`'s ranking as services `viewerId` may call, best first (what an instant job and a
 * routed task choose from); one disabled since it was matched is left out.
 */
export async function matchCallableServices(
  context: AppContext,
  body: MatchServicesBody,
  viewerId: string,
): Promise<CallableService[]> {
  const { matches } = await matchServices(context, body)
  const services: CallableService[] = []
  for (const match of matches) {
    const service = await findCallableServiceOrNull(context.pool, match.service_id, viewerId)
    if (service) services.push(service)
  }
  return services
}

/**
 * Seed 001's direct execution: agent `agentId`'s service `serviceId`, or its only enabled service
 * when none is named (409 `service_ambiguous` when it offers several).
 */
export async function findAgentServiceForCall(
  db: Queryable,
  agentId: string,
  serviceId: string | undefined,
  viewerId: string,
): Promise<CallableService> {
  if (!(await findAgentById(db, agentId)))
    throw new NotFoundError('agent_not_found', `agent ${agentId} not found`)
  if (serviceId !== undefined) {
    const service = await findVisibleService(db, serviceId, viewerId)
    if (service.agent_id !== agentId) {
      throw new NotFoundError('service_not_found', `agent ${agentId} has no service ${serviceId}`)
    }
    return toCallableService(service)
  }
  const services = await selectAgentServices(db, agentId, { includeDisabled: false })
  if (services.length === 0)
    throw new NotFoundError('service_not_found', `agent ${agentId} offers no service`)
  if (services.length > 1) {
    throw new ConflictError(
      'service_ambiguous',
      `agent ${agentId} offers ${services.length} services: name one`,
      {
        details: { service_ids: services.map((service) => service.id) },
      },
    )
  }
  return toCallableService(services[0]!)
}

/** What a negotiation needs of a service: who offers it, what it is, how it is priced and in what. */
export interface ServiceTerms {
  id: string
  agentId: string
  name: string
  description: string
  tags: string[]
  pricingModel: ServiceRow['pricing_model']
  priceAmount: bigint | null
  token: { symbol: string; address: Address; decimals: number }
  responseTimeSeconds: number
}

/** The terms of a service `viewerId` may see; 404 `service_not_found` for a missing or disabled one. */
export async function findServiceTerms(
  db: Queryable,
  serviceId: string,
  viewerId: string,
): Promise<ServiceTerms> {
  const row = await findVisibleService(db, serviceId, viewerId)
  return {
    id: row.id,
    agentId: row.agent_id,
    name: row.name,
    description: row.description,
    tags: row.tags,
    pricingModel: row.pricing_model,
    priceAmount: row.price_amount === null ? null : BigInt(row.price_amount),
    token: { symbol: row.token_symbol, address: row.token_address as Address, decimals: row.token_decimals },
    responseTimeSeconds: row.response_time_seconds,
  }
}
