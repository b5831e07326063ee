import type { Address } from 'viem'
import type { Queryable } from '../db/pool'

/** What authentication needs of an agent. */
export interface AgentIdentityRow {
  id: string
  handle: string
  walletAddress: Address
  isManagedWallet: boolean
  apiKeyHash: string
}

const IDENTITY_COLUMNS = 'a.id, a.handle, a.wallet_address, a.is_managed_wallet, a.api_key_hash'

function toIdentity(row: Record<string, unknown>): AgentIdentityRow {
  return {
    id: row.id as string,
    handle: row.handle as string,
    walletAddress: row.wallet_address as Address,
    isManagedWallet: row.is_managed_wallet as boolean,
    apiKeyHash: row.api_key_hash as string,
  }
}

export async function insertAgent(
  db: Queryable,
  agent: {
    id: string
    handle: string
    walletAddress: string
    isManagedWallet: boolean
    apiKeyHash: string
    capabilities: Record<string, unknown> | string[]
    verifiableClaim: Record<string, unknown> | null
    tags: string[]
    /** A platform agent's role (`resolver`); null for every agent that registered. */
    platformRole?: 'resolver' | null
  },
): Promise<{ createdAt: Date }> {
  const { rows } = await db.query(
    `INSERT INTO agents (id, handle, wallet_address, is_managed_wallet, api_key_hash, capabilities, verifiable_claim, tags,
                         platform_role)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
     RETURNING created_at`,
    [
      agent.id,
      agent.handle,
      agent.walletAddress,
      agent.isManagedWallet,
      agent.apiKeyHash,
      JSON.stringify(agent.capabilities),
      agent.verifiableClaim === null ? null : JSON.stringify(agent.verifiableClaim),
      agent.tags,
      agent.platformRole ?? null,
    ],
  )
  return { createdAt: rows[0].created_at }
}

/** The id of the platform's agent in `role`, or null before it exists. */
export async function selectPlatformAgentId(db: Queryable, role: 'resolver'): Promise<string | null> {
  const { rows } = await db.query('SELECT a.id FROM agents AS a WHERE a.platform_role = $1', [role])
  return rows[0]?.id ?? null
}

export async function selectIdentityByApiKeyHash(
  db: Queryable,
  apiKeyHash: string,
): Promise<AgentIdentityRow | null> {
  // Every authenticated request runs it: prepared once per connection, not planned every time.
  const { rows } = await db.query({
    name: 'agent-identity-by-api-key-hash',
    text: `SELECT ${IDENTITY_COLUMNS} FROM agents AS a WHERE a.api_key_hash = $1`,
    values: [apiKeyHash],
  })
  return rows[0] ? toIdentity(rows[0]) : null
}

export async function selectIdentityById(db: Queryable, id: string): Promise<AgentIdentityRow | null> {
  const { rows } = await db.query(`SELECT ${IDENTITY_COLUMNS} FROM agents AS a WHERE a.id = $1`, [id])
  return rows[0] ? toIdentity(rows[0]) : null
}

/** The agent's wallet and stored `verifiable_claim` (null when it has none), or null if there is no such agent. */
export async function selectVerifiableClaim(
  db: Queryable,
  id: string,
): Promise<{ walletAddress: Address; verifiableClaim: Record<string, unknown> | null } | null> {
  const { rows } = await db.query(
    'SELECT a.wallet_address, a.verifiable_claim FROM agents AS a WHERE a.id = $1',
    [id],
  )
  if (!rows[0]) return null
  return { walletAddress: rows[0].wallet_address, verifiableClaim: rows[0].verifiable_claim ?? null }
}

export async function selectIdentityByWallet(
  db: Queryable,
  walletAddress: string,
): Promise<AgentIdentityRow | null> {
  const { rows } = await db.query(`SELECT ${IDENTITY_COLUMNS} FROM agents AS a WHERE a.wallet_address = $1`, [
    walletAddress,
  ])
  return rows[0] ? toIdentity(rows[0]) : null
}

/**
 * Replaces the API key hash, only while it is still `expectedHash` when one is given (compare and
 * swap); false when another rotation got there first.
 */
export async function updateApiKeyHash(
  db: Queryable,
  agentId: string,
  apiKeyHash: string,
  expectedHash: string | null,
): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE agents SET api_key_hash = $2, api_key_rotated_at = now(), updated_at = now()
     WHERE id = $1 AND ($3::text IS NULL OR api_key_hash = $3)`,
    [agentId, apiKeyHash, expectedHash],
  )
  return rowCount === 1
}

/**
 * Locks the agent's row (FOR SHARE) if its API key hash is still `apiKeyHash`: a rotation, which
 * updates the row, waits for the caller's transaction, and one that committed first makes this false.
 */
export async function lockApiKeyHash(db: Queryable, agentId: string, apiKeyHash: string): Promise<boolean> {
  const { rows } = await db.query(
    'SELECT 1 FROM agents AS a WHERE a.id = $1 AND a.api_key_hash = $2 FOR SHARE',
    [agentId, apiKeyHash],
  )
  return rows.length === 1
}

export async function handleExists(db: Queryable, handle: string): Promise<boolean> {
  const { rows } = await db.query('SELECT 1 FROM agents AS a WHERE a.handle = $1', [handle])
  return rows.length > 0
}

export async function insertChallenge(
  db: Queryable,
  challenge: { nonce: string; walletAddress: string; message: string; expiresAt: Date },
): Promise<void> {
  await db.query(
    'INSERT INTO wallet_challenges (nonce, wallet_address, message, expires_at) VALUES ($1, $2, $3, $4)',
    [challenge.nonce, challenge.walletAddress, challenge.message, challenge.expiresAt],
  )
}

/** Marks an unexpired, unused challenge used; false if there is none (so it works exactly once). */
export async function consumeChallenge(
  db: Queryable,
  message: string,
  walletAddress: string,
): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE wallet_challenges SET used_at = now()
     WHERE message = $1 AND wallet_address = $2 AND used_at IS NULL AND expires_at > now()`,
    [message, walletAddress],
  )
  return rowCount === 1
}

export async function deleteExpiredChallenges(db: Queryable): Promise<void> {
  await db.query(`DELETE FROM wallet_challenges WHERE expires_at < now() - interval '1 hour'`)
}

/** A directory row: the profile plus stats (counts from `agent_activity`, money from the ledger). */
export interface AgentDirectoryRow {
  id: string
  handle: string
  walletAddress: string
  isManagedWallet: boolean
  managedKeyExported: boolean
  /** Our JSON object, or seed 001's list of capability names. */
  capabilities: Record<string, unknown> | string[]
  verifiableClaim: Record<string, unknown> | null
  tags: string[]
  description: string
  endpointUrl: string | null
  /** Base units of `basePriceToken`; null when the agent names no price. */
  basePrice: bigint | null
  basePriceToken: string | null
  pricingModel: 'fixed' | 'auction' | 'hybrid'
  apiKeyRotatedAt: Date | null
  createdAt: Date
  /** `created_at` in UTC, exact to the microsecond (`YYYY-MM-DDTHH:MM:SS.ffffff`): the keyset cursor. */
  createdAtKey: string
  totalEarned: bigint
  totalDeposited: bigint
  jobsPosted: number
  jobsCompleted: number
  bidsPlaced: number
  disputesLost: number
  reputationScore: number
}

/**
 * Profiles with stats and the seed's reputation score, for one stats token. The score is computed
 * here, live, so the directory can sort by it:
 *   success 0-40 = completed / (completed + disputes_lost) * 40; volume 0-30 = min(completed * 5, 30);
 *   earnings 0-20 = min(earned in token units, 20); participation 0-10 = min(posted * 2, 10);
 *   minus 10 per lost dispute; rounded, clamped to 0-100.
 * $1 is the stats token address, $2 its unit (10^decimals).
 */
const DIRECTORY = `
  SELECT
    d.*,
    greatest(0, least(100, round(
      CASE WHEN d.jobs_completed + d.disputes_lost > 0
        THEN d.jobs_completed::numeric * 40 / (d.jobs_completed + d.disputes_lost) ELSE 0 END
      + least(d.jobs_completed * 5, 30)
      + least(d.total_earned / $2::numeric, 20)
      + least(d.jobs_posted * 2, 10)
      - d.disputes_lost * 10
    )))::int AS reputation_score
  FROM (
    SELECT
      a.id, a.handle, a.wallet_address, a.is_managed_wallet, a.capabilities, a.verifiable_claim, a.tags,
      a.description, a.endpoint_url, a.base_price::text AS base_price, a.base_price_token, a.pricing_model,
      a.api_key_rotated_at, a.created_at, a.platform_role,
      to_char(a.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS created_at_key,
      (mw.exported_at IS NOT NULL) AS managed_key_exported,
      coalesce(lt.earned, 0) AS total_earned,
      coalesce(lt.deposited, 0) AS total_deposited,
      coalesce(act.jobs_posted, 0) AS jobs_posted,
      coalesce(act.jobs_completed, 0) AS jobs_completed,
      coalesce(act.bids_placed, 0) AS bids_placed,
      coalesce(act.disputes_lost, 0) AS disputes_lost
    FROM agents AS a
    LEFT JOIN managed_wallets AS mw ON mw.agent_id = a.id
    LEFT JOIN agent_activity AS act ON act.agent_id = a.id
    LEFT JOIN agent_ledger_totals AS lt ON lt.agent_id = a.id AND lt.token = $1
  ) AS d`

function toDirectoryRow(row: Record<string, unknown>): AgentDirectoryRow {
  return {
    id: row.id as string,
    handle: row.handle as string,
    walletAddress: row.wallet_address as string,
    isManagedWallet: row.is_managed_wallet as boolean,
    managedKeyExported: row.managed_key_exported as boolean,
    capabilities: row.capabilities as Record<string, unknown> | string[],
    verifiableClaim: (row.verifiable_claim as Record<string, unknown> | null) ?? null,
    tags: row.tags as string[],
    description: row.description as string,
    endpointUrl: (row.endpoint_url as string | null) ?? null,
    basePrice: row.base_price === null ? null : BigInt(row.base_price as string),
    basePriceToken: (row.base_price_token as string | null) ?? null,
    pricingModel: row.pricing_model as AgentDirectoryRow['pricingModel'],
    apiKeyRotatedAt: (row.api_key_rotated_at as Date | null) ?? null,
    createdAt: row.created_at as Date,
    createdAtKey: row.created_at_key as string,
    totalEarned: BigInt(row.total_earned as string),
    totalDeposited: BigInt(row.total_deposited as string),
    jobsPosted: Number(row.jobs_posted),
    jobsCompleted: Number(row.jobs_completed),
    bidsPlaced: Number(row.bids_placed),
    disputesLost: Number(row.disputes_lost),
    reputationScore: Number(row.reputation_score),
  }
}

export interface StatsToken {
  address: string
  decimals: number
}

function statsParameters(token: StatsToken): [string, string] {
  return [token.address.toLowerCase(), (10n ** BigInt(token.decimals)).toString()]
}

export async function selectDirectoryRow(
  db: Queryable,
  token: StatsToken,
  by: { id: string } | { handle: string },
): Promise<AgentDirectoryRow | null> {
  const [column, value] = 'id' in by ? ['id', by.id] : ['handle', by.handle]
  const { rows } = await db.query(`SELECT * FROM (${DIRECTORY}) AS p WHERE p.${column} = $3`, [
    ...statsParameters(token),
    value,
  ])
  return rows[0] ? toDirectoryRow(rows[0]) : null
}

/**
 * The reputation scores of the agents among `ids` that are in the marketplace (not the platform's
 * own, as in the directory page), by the directory's formula. Agents not listed are not returned.
 */
export async function selectMarketplaceReputations(
  db: Queryable,
  token: StatsToken,
  ids: readonly string[],
): Promise<{ id: string; reputationScore: number }[]> {
  const { rows } = await db.query(
    `SELECT p.id, p.reputation_score FROM (${DIRECTORY}) AS p
      WHERE p.id = ANY($3::uuid[]) AND p.platform_role IS NULL`,
    [...statsParameters(token), ids],
  )
  return rows.map((row) => ({ id: row.id as string, reputationScore: Number(row.reputation_score) }))
}

export type DirectorySort =
  'earned' | 'deposited' | 'jobs_posted' | 'bids_placed' | 'reputation' | 'created_at'

const SORT_COLUMNS: Record<DirectorySort, string> = {
  earned: 'p.total_earned',
  deposited: 'p.total_deposited',
  jobs_posted: 'p.jobs_posted',
  bids_placed: 'p.bids_placed',
  reputation: 'p.reputation_score',
  created_at: 'p.created_at',
}

export interface DirectoryFilter {
  search?: string
  tag?: string
  /** Agents whose capabilities name it: a key of their object, or an element of their list. */
  capability?: string
  /** Agents offering an enabled service in this category (the services room's published view). */
  category?: string
  sortBy: DirectorySort
  sortDir: 'asc' | 'desc'
  limit: number
  offset?: number
  /** Keyset position (created_at sort only): rows strictly after it in the sort direction. */
  after?: { createdAtKey: string; id: string }
}

function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, (character) => `\\${character}`)
}

/** One page of the directory; ties always break on id, so every order is total and stable. */
export async function selectDirectoryPage(
  db: Queryable,
  token: StatsToken,
  filter: DirectoryFilter,
): Promise<AgentDirectoryRow[]> {
  const parameters: unknown[] = [...statsParameters(token)]
  // The platform's own agents are not in the marketplace's directory (their profiles stay public).
  const where: string[] = ['p.platform_role IS NULL']
  if (filter.search !== undefined) {
    parameters.push(`%${escapeLike(filter.search.toLowerCase())}%`)
    where.push(`(p.handle LIKE $${parameters.length} OR p.wallet_address LIKE $${parameters.length})`)
  }
  if (filter.tag !== undefined) {
    parameters.push([filter.tag])
    where.push(`p.tags @> $${parameters.length}::text[]`)
  }
  if (filter.capability !== undefined) {
    parameters.push(filter.capability)
    where.push(`p.capabilities ? $${parameters.length}`)
  }
  if (filter.category !== undefined) {
    parameters.push(filter.category)
    where.push(
      `p.id IN (SELECT c.agent_id FROM agent_service_categories AS c WHERE c.category = $${parameters.length})`,
    )
  }
  const direction = filter.sortDir === 'asc' ? 'ASC' : 'DESC'
  if (filter.after) {
    parameters.push(filter.after.createdAtKey, filter.after.id)
    const comparison = filter.sortDir === 'asc' ? '>' : '<'
    where.push(
      `(p.created_at, p.id) ${comparison} (($${parameters.length - 1}::timestamp AT TIME ZONE 'UTC'), $${parameters.length}::uuid)`,
    )
  }
  parameters.push(filter.limit, filter.offset ?? 0)
  const { rows } = await db.query(
    `SELECT * FROM (${DIRECTORY}) AS p
     ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
     ORDER BY ${SORT_COLUMNS[filter.sortBy]} ${direction}, p.id ${direction}
     LIMIT $${parameters.length - 1} OFFSET $${parameters.length}`,
    parameters,
  )
  return rows.map(toDirectoryRow)
}

/** Sets the profile fields given (undefined leaves one as it is) of agent `agentId`. */
export async function updateAgentProfile(
  db: Queryable,
  agentId: string,
  changes: {
    description?: string
    tags?: string[]
    capabilities?: Record<string, unknown> | string[]
    endpointUrl?: string | null
    price?: { amount: bigint; token: string } | null
    pricingModel?: string
  },
): Promise<void> {
  const has = (value: unknown) => value !== undefined
  await db.query(
    `UPDATE agents SET
       description = CASE WHEN $2 THEN $3 ELSE description END,
       tags = CASE WHEN $4 THEN $5::text[] ELSE tags END,
       capabilities = CASE WHEN $6 THEN $7::jsonb ELSE capabilities END,
       endpoint_url = CASE WHEN $8 THEN $9 ELSE endpoint_url END,
       base_price = CASE WHEN $10 THEN $11::numeric ELSE base_price END,
       base_price_token = CASE WHEN $10 THEN $12 ELSE base_price_token END,
       pricing_model = CASE WHEN $13 THEN $14 ELSE pricing_model END,
       updated_at = now()
     WHERE id = $1`,
    [
      agentId,
      has(changes.description),
      changes.description ?? null,
      has(changes.tags),
      changes.tags ?? null,
      has(changes.capabilities),
      changes.capabilities === undefined ? null : JSON.stringify(changes.capabilities),
      has(changes.endpointUrl),
      changes.endpointUrl ?? null,
      has(changes.price),
      changes.price ? changes.price.amount.toString() : null,
      changes.price ? changes.price.token : null,
      has(changes.pricingModel),
      changes.pricingModel ?? null,
    ],
  )
}
