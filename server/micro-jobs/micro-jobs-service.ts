import { randomUUID } from 'node:crypto'
import type { Hex } from 'viem'
import { requestHashOf } from '../../protocol/channels'
import type { ListMicroJobsQuery, MicroJobResponse } from '../../protocol/micro-jobs'
import { invokeTimeoutOf, type AppContext } from '../app-context'
import type { Actor } from '../auth/actor'
import { chainNow } from '../chain/clients'
import { protocolFeeBps } from '../chain/vault-fees'
import type { Queryable } from '../db/pool'
import { withRetryingTransaction } from '../db/retrying-transaction'
import { ConflictError, NotFoundError } from '../errors'
import {
  abandonUnqueuedEscrow,
  bookSignedRelease,
  ESCROW_EXPIRY_MARGIN_SECONDS,
  ESCROW_RESOLVER_FEE_BPS,
  listEscrowOps,
  lockSubjectEscrow,
  queueSignedEscrowOps,
  recordEscrowLock,
  recordEscrowRelease,
  toChainOpResponse,
} from '../escrow/escrow-ops'
import { formatUnits } from '../jobs/job-tokens'
import { feeFor, refundEscrow } from '../ledger/ledger-service'
import type { CallableService } from '../services/services-service'
import {
  finishMicroJob,
  insertMicroJob,
  selectMicroJob,
  selectMicroJobPage,
  selectStalledMicroJobIds,
  type MicroJobRow,
} from './micro-jobs-queries'

/**
 * How long after the longest call (INVOKE_TIMEOUT_MS) a micro-job still `calling` is taken to be
 * stranded by a crash between holding the escrow and finishing the call: the timers refund it.
 */
export const STALLED_MICRO_JOB_GRACE_MS = 5 * 60_000

/** A micro-job the proxy opened and is calling the provider for. */
export interface OpenMicroJob {
  id: string
  amount: bigint
  decimals: number
}

/**
 * Holds a priced call's price in escrow before the provider is called (seed 004 "Invoke Service":
 * a call without a channel is a micro-job). In one transaction: the caller's price moves from its
 * available balance to escrow in the ledger (so concurrent calls never overdraw), the escrow's
 * terms and the caller's signed EscrowLock are recorded, and the micro-job is `calling`. Nothing
 * goes to the settler yet: only an answered call queues the lock and its release, so a failed
 * call never reaches the chain. A managed wallet is signed for; a self-custody caller cannot sign
 * inside a synchronous call and pays through a channel it funds instead (409 `channel_required`).
 */
export async function openMicroJob(
  context: AppContext,
  caller: Actor,
  service: CallableService & { priceAmount: bigint },
  input: unknown,
): Promise<OpenMicroJob> {
  const { token, priceAmount: amount } = service
  if (!caller.isManagedWallet) {
    throw new ConflictError(
      'channel_required',
      `service ${service.id} costs ${formatUnits(amount, token.decimals)} ${token.symbol} a call, and a self-custody wallet pays per call through a channel it funds: open one (POST /v1/channels) and send each call's voucher`,
      { details: { service_id: service.id } },
    )
  }
  const resolverId = context.platformResolverAgentId ?? null
  if (!resolverId || resolverId === caller.id || resolverId === service.agentId) {
    throw new ConflictError(
      'no_resolver',
      'a call without a channel is paid through escrow, which needs a platform resolver apart from both parties: open a channel (POST /v1/channels) instead',
    )
  }
  const id = randomUUID()
  const now = await chainNow(context.chain?.client ?? null)
  const feeBps = await protocolFeeBps(context)
  const requestHash = requestHashOf(input ?? null)
  await withRetryingTransaction(context.pool, async (db) => {
    const { terms, escrowId } = await lockSubjectEscrow(db, context, {
      subject: { microJobId: id },
      payer: caller,
      payeeAgentId: service.agentId,
      resolverAgentId: resolverId,
      token,
      amount,
      feeBps,
      resolverFeeBps: ESCROW_RESOLVER_FEE_BPS,
      expiry: now + BigInt(service.responseTimeSeconds + ESCROW_EXPIRY_MARGIN_SECONDS),
      partialRelease: false,
      shortfall: `a call to service ${service.id} costs ${formatUnits(amount, token.decimals)} ${token.symbol}: deposit more, or open a channel`,
    })
    await insertMicroJob(db, {
      id,
      serviceId: service.id,
      callerAgentId: caller.id,
      providerAgentId: service.agentId,
      token,
      amount,
      feeBps,
      escrowId,
      requestHash,
    })
    await recordEscrowLock(db, context, { subject: { microJobId: id }, escrowId, terms, payer: caller })
  })
  return { id, amount, decimals: token.decimals }
}

/**
 * The provider answered: in one transaction the caller's EscrowRelease is signed, the provider is
 * credited (unsettled, less the fee, spendable once the vault carries the release out), the
 * micro-job is `completed`, and the lock goes to the settler (the release follows once the lock's
 * escrow is committed on-chain). False, with nothing charged, when the micro-job was refunded
 * meanwhile (the timers took it for stranded).
 */
export async function completeMicroJob(
  context: AppContext,
  caller: Actor,
  microJobId: string,
  answer: { responseHash: Hex; upstreamStatus: number; durationMs: number },
): Promise<boolean> {
  return withRetryingTransaction(context.pool, async (db) => {
    const job = (await selectMicroJob(db, microJobId, { forUpdate: true }))!
    if (job.status !== 'calling') return false
    const subject = { microJobId }
    await recordEscrowRelease(db, context, { subject, escrowId: job.escrow_id, payer: caller })
    await bookSignedRelease(
      db,
      subject,
      {
        payerId: job.caller_agent_id,
        payeeId: job.provider_agent_id,
        token: job.token_address,
        amount: BigInt(job.amount),
        feeBps: job.fee_bps,
      },
      job.escrow_id,
    )
    await finishMicroJob(db, microJobId, { status: 'completed', ...answer })
    await queueSignedEscrowOps(db, subject)
    return true
  })
}

/**
 * The escrow of a micro-job still `calling` back to its caller, inside the caller's transaction:
 * its lock never reached the settler, so the vault never held it; its ops are failed and it is
 * `refunded` with `reason`. False, and nothing done, for one already finished.
 */
async function refundOpenMicroJob(db: Queryable, microJobId: string, reason: string): Promise<boolean> {
  const job = await selectMicroJob(db, microJobId, { forUpdate: true })
  if (!job || job.status !== 'calling') return false
  await abandonUnqueuedEscrow(db, { microJobId }, reason)
  await refundEscrow(db, {
    payerId: job.caller_agent_id,
    token: job.token_address,
    amount: BigInt(job.amount),
    reference: `micro-job-refund:${microJobId}`,
  })
  await finishMicroJob(db, microJobId, { status: 'refunded', reason })
  return true
}

/** The provider failed (error, timeout, refused destination): the caller pays nothing. */
export async function refundMicroJob(context: AppContext, microJobId: string, reason: string): Promise<void> {
  await withRetryingTransaction(context.pool, (db) => refundOpenMicroJob(db, microJobId, reason))
}

/**
 * For the timers: refunds up to `limit` micro-jobs a crash left `calling` (started longer ago than
 * the longest call plus `STALLED_MICRO_JOB_GRACE_MS`), each in its own transaction. Returns how
 * many it refunded.
 */
export async function refundStalledMicroJobs(
  context: Pick<AppContext, 'pool' | 'invokeTimeoutMs'>,
  limit = 100,
): Promise<number> {
  const ageMs = invokeTimeoutOf(context) + STALLED_MICRO_JOB_GRACE_MS
  const ids = await selectStalledMicroJobIds(context.pool, ageMs, limit)
  let refunded = 0
  for (const id of ids) {
    refunded += (await withRetryingTransaction(context.pool, (db) =>
      refundOpenMicroJob(db, id, 'the call never finished (the coordinator stopped during it)'),
    ))
      ? 1
      : 0
  }
  return refunded
}

async function toMicroJobResponse(db: Queryable, job: MicroJobRow): Promise<MicroJobResponse> {
  const amount = BigInt(job.amount)
  const ops = await listEscrowOps(db, { microJobId: job.id })
  return {
    job_id: job.id,
    service_id: job.service_id,
    caller_agent_id: job.caller_agent_id,
    provider_agent_id: job.provider_agent_id,
    token: job.token_symbol,
    amount: formatUnits(amount, job.token_decimals),
    fee_amount: formatUnits(feeFor(amount, job.fee_bps), job.token_decimals),
    status: job.status,
    escrow_id: job.escrow_id,
    request_hash: job.request_hash,
    response_hash: job.response_hash,
    upstream_status: job.upstream_status,
    duration_ms: job.duration_ms,
    failure_reason: job.failure_reason,
    escrow_ops: ops.map(toChainOpResponse),
    created_at: job.created_at.toISOString(),
    finished_at: job.finished_at?.toISOString() ?? null,
  }
}

/** `GET /v1/micro-jobs/{micro_job_id}`: its caller and its provider see it; anyone else gets 404. */
export async function getMicroJob(
  context: AppContext,
  actor: Actor,
  microJobId: string,
): Promise<MicroJobResponse> {
  const job = await selectMicroJob(context.pool, microJobId)
  if (!job || (job.caller_agent_id !== actor.id && job.provider_agent_id !== actor.id)) {
    throw new NotFoundError('micro_job_not_found', `micro-job ${microJobId} not found`)
  }
  return toMicroJobResponse(context.pool, job)
}

/** `GET /v1/micro-jobs`: the actor's micro-jobs as caller (default) or provider, newest first. */
export async function listMicroJobs(
  context: AppContext,
  actor: Actor,
  query: ListMicroJobsQuery,
): Promise<MicroJobResponse[]> {
  const rows = await selectMicroJobPage(
    context.pool,
    { agentId: actor.id, role: query.role, status: query.status },
    query,
  )
  return Promise.all(rows.map((row) => toMicroJobResponse(context.pool, row)))
}
