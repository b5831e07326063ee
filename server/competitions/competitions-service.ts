import { randomUUID } from 'node:crypto'
import type { Hex } from 'viem'
import type {
  EntryResponse,
  ResolveCompetitionBody,
  ResolveCompetitionResponse,
  SubmitEntryBody,
} from '../../protocol/competitions'
import type { EscrowSignatureBody } from '../../protocol/assignments'
import { BPS } from '../../protocol/typed-data'
import type { AppContext } from '../app-context'
import { chainNow } from '../chain/clients'
import {
  ESCROW_EXPIRY_MARGIN_SECONDS,
  bookSignedRelease,
  newEscrowTerms,
  recordEscrowLock,
  listEscrowOps,
  queueSignedEscrowOps,
  recordEscrowRelease,
  saveEscrowOpSignature,
  toChainOpResponse,
  verifyEscrowOpSignature,
} from '../escrow/escrow-ops'
import type { Queryable } from '../db/pool'
import { ConflictError, fieldError, ForbiddenError, NotFoundError } from '../errors'
import { agentIdentity, agentWallet } from '../jobs/job-agents'
import { withRetryingTransaction } from '../db/retrying-transaction'
import { publishEvent } from '../events/event-bus'
import { formatUnits } from '../jobs/job-tokens'
import {
  findJob,
  findVisibleJob,
  isPastDeadline,
  toJobResponse,
  transitionJob,
  type JobRow,
} from '../jobs/job-records'
import type { Actor } from '../auth/actor'
import { refundEscrow } from '../ledger/ledger-service'
import { protocolFeeBps } from '../chain/vault-fees'
import { deliverableHashFor } from '../assignments/assignments-service'
import {
  insertEntry,
  recordPrize,
  selectEntry,
  selectJobEntries,
  selectWorkerEntry,
  updateEntryDeliverable,
  countEntries,
  type EntryRow,
} from './competitions-queries'
import { refundCompetitionPool } from './competition-pool'

/**
 * A competition at its deadline (job row locked): with entries it goes to `judging`; with none it
 * `expired` and its pool goes back to the creator.
 */
export async function applyCompetitionDeadline(db: Queryable, job: JobRow): Promise<void> {
  if ((await countEntries(db, job.id)) > 0) {
    await transitionJob(db, job.id, 'judging')
  } else {
    await refundCompetitionPool(db, job)
    await transitionJob(db, job.id, 'expired')
  }
}

function isCompetitionParty(job: JobRow, agentId: string | null): boolean {
  return agentId !== null && (agentId === job.creator_agent_id || agentId === job.dispute_agent_id)
}

/** Entries are sealed while a competition is open: after its deadline everyone who sees the job sees them all. */
function entriesAreOpen(job: JobRow): boolean {
  return job.status !== 'open' || isPastDeadline(job)
}

async function toEntryResponse(
  db: Queryable,
  job: JobRow,
  entry: EntryRow,
  viewerId: string | null,
): Promise<EntryResponse> {
  const response: EntryResponse = {
    entry_id: entry.id,
    job_id: entry.job_id,
    worker_agent_id: entry.worker_agent_id,
    deliverable: entry.deliverable,
    deliverable_hash: entry.deliverable_hash,
    prize_bps: entry.prize_bps,
    prize_amount: entry.prize_amount === null ? null : formatUnits(entry.prize_amount, entry.token_decimals),
    budget_token: entry.token_symbol,
    created_at: entry.created_at.toISOString(),
    updated_at: entry.updated_at.toISOString(),
  }
  if (isCompetitionParty(job, viewerId) || viewerId === entry.worker_agent_id) {
    response.chain_ops = (await listEscrowOps(db, { entryId: entry.id })).map(toChainOpResponse)
  }
  return response
}

/** The competition job if the viewer may see it: a 404 when hidden, a 409 when it is not a competition. */
async function findCompetition(
  db: Queryable,
  jobId: string,
  viewerId: string | null,
  options: { forUpdate?: boolean } = {},
): Promise<JobRow> {
  const job = await findVisibleJob(db, jobId, viewerId, options)
  if (job.job_type !== 'competition') {
    throw new ConflictError(
      'not_a_competition',
      `job ${job.id} is a ${job.job_type} job; it takes bids, not entries`,
    )
  }
  return job
}

/**
 * `POST /v1/jobs/{job_id}/entries`: any agent but the creator and the judge enters an open
 * competition before its deadline. Submitting again updates the entry; every earlier deliverable
 * stays in the entry's revisions.
 */
export async function submitEntry(
  context: AppContext,
  actor: Actor,
  jobId: string,
  body: SubmitEntryBody,
): Promise<{ created: boolean; entry: EntryResponse }> {
  const hash = deliverableHashFor(body)
  return withRetryingTransaction(context.pool, async (db) => {
    const job = await findCompetition(db, jobId, actor.id, { forUpdate: true })
    if (isCompetitionParty(job, actor.id)) {
      throw new ForbiddenError('cannot_enter', 'the creator and the judge cannot enter their own competition')
    }
    if (job.status !== 'open')
      throw new ConflictError('job_not_open', `competition ${job.id} is ${job.status}`)
    if (isPastDeadline(job))
      throw new ConflictError('job_expired', `competition ${job.id} passed its deadline`)
    const existing = await selectWorkerEntry(db, job.id, actor.id)
    let entryId: string
    if (existing) {
      entryId = existing.id
      await updateEntryDeliverable(db, entryId, body.deliverable, hash)
    } else {
      entryId = randomUUID()
      await insertEntry(db, {
        id: entryId,
        jobId: job.id,
        workerId: actor.id,
        deliverable: body.deliverable,
        deliverableHash: hash,
      })
    }
    const entry = (await selectEntry(db, entryId))!
    return { created: !existing, entry: await toEntryResponse(db, job, entry, actor.id) }
  })
}

/**
 * `GET /v1/jobs/{job_id}/entries`: while the competition is open an entrant sees only its own
 * entry (the creator and the judge see all); after the deadline every entry is visible.
 */
export async function listEntries(
  context: AppContext,
  viewerId: string | null,
  jobId: string,
): Promise<EntryResponse[]> {
  const db = context.pool
  const job = await findCompetition(db, jobId, viewerId)
  const seesAll = entriesAreOpen(job) || isCompetitionParty(job, viewerId)
  if (!seesAll && viewerId === null) return []
  const rows = await selectJobEntries(db, job.id, seesAll ? {} : { workerId: viewerId! })
  return Promise.all(rows.map((row) => toEntryResponse(db, job, row, viewerId)))
}

/**
 * `POST /v1/jobs/{job_id}/resolve` (judge only): pays each listed entry `bps` of the prize pool
 * (rounded down, less the platform fee) and refunds what is left to the creator, in one
 * transaction. A competition past its deadline is moved to `judging` first if the timer has not
 * run yet. Each prize is also queued for the vault as an escrow locked and released at once,
 * both signed by the creator.
 */
export async function resolveCompetition(
  context: AppContext,
  actor: Actor,
  jobId: string,
  body: ResolveCompetitionBody,
): Promise<ResolveCompetitionResponse> {
  // The vault judges prize escrows' expiry by the chain's clock; read it before any row is locked.
  const now = await chainNow(context.chain?.client ?? null)
  const feeBps = await protocolFeeBps(context)
  const result = await withRetryingTransaction(context.pool, async (db) => {
    let job = await findCompetition(db, jobId, actor.id, { forUpdate: true })
    if (job.dispute_agent_id !== actor.id) {
      throw new ForbiddenError('not_judge', "only the competition's judge may resolve it")
    }
    if (job.status === 'open' && isPastDeadline(job)) {
      await applyCompetitionDeadline(db, job)
      job = (await findJob(db, job.id))!
    }
    if (job.status !== 'judging') {
      throw new ConflictError(
        'job_not_judging',
        `competition ${job.id} is ${job.status}; only judging ones resolve`,
      )
    }
    const entries = await selectJobEntries(db, job.id, { forUpdate: true })
    const pool = BigInt(job.budget_amount!)
    const creator = job.creator_agent_id
    const payer = { id: creator, ...(await agentIdentity(db, creator))! }
    // The judge is each prize escrow's resolver, so even a prize can be ruled on-chain.
    const judgeWallet = (await agentWallet(db, job.dispute_agent_id!))!
    let paid = 0n
    const winners: string[] = []
    for (const [index, result] of body.results.entries()) {
      const entry = entries.find((candidate) => candidate.id === result.entry_id)
      if (!entry) throw fieldError('body', `results.${index}.entry_id`, 'is not an entry of this competition')
      const prize = (pool * BigInt(result.bps)) / BigInt(BPS)
      await recordPrize(db, entry.id, result.bps, prize)
      if (prize === 0n) continue
      paid += prize
      winners.push(entry.id)
      const { terms, escrowId } = await newEscrowTerms(db, context, {
        payer: payer.walletAddress,
        payee: (await agentWallet(db, entry.worker_agent_id))!,
        token: job.token_address,
        amount: prize,
        resolver: judgeWallet,
        feeBps,
        resolverFeeBps: 0,
        expiry: now + BigInt(ESCROW_EXPIRY_MARGIN_SECONDS),
        partialRelease: false,
      })
      await recordEscrowLock(db, context, { subject: { entryId: entry.id }, escrowId, terms, payer })
      await recordEscrowRelease(db, context, { subject: { entryId: entry.id }, escrowId, payer })
      // The winner is credited (unsettled) once the creator's release is signed: at once for a
      // managed wallet, when a self-custody creator posts its signature otherwise.
      if (payer.isManagedWallet)
        await bookPrizeRelease(db, job, entry.worker_agent_id, entry.id, prize, escrowId, terms.feeBps)
      await queueSignedEscrowOps(db, { entryId: entry.id })
    }
    const refund = pool - paid
    if (refund > 0n) {
      await refundEscrow(db, {
        payerId: creator,
        token: job.token_address,
        amount: refund,
        reference: `competition-refund:${job.id}`,
      })
    }
    await transitionJob(db, job.id, 'completed')
    await publishEvent(db, {
      type: 'competition_resolved',
      audience: entries.filter((entry) => winners.includes(entry.id)).map((entry) => entry.worker_agent_id),
      data: { job_id: job.id, job_title: job.title },
    })
    return { winners, refund, decimals: job.token_decimals }
  })
  const job = (await findJob(context.pool, jobId))!
  const winners = await Promise.all(
    result.winners.map(async (id) =>
      toEntryResponse(context.pool, job, (await selectEntry(context.pool, id))!, actor.id),
    ),
  )
  return {
    job: toJobResponse(job, actor.id),
    winners,
    refunded_amount: formatUnits(result.refund, result.decimals),
  }
}

/**
 * `POST /v1/jobs/{job_id}/entries/{entry_id}/escrow-signature`: a self-custody creator's
 * signature over a prize's EscrowLock or EscrowRelease.
 */
export async function submitPrizeSignature(
  context: AppContext,
  actor: Actor,
  jobId: string,
  entryId: string,
  body: EscrowSignatureBody,
): Promise<EntryResponse> {
  return withRetryingTransaction(context.pool, async (db) => {
    const job = await findCompetition(db, jobId, actor.id)
    // The role is checked before the entry is looked up: anyone else gets this same 403 whether
    // or not the entry exists, so a sealed entry's existence does not show.
    if (job.creator_agent_id !== actor.id) {
      throw new ForbiddenError('not_payer', 'only the payer (the competition creator) signs prize escrows')
    }
    const entry = await selectEntry(db, entryId)
    if (!entry || entry.job_id !== job.id)
      throw new NotFoundError('entry_not_found', `entry ${entryId} not found`)
    const ops = await listEscrowOps(db, { entryId: entry.id }, { forUpdate: true })
    const op = ops.find((candidate) => candidate.kind === body.kind)
    if (!op) throw new ConflictError('escrow_op_not_found', `entry ${entry.id} has no ${body.kind} to sign`)
    if (op.status !== 'awaiting_signature') {
      throw new ConflictError('escrow_op_signed', `the ${body.kind} of entry ${entry.id} is already signed`)
    }
    const signature = body.signature.toLowerCase() as Hex
    await verifyEscrowOpSignature(op, signature)
    await saveEscrowOpSignature(db, op.id, signature)
    if (op.kind === 'escrow_release') {
      await bookPrizeRelease(
        db,
        job,
        entry.worker_agent_id,
        entry.id,
        BigInt(entry.prize_amount!),
        op.escrow_id,
        op.terms.feeBps,
      )
    }
    await queueSignedEscrowOps(db, { entryId: entry.id })
    return toEntryResponse(db, job, (await selectEntry(db, entry.id))!, actor.id)
  })
}

/** `bookSignedRelease` for a prize: the creator's escrow to the winner, less the fee its escrow names. */
async function bookPrizeRelease(
  db: Queryable,
  job: JobRow,
  winnerId: string,
  entryId: string,
  prize: bigint,
  escrowId: string,
  feeBps: number,
): Promise<void> {
  await bookSignedRelease(
    db,
    { entryId },
    {
      payerId: job.creator_agent_id,
      payeeId: winnerId,
      token: job.token_address,
      amount: prize,
      feeBps,
    },
    escrowId,
  )
}
