import { timingSafeEqual } from 'node:crypto'
import { findAgentByApiKeyHash, findAgentById, replaceApiKeyHash } from '../agents/agents-service'
import type { AppContext } from '../app-context'
import { withTransaction, type Queryable } from '../db/pool'
import { ForbiddenError, UnauthorizedError } from '../errors'
import type { Actor, Credential } from './actor'
import { API_KEY_PATTERN, hashApiKey, newApiKey } from './api-key-codec'
import { endAgentSessions } from './auth-service'

/** The agent holding `apiKey` and the hash it matched, or null. The stored hash is compared in constant time. */
export async function authenticateApiKey(
  db: Queryable,
  apiKey: string,
): Promise<{ actor: Actor; apiKeyHash: string } | null> {
  if (!API_KEY_PATTERN.test(apiKey)) return null
  const hash = hashApiKey(apiKey)
  const agent = await findAgentByApiKeyHash(db, hash)
  if (!agent) return null
  if (!timingSafeEqual(Buffer.from(agent.apiKeyHash, 'hex'), Buffer.from(hash, 'hex'))) return null
  const { apiKeyHash, ...actor } = agent
  return { actor, apiKeyHash }
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
    const agent = await findAgentById(client, agentId)
    if (!agent) throw invalidApiKey()
    if (agent.isManagedWallet) requireApiKey(credential, 'rotating the API key of a managed-wallet agent')
    const expectedHash = credential.kind === 'api_key' ? credential.apiKeyHash : null
    // In one transaction with the new key (which also drops a pending key export), so no moment
    // exists where the key is new and an old session or a thief's pending export still stands.
    if (!(await replaceApiKeyHash(client, agentId, hash, expectedHash))) throw invalidApiKey()
    await endAgentSessions(client, agentId)
  })
  return apiKey
}
