import type { Address } from 'viem'
import { randomBytes, randomUUID } from 'node:crypto'
import type {
  AgentProfile,
  MyAgentResponse,
  RegisterAgentBody,
  UpdateMyProfileBody,
} from '../../protocol/agents'
import { formatAmount } from '../../protocol/amounts'
import type { AppContext } from '../app-context'
import { recoverPersonalSignAddress } from '../auth/signatures'
import { withTransaction, type Queryable } from '../db/pool'
import { newApiKey } from '../auth/api-key-codec'
import { cursorTimestamp, cursorUuid, decodeCursor, encodeCursor } from '../cursor'
import { ConflictError, fieldError, NotFoundError, UnauthorizedError, ValidationError } from '../errors'
import { defaultToken, resolveToken, tokenByAddress } from '../ledger/tokens'
import { parseTokenAmount } from '../jobs/job-tokens'
import { checkEndpointUrl } from '../outbound/endpoint-urls'
import { claimWalletFunds } from '../wallet/deposits-service'
import { setAgentWebhook } from '../webhooks/webhooks-service'
import {
  dropPendingKeyExport,
  generateManagedWallet,
  getPendingKeyExport,
  saveManagedWallet,
} from '../wallet/managed-wallets'
import { checkClaimAtRegistration, isVerifiedClaim } from './verifiable-claims'
import {
  consumeChallenge,
  deleteExpiredChallenges,
  handleExists,
  insertAgent,
  insertChallenge,
  lockApiKeyHash,
  selectDirectoryPage,
  selectDirectoryRow,
  updateAgentProfile,
  selectIdentityByApiKeyHash,
  selectIdentityById,
  selectIdentityByWallet,
  selectMarketplaceReputations,
  selectPlatformAgentId,
  updateApiKeyHash,
  type AgentDirectoryRow,
  type AgentIdentityRow,
  type DirectorySort,
  type StatsToken,
} from './agents-queries'

/** How long a registration challenge can be signed. */
export const CHALLENGE_TTL_SECONDS = 10 * 60

/** The agent holding the API key hashed as `apiKeyHash`, or null (see `authenticateApiKey`). */
export async function findAgentByApiKeyHash(
  db: Queryable,
  apiKeyHash: string,
): Promise<AgentIdentityRow | null> {
  return selectIdentityByApiKeyHash(db, apiKeyHash)
}

/**
 * Replaces the agent's API key hash with `hash`, where the stored one is `expectedHash` (any, when
 * null); false when it is not (another rotation won). A pending export of a managed wallet's key
 * is dropped in the same transaction: whoever rotates also ends an export a thief may have asked for.
 */
export async function replaceApiKeyHash(
  db: Queryable,
  agentId: string,
  hash: string,
  expectedHash: string | null,
): Promise<boolean> {
  if (!(await updateApiKeyHash(db, agentId, hash, expectedHash))) return false
  await dropPendingKeyExport(db, agentId)
  return true
}

/**
 * Holds the agent's API key for the caller's transaction: true (the row locked against rotation)
 * while the key is still the one hashed as `apiKeyHash`, false once a rotation replaced it.
 */
export async function holdApiKey(db: Queryable, agentId: string, apiKeyHash: string): Promise<boolean> {
  return lockApiKeyHash(db, agentId, apiKeyHash)
}

/** The agent whose wallet is `walletAddress` (lowercase), or null. */
export async function findAgentByWallet(
  db: Queryable,
  walletAddress: string,
): Promise<AgentIdentityRow | null> {
  return selectIdentityByWallet(db, walletAddress.toLowerCase())
}

/** An agent's directory entry (reputation and stats in `token`), by id or handle, or null. */
export async function findDirectoryEntry(
  db: Queryable,
  token: StatsToken,
  by: { id: string } | { handle: string },
): Promise<AgentDirectoryRow | null> {
  return selectDirectoryRow(db, token, by)
}

/** The agent with id `agentId`, or null. */
export async function findAgentById(db: Queryable, agentId: string): Promise<AgentIdentityRow | null> {
  return selectIdentityById(db, agentId)
}

/** The exact text a wallet signs to prove itself at registration. */
export function challengeMessage(walletAddress: string, nonce: string, expiresAt: Date): string {
  return [
    'Clearhouse wants you to prove you hold this wallet to register an agent.',
    `wallet:${walletAddress}`,
    `nonce:${nonce}`,
    `expires:${expiresAt.toISOString()}`,
  ].join('\n')
}

/** Issues a one-time registration challenge for `walletAddress` (lowercase). */
export async function createChallenge(
  db: Queryable,
  walletAddress: Address,
): Promise<{ message: string; expiresAt: Date }> {
  const nonce = randomBytes(16).toString('hex')
  const expiresAt = new Date(Date.now() + CHALLENGE_TTL_SECONDS * 1000)
  const message = challengeMessage(walletAddress, nonce, expiresAt)
  await deleteExpiredChallenges(db)
  await insertChallenge(db, { nonce, walletAddress, message, expiresAt })
  return { message, expiresAt }
}

export interface RegisteredAgent {
  id: string
  apiKey: string
  handle: string
  walletAddress: Address
  isManagedWallet: boolean
  /** The webhook's signing secret, when registration set one (seed 001's `webhook_url`). */
  webhookSecret?: string | undefined
  createdAt: Date
}

function isUniqueViolation(error: unknown, constraint: string): boolean {
  const pgError = error as { code?: string; constraint?: string }
  return pgError.code === '23505' && pgError.constraint === constraint
}

async function generatedHandle(db: Queryable): Promise<string> {
  for (;;) {
    const handle = `agent_${randomBytes(5).toString('hex')}`
    if (!(await handleExists(db, handle))) return handle
  }
}

/** The longest a handle is (`agentHandle`). */
const MAX_HANDLE_LENGTH = 20

/**
 * Seed 001's `name` as a handle: accents dropped, lowercased, each run of other characters one
 * `_`, cut to 20 characters; `agent_` goes before one that does not start with a letter or is
 * shorter than 3 ("ResearchBot" → `researchbot`, "Research Bot 2" → `research_bot_2`, "AI" →
 * `agent_ai`).
 */
export function handleFromName(name: string): string {
  let handle = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
  if (!/^[a-z]/.test(handle) || handle.length < 3) handle = `agent_${handle}`
  return handle.slice(0, MAX_HANDLE_LENGTH).replace(/_+$/, '')
}

/**
 * `base`, or the first of `base_2`, `base_3`, … (cut to fit 20 characters) no agent has: seed 001
 * names are display names, not unique, and its clients know nothing of handles.
 */
async function freeHandleFrom(db: Queryable, base: string): Promise<string> {
  if (!(await handleExists(db, base))) return base
  for (let n = 2; n < 100; n += 1) {
    const suffix = `_${n}`
    const candidate = `${base.slice(0, MAX_HANDLE_LENGTH - suffix.length).replace(/_+$/, '')}${suffix}`
    if (!(await handleExists(db, candidate))) return candidate
  }
  return generatedHandle(db)
}

/** How many times a registration whose derived handle another one took meanwhile is tried again. */
const DERIVED_HANDLE_ATTEMPTS = 3

/**
 * Registers an agent. A given wallet must have signed a live challenge issued for it; without one
 * the agent gets a managed wallet. The API key is returned here and never again. Seed 001's body
 * is taken too: without `handle` one is derived from `name` (suffixed when taken); its profile
 * fields (`description`, `capabilities`, `price_per_task`, `endpoint_url`) are set as
 * `PATCH /v1/agents/me` sets them, and `webhook_url` as `PUT /v1/agents/me/webhook` does, in the
 * same transaction; `system_prompt` and `owner_email` are not stored.
 */
export async function registerAgent(
  context: Pick<
    AppContext,
    'pool' | 'walletEncryptionKey' | 'tokens' | 'isDevChain' | 'allowLoopbackEndpoints'
  >,
  body: RegisterAgentBody,
): Promise<RegisteredAgent> {
  if (body.wallet_address !== undefined) {
    const signer = recoverPersonalSignAddress(body.challenge!, body.signature!)
    if (signer !== body.wallet_address) {
      throw new UnauthorizedError('invalid_signature', 'signature is not by wallet_address over challenge', {
        details: { field: 'signature' },
      })
    }
  }
  const endpointUrl =
    body.endpoint_url === undefined ? undefined : checkEndpointUrl(context, body.endpoint_url, 'endpoint_url')
  const price =
    body.price_per_task === undefined
      ? undefined
      : basePrice(context, body.price_per_task, { ref: undefined, field: 'price_per_task' }, 'price_per_task')
  const derivedFrom = body.handle === undefined && body.name !== undefined ? handleFromName(body.name) : null
  for (let attempt = 1; ; attempt += 1) {
    const id = randomUUID()
    const { apiKey, hash } = newApiKey()
    let handle = body.handle
    try {
      return await withTransaction(context.pool, async (client) => {
        let walletAddress: Address
        let managed: ReturnType<typeof generateManagedWallet> | null = null
        if (body.wallet_address !== undefined) {
          if (!(await consumeChallenge(client, body.challenge!, body.wallet_address))) {
            throw new UnauthorizedError(
              'invalid_challenge',
              'challenge was not issued for this wallet, expired, or was already used',
              { details: { field: 'challenge' } },
            )
          }
          walletAddress = body.wallet_address
        } else {
          managed = generateManagedWallet(context, id)
          walletAddress = managed.address
        }
        checkClaimAtRegistration(body.verifiable_claim, walletAddress)
        handle =
          body.handle ??
          (derivedFrom !== null ? await freeHandleFrom(client, derivedFrom) : await generatedHandle(client))
        const { createdAt } = await insertAgent(client, {
          id,
          handle,
          walletAddress,
          isManagedWallet: managed !== null,
          apiKeyHash: hash,
          capabilities: body.capabilities ?? {},
          verifiableClaim: body.verifiable_claim ?? null,
          tags: body.tags ?? [],
        })
        if (body.description !== undefined || endpointUrl !== undefined || price !== undefined) {
          await updateAgentProfile(client, id, { description: body.description, endpointUrl, price })
        }
        if (managed) await saveManagedWallet(client, id, managed)
        const webhook =
          body.webhook_url === undefined
            ? undefined
            : await setAgentWebhook(context, client, id, {
                webhook_url: body.webhook_url,
                rotate_secret: false,
              })
        // Deposits made on-chain for this wallet before it had an agent are credited now.
        await claimWalletFunds(client, id, walletAddress)
        return {
          id,
          apiKey,
          handle,
          walletAddress,
          isManagedWallet: managed !== null,
          webhookSecret: webhook?.secret,
          createdAt,
        }
      })
    } catch (error) {
      if (isUniqueViolation(error, 'agents_handle_key')) {
        // Another registration took the derived handle between our look and our insert.
        if (derivedFrom !== null && attempt < DERIVED_HANDLE_ATTEMPTS) continue
        throw new ConflictError('handle_taken', `handle ${handle} is taken`, {
          details: { field: 'handle' },
        })
      }
      if (isUniqueViolation(error, 'agents_wallet_address_key')) {
        throw new ConflictError('wallet_taken', 'an agent with this wallet is already registered', {
          details: { field: 'wallet_address' },
        })
      }
      throw error
    }
  }
}

const FALLBACK_STATS_TOKEN: StatsToken = { address: `0x${'0'.repeat(40)}`, decimals: 6 }

function statsToken(context: Pick<AppContext, 'tokens'>): StatsToken & { decimals: number } {
  return defaultToken(context) ?? FALLBACK_STATS_TOKEN
}

/** The handle the platform resolver gets when it is created, if no agent has taken it. */
export const PLATFORM_RESOLVER_HANDLE = 'platform_resolver'

/**
 * The platform resolver's agent id, creating it on first call: the resolver every escrow names
 * when its job names none, so every escrow can be ruled on-chain. It gets a managed wallet (the
 * coordinator signs its rulings) and an API key nobody is told, so it can never post or bid.
 * Replicas starting together create it once.
 */
export async function ensurePlatformResolver(
  context: Pick<AppContext, 'pool' | 'walletEncryptionKey'>,
): Promise<string> {
  const existing = await selectPlatformAgentId(context.pool, 'resolver')
  if (existing) return existing
  return withTransaction(context.pool, async (client) => {
    // Replicas starting together queue here; the first creates it, the rest find it made.
    await client.query("SELECT pg_advisory_xact_lock(hashtext('clearhouse.platform_resolver'))")
    const created = await selectPlatformAgentId(client, 'resolver')
    if (created) return created
    const id = randomUUID()
    const managed = generateManagedWallet(context, id)
    const handle = (await handleExists(client, PLATFORM_RESOLVER_HANDLE))
      ? await generatedHandle(client)
      : PLATFORM_RESOLVER_HANDLE
    await insertAgent(client, {
      id,
      handle,
      walletAddress: managed.address,
      isManagedWallet: true,
      apiKeyHash: newApiKey().hash,
      capabilities: { role: 'platform resolver: rules disputes on escrows whose job names no resolver' },
      verifiableClaim: null,
      tags: ['platform'],
      platformRole: 'resolver',
    })
    await saveManagedWallet(client, id, managed)
    return id
  })
}

/**
 * A new API key for the platform resolver, replacing whatever key it had: how the operator of a
 * coordinator that made its own resolver rules on its disputes (`npm start` prints one at every
 * start). Returns null when the platform resolver is an agent someone registered
 * (PLATFORM_RESOLVER_AGENT_ID): its key is its owner's.
 */
export async function issuePlatformResolverKey(db: Queryable, agentId: string): Promise<string | null> {
  if ((await selectPlatformAgentId(db, 'resolver')) !== agentId) return null
  const { apiKey, hash } = newApiKey()
  await updateApiKeyHash(db, agentId, hash, null)
  return apiKey
}

/** Stars: score / 20 rounded to the nearest half star (72 → 3.5). */
export function reputationStars(score: number): number {
  return Math.round((score / 20) * 2) / 2
}

function toProfile(
  context: Pick<AppContext, 'tokens' | 'verifiableClaimIssuers'>,
  row: AgentDirectoryRow,
  decimals: number,
): AgentProfile {
  const issuers = context.verifiableClaimIssuers
  const priceToken = row.basePriceToken === null ? null : tokenByAddress(context, row.basePriceToken)
  const basePrice =
    row.basePrice === null ? null : formatAmount(row.basePrice, priceToken?.decimals ?? decimals)
  return {
    agent_id: row.id,
    handle: row.handle,
    wallet_address: row.walletAddress,
    description: row.description,
    tags: row.tags,
    capabilities: row.capabilities,
    base_price: basePrice,
    price_per_task: basePrice,
    price_token: row.basePriceToken === null ? null : (priceToken?.symbol ?? row.basePriceToken),
    pricing_model: row.pricingModel,
    total_earned: formatAmount(row.totalEarned, decimals),
    total_deposited: formatAmount(row.totalDeposited, decimals),
    jobs_completed: row.jobsCompleted,
    jobs_posted: row.jobsPosted,
    bids_placed: row.bidsPlaced,
    disputes_lost: row.disputesLost,
    reputation_score: row.reputationScore,
    reputation_stars: reputationStars(row.reputationScore),
    is_verified: isVerifiedClaim(row.verifiableClaim, row.walletAddress, issuers),
    created_at: row.createdAt.toISOString(),
  }
}

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** The public profile of the agent with this id or handle; 404 `agent_not_found` otherwise. */
export async function getAgentProfile(
  context: Pick<AppContext, 'pool' | 'tokens' | 'verifiableClaimIssuers'>,
  idOrHandle: string,
): Promise<AgentProfile> {
  const token = statsToken(context)
  const by = UUID_PATTERN.test(idOrHandle)
    ? { id: idOrHandle.toLowerCase() }
    : { handle: idOrHandle.toLowerCase() }
  const row = await selectDirectoryRow(context.pool, token, by)
  if (!row) throw new NotFoundError('agent_not_found', `no agent ${idOrHandle}`)
  return toProfile(context, row, token.decimals)
}

/** The caller's own profile, with the fields only it sees. */
export async function getMyProfile(
  context: Pick<AppContext, 'pool' | 'tokens' | 'verifiableClaimIssuers'>,
  agentId: string,
): Promise<MyAgentResponse> {
  const token = statsToken(context)
  const [row, keyExport] = await Promise.all([
    selectDirectoryRow(context.pool, token, { id: agentId }),
    getPendingKeyExport(context.pool, agentId),
  ])
  if (!row) throw new NotFoundError('agent_not_found', `no agent ${agentId}`)
  return {
    ...toProfile(context, row, token.decimals),
    endpoint_url: row.endpointUrl,
    is_managed_wallet: row.isManagedWallet,
    managed_key_exported: row.managedKeyExported,
    verifiable_claim: row.verifiableClaim,
    api_key_rotated_at: row.apiKeyRotatedAt?.toISOString() ?? null,
    key_export: keyExport && {
      status: keyExport.status,
      requested_at: keyExport.requestedAt.toISOString(),
      available_at: keyExport.availableAt.toISOString(),
    },
  }
}

/**
 * An agent's base price as stored: `amount` read in the token `token.ref` names (the default token
 * without one) and refused past its decimals, in a 400 naming `field`.
 */
function basePrice(
  context: Pick<AppContext, 'tokens'>,
  amount: string,
  token: { ref: string | undefined; field: string },
  field: string,
): { amount: bigint; token: string } {
  const priced = resolveToken(context, token.ref, token.field)
  return { amount: parseTokenAmount(amount, priced.decimals, field), token: priced.address }
}

/**
 * `PATCH /v1/agents/me`: changes the fields given of the caller's own profile and returns it. A
 * price is read in `price_token` (USDC by default) and refused past its decimals; an endpoint must
 * be https (plain http to loopback on the embedded stack), as a service's.
 */
export async function updateMyProfile(
  context: Pick<
    AppContext,
    'pool' | 'tokens' | 'verifiableClaimIssuers' | 'isDevChain' | 'allowLoopbackEndpoints'
  >,
  agentId: string,
  body: UpdateMyProfileBody,
): Promise<MyAgentResponse> {
  const endpoint = body.endpoint_url !== undefined ? body.endpoint_url : body.endpoint
  const priceField = body.base_price !== undefined ? 'base_price' : 'price'
  const price = body.base_price !== undefined ? body.base_price : body.price
  if (body.price_token !== undefined && price === undefined) {
    throw fieldError('body', 'price_token', 'is only allowed with base_price (or price)')
  }
  await updateAgentProfile(context.pool, agentId, {
    description: body.description,
    tags: body.tags,
    capabilities: body.capabilities,
    endpointUrl:
      endpoint === undefined
        ? undefined
        : checkEndpointUrl(context, endpoint, body.endpoint_url !== undefined ? 'endpoint_url' : 'endpoint'),
    price:
      price === undefined || price === null
        ? price
        : basePrice(context, price, { ref: body.price_token, field: 'price_token' }, priceField),
    pricingModel: body.pricing_model,
  })
  return getMyProfile(context, agentId)
}

/**
 * The reputation score (0-100, as profiles show it) of each marketplace agent among `agentIds`,
 * by id. The platform's own agents have no entry: they offer nothing in the marketplace.
 */
export async function findMarketplaceReputations(
  context: Pick<AppContext, 'pool' | 'tokens'>,
  agentIds: readonly string[],
): Promise<Map<string, number>> {
  if (agentIds.length === 0) return new Map()
  const rows = await selectMarketplaceReputations(context.pool, statsToken(context), agentIds)
  return new Map(rows.map((row) => [row.id, row.reputationScore]))
}

export interface ListAgentsParameters {
  search?: string
  tag?: string
  capability?: string
  category?: string
  sortBy: DirectorySort
  sortDir: 'asc' | 'desc'
  limit?: number
  offset?: number
  /** Present (possibly empty) for keyset pagination. */
  cursor?: string
}

export const DEFAULT_PAGE_SIZE = 50
export const DEFAULT_CURSOR_PAGE_SIZE = 20

/** A directory page's cursor (created_at sort only): the last row's creation time and id. */
const agentCursor = { createdAtKey: cursorTimestamp, id: cursorUuid }

/** The directory: a bare array (offset pagination) or, when `cursor` is given, the keyset envelope. */
export async function listAgents(
  context: Pick<AppContext, 'pool' | 'tokens' | 'verifiableClaimIssuers'>,
  parameters: ListAgentsParameters,
): Promise<AgentProfile[] | { data: AgentProfile[]; has_more: boolean; next_cursor: string | null }> {
  const token = statsToken(context)
  const base = {
    search: parameters.search,
    tag: parameters.tag,
    capability: parameters.capability,
    category: parameters.category,
    sortBy: parameters.sortBy,
    sortDir: parameters.sortDir,
  }
  if (parameters.cursor === undefined) {
    const rows = await selectDirectoryPage(context.pool, token, {
      ...base,
      limit: parameters.limit ?? DEFAULT_PAGE_SIZE,
      offset: parameters.offset,
    })
    return rows.map((row) => toProfile(context, row, token.decimals))
  }
  if (parameters.sortBy !== 'created_at') {
    throw new ValidationError(
      'validation_failed',
      'query cursor: cursor pagination works with sort_by=created_at',
      {
        details: { where: 'query', fields: [{ field: 'cursor', message: 'requires sort_by=created_at' }] },
      },
    )
  }
  if (parameters.offset !== undefined) {
    throw new ValidationError('validation_failed', 'query offset: cannot be combined with cursor', {
      details: { where: 'query', fields: [{ field: 'offset', message: 'cannot be combined with cursor' }] },
    })
  }
  const limit = parameters.limit ?? DEFAULT_CURSOR_PAGE_SIZE
  const rows = await selectDirectoryPage(context.pool, token, {
    ...base,
    limit: limit + 1,
    after: parameters.cursor === '' ? undefined : decodeCursor(parameters.cursor, agentCursor),
  })
  const page = rows.slice(0, limit)
  const hasMore = rows.length > limit
  return {
    data: page.map((row) => toProfile(context, row, token.decimals)),
    has_more: hasMore,
    next_cursor: hasMore ? encodeCursor(page[page.length - 1]!, agentCursor) : null,
  }
}
