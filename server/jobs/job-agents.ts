import type { Actor } from '../auth/actor'
import type { Address } from 'viem'
import type { AppContext } from '../app-context'
import type { Queryable } from '../db/pool'
import { findAgentById, findDirectoryEntry } from '../agents/agents-service'
import { agentHasVerifiedClaim as hasVerifiedClaim } from '../agents/verifiable-claims'
import { defaultToken } from '../ledger/tokens'

// What the job flow needs to know about agents, asked of the agents module in one place.

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** Whether an agent with this id exists. */
export async function agentExists(db: Queryable, agentId: string): Promise<boolean> {
  return (await findAgentById(db, agentId)) !== null
}

/** An agent's wallet address (lowercase), or null if there is no such agent. */
export async function agentWallet(db: Queryable, agentId: string): Promise<Address | null> {
  return (await findAgentById(db, agentId))?.walletAddress ?? null
}

/** The agent `agentId` as an actor (what a service acting on its behalf needs); it must exist. */
export async function agentActor(db: Queryable, agentId: string): Promise<Actor> {
  const identity = await findAgentById(db, agentId)
  if (!identity) throw new Error(`agent ${agentId} does not exist`)
  return {
    id: identity.id,
    handle: identity.handle,
    walletAddress: identity.walletAddress,
    isManagedWallet: identity.isManagedWallet,
  }
}

/** An agent's wallet and custody (what an escrow op's payer needs), or null if there is no such agent. */
export async function agentIdentity(
  db: Queryable,
  agentId: string,
): Promise<{ walletAddress: Address; isManagedWallet: boolean } | null> {
  const identity = await findAgentById(db, agentId)
  return identity
    ? { walletAddress: identity.walletAddress, isManagedWallet: identity.isManagedWallet }
    : null
}

/** The agent named by id or handle, or null. */
export async function resolveAgentRef(
  context: Pick<AppContext, 'tokens'>,
  db: Queryable,
  ref: string,
): Promise<string | null> {
  if (UUID.test(ref)) return (await findAgentById(db, ref.toLowerCase()))?.id ?? null
  const token = defaultToken(context)
  if (!token) return null
  return (await findDirectoryEntry(db, token, { handle: ref }))?.id ?? null
}

/** The agent's live reputation score (0-100), as the agent directory computes it. */
export async function agentReputation(
  context: Pick<AppContext, 'tokens'>,
  db: Queryable,
  agentId: string,
): Promise<number> {
  const token = defaultToken(context)
  if (!token) return 0
  return (await findDirectoryEntry(db, token, { id: agentId }))?.reputationScore ?? 0
}

/**
 * Whether the agent holds a verified claim (jobs with `requires_verifiable` need one): signed by a
 * trusted issuer about the agent's own wallet, unexpired. A self-asserted claim does not count.
 */
export async function agentHasVerifiedClaim(
  context: Pick<AppContext, 'verifiableClaimIssuers'>,
  db: Queryable,
  agentId: string,
): Promise<boolean> {
  return hasVerifiedClaim(context, db, agentId)
}
