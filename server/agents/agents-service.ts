import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto'
import type { AgentProfile, MyAgentResponse, RegisterAgentBody } from '../../protocol/agents'
import { formatAmount } from '../../protocol/amounts'
import type { AppContext } from '../app-context'
import { recoverPersonalSignAddress } from '../auth/signatures'
import { withTransaction, type Queryable } from '../db/pool'
import { endAgentSessions } from '../auth/auth-service'
import { ConflictError, ForbiddenError, NotFoundError, UnauthorizedError, ValidationError } from '../errors'
import type { Credential } from '../http/auth'
import { defaultToken } from '../ledger/tokens'
import { claimWalletFunds } from '../wallet/deposits-service'
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
  selectIdentityByApiKeyHash,
  selectIdentityById,
  selectIdentityByWallet,
  updateApiKeyHash,
  type AgentDirectoryRow,
  type AgentIdentityRow,
  type DirectorySort,
  type StatsToken,
} from './agents-queries'

/** Every API key starts with this; the rest is 32 random bytes in base64url. */
export const API_KEY_PREFIX = 'sk_live_'
const API_KEY_PATTERN = /^sk_live_[A-Za-z0-9_-]{43}$/
/** How long a registration challenge can be signed. */
export const CHALLENGE_TTL_SECONDS = 10 * 60

export function hashApiKey(apiKey: string): string {
  return createHash('sha256').update(apiKey, 'utf8').digest('hex')
}

function newApiKey(): { apiKey: string; hash: string } {
  const apiKey = `${API_KEY_PREFIX}${randomBytes(32).toString('base64url')}`
  return { apiKey, hash: hashApiKey(apiKey) }
}

/** The agent holding `apiKey`, or null. The stored hash is compared in constant time. */
export async function authenticateApiKey(db: Queryable, apiKey: string): Promise<AgentIdentityRow | null> {
  if (!API_KEY_PATTERN.test(apiKey)) return null
  const hash = hashApiKey(apiKey)
  const agent = await selectIdentityByApiKeyHash(db, hash)
  if (!agent) return null
  return timingSafeEqual(Buffer.from(agent.apiKeyHash, 'hex'), Buffer.from(hash, 'hex')) ? agent : null
}

/** The agent whose wallet is `walletAddress` (lowercase), or null. */
export async function findAgentByWallet(
  db: Queryable,
  walletAddress: string,
): Promise<AgentIdentityRow | null> {
  return selectIdentityByWallet(db, walletAddress.toLowerCase())
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
  walletAddress: `0x${string}`,
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
  walletAddress: `0x${string}`
  isManagedWallet: boolean
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

/**
 * Registers an agent. A given wallet must have signed a live challenge issued for it; without one
 * the agent gets a managed wallet. The API key is returned here and never again.
 */
export async function registerAgent(
  context: Pick<AppContext, 'pool' | 'walletEncryptionKey'>,
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
  const id = randomUUID()
  const { apiKey, hash } = newApiKey()
  try {
    return await withTransaction(context.pool, async (client) => {
      let walletAddress: `0x${string}`
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
      const handle = body.handle ?? (await generatedHandle(client))
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
      if (managed) await saveManagedWallet(client, id, managed)
      // Deposits made on-chain for this wallet before it had an agent are credited now.
      await claimWalletFunds(client, id, walletAddress)
      return { id, apiKey, handle, walletAddress, isManagedWallet: managed !== null, createdAt }
    })
  } catch (error) {
    if (isUniqueViolation(error, 'agents_handle_key')) {
      throw new ConflictError('handle_taken', `handle ${body.handle} is taken`, {
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

function invalidApiKey(): UnauthorizedError {
  return new UnauthorizedError('unauthorized', 'API key is not valid', {
    details: { reason: 'invalid_api_key' },
  })
}

/**
 * Refuses, with 403 `api_key_required`, a credential that may not act as the root of a
 * managed-wallet agent: anything but its API key. See `rotateApiKey` for the model.
 */
export function requireApiKey(
  credential: Credential,
  action: string,
): asserts credential is Extract<Credential, { kind: 'api_key' }> {
  if (credential.kind === 'api_key') return
  throw new ForbiddenError(
    'api_key_required',
    `${action} needs the agent's API key, not a wallet-signed request`,
    {
      details: { credential: credential.kind },
    },
  )
}

/**
 * Replaces the agent's API key: the old one stops working and every wallet-signing session of the
 * agent ends when this commits, and a pending export of a managed wallet's key is cancelled.
 *
 * Recovery model (issue 10). An agent has up to two credentials: its API key (Bearer), and, when
 * it controls its wallet's key, wallet-signed requests (a session plus a signature per request).
 * - An agent registered with its own wallet (proved by signature) has that wallet as its root: a
 *   wallet-signed rotate-key is allowed, so the wallet owner recovers from a lost or leaked key.
 * - An agent registered without one (a managed wallet, `is_managed_wallet`, never changed) has its
 *   API key as its root: only a request made with the API key rotates the key or exports the
 *   wallet key. A wallet-signed rotate-key is 403 `api_key_required`, so a wallet key obtained by
 *   export can never replace the API key, and the export waits for a delay the owner can cancel
 *   (see `exportManagedKey`). Rotation is the owner's answer to a leak: it stops the old key, ends
 *   the sessions a thief may hold (including any opened with an exported key) and cancels the export.
 * When the request was made with an API key, only that key may be replaced: of two racing rotations
 * (say the owner's and a thief's with a leaked key) the second finds the key already changed and
 * gets 401.
 */
export async function rotateApiKey(
  context: Pick<AppContext, 'pool'>,
  agentId: string,
  credential: Credential,
): Promise<string> {
  const { apiKey, hash } = newApiKey()
  await withTransaction(context.pool, async (client) => {
    const agent = await selectIdentityById(client, agentId)
    if (!agent) throw invalidApiKey()
    if (agent.isManagedWallet) requireApiKey(credential, 'rotating the API key of a managed-wallet agent')
    const expectedHash = credential.kind === 'api_key' ? credential.apiKeyHash : null
    if (!(await updateApiKeyHash(client, agentId, hash, expectedHash))) throw invalidApiKey()
    // In the same transaction as the new key, so no moment exists where the key is new and an old
    // session or a thief's pending export still stands.
    await endAgentSessions(client, agentId)
    await dropPendingKeyExport(client, agentId)
  })
  return apiKey
}

/**
 * Holds the agent's API key for the caller's transaction: true (the row locked against rotation)
 * while the key is still the one hashed as `apiKeyHash`, false once a rotation replaced it.
 */
export async function holdApiKey(db: Queryable, agentId: string, apiKeyHash: string): Promise<boolean> {
  return lockApiKeyHash(db, agentId, apiKeyHash)
}

const FALLBACK_STATS_TOKEN: StatsToken = { address: `0x${'0'.repeat(40)}`, decimals: 6 }

function statsToken(context: Pick<AppContext, 'tokens'>): StatsToken & { decimals: number } {
  return defaultToken(context) ?? FALLBACK_STATS_TOKEN
}

/** Stars: score / 20 rounded to the nearest half star (72 → 3.5). */
export function reputationStars(score: number): number {
  return Math.round((score / 20) * 2) / 2
}

function toProfile(
  row: AgentDirectoryRow,
  decimals: number,
  issuers: AppContext['verifiableClaimIssuers'],
): AgentProfile {
  return {
    agent_id: row.id,
    handle: row.handle,
    wallet_address: row.walletAddress,
    tags: row.tags,
    capabilities: row.capabilities,
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
  return toProfile(row, token.decimals, context.verifiableClaimIssuers)
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
    ...toProfile(row, token.decimals, context.verifiableClaimIssuers),
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

export interface ListAgentsParameters {
  search?: string
  tag?: string
  sortBy: DirectorySort
  sortDir: 'asc' | 'desc'
  limit?: number
  offset?: number
  /** Present (possibly empty) for keyset pagination. */
  cursor?: string
}

export const DEFAULT_PAGE_SIZE = 50
export const DEFAULT_CURSOR_PAGE_SIZE = 20

function encodeCursor(row: AgentDirectoryRow): string {
  return Buffer.from(JSON.stringify({ t: row.createdAtKey, i: row.id }), 'utf8').toString('base64url')
}

function decodeCursor(cursor: string): { createdAtKey: string; id: string } {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as {
      t?: unknown
      i?: unknown
    }
    if (
      typeof parsed.t === 'string' &&
      /^\d{4}-\d{2}-\d{2} [\d:.]+[+-]\d{2}(:\d{2})?$/.test(parsed.t) &&
      typeof parsed.i === 'string' &&
      UUID_PATTERN.test(parsed.i)
    ) {
      return { createdAtKey: parsed.t, id: parsed.i }
    }
  } catch {
    // fall through to the 400 below
  }
  throw new ValidationError('invalid_cursor', 'query cursor: not a cursor this API returned', {
    details: { where: 'query', fields: [{ field: 'cursor', message: 'not a cursor this API returned' }] },
  })
}

/** The directory: a bare array (offset pagination) or, when `cursor` is given, the keyset envelope. */
export async function listAgents(
  context: Pick<AppContext, 'pool' | 'tokens' | 'verifiableClaimIssuers'>,
  parameters: ListAgentsParameters,
): Promise<AgentProfile[] | { data: AgentProfile[]; has_more: boolean; next_cursor: string | null }> {
  const token = statsToken(context)
  const base = {
    search: parameters.search,
    tag: parameters.tag,
    sortBy: parameters.sortBy,
    sortDir: parameters.sortDir,
  }
  if (parameters.cursor === undefined) {
    const rows = await selectDirectoryPage(context.pool, token, {
      ...base,
      limit: parameters.limit ?? DEFAULT_PAGE_SIZE,
      offset: parameters.offset,
    })
    return rows.map((row) => toProfile(row, token.decimals, context.verifiableClaimIssuers))
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
    after: parameters.cursor === '' ? undefined : decodeCursor(parameters.cursor),
  })
  const page = rows.slice(0, limit)
  const hasMore = rows.length > limit
  return {
    data: page.map((row) => toProfile(row, token.decimals, context.verifiableClaimIssuers)),
    has_more: hasMore,
    next_cursor: hasMore ? encodeCursor(page[page.length - 1]!) : null,
  }
}
