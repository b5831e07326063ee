import type { Address } from 'viem'
import { randomBytes } from 'node:crypto'
import {
  REQUEST_ID_PATTERN,
  TIMESTAMP_PATTERN,
  signedEnvelopeMessage,
  signedRequestMessage,
  signedRequestTimestamp,
  type SignedEnvelopeFields,
  type SignedRequestFields,
} from '../../protocol/signed-request'
import { findAgentByWallet } from '../agents/agents-service'
import type { Queryable } from '../db/pool'
import { NotFoundError, UnauthorizedError } from '../errors'
import {
  claimRequestId,
  deleteAgentSessions,
  deleteExpiredSessions,
  insertSession,
  selectLiveSession,
} from './auth-queries'
import type { Actor } from './actor'
import { recoverPersonalSignAddress } from './signatures'

/** How long a session nonce signs requests. */
export const SESSION_TTL_SECONDS = 24 * 60 * 60

/** How far a signed request's timestamp may be from the coordinator's clock when not configured. */
export const DEFAULT_SIGNED_REQUEST_MAX_AGE_SECONDS = 300

/** Opens a signing session for the agent whose wallet is `walletAddress`. */
export async function createSession(
  db: Queryable,
  walletAddress: Address,
): Promise<{ nonce: string; agentId: string; expiresAt: Date }> {
  const agent = await findAgentByWallet(db, walletAddress)
  if (!agent) throw new NotFoundError('agent_not_found', `no agent has wallet ${walletAddress}`)
  const nonce = randomBytes(16).toString('hex')
  const expiresAt = new Date(Date.now() + SESSION_TTL_SECONDS * 1000)
  // Cleaning up here keeps the tables small without a worker; it touches only expired rows.
  await deleteExpiredSessions(db)
  await insertSession(db, { nonce, agentId: agent.id, walletAddress, expiresAt })
  return { nonce, agentId: agent.id, expiresAt }
}

function refuse(reason: string, message: string, details: Record<string, unknown> = {}): never {
  throw new UnauthorizedError('unauthorized', message, { details: { reason, ...details } })
}

/** A wallet-signed request as its headers carry it, with the action, product and payload hash it asks for. */
export type SignedRequestInput = Omit<SignedRequestFields, 'wallet' | 'timestamp'> & {
  wallet: string
  /** X-Clearhouse-Timestamp as sent. */
  timestamp: string
  signature: string
}

/**
 * Verifies a wallet-signed request and returns its agent. The request id is recorded only after
 * the signature checks out, so nobody can burn another wallet's ids; recording it is a single
 * INSERT … ON CONFLICT, so of two concurrent replays exactly one passes. It is recorded before
 * the timestamp is judged, so a request refused as stale (even one dated in the future, which
 * the clock would later reach) can never be used again either; the caller authenticates before
 * any rate limit, so a refused answer never leaves a signed request valid.
 */
export async function verifySignedRequest(
  db: Queryable,
  fields: SignedRequestInput,
  options: { maxAgeSeconds?: number; now?: Date } = {},
): Promise<Actor> {
  if (!TIMESTAMP_PATTERN.test(fields.timestamp)) {
    refuse(
      'malformed_timestamp',
      'X-Clearhouse-Timestamp must be unix seconds (decimal digits, no leading zeros)',
    )
  }
  const timestamp = Number(fields.timestamp)
  const agent = await verifyWalletSignature(db, fields, (wallet) =>
    signedRequestMessage({ ...fields, wallet, timestamp }),
  )
  const maxAgeSeconds = options.maxAgeSeconds ?? DEFAULT_SIGNED_REQUEST_MAX_AGE_SECONDS
  const now = signedRequestTimestamp(options.now)
  if (Math.abs(now - timestamp) > maxAgeSeconds) {
    refuse(
      'stale_request',
      `X-Clearhouse-Timestamp ${timestamp} is more than ${maxAgeSeconds} s from the coordinator's clock (${now}); sign the request again`,
      { max_age_seconds: maxAgeSeconds, server_timestamp: now },
    )
  }
  return agent
}

/**
 * Verifies seed 003's body envelope (protocol/signed-request.ts `signedEnvelopeMessage`) and
 * returns its agent: the same session, signature and single-use request id checks as the headers,
 * without a timestamp.
 */
export async function verifySignedEnvelope(
  db: Queryable,
  fields: Omit<SignedEnvelopeFields, 'wallet'> & { wallet: string; signature: string },
): Promise<Actor> {
  return verifyWalletSignature(db, fields, (wallet) => signedEnvelopeMessage({ ...fields, wallet }))
}

/**
 * The checks both signed forms share: well-formed fields, a live session of this wallet, the
 * wallet's signature over `messageFor(wallet)`, its agent, and the request id claimed once.
 */
async function verifyWalletSignature(
  db: Queryable,
  fields: { wallet: string; session: string; requestId: string; signature: string },
  messageFor: (wallet: Address) => string,
): Promise<Actor> {
  const wallet = fields.wallet.toLowerCase()
  if (!/^0x[0-9a-f]{40}$/.test(wallet)) refuse('malformed_wallet', 'the wallet is not an address')
  if (!/^[0-9a-f]{32}$/.test(fields.session))
    refuse('malformed_session', 'the session is not a session nonce')
  if (!REQUEST_ID_PATTERN.test(fields.requestId)) {
    refuse('malformed_request_id', 'the request id must be 1-128 of A-Z a-z 0-9 . _ : -')
  }
  const session = await selectLiveSession(db, fields.session)
  if (!session || session.walletAddress !== wallet) {
    refuse('invalid_session', 'session is unknown, expired, or belongs to another wallet')
  }
  if (recoverPersonalSignAddress(messageFor(wallet as Address), fields.signature) !== wallet) {
    refuse('invalid_signature', 'signature does not match the wallet and this request')
  }
  const agent = await findAgentByWallet(db, wallet)
  if (!agent || agent.id !== session.agentId)
    refuse('invalid_session', 'the session no longer matches an agent')
  if (!(await claimRequestId(db, session.nonce, fields.requestId))) {
    refuse('request_replayed', `request id ${fields.requestId} was already used in this session`)
  }
  return {
    id: agent.id,
    handle: agent.handle,
    walletAddress: agent.walletAddress,
    isManagedWallet: agent.isManagedWallet,
  }
}

/** Ends every wallet-signing session of `agentId`: a rotated API key leaves no other way in open. */
export async function endAgentSessions(db: Queryable, agentId: string): Promise<number> {
  return deleteAgentSessions(db, agentId)
}
