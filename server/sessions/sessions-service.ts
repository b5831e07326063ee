import { randomUUID } from 'node:crypto'
import { sameAddress } from '../../protocol/address'
import type {
  CreateSessionBody,
  SessionResponse,
  SessionTurnResponse,
  SettleSessionResponse,
} from '../../protocol/sessions'
import type { AppContext } from '../app-context'
import type { Actor } from '../auth/actor'
import { chainNow } from '../chain/clients'
import { protocolFeeBps } from '../chain/vault-fees'
import type { Queryable } from '../db/pool'
import { withRetryingTransaction } from '../db/retrying-transaction'
import { ConflictError, fieldError, ForbiddenError, NotFoundError, ValidationError } from '../errors'
import {
  listEscrowOps,
  lockSubjectEscrow,
  queueSignedEscrowOps,
  recordEscrowLock,
  recordEscrowPartialRelease,
  recordEscrowRefund,
  toChainOpResponse,
} from '../escrow/escrow-ops'
import { postServiceEndpoint } from '../invoke/invoke-service'
import { agentActor } from '../jobs/job-agents'
import { formatUnits, parseTokenAmount } from '../jobs/job-tokens'
import { feeFor } from '../ledger/ledger-service'
import {
  findAgentServiceForCall,
  findCallableService,
  type CallableService,
} from '../services/services-service'
import {
  expireSessionsDue,
  finishSession,
  insertSession,
  insertSessionMessage,
  selectSession,
  selectSessionMessages,
  type SessionRow,
} from './sessions-queries'

/**
 * How long a session's budget stays in escrow: from then on the client can reclaim it on-chain
 * alone, and the timers do it for it (`reclaimExpiredEscrows`), so a session never settled
 * returns its budget to the client. A session is meant to be settled well before.
 */
export const SESSION_ESCROW_SECONDS = 7 * 24 * 60 * 60

/**
 * `POST /v1/sessions`: in one transaction the client's budget moves from its available balance to
 * escrow in the ledger (so concurrent hires never overdraw), the escrow's terms and the client's
 * signed EscrowLock are recorded and queued for the vault, and the session and its first message
 * are stored. Then the service's endpoint is asked for the first reply, outside any transaction;
 * a service without an endpoint (or one that fails) answers later through the API. The client
 * must have a managed wallet: the coordinator signs its lock and, on settle, its partial release.
 */
export async function createSession(
  context: AppContext,
  client: Actor,
  body: CreateSessionBody,
): Promise<SessionTurnResponse> {
  const service = body.service_id
    ? await findCallableService(context.pool, body.service_id, client.id)
    : await findAgentServiceForCall(context.pool, body.agent_id!, undefined, client.id)
  if (service.agentId === client.id)
    throw new ValidationError('self_invocation', 'you cannot open a session with your own service')
  const { token } = service
  if (body.token !== undefined && body.token.toUpperCase() !== token.symbol.toUpperCase()) {
    if (!/^0x[0-9a-fA-F]{40}$/.test(body.token) || !sameAddress(body.token, token.address))
      throw fieldError('body', 'token', `must be the service's token, ${token.symbol}`)
  }
  const budget = parseTokenAmount(body.budget, token.decimals, 'budget', { positive: true })
  if (!client.isManagedWallet) {
    throw new ConflictError(
      'wallet_not_managed',
      'a session is paid from escrow the coordinator signs for: it needs a managed wallet (register without a wallet)',
    )
  }
  const id = randomUUID()
  const now = await chainNow(context.chain?.client ?? null)
  const feeBps = await protocolFeeBps(context)
  const escrowExpiry = now + BigInt(SESSION_ESCROW_SECONDS)
  await withRetryingTransaction(context.pool, async (db) => {
    // No resolver: the client settles what the session was worth (the agent took the session on
    // those terms), or the agent refunds it; there is nothing for a third party to rule on. The
    // lock says so (`partialRelease`): the vault allows the client's partial release on this
    // escrow only, never on a job's.
    const { terms, escrowId } = await lockSubjectEscrow(db, context, {
      subject: { sessionId: id },
      payer: client,
      payeeAgentId: service.agentId,
      resolverAgentId: null,
      token,
      amount: budget,
      feeBps,
      resolverFeeBps: 0,
      expiry: escrowExpiry,
      partialRelease: true,
      shortfall: `the session's budget is ${formatUnits(budget, token.decimals)} ${token.symbol}: deposit more`,
    })
    await insertSession(db, {
      id,
      serviceId: service.id,
      clientAgentId: client.id,
      agentId: service.agentId,
      token,
      budget,
      feeBps,
      escrowId,
      escrowExpiry,
    })
    await insertSessionMessage(db, id, 'client', body.message)
    const subject = { sessionId: id }
    await recordEscrowLock(db, context, { subject, escrowId, terms, payer: client })
    await queueSignedEscrowOps(db, subject)
  })
  const reply = await askAgent(context, service, client, id, body.message)
  return { session_id: id, status: 'session_created', message: reply }
}

/**
 * Relays `message` to the service's endpoint and stores its answer as the agent's reply; null
 * when the service has no endpoint or did not answer (the agent replies through the API then).
 * The endpoint gets `{ session_id, message, history }` and answers `{ message }` or plain text,
 * called as the invoke proxy calls it (`postServiceEndpoint`: SSRF-safe, the service's response
 * time, answers up to 1 MB).
 */
async function askAgent(
  context: AppContext,
  service: CallableService,
  client: Actor,
  sessionId: string,
  message: string,
): Promise<string | null> {
  if (!service.endpointUrl) return null
  const history = (await selectSessionMessages(context.pool, sessionId)).map((m) => ({
    author: m.author,
    message: m.body,
  }))
  let text: string
  try {
    const response = await postServiceEndpoint(
      context,
      service,
      { session_id: sessionId, message, history },
      {
        'x-clearhouse-caller': client.id,
        'x-clearhouse-service': service.id,
        'x-clearhouse-session': sessionId,
      },
    )
    if (response.status >= 400) return null
    const json = response.json as { message?: unknown } | undefined
    text = typeof json?.message === 'string' ? json.message : response.body.toString('utf8')
  } catch {
    // An unreachable, refused or slow endpoint is not the client's loss: the budget stays in
    // escrow and the agent can still answer through the API.
    return null
  }
  if (text.trim() === '') return null
  await withRetryingTransaction(context.pool, async (db) => {
    await selectSession(db, sessionId, { forUpdate: true })
    await insertSessionMessage(db, sessionId, 'agent', text)
  })
  return text
}

/** The session, if `actor` is its client or its agent; 404 for anyone else (a session is private). */
async function visibleSession(db: Queryable, actor: Actor, sessionId: string, forUpdate = false) {
  const session = await selectSession(db, sessionId, { forUpdate })
  if (!session || (session.client_agent_id !== actor.id && session.agent_id !== actor.id)) {
    throw new NotFoundError('session_not_found', `session ${sessionId} not found`)
  }
  return session
}

function requireClient(session: SessionRow, actor: Actor, action: string): void {
  if (session.client_agent_id !== actor.id)
    throw new ForbiddenError('not_session_client', `only the session's client may ${action} it`)
}

function requireAgent(session: SessionRow, actor: Actor, action: string): void {
  if (session.agent_id !== actor.id)
    throw new ForbiddenError('not_session_agent', `only the session's agent may ${action}`)
}

async function requireActive(session: SessionRow, context: AppContext): Promise<void> {
  if (session.status !== 'active') {
    throw new ConflictError('session_not_active', `session ${session.id} is ${session.status}`, {
      details: { status: session.status },
    })
  }
  // Past expiry the vault lets the client reclaim the budget, which the timers do: a settlement
  // or a refund signed now could lose that race, so the session is over.
  if ((await chainNow(context.chain?.client ?? null)) >= BigInt(session.escrow_expiry)) {
    throw new ConflictError('session_not_active', `session ${session.id} expired; its budget goes back`, {
      details: { status: 'expired' },
    })
  }
}

/** `POST /v1/sessions/{id}/continue`: the client's next message, relayed; the reply when there is one. */
export async function continueSession(
  context: AppContext,
  client: Actor,
  sessionId: string,
  message: string,
): Promise<SessionTurnResponse> {
  const session = await withRetryingTransaction(context.pool, async (db) => {
    const found = await visibleSession(db, client, sessionId, true)
    requireClient(found, client, 'continue')
    await requireActive(found, context)
    await insertSessionMessage(db, sessionId, 'client', message)
    return found
  })
  const service = await findCallableService(context.pool, session.service_id, client.id).catch(() => null)
  const reply = service ? await askAgent(context, service, client, sessionId, message) : null
  return reply === null
    ? { session_id: sessionId, status: 'awaiting_reply', message: null }
    : { session_id: sessionId, status: 'active', message: reply }
}

/** `POST /v1/sessions/{id}/reply`: the agent answers through the API (services without an endpoint). */
export async function replyToSession(
  context: AppContext,
  agent: Actor,
  sessionId: string,
  message: string,
): Promise<SessionTurnResponse> {
  await withRetryingTransaction(context.pool, async (db) => {
    const session = await visibleSession(db, agent, sessionId, true)
    requireAgent(session, agent, 'reply')
    await requireActive(session, context)
    await insertSessionMessage(db, sessionId, 'agent', message)
  })
  return { session_id: sessionId, status: 'active', message }
}

/**
 * `POST /v1/sessions/{id}/settle`: in one transaction, under the session's row lock (so of two
 * concurrent settles one wins and the other meets `session_not_active`), the session is
 * `settled` and the client's EscrowPartialRelease of `amount` (default: the whole budget) is
 * signed and queued behind the lock. The ledger moves when the vault's `EscrowPartiallyReleased`
 * is indexed: the agent's part less the fee to its available balance, the rest back to the client.
 */
export async function settleSession(
  context: AppContext,
  client: Actor,
  sessionId: string,
  body: { amount?: string | undefined },
): Promise<SettleSessionResponse> {
  return withRetryingTransaction(context.pool, async (db) => {
    const session = await visibleSession(db, client, sessionId, true)
    requireClient(session, client, 'settle')
    await requireActive(session, context)
    const budget = BigInt(session.budget)
    const amount =
      body.amount === undefined ? budget : parseTokenAmount(body.amount, session.token_decimals, 'amount')
    if (amount > budget) {
      throw fieldError(
        'body',
        'amount',
        `must be at most the budget, ${formatUnits(budget, session.token_decimals)} ${session.token_symbol}`,
      )
    }
    const subject = { sessionId }
    await recordEscrowPartialRelease(db, context, {
      subject,
      escrowId: session.escrow_id,
      payer: client,
      amount,
    })
    await finishSession(db, sessionId, { status: 'settled', amountReleased: amount })
    await queueSignedEscrowOps(db, subject)
    const decimals = session.token_decimals
    return {
      session_id: sessionId,
      status: 'settled' as const,
      amount_released: formatUnits(amount, decimals),
      amount_refunded: formatUnits(budget - amount, decimals),
      fee: formatUnits(feeFor(amount, session.fee_bps), decimals),
      token: session.token_symbol,
      currency: session.token_symbol,
    }
  })
}

/**
 * `POST /v1/sessions/{id}/fail`: the agent gives up; its EscrowRefund returns the whole budget to
 * the client (signed at once for a managed wallet; a self-custody agent's op waits for its
 * signature). The ledger moves when the vault's `EscrowRefunded` is indexed.
 */
export async function failSession(
  context: AppContext,
  agent: Actor,
  sessionId: string,
  reason: string | undefined,
): Promise<SessionResponse> {
  await withRetryingTransaction(context.pool, async (db) => {
    const session = await visibleSession(db, agent, sessionId, true)
    requireAgent(session, agent, 'mark it failed')
    await requireActive(session, context)
    const subject = { sessionId }
    await recordEscrowRefund(db, context, {
      subject,
      escrowId: session.escrow_id,
      payee: await agentActor(db, session.agent_id),
    })
    await finishSession(db, sessionId, {
      status: 'failed',
      reason: reason ?? 'the agent could not complete the task',
    })
    await queueSignedEscrowOps(db, subject)
  })
  return getSession(context, agent, sessionId)
}

/**
 * The timers' pass over sessions never settled: each one whose escrow expired (by the vault's clock,
 * as `requireActive` judges it) becomes `expired`, up to `limit`; returns how many. Its budget goes
 * back to the client through the timers' reclaim of expired escrows, as for any escrow.
 */
export async function expireDueSessions(context: AppContext, limit: number): Promise<number> {
  const now = await chainNow(context.chain?.client ?? null)
  const expired = await withRetryingTransaction(context.pool, (db) => expireSessionsDue(db, now, limit))
  return expired.length
}

/** `GET /v1/sessions/{id}`: the conversation and the escrow's state, for the client and the agent. */
export async function getSession(
  context: AppContext,
  actor: Actor,
  sessionId: string,
): Promise<SessionResponse> {
  const session = await visibleSession(context.pool, actor, sessionId)
  const decimals = session.token_decimals
  const messages = await selectSessionMessages(context.pool, sessionId)
  const ops = await listEscrowOps(context.pool, { sessionId })
  return {
    session_id: session.id,
    service_id: session.service_id,
    client_agent_id: session.client_agent_id,
    agent_id: session.agent_id,
    token: session.token_symbol,
    budget: formatUnits(session.budget, decimals),
    status: session.status,
    amount_released: session.amount_released === null ? null : formatUnits(session.amount_released, decimals),
    failure_reason: session.failure_reason,
    escrow_id: session.escrow_id,
    escrow_expires_at: new Date(Number(session.escrow_expiry) * 1000).toISOString(),
    messages: messages.map((m) => ({
      sequence: m.sequence,
      author: m.author,
      message: m.body,
      created_at: m.created_at.toISOString(),
    })),
    escrow_ops: ops.map(toChainOpResponse),
    created_at: session.created_at.toISOString(),
    finished_at: session.finished_at?.toISOString() ?? null,
  }
}
