import { expect } from 'chai'
import type { Express } from 'express'
import request from 'supertest'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import type { BidResponse } from '../../../protocol/bids'
import type { EntryResponse } from '../../../protocol/competitions'
import type { JobDetailResponse, JobResponse } from '../../../protocol/jobs'
import type { MessageResponse } from '../../../protocol/messages'
import type { Deposit, Withdrawal, WithdrawalAddress } from '../../../protocol/wallet'
import { bearer, fundAgent, registerAgent, uniqueHandle, type RegisteredTestAgent } from '../helpers/agents'
import { createTestApp } from '../helpers/app'
import { createChainTestApp, type ChainTestApp } from '../helpers/chain-app'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { postAward, postBid, postJob, postSubmit } from '../helpers/jobs'
import { startUpstreamStub, type UpstreamStub } from '../helpers/upstream'
import { WebhookSender } from '../../../server/webhooks/webhook-sender'

/**
 * Issue 10's authorization matrix: every /v1 route against every kind of caller, from one table.
 * A row is a route (and, where the answer depends on it, the state of what its ids name: a
 * cancelled job, a sealed competition); a column is a caller; a cell is what that caller must get.
 * The rules are seed 004's: jobs in every status but `closed` are public, a cancelled job is its
 * creator's alone and a job closed after work its participants' (requester, worker, resolver);
 * anything hidden answers 404 exactly like something missing, never 403; a visible thing acted on
 * in the wrong role is 403; pending bids and proposals never reach other agents; deliverables
 * are for participants; competition entries are sealed while the competition is open.
 *
 * The app runs over a real vault on Hardhat's chain, so routes that move money on-chain answer
 * what they answer in production (a withdrawal is 201) instead of 409 `chain_unavailable`. Every
 * agent has a managed wallet, so awards start `in_progress`.
 */

const CALLERS = ['anonymous', 'stranger', 'requester', 'worker', 'resolver', 'judge'] as const
type Caller = (typeof CALLERS)[number]
type AgentCaller = Exclude<Caller, 'anonymous'>

const AS: Record<Caller, string> = {
  anonymous: 'anonymous',
  stranger: 'a stranger',
  requester: 'the requester',
  worker: 'the worker',
  resolver: 'the resolver',
  judge: 'the judge',
}

/** The path's ids (named as in the OpenAPI document) and whatever else a cell's check needs. */
type Params = Record<string, string>

interface Cell {
  status: number
  /** The error code, where the answer is an error that should name one. */
  code?: string
  /** What the test's name says after the status. */
  says?: string
  /** What the caller may see of the body, where that matters as much as the status. */
  check?: (res: request.Response, params: Params, caller: Caller) => void
}

interface Row {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'
  /** The path exactly as the OpenAPI document spells it. */
  path: string
  /** The state of what the ids name, where the route has a row per state. */
  state?: string
  /**
   * A competition's resolver is its judge (`dispute_agent_id` is the platform judge), so its rows
   * have no separate resolver column; on a standard job the judge is one more agent with no role.
   */
  competition?: boolean
  /** Builds what the cell acts on (a fresh one where the allowed caller changes it) and names it. */
  params?: (caller: Caller) => Promise<Params>
  query?: (params: Params, caller: Caller) => Record<string, string | number>
  body?: (params: Params, caller: Caller) => object
  after?: (res: request.Response, caller: Caller) => void
  cells: Partial<Record<Caller, Cell>>
}

interface World {
  app: Express
  agents: Record<AgentCaller, RegisteredTestAgent>
  /** A second bidder and entrant: its pending bid, proposal and sealed entry are nobody else's business. */
  rival: RegisteredTestAgent
  /** Read-only fixtures, built once. */
  shared: {
    submitted: Params
    open: Params
    cancelled: Params
    closed: Params
    competition: Params
    judging: Params
    cancelledCompetition: Params
    deposit: Params
    withdrawal: Params
    address: Params
  }
}

let world: World
let testDatabase: TestDatabase
let chain: ChainTestApp
let upstream: UpstreamStub

const WORKER_PROPOSAL = 'Worker proposal: I audit every authentication path by hand.'
const RIVAL_PROPOSAL = 'Rival proposal: a fuzzing campaign over the whole module.'
const DELIVERABLE = 'https://example.com/matrix-report.md'
const BOGUS_SIGNATURE = `0x${'11'.repeat(65)}`

// ---------------------------------------------------------------------------------------------
// Cells

const ok = (status: number, says?: string, check?: Cell['check']): Cell => ({ status, says, check })
const UNAUTHENTICATED: Cell = { status: 401, code: 'unauthorized' }
const forbidden = (code: string): Cell => ({ status: 403, code, says: code })
const hidden = (what: string, code?: string): Cell => ({
  status: 404,
  code,
  says: `hidden like a missing ${what}`,
})
const conflict = (code: string, says: string): Cell => ({ status: 409, code, says: `${code}, ${says}` })
const HIDDEN_JOB = hidden('job', 'job_not_found')

/** Every caller, anonymous included, gets `cell`. */
function everyone(cell: Cell): Row['cells'] {
  return Object.fromEntries(CALLERS.map((caller) => [caller, cell]))
}

/** Any agent gets `cell` (on its own account, where the route acts on one); anonymous 401. */
function anyAgent(cell: Cell): Row['cells'] {
  return { ...everyone(cell), anonymous: UNAUTHENTICATED }
}

/** Something only the requester holds: the requester gets `cell`, every other agent 404, anonymous 401. */
function requesterOwns(cell: Cell, what: string, code?: string): Row['cells'] {
  return {
    ...everyone(hidden(what, code)),
    anonymous: UNAUTHENTICATED,
    requester: cell,
  }
}

/** The awarded job's private side: its participants get `cell`, any other agent 404, anonymous 401. */
function participantsOnly(cell: Cell, what: string, code: string): Row['cells'] {
  return { ...requesterOwns(cell, what, code), worker: cell, resolver: cell }
}

/** A change to a visible standard job only its creator may make: others 403, anonymous 401. */
function creatorOnly(cell: Cell, code = 'not_job_creator'): Row['cells'] {
  return { ...everyone(forbidden(code)), anonymous: UNAUTHENTICATED, requester: cell }
}

// ---------------------------------------------------------------------------------------------
// Fixtures

const agent = (caller: AgentCaller) => world.agents[caller]
const auth = (holder: RegisteredTestAgent) => bearer(holder.apiKey)
const freshAddress = () => privateKeyToAccount(generatePrivateKey()).address

/** An open job of the requester, resolved by the resolver; the worker's pending bid unless `bid` is false. */
async function openJob(options: { bid?: boolean } = {}): Promise<Params> {
  const job = await postJob(world.app, agent('requester').apiKey, {
    dispute_agent_id: agent('resolver').agent.id,
  })
  if (options.bid === false) return { job_id: job.job_id }
  const bid = await postBid(world.app, agent('worker').apiKey, job.job_id, { proposal: WORKER_PROPOSAL })
  return { job_id: job.job_id, bid_id: bid.bid_id }
}

async function award(params: Params): Promise<Params> {
  const awarded = await postAward(world.app, agent('requester').apiKey, params.job_id!, params.bid_id!)
  expect(awarded.assignment.status).to.equal('in_progress')
  return { ...params, assignment_id: awarded.assignment.assignment_id }
}

const jobInProgress = async () => award(await openJob())

async function jobSubmitted(): Promise<Params> {
  const params = await jobInProgress()
  await postSubmit(world.app, agent('worker').apiKey, params.job_id!, DELIVERABLE)
  return params
}

/** A submitted job the requester disputed; `deposit_op_id` is the deposit's EscrowLock, signed by its managed wallet. */
async function disputeOpened(): Promise<Params> {
  const params = await jobSubmitted()
  const opened = await request(world.app)
    .post(`/v1/jobs/${params.job_id}/dispute`)
    .set('Authorization', auth(agent('requester')))
    .send({ reason: 'The report is missing its severity ratings.' })
    .expect(201)
  return { ...params, dispute_id: opened.body.dispute_id, deposit_op_id: opened.body.chain_ops[0].op_id }
}

/** A service of the requester's, enabled unless `enabled` is false. */
async function ownService(options: { enabled?: boolean } = {}): Promise<Params> {
  const res = await request(world.app)
    .post('/v1/agents/me/services')
    .set('Authorization', auth(agent('requester')))
    .send({
      name: 'Matrix review',
      category: 'development',
      pricing_model: 'per_call',
      price_amount: '0.5',
      enabled: options.enabled ?? true,
    })
    .expect(201)
  return { service_id: res.body.service_id, agent_id: agent('requester').agent.id }
}

/** An instant job of the requester's, assigned to a fresh service of the worker's. */
async function instantJob(): Promise<Params> {
  const service = await request(world.app)
    .post('/v1/agents/me/services')
    .set('Authorization', auth(agent('worker')))
    .send({
      name: 'Matrix instant review',
      category: 'development',
      pricing_model: 'fixed',
      price_amount: '0.5',
    })
    .expect(201)
  const res = await request(world.app)
    .post('/v1/jobs/instant')
    .set('Authorization', auth(agent('requester')))
    .send({
      title: 'Matrix instant job',
      description: 'Hired straight from the worker’s service.',
      budget_amount: '1',
      service_id: service.body.service_id,
    })
    .expect(201)
  return { job_id: res.body.job_id, service_id: service.body.service_id }
}

/** A negotiable (hybrid) service of the requester's. */
async function negotiableService(): Promise<Params> {
  const res = await request(world.app)
    .post('/v1/agents/me/services')
    .set('Authorization', auth(agent('requester')))
    .send({ name: 'Matrix haggle', category: 'development', pricing_model: 'hybrid', base_price: '1' })
    .expect(201)
  return { service_id: res.body.service_id }
}

/** The worker's open offer on a fresh negotiable service of the requester's: the requester's turn. */
async function negotiationOpen(): Promise<Params> {
  const service = await negotiableService()
  const res = await request(world.app)
    .post('/v1/negotiations')
    .set('Authorization', auth(agent('worker')))
    .send({ service_id: service.service_id, amount: '0.5' })
    .expect(201)
  return { ...service, negotiation_id: res.body.negotiation_id }
}

/** A negotiation's two parties: the requester (seller, whose turn it is) gets `turn`, the worker (who offered) `offerer`; anyone else 404, anonymous 401. */
function negotiationParties(turn: Cell, offerer: Cell): Row['cells'] {
  return {
    ...everyone(hidden('negotiation', 'negotiation_not_found')),
    anonymous: UNAUTHENTICATED,
    requester: turn,
    worker: offerer,
  }
}

/** A free service of the requester's that answers through the invoke proxy (the upstream stub's echo). */
async function callableService(): Promise<Params> {
  const res = await request(world.app)
    .post('/v1/agents/me/services')
    .set('Authorization', auth(agent('requester')))
    .send({
      name: 'Matrix echo',
      category: 'testing',
      pricing_model: 'per_call',
      price_amount: '0',
      endpoint_url: `${upstream.baseUrl}/echo`,
    })
    .expect(201)
  return { service_id: res.body.service_id, agent_id: agent('requester').agent.id }
}

/** The worker's open channel to a fresh service of the requester's: the worker calls, the requester provides. */
async function channelOpen(): Promise<Params> {
  const service = await ownService()
  const res = await request(world.app)
    .post('/v1/channels')
    .set('Authorization', auth(agent('worker')))
    .send({ service_id: service.service_id, deposit_amount: '1' })
    .expect(201)
  return { ...service, channel_id: res.body.channel_id }
}

/** A paid call's caller (the worker) and provider (the requester) get `cell` (`providerCell` for the provider), any other agent `hiddenAs`, anonymous 401. */
function callParties(cell: Cell, hiddenAs: Cell, providerCell: Cell = cell): Row['cells'] {
  return { ...everyone(hiddenAs), anonymous: UNAUTHENTICATED, worker: cell, requester: providerCell }
}

/** A channel's caller and provider get `cell` (`providerCell` for the provider), any other agent 404, anonymous 401. */
function channelParties(cell: Cell, providerCell: Cell = cell): Row['cells'] {
  return callParties(cell, hidden('channel', 'channel_not_found'), providerCell)
}

/** A priced service of the requester's with an endpoint: what an x402 client pays for. */
async function pricedService(): Promise<Params> {
  const res = await request(world.app)
    .post('/v1/agents/me/services')
    .set('Authorization', auth(agent('requester')))
    .send({
      name: 'Matrix x402 echo',
      category: 'testing',
      pricing_model: 'per_call',
      price_amount: '0.01',
      endpoint_url: `${upstream.baseUrl}/echo`,
    })
    .expect(201)
  return { service_id: res.body.service_id }
}

/** A micro-job: the worker's priced call, without a channel, to a fresh service of the requester's. */
async function microJob(): Promise<Params> {
  const service = await request(world.app)
    .post('/v1/agents/me/services')
    .set('Authorization', auth(agent('requester')))
    .send({
      name: 'Matrix priced echo',
      category: 'testing',
      pricing_model: 'per_call',
      price_amount: '0.01',
      endpoint_url: `${upstream.baseUrl}/echo`,
    })
    .expect(201)
  const res = await request(world.app)
    .post(`/v1/services/${service.body.service_id}/invoke`)
    .set('Authorization', auth(agent('worker')))
    .send({ input: 'paid' })
    .expect(200)
  return { micro_job_id: res.body.job_id }
}

/** A reservable job of the requester's, open (unless `reservedBy` the worker) with a 0.5 reward. */
async function reservableJob(options: { reserved?: boolean } = {}): Promise<Params> {
  const res = await request(world.app)
    .post('/v1/jobs/reservable')
    .set('Authorization', auth(agent('requester')))
    .send({
      title: 'Matrix reservable job',
      description: 'Reserved and completed by one agent at a time, its instructions private to it.',
      budget_amount: '0.5',
      private_instructions: 'Matrix: the holder alone reads this.',
    })
    .expect(201)
  if (!options.reserved) return { job_id: res.body.job_id }
  const reserved = await request(world.app)
    .post(`/v1/external/jobs/${res.body.job_id}/reserve`)
    .set('Authorization', auth(agent('worker')))
    .expect(201)
  return { job_id: res.body.job_id, reservation_id: reserved.body.reservation_id }
}

/** A priced echo service of the requester's offering the `matrix-task` capability (as a tag). */
async function taskService(): Promise<Params> {
  const res = await request(world.app)
    .post('/v1/agents/me/services')
    .set('Authorization', auth(agent('requester')))
    .send({
      name: 'Matrix task echo',
      category: 'testing',
      pricing_model: 'per_call',
      price_amount: '0.01',
      tags: ['matrix-task'],
      endpoint_url: `${upstream.baseUrl}/echo`,
    })
    .expect(201)
  return { service_id: res.body.service_id }
}

/** A task the worker routed to a service of the requester's without an endpoint: the requester works it through the API. */
async function assignedTask(): Promise<Params> {
  await request(world.app)
    .post('/v1/agents/me/services')
    .set('Authorization', auth(agent('requester')))
    .send({
      name: 'Matrix task by hand',
      category: 'testing',
      pricing_model: 'fixed',
      price_amount: '0.01',
      tags: ['matrix-hand-task'],
    })
    .expect(201)
  const res = await request(world.app)
    .post('/v1/tasks')
    .set('Authorization', auth(agent('worker')))
    .send({ capability: 'matrix-hand-task', input: 'by hand', max_price: '0.01' })
    .expect(201)
  return { task_id: res.body.task_id }
}

/** A task the requester posted to the board, open for any agent to take. */
async function boardTask(): Promise<Params> {
  const res = await request(world.app)
    .post('/v1/tasks')
    .set('Authorization', auth(agent('requester')))
    .send({ title: 'Matrix board task', budget: '0.01', required_capabilities: ['matrix'] })
    .expect(201)
  return { task_id: res.body.task_id }
}

/** A task worked through the API: its provider (the requester) gets `cell`, its requester (the worker) 403, others 404. */
function taskProviderOnly(cell: Cell): Row['cells'] {
  return callParties(forbidden('not_task_provider'), hidden('task', 'task_not_found'), cell)
}

/** A task the worker routed to the requester's service: the worker requested it, the requester provided it. */
async function routedTask(): Promise<Params> {
  await taskService()
  const res = await request(world.app)
    .post('/v1/tasks')
    .set('Authorization', auth(agent('worker')))
    .send({ capability: 'matrix-task', input: 'routed', max_price: '0.01' })
    .expect(201)
  return { task_id: res.body.task_id }
}

/** A fresh service of the requester's with an endpoint, for sessions. */
async function sessionService(): Promise<string> {
  const service = await request(world.app)
    .post('/v1/agents/me/services')
    .set('Authorization', auth(agent('requester')))
    .send({
      name: 'Matrix session echo',
      category: 'testing',
      pricing_model: 'per_call',
      price_amount: '0.01',
      endpoint_url: `${upstream.baseUrl}/echo`,
    })
    .expect(201)
  return service.body.service_id as string
}

/** A session: the worker hires a fresh service of the requester's with a 0.02 budget. */
async function session(): Promise<Params> {
  const res = await request(world.app)
    .post('/v1/sessions')
    .set('Authorization', auth(agent('worker')))
    .send({ service_id: await sessionService(), message: 'Matrix task', budget: '0.02' })
    .expect(201)
  return { session_id: res.body.session_id }
}

/** A session's client (the worker) gets `client`, its agent (the requester) `sessionAgent`, others 404. */
function sessionParties(client: Cell, sessionAgent: Cell): Row['cells'] {
  return callParties(client, hidden('session', 'session_not_found'), sessionAgent)
}

async function cancel(jobId: string): Promise<void> {
  await request(world.app)
    .post(`/v1/jobs/${jobId}/cancel`)
    .set('Authorization', auth(agent('requester')))
    .expect(200)
}

async function enter(jobId: string, entrant: RegisteredTestAgent): Promise<string> {
  const res = await request(world.app)
    .post(`/v1/jobs/${jobId}/entries`)
    .set('Authorization', auth(entrant))
    .send({ deliverable: `https://example.com/${entrant.agent.handle}` })
    .expect(201)
  return (res.body as EntryResponse).entry_id
}

async function pastDeadline(jobId: string): Promise<void> {
  await testDatabase.pool.query("UPDATE jobs SET expires_at = now() - interval '1 second' WHERE id = $1", [
    jobId,
  ])
}

/** The requester's open competition, judged by the judge; the worker's entry unless `entry` is false. */
async function competition(options: { entry?: boolean } = {}): Promise<Params> {
  const job = await postJob(world.app, agent('requester').apiKey, {
    job_type: 'competition',
    budget_amount: '10',
  })
  expect(job.dispute_agent_id).to.equal(agent('judge').agent.id)
  if (options.entry === false) return { job_id: job.job_id }
  return { job_id: job.job_id, entry_id: await enter(job.job_id, agent('worker')) }
}

async function competitionJudging(): Promise<Params> {
  const params = await competition()
  await pastDeadline(params.job_id!)
  return params
}

async function competitionResolved(): Promise<Params> {
  const params = await competitionJudging()
  await request(world.app)
    .post(`/v1/jobs/${params.job_id}/resolve`)
    .set('Authorization', auth(agent('judge')))
    .send({ results: [{ entry_id: params.entry_id, bps: 10_000 }] })
    .expect(200)
  return params
}

async function saveAddress(holder: RegisteredTestAgent): Promise<string> {
  const res = await request(world.app)
    .post('/v1/withdrawal-addresses')
    .set('Authorization', auth(holder))
    .send({ address: freshAddress() })
    .expect(201)
  return (res.body as WithdrawalAddress).address_id
}

/** The caller's webhook, set (to the upstream stub, which answers 200). */
async function setWebhook(caller: Caller): Promise<Params> {
  if (caller === 'anonymous') return {}
  await request(world.app)
    .put('/v1/agents/me/webhook')
    .set('Authorization', auth(agent(caller as AgentCaller)))
    .send({ webhook_url: `${upstream.baseUrl}/echo` })
    .expect(200)
  return {}
}

/** A delivery of the requester's webhook: the worker's bid on a new job of the requester, sent. */
async function webhookDelivery(): Promise<Params> {
  await setWebhook('requester')
  await openJob()
  await new WebhookSender(chain.context, { retryBaseMs: 60_000, maxAttempts: 3, timeoutMs: 5_000 }).runOnce()
  const log = await request(world.app)
    .get('/v1/agents/me/webhook/deliveries')
    .set('Authorization', auth(agent('requester')))
    .expect(200)
  return { delivery_id: log.body.data[0].delivery_id }
}

async function setExport(caller: Caller, state: 'started' | 'cancelled'): Promise<Params> {
  if (caller === 'anonymous') return {}
  const req = request(world.app)
  const call = state === 'started' ? req.post('/v1/wallet/export-key') : req.delete('/v1/wallet/export-key')
  const res = await call.set('Authorization', auth(agent(caller)))
  expect(res.status, JSON.stringify(res.body)).to.be.oneOf(state === 'started' ? [202, 409] : [204, 409])
  return {}
}

// ---------------------------------------------------------------------------------------------
// Body checks

const isParticipant = (caller: Caller) =>
  caller === 'requester' || caller === 'worker' || caller === 'resolver'
const agentId = (caller: Caller) => (caller === 'anonymous' ? null : agent(caller).agent.id)

/** The shared jobs `caller` may see: every status but closed; closed after work for participants; cancelled for the creator. */
function visibleSharedJobs(caller: Caller): string[] {
  const { submitted, open, cancelled, closed, competition, judging, cancelledCompetition } = world.shared
  const visible = [submitted, open, competition, judging]
  if (isParticipant(caller)) visible.push(closed)
  if (caller === 'requester') visible.push(cancelled, cancelledCompetition)
  return visible.map((params) => params.job_id!).sort()
}

function sharedJobIds(): string[] {
  return Object.values(world.shared)
    .map((params) => params.job_id)
    .filter((id): id is string => id !== undefined)
}

/** The deliverable of the submitted job is shown to its participants only. */
function expectDeliverableFor(job: JobResponse, caller: Caller): void {
  if (isParticipant(caller)) {
    expect(job.deliverable).to.equal(DELIVERABLE)
  } else {
    expect(job).not.to.have.property('deliverable')
    expect(job).not.to.have.property('deliverable_hash')
  }
}

/** `worker`, `rival` or the id itself: who placed a bid or an entry. */
function nameOf(agentId: string): string {
  if (agentId === world.rival.agent.id) return 'rival'
  return agentId === agent('worker').agent.id ? 'worker' : agentId
}

/** `job:bidder:status:proposal-or-dash` of the bids in a list, on the shared jobs only. */
function sharedBids(bids: BidResponse[]): string[] {
  const shared = sharedJobIds()
  const job = (id: string) => Object.entries(world.shared).find(([, params]) => params.job_id === id)![0]
  return bids
    .filter((bid) => shared.includes(bid.job_id))
    .map(
      (bid) =>
        `${job(bid.job_id)}:${nameOf(bid.bidder_agent_id)}:${bid.status}:${bid.proposal ? 'proposal' : '-'}`,
    )
    .sort()
}

function ownedBy(caller: Caller, accounts: string[]): void {
  const wallet = agent(caller as AgentCaller).agent.wallet_address.toLowerCase()
  for (const account of accounts) expect(account.toLowerCase()).to.equal(wallet)
}

// ---------------------------------------------------------------------------------------------
// The table

const ROWS: Row[] = [
  // Public routes: the same answer for everyone.
  { method: 'GET', path: '/v1/health', cells: everyone(ok(200)) },
  { method: 'GET', path: '/v1/openapi.json', cells: everyone(ok(200)) },
  {
    method: 'POST',
    path: '/v1/agents/challenge',
    body: () => ({ wallet_address: freshAddress() }),
    cells: everyone(ok(201)),
  },
  {
    method: 'POST',
    path: '/v1/agents/register',
    body: () => ({ handle: uniqueHandle('matrix') }),
    cells: everyone(ok(201, 'a new agent whoever asks')),
  },
  {
    method: 'GET',
    path: '/v1/agents',
    cells: everyone(
      ok(200, 'public fields only', (res) => {
        for (const profile of res.body as Record<string, unknown>[]) {
          expect(profile).not.to.have.any.keys('key_export', 'verifiable_claim', 'api_key_rotated_at')
        }
      }),
    ),
  },
  {
    method: 'GET',
    path: '/v1/agents/{id_or_handle}',
    params: async () => ({ id_or_handle: agent('worker').agent.id }),
    cells: everyone(
      ok(200, "the worker's public profile, no private fields", (res) => {
        expect(res.body.agent_id).to.equal(agent('worker').agent.id)
        expect(res.body).not.to.have.any.keys(
          'key_export',
          'verifiable_claim',
          'api_key_rotated_at',
          'is_managed_wallet',
          'managed_key_exported',
        )
      }),
    ),
  },
  {
    method: 'POST',
    path: '/v1/auth/session',
    body: () => ({ wallet_address: agent('requester').agent.wallet_address }),
    cells: everyone(ok(201, 'a nonce only that wallet can sign with')),
  },
  {
    method: 'POST',
    path: '/v1/external/auth/session',
    body: () => ({ wallet_address: agent('requester').agent.wallet_address }),
    cells: everyone(ok(201, 'the same nonce at seed 003’s path')),
  },
  { method: 'GET', path: '/v1/platform/reconciliation', cells: everyone(ok(200)) },
  {
    // Public, like the feed it streams; this app runs no event hub, so every caller gets the same
    // 503 (the stream itself, open to anyone, is tested in test/server/events/feed-stream.test.ts).
    method: 'GET',
    path: '/dashboard/events',
    cells: everyone({
      status: 503,
      code: 'feed_unavailable',
      says: 'the same answer for everyone: no hub here',
    }),
  },
  {
    method: 'GET',
    path: '/v1/settlements',
    cells: everyone(
      ok(200, 'the public settlement records', (res) => expect(res.body).to.have.property('settlements')),
    ),
  },
  {
    method: 'GET',
    path: '/v1/settlements/{batch_number}',
    params: async () => ({ batch_number: '1' }),
    cells: everyone({ status: 404, code: 'settlement_not_found', says: 'no batch settled in this world' }),
  },
  {
    method: 'GET',
    path: '/v1/platform/reconciliation/accounts',
    cells: everyone(
      ok(200, 'wallet addresses and vault balances the chain already shows; no agent named', (res) => {
        for (const line of res.body.accounts as Record<string, unknown>[]) {
          expect(line).to.not.have.property('agent_id')
        }
      }),
    ),
  },

  // The caller's own account: any agent, on itself only.
  {
    method: 'PATCH',
    path: '/v1/agents/me',
    body: () => ({ description: 'Matrix: each agent edits its own profile only' }),
    cells: anyAgent(
      ok(200, 'its own profile changed', (res, _params, caller) => {
        expect(res.body.agent_id).to.equal(agentId(caller))
        expect(res.body.description).to.equal('Matrix: each agent edits its own profile only')
      }),
    ),
  },
  {
    method: 'GET',
    path: '/v1/agents/me',
    cells: anyAgent(
      ok(200, 'its own profile', (res, _params, caller) => {
        expect(res.body.agent_id).to.equal(agentId(caller))
      }),
    ),
  },
  {
    method: 'POST',
    path: '/v1/agents/rotate-key',
    after: (res, caller) => {
      if (res.status === 200 && caller !== 'anonymous') agent(caller).apiKey = res.body.api_key as string
    },
    cells: anyAgent(
      ok(200, 'its own new key', (res, _params, caller) => {
        expect(res.body.agent_id).to.equal(agentId(caller))
      }),
    ),
  },
  {
    method: 'GET',
    path: '/v1/wallet',
    cells: anyAgent(
      ok(200, 'its own balance', (res, _params, caller) => {
        expect(res.body.agent_id).to.equal(agentId(caller))
      }),
    ),
  },
  {
    method: 'GET',
    path: '/v1/wallet/balance',
    cells: anyAgent(
      ok(200, 'its own balances', (res, _params, caller) => {
        expect(res.body.agent_id).to.equal(agentId(caller))
      }),
    ),
  },
  { method: 'GET', path: '/v1/wallet/transactions', cells: anyAgent(ok(200)) },
  {
    method: 'POST',
    path: '/v1/wallet/export-key',
    params: (caller) => setExport(caller, 'cancelled'),
    cells: anyAgent(ok(202, 'its own export starts, pending')),
  },
  {
    method: 'DELETE',
    path: '/v1/wallet/export-key',
    params: (caller) => setExport(caller, 'started'),
    cells: anyAgent(ok(204, 'its own export cancelled')),
  },
  {
    method: 'POST',
    path: '/v1/dev/faucet',
    body: () => ({ amount: '1' }),
    cells: anyAgent(ok(200)),
  },
  {
    method: 'POST',
    path: '/v1/wallet/deposit',
    body: () => ({ amount: '1' }),
    // Every agent reaches its own managed wallet, which holds no tokens outside the vault here.
    cells: anyAgent(conflict('insufficient_wallet_balance', 'its own wallet holds none on-chain')),
  },
  { method: 'GET', path: '/v1/wallet/deposit_address', cells: anyAgent(ok(200)) },
  {
    method: 'GET',
    path: '/v1/wallet/deposits',
    cells: anyAgent(
      ok(200, 'its own deposits only', (res, _params, caller) => {
        const page = res.body as { data: Deposit[] }
        expect(page.data).not.to.be.empty
        ownedBy(
          caller,
          page.data.map((entry) => entry.account),
        )
      }),
    ),
  },
  {
    method: 'POST',
    path: '/v1/wallet/withdraw',
    body: () => ({ amount: '1', to: freshAddress() }),
    cells: anyAgent(
      ok(201, 'from its own account', (res, _params, caller) => {
        ownedBy(caller, [(res.body as Withdrawal).account])
      }),
    ),
  },
  {
    method: 'GET',
    path: '/v1/withdrawals',
    cells: anyAgent(
      ok(200, 'its own withdrawals only', (res, _params, caller) => {
        const page = res.body as { data: Withdrawal[] }
        ownedBy(
          caller,
          page.data.map((entry) => entry.account),
        )
        const ids = page.data.map((entry) => entry.withdrawal_id)
        if (caller !== 'requester') expect(ids).not.to.include(world.shared.withdrawal.withdrawal_id)
      }),
    ),
  },
  {
    method: 'GET',
    path: '/v1/withdrawal-addresses',
    cells: anyAgent(
      ok(200, 'its own addresses only', (res, _params, caller) => {
        const ids = (res.body as { data: WithdrawalAddress[] }).data.map((entry) => entry.address_id)
        if (caller === 'requester') expect(ids).to.include(world.shared.address.address_id)
        else expect(ids).not.to.include(world.shared.address.address_id)
      }),
    ),
  },
  {
    method: 'POST',
    path: '/v1/withdrawal-addresses',
    body: () => ({ address: freshAddress() }),
    cells: anyAgent(ok(201)),
  },
  {
    method: 'GET',
    path: '/v1/agents/me/bids',
    query: () => ({ limit: 100 }),
    cells: anyAgent(
      ok(200, 'its own bids, with proposals', (res, _params, caller) => {
        const bids = res.body as BidResponse[]
        for (const bid of bids) expect(bid.bidder_agent_id).to.equal(agentId(caller))
        if (caller === 'worker') {
          expect(sharedBids(bids)).to.include.members([
            'submitted:worker:accepted:proposal',
            'open:worker:pending:proposal',
          ])
        }
      }),
    ),
  },
  {
    method: 'GET',
    path: '/v1/agents/me/jobs/bids',
    query: () => ({ limit: 100 }),
    cells: anyAgent(
      ok(200, 'bids on its own jobs only', (res, _params, caller) => {
        const bids = res.body as BidResponse[]
        if (caller === 'requester') {
          expect(sharedBids(bids)).to.include.members([
            'open:rival:pending:proposal',
            'open:worker:pending:proposal',
            'submitted:worker:accepted:proposal',
          ])
        } else {
          expect(bids).to.deep.equal([])
        }
      }),
    ),
  },
  {
    method: 'POST',
    path: '/v1/jobs',
    body: () => ({
      title: 'Matrix: a job any funded agent may post',
      description:
        'Posted by whichever caller the authorization matrix is checking at the time, with 1 USDC.',
    }),
    cells: anyAgent(ok(201)),
  },
  {
    method: 'POST',
    path: '/v1/jobs/instant',
    params: () => ownService(),
    body: (params) => ({
      title: 'Matrix instant job',
      description: 'Hired straight from the requester’s service.',
      budget_amount: '1',
      service_id: params.service_id,
    }),
    cells: {
      ...anyAgent(ok(201, 'funded from its own balance and assigned to the service’s owner')),
      requester: { status: 400, code: 'self_invocation', says: 'not its own service' },
    },
  },
  {
    method: 'GET',
    path: '/v1/jobs/{job_id}/instant',
    params: () => instantJob(),
    cells: {
      ...everyone(hidden('job', 'job_not_found')),
      anonymous: UNAUTHENTICATED,
      requester: ok(200, 'its creator sees the attempts'),
      worker: ok(200, 'the worker it was given to sees them', (res) =>
        expect(
          res.body.attempts.map((row: { worker_agent_id: string }) => row.worker_agent_id),
        ).to.deep.equal([agent('worker').agent.id]),
      ),
    },
  },

  // Things only the requester holds (its deposit, withdrawal, saved address): 404 to anyone else.
  {
    method: 'GET',
    path: '/v1/wallet/deposits/{deposit_id}',
    params: async () => world.shared.deposit,
    cells: requesterOwns(ok(200), 'deposit', 'deposit_not_found'),
  },
  {
    method: 'GET',
    path: '/v1/withdrawals/{withdrawal_id}',
    params: async () => world.shared.withdrawal,
    cells: requesterOwns(ok(200), 'withdrawal', 'withdrawal_not_found'),
  },
  {
    method: 'POST',
    path: '/v1/withdrawals/{withdrawal_id}/signature',
    params: async () => world.shared.withdrawal,
    body: () => ({ signature: BOGUS_SIGNATURE }),
    cells: requesterOwns(
      conflict('withdrawal_not_awaiting_signature', 'its managed withdrawal needs no signature'),
      'withdrawal',
      'withdrawal_not_found',
    ),
  },
  {
    method: 'GET',
    path: '/v1/withdrawal-addresses/{address_id}',
    params: async () => world.shared.address,
    cells: requesterOwns(ok(200), 'address', 'withdrawal_address_not_found'),
  },
  {
    method: 'PATCH',
    path: '/v1/withdrawal-addresses/{address_id}',
    params: async () => ({ address_id: await saveAddress(agent('requester')) }),
    body: () => ({ label: 'renamed by the matrix' }),
    cells: requesterOwns(ok(200), 'address', 'withdrawal_address_not_found'),
  },
  {
    method: 'DELETE',
    path: '/v1/withdrawal-addresses/{address_id}',
    params: async () => ({ address_id: await saveAddress(agent('requester')) }),
    cells: requesterOwns(ok(204), 'address', 'withdrawal_address_not_found'),
  },
  {
    method: 'POST',
    path: '/v1/withdrawal-addresses/{address_id}/default',
    params: async () => ({ address_id: await saveAddress(agent('requester')) }),
    cells: requesterOwns(ok(200), 'address', 'withdrawal_address_not_found'),
  },

  // Jobs.
  {
    method: 'GET',
    path: '/v1/jobs',
    query: () => ({ creator: agent('requester').agent.id, sort: 'created_at', order: 'asc', limit: 100 }),
    cells: everyone(
      ok(
        200,
        'cancelled jobs for the creator, closed ones for participants, deliverables for participants',
        (res, _params, caller) => {
          const jobs = res.body as JobResponse[]
          const shared = sharedJobIds()
          expect(
            jobs
              .map((job) => job.job_id)
              .filter((id) => shared.includes(id))
              .sort(),
          ).to.deep.equal(visibleSharedJobs(caller))
          expectDeliverableFor(
            jobs.find((job) => job.job_id === world.shared.submitted.job_id)!,
            caller,
          )
        },
      ),
    ),
  },
  {
    method: 'GET',
    path: '/v1/jobs/{job_id}',
    state: 'submitted work',
    params: async () => world.shared.submitted,
    cells: everyone(
      ok(200, 'the deliverable for participants only', (res, params, caller) => {
        const job = res.body as JobDetailResponse
        expectDeliverableFor(job, caller)
        const mine = (job.my_assignments ?? []).map((assignment) => assignment.assignment_id)
        expect(mine).to.deep.equal(caller === 'worker' ? [params.assignment_id] : [])
      }),
    ),
  },
  {
    method: 'GET',
    path: '/v1/jobs/{job_id}',
    state: 'cancelled job',
    params: async () => world.shared.cancelled,
    cells: { ...everyone(HIDDEN_JOB), requester: ok(200) },
  },
  {
    method: 'GET',
    path: '/v1/jobs/{job_id}',
    state: 'job closed after work',
    params: async () => world.shared.closed,
    cells: {
      ...everyone(HIDDEN_JOB),
      requester: ok(200),
      worker: ok(200),
      resolver: ok(200),
    },
  },
  {
    method: 'PATCH',
    path: '/v1/jobs/{job_id}',
    state: 'open job',
    params: () => openJob(),
    body: () => ({ title: 'Matrix: an updated title for the job' }),
    cells: creatorOnly(ok(200)),
  },
  {
    method: 'PATCH',
    path: '/v1/jobs/{job_id}',
    state: 'cancelled job',
    params: async () => world.shared.cancelled,
    body: () => ({ title: 'Matrix: an updated title for the job' }),
    cells: {
      ...everyone(HIDDEN_JOB),
      anonymous: UNAUTHENTICATED,
      requester: conflict('job_not_open', 'it is the creator’s, but no longer open'),
    },
  },
  {
    method: 'DELETE',
    path: '/v1/jobs/{job_id}',
    params: () => openJob(),
    cells: creatorOnly(ok(204)),
  },
  {
    method: 'DELETE',
    path: '/v1/jobs/{job_id}',
    state: 'cancelled job',
    params: async () => {
      const params = await openJob()
      await cancel(params.job_id!)
      return params
    },
    cells: {
      ...everyone(HIDDEN_JOB),
      anonymous: UNAUTHENTICATED,
      requester: ok(204),
    },
  },
  {
    method: 'POST',
    path: '/v1/jobs/{job_id}/cancel',
    params: () => openJob(),
    cells: creatorOnly(ok(200)),
  },
  {
    method: 'POST',
    path: '/v1/jobs/{job_id}/cancel',
    state: 'cancelled job',
    params: async () => world.shared.cancelled,
    cells: {
      ...everyone(HIDDEN_JOB),
      anonymous: UNAUTHENTICATED,
      requester: conflict('job_not_open', 'cancelled already'),
    },
  },

  // Bids.
  {
    method: 'GET',
    path: '/v1/jobs/{job_id}/bids',
    state: 'awarded job',
    params: async () => world.shared.submitted,
    cells: {
      ...everyone(
        ok(200, 'accepted bids only, no proposals', (res) => {
          expect(sharedBids(res.body as BidResponse[])).to.deep.equal(['submitted:worker:accepted:-'])
        }),
      ),
      requester: ok(200, 'every bid with its proposal', (res) => {
        const bids = sharedBids(res.body as BidResponse[])
        expect(bids).to.have.length(2)
        expect(bids).to.include('submitted:worker:accepted:proposal')
        expect(bids.find((bid) => bid.startsWith('submitted:rival:'))).to.match(/:proposal$/)
      }),
      worker: ok(200, 'its own bid with its proposal, not the rival’s', (res) => {
        expect(sharedBids(res.body as BidResponse[])).to.deep.equal(['submitted:worker:accepted:proposal'])
      }),
    },
  },
  {
    method: 'GET',
    path: '/v1/jobs/{job_id}/bids',
    state: 'open job',
    params: async () => world.shared.open,
    cells: {
      ...everyone(
        ok(200, 'no pending bids', (res) => {
          expect(res.body).to.deep.equal([])
        }),
      ),
      requester: ok(200, 'every pending bid with its proposal', (res) => {
        expect(sharedBids(res.body as BidResponse[])).to.deep.equal([
          'open:rival:pending:proposal',
          'open:worker:pending:proposal',
        ])
      }),
      worker: ok(200, 'its own pending bid only', (res) => {
        expect(sharedBids(res.body as BidResponse[])).to.deep.equal(['open:worker:pending:proposal'])
      }),
    },
  },
  {
    method: 'GET',
    path: '/v1/jobs/{job_id}/bids',
    state: 'cancelled job',
    params: async () => world.shared.cancelled,
    cells: { ...everyone(HIDDEN_JOB), requester: ok(200) },
  },
  {
    method: 'GET',
    path: '/v1/jobs/{job_id}/bids',
    state: 'job closed after work',
    params: async () => world.shared.closed,
    cells: {
      ...everyone(HIDDEN_JOB),
      requester: ok(200),
      worker: ok(200),
      resolver: ok(200),
    },
  },
  {
    method: 'POST',
    path: '/v1/jobs/{job_id}/bids',
    state: 'open job',
    params: () => openJob({ bid: false }),
    body: () => ({ amount: '5', eta_seconds: 3600, proposal: WORKER_PROPOSAL }),
    cells: {
      ...anyAgent(ok(201)),
      requester: forbidden('own_job'),
      resolver: forbidden('resolver_cannot_bid'),
    },
  },
  {
    method: 'POST',
    path: '/v1/jobs/{job_id}/bids',
    state: 'cancelled job',
    params: async () => world.shared.cancelled,
    body: () => ({ amount: '5', eta_seconds: 3600 }),
    cells: {
      ...everyone(HIDDEN_JOB),
      anonymous: UNAUTHENTICATED,
      requester: forbidden('own_job'),
    },
  },
  {
    method: 'GET',
    path: '/v1/agents/{agent_id}/bids',
    params: async () => ({ agent_id: agent('worker').agent.id }),
    query: () => ({ limit: 100 }),
    cells: {
      ...everyone(
        ok(200, 'its accepted bids on jobs the caller sees, no proposals', (res, _params, caller) => {
          const bids = sharedBids(res.body as BidResponse[])
          expect(bids).to.deep.equal(
            isParticipant(caller)
              ? ['closed:worker:accepted:-', 'submitted:worker:accepted:-']
              : ['submitted:worker:accepted:-'],
          )
        }),
      ),
      requester: ok(200, 'its accepted bids, proposals on the requester’s own jobs', (res) => {
        expect(sharedBids(res.body as BidResponse[])).to.deep.equal([
          'closed:worker:accepted:proposal',
          'submitted:worker:accepted:proposal',
        ])
      }),
      worker: ok(200, 'all its own bids with proposals', (res) => {
        expect(sharedBids(res.body as BidResponse[])).to.include.members([
          'closed:worker:accepted:proposal',
          'open:worker:pending:proposal',
          'submitted:worker:accepted:proposal',
        ])
      }),
    },
  },
  {
    method: 'GET',
    path: '/v1/agents/{agent_id}/jobs/bids',
    params: async () => ({ agent_id: agent('requester').agent.id }),
    query: () => ({ limit: 100 }),
    cells: {
      ...everyone(
        ok(200, 'accepted bids on jobs the caller sees, no proposals', (res, _params, caller) => {
          const bids = sharedBids(res.body as BidResponse[])
          if (caller === 'worker') {
            expect(bids).to.deep.equal([
              'closed:worker:accepted:proposal',
              'submitted:worker:accepted:proposal',
            ])
          } else {
            expect(bids).to.deep.equal(
              isParticipant(caller)
                ? ['closed:worker:accepted:-', 'submitted:worker:accepted:-']
                : ['submitted:worker:accepted:-'],
            )
          }
        }),
      ),
      requester: ok(200, 'every bid on its own jobs, with proposals', (res) => {
        expect(sharedBids(res.body as BidResponse[])).to.include.members([
          'open:rival:pending:proposal',
          'open:worker:pending:proposal',
          'submitted:worker:accepted:proposal',
          'closed:worker:accepted:proposal',
        ])
      }),
    },
  },
  {
    method: 'POST',
    path: '/v1/bids/{bid_id}/withdraw',
    state: 'pending bid',
    params: () => openJob(),
    cells: {
      ...everyone(hidden('bid', 'bid_not_found')),
      anonymous: UNAUTHENTICATED,
      worker: ok(200),
      requester: forbidden('not_bidder'),
    },
  },
  {
    method: 'POST',
    path: '/v1/bids/{bid_id}/withdraw',
    state: 'accepted bid',
    params: async () => ({ bid_id: world.shared.submitted.bid_id! }),
    cells: {
      ...creatorOnly(forbidden('not_bidder'), 'not_bidder'),
      worker: conflict('bid_not_pending', 'its own bid, but accepted'),
    },
  },

  // Award, work, acceptance.
  {
    method: 'POST',
    path: '/v1/jobs/{job_id}/award',
    params: () => openJob(),
    body: (params) => ({ bid_id: params.bid_id }),
    cells: creatorOnly(
      ok(200, 'in progress', (res) => {
        expect(res.body.assignment.status).to.equal('in_progress')
      }),
    ),
  },
  {
    method: 'POST',
    path: '/v1/jobs/{job_id}/award',
    state: 'cancelled job',
    params: async () => world.shared.cancelled,
    body: (params) => ({ bid_id: params.bid_id }),
    cells: {
      ...everyone(HIDDEN_JOB),
      anonymous: UNAUTHENTICATED,
      requester: conflict('job_not_open', 'it is the creator’s, but cancelled'),
    },
  },
  {
    method: 'POST',
    path: '/v1/jobs/{job_id}/submit',
    params: () => jobInProgress(),
    body: () => ({ deliverable: DELIVERABLE }),
    cells: { ...creatorOnly(forbidden('not_assigned'), 'not_assigned'), worker: ok(200) },
  },
  {
    method: 'POST',
    path: '/v1/jobs/{job_id}/accept',
    params: () => jobSubmitted(),
    body: () => ({}),
    cells: creatorOnly(ok(200)),
  },
  {
    method: 'POST',
    path: '/v1/jobs/{job_id}/request-changes',
    params: () => jobSubmitted(),
    body: () => ({ message: 'Please cover the session handling too.' }),
    cells: creatorOnly(ok(200)),
  },
  {
    method: 'GET',
    path: '/v1/jobs/{job_id}/assignments',
    params: () => jobSubmitted(),
    cells: {
      ...anyAgent(ok(200, 'none of them, taking part in none', (res) => expect(res.body).to.deep.equal([]))),
      ...Object.fromEntries(
        (['requester', 'worker', 'resolver'] as const).map((caller) => [
          caller,
          ok(200, 'the assignment it takes part in', (res, params) =>
            expect(res.body.map((row: { assignment_id: string }) => row.assignment_id)).to.deep.equal([
              params.assignment_id,
            ]),
          ),
        ]),
      ),
    },
  },
  {
    method: 'POST',
    path: '/v1/assignments/{assignment_id}/accept',
    params: () => jobSubmitted(),
    body: () => ({}),
    cells: {
      ...requesterOwns(ok(200), 'assignment', 'assignment_not_found'),
      worker: forbidden('not_job_creator'),
      resolver: forbidden('not_job_creator'),
    },
  },
  {
    method: 'GET',
    path: '/v1/assignments/{assignment_id}',
    params: async () => world.shared.submitted,
    cells: participantsOnly(ok(200), 'assignment', 'assignment_not_found'),
  },
  {
    method: 'POST',
    path: '/v1/assignments/{assignment_id}/request-changes',
    params: () => jobSubmitted(),
    body: () => ({ message: 'Please cover the session handling too.' }),
    cells: {
      ...requesterOwns(ok(200), 'assignment', 'assignment_not_found'),
      worker: forbidden('not_job_creator'),
      resolver: forbidden('not_job_creator'),
    },
  },
  {
    method: 'POST',
    path: '/v1/assignments/{assignment_id}/escrow-signature',
    params: async () => world.shared.submitted,
    body: () => ({ kind: 'escrow_lock', signature: BOGUS_SIGNATURE }),
    cells: {
      ...requesterOwns(
        conflict('escrow_op_signed', 'its managed wallet signed the lock already'),
        'assignment',
        'assignment_not_found',
      ),
      worker: forbidden('not_payer'),
      resolver: forbidden('not_payer'),
    },
  },

  // Disputes.
  {
    method: 'POST',
    path: '/v1/jobs/{job_id}/dispute',
    params: () => jobSubmitted(),
    body: () => ({ reason: 'The deliverable does not match the brief.' }),
    cells: {
      ...everyone(forbidden('not_dispute_party')),
      anonymous: UNAUTHENTICATED,
      requester: ok(201, 'disputed, its deposit taken'),
      worker: ok(201, 'disputed, its deposit taken'),
    },
  },
  {
    method: 'GET',
    path: '/v1/jobs/{job_id}/disputes',
    params: () => disputeOpened(),
    cells: {
      ...everyone(forbidden('not_dispute_party')),
      anonymous: UNAUTHENTICATED,
      ...Object.fromEntries(
        (['requester', 'worker', 'resolver'] as const).map((caller) => [
          caller,
          ok(200, 'the dispute', (res, params) => {
            expect(res.body.map((dispute: { dispute_id: string }) => dispute.dispute_id)).to.deep.equal([
              params.dispute_id,
            ])
          }),
        ]),
      ),
    },
  },
  {
    method: 'GET',
    path: '/v1/disputes/{dispute_id}',
    params: () => disputeOpened(),
    cells: {
      ...participantsOnly(ok(200), 'dispute', 'dispute_not_found'),
    },
  },
  {
    method: 'POST',
    path: '/v1/disputes/{dispute_id}/evidence',
    params: () => disputeOpened(),
    body: () => ({ type: 'url', url: 'https://example.com/brief.md', description: 'The brief' }),
    cells: {
      ...participantsOnly(ok(201), 'dispute', 'dispute_not_found'),
      resolver: forbidden('not_dispute_party'),
    },
  },
  {
    method: 'POST',
    path: '/v1/disputes/{dispute_id}/rule',
    params: () => disputeOpened(),
    body: () => ({ ruling: 'redo', reasoning: 'Add the ratings and resubmit.' }),
    cells: {
      ...participantsOnly(forbidden('not_resolver'), 'dispute', 'dispute_not_found'),
      resolver: ok(200, 'ruled', (res) => expect(res.body.status).to.equal('resolved')),
    },
  },
  {
    method: 'POST',
    path: '/v1/disputes/{dispute_id}/escrow-signature',
    params: () => disputeOpened(),
    body: (params) => ({ op_id: params.deposit_op_id, signature: BOGUS_SIGNATURE }),
    cells: {
      ...participantsOnly(forbidden('not_signer'), 'dispute', 'dispute_not_found'),
      requester: conflict('escrow_op_signed', 'its managed wallet signed the deposit already'),
    },
  },
  {
    method: 'GET',
    path: '/v1/platform/dispute-info',
    cells: everyone(ok(200)),
  },

  // Fees (seed 002: authenticated, like the rest of its financial API).
  {
    method: 'POST',
    path: '/v1/fees/calculate',
    body: () => ({ amount: '10', kind: 'job' }),
    cells: anyAgent(ok(200, 'the split of the amount')),
  },

  // Negotiations (seed 002).
  {
    method: 'POST',
    path: '/v1/negotiations',
    params: () => negotiableService(),
    body: (params) => ({ service_id: params.service_id, amount: '0.5' }),
    cells: { ...anyAgent(ok(201, 'an offer to its owner')), requester: forbidden('own_service') },
  },
  {
    method: 'GET',
    path: '/v1/negotiations',
    cells: anyAgent(ok(200, 'its own negotiations')),
  },
  {
    method: 'GET',
    path: '/v1/negotiations/{negotiation_id}',
    params: () => negotiationOpen(),
    cells: negotiationParties(ok(200), ok(200)),
  },
  {
    method: 'POST',
    path: '/v1/negotiations/{negotiation_id}/counter',
    params: () => negotiationOpen(),
    body: () => ({ amount: '0.8' }),
    cells: negotiationParties(ok(200), conflict('not_your_turn', 'the standing offer is its own')),
  },
  {
    method: 'POST',
    path: '/v1/negotiations/{negotiation_id}/accept',
    params: () => negotiationOpen(),
    cells: negotiationParties(
      ok(200, 'awarded at the offer', (res) => expect(res.body.award).to.not.equal(null)),
      conflict('not_your_turn', 'the standing offer is its own'),
    ),
  },
  {
    method: 'POST',
    path: '/v1/negotiations/{negotiation_id}/reject',
    params: () => negotiationOpen(),
    cells: negotiationParties(ok(200), conflict('not_your_turn', 'the standing offer is its own')),
  },

  // Services.
  {
    method: 'POST',
    path: '/v1/agents/me/services',
    body: () => ({ name: 'A service', category: 'development', pricing_model: 'custom' }),
    cells: anyAgent(ok(201, 'registered as its own')),
  },
  {
    method: 'GET',
    path: '/v1/agents/me/services',
    cells: anyAgent(ok(200, 'its own services')),
  },
  {
    method: 'GET',
    path: '/v1/agents/{agent_id}/services',
    state: 'a disabled service',
    params: () => ownService({ enabled: false }),
    cells: {
      ...everyone(
        ok(200, 'without the disabled one', (res, params) => {
          expect(res.body.map((row: { service_id: string }) => row.service_id)).not.to.include(
            params.service_id,
          )
        }),
      ),
      requester: ok(200, 'with its disabled one', (res, params) => {
        expect(res.body.map((row: { service_id: string }) => row.service_id)).to.include(params.service_id)
      }),
    },
  },
  {
    method: 'GET',
    path: '/v1/services',
    cells: everyone(ok(200)),
  },
  {
    method: 'GET',
    path: '/v1/services/{service_id}',
    params: () => ownService(),
    cells: {
      ...everyone(
        ok(200, 'without its endpoint', (res) => expect(res.body).not.to.have.property('endpoint_url')),
      ),
      requester: ok(200, 'with its endpoint', (res) => expect(res.body).to.have.property('endpoint_url')),
    },
  },
  {
    method: 'GET',
    path: '/v1/services/{service_id}',
    state: 'disabled service',
    params: () => ownService({ enabled: false }),
    cells: { ...everyone(hidden('service', 'service_not_found')), requester: ok(200) },
  },
  {
    method: 'PATCH',
    path: '/v1/services/{service_id}',
    params: () => ownService(),
    body: () => ({ price_amount: '0.75' }),
    cells: { ...creatorOnly(ok(200), 'not_service_owner') },
  },
  {
    method: 'DELETE',
    path: '/v1/services/{service_id}',
    params: () => ownService(),
    cells: { ...creatorOnly(ok(204), 'not_service_owner') },
  },
  {
    method: 'POST',
    path: '/v1/match',
    body: () => ({ query: 'matrix review' }),
    cells: anyAgent(
      ok(200, 'enabled services ranked', (res) => {
        expect(res.body.matches).to.be.an('array')
        expect(res.body.total).to.be.a('number')
      }),
    ),
  },

  // Payment channels and the invoke proxy.
  {
    method: 'POST',
    path: '/v1/channels',
    params: () => ownService(),
    body: (params) => ({ service_id: params.service_id, deposit_amount: '1' }),
    cells: {
      ...anyAgent(ok(201, 'its own channel, funded from its balance')),
      requester: { status: 400, code: 'self_invocation', says: 'not to its own service' },
    },
  },
  {
    method: 'GET',
    path: '/v1/channels',
    cells: anyAgent(ok(200, 'its own channels')),
  },
  {
    method: 'GET',
    path: '/v1/channels/{channel_id}',
    params: () => channelOpen(),
    cells: channelParties(ok(200)),
  },
  {
    method: 'POST',
    path: '/v1/channels/{channel_id}/top-up',
    params: () => channelOpen(),
    body: () => ({ amount: '0.5' }),
    cells: channelParties(ok(200), forbidden('not_channel_caller')),
  },
  {
    method: 'POST',
    path: '/v1/channels/{channel_id}/funding-signature',
    params: () => channelOpen(),
    body: () => ({ signature: BOGUS_SIGNATURE }),
    cells: channelParties(
      conflict('channel_not_awaiting_signature', 'a managed wallet’s funding is signed already'),
      forbidden('not_channel_caller'),
    ),
  },
  {
    method: 'POST',
    path: '/v1/channels/{channel_id}/settle',
    params: () => channelOpen(),
    cells: channelParties(ok(200)),
  },
  {
    method: 'POST',
    path: '/v1/channels/{channel_id}/close',
    params: () => channelOpen(),
    cells: channelParties(ok(200, 'closing')),
  },
  {
    method: 'GET',
    path: '/v1/channels/{channel_id}/calls',
    params: () => channelOpen(),
    cells: channelParties(ok(200)),
  },
  {
    method: 'GET',
    path: '/v1/channels/{channel_id}/settlements',
    params: () => channelOpen(),
    cells: channelParties(ok(200)),
  },
  {
    method: 'POST',
    path: '/v1/services/{service_id}/invoke',
    params: () => callableService(),
    body: () => ({ input: { ping: true } }),
    cells: {
      ...anyAgent(
        ok(200, 'the provider’s answer', (res) =>
          expect(res.body.output).to.deep.equal({ echo: { ping: true } }),
        ),
      ),
      requester: { status: 400, code: 'self_invocation', says: 'not its own service' },
    },
  },
  {
    method: 'POST',
    path: '/v1/execute',
    params: () => callableService(),
    body: (params) => ({ agent_id: params.agent_id, service_id: params.service_id, input: 'hi' }),
    cells: {
      ...anyAgent(ok(200, 'the provider’s answer')),
      requester: { status: 400, code: 'self_invocation', says: 'not its own service' },
    },
  },

  {
    method: 'GET',
    path: '/v1/micro-jobs',
    cells: anyAgent(ok(200, 'its own micro-jobs')),
  },
  ...(['GET', 'POST'] as const).map((method): Row => ({
    method,
    path: '/x402/services/{service_id}',
    params: () => pricedService(),
    cells: everyone({
      status: 402,
      code: 'payment_required',
      says: 'the same 402 for everyone: x402 pays per call, whoever calls',
    }),
  })),
  {
    method: 'GET',
    path: '/v1/x402/payments',
    cells: anyAgent(ok(200, 'the x402 calls to its own services')),
  },
  {
    method: 'GET',
    path: '/v1/agents/me/endpoint-payments',
    cells: anyAgent(
      ok(200, 'what its own wallet signed to x402 endpoints', (res) =>
        expect(res.body.endpoint_payments).to.deep.equal([]),
      ),
    ),
  },
  {
    method: 'GET',
    path: '/v1/x402/receipts',
    cells: everyone(ok(200, 'the public receipts', (res) => expect(res.body).to.have.property('receipts'))),
  },
  {
    method: 'GET',
    path: '/v1/micro-jobs/{micro_job_id}',
    params: () => microJob(),
    cells: callParties(
      ok(200, 'the call it paid or was paid for', (res) => expect(res.body.status).to.equal('completed')),
      hidden('micro-job', 'micro_job_not_found'),
    ),
  },

  {
    method: 'POST',
    path: '/v1/tasks/{task_id}/accept',
    params: () => boardTask(),
    cells: {
      ...anyAgent(ok(200, 'taken off the board, the poster’s budget escrowed')),
      requester: forbidden('own_job'),
    },
  },
  {
    method: 'POST',
    path: '/v1/tasks/{task_id}/complete',
    params: () => assignedTask(),
    body: () => ({ output: { done: true } }),
    cells: taskProviderOnly(
      ok(200, 'its result, paid', (res) => expect(res.body.status).to.equal('completed')),
    ),
  },
  {
    method: 'POST',
    path: '/v1/tasks/{task_id}/fail',
    params: () => assignedTask(),
    body: () => ({ reason: 'cannot do it' }),
    cells: taskProviderOnly(ok(200, 'failed, refunded', (res) => expect(res.body.status).to.equal('failed'))),
  },

  // Reservable jobs (seed 003).
  {
    method: 'POST',
    path: '/v1/jobs/reservable',
    body: () => ({
      title: 'Matrix reservable job',
      description: 'Reserved and completed by one agent at a time, its instructions private to it.',
      budget_amount: '0.5',
      private_instructions: 'Matrix: the holder alone reads this.',
    }),
    cells: anyAgent(ok(201, 'posted with its own reward')),
  },
  {
    method: 'POST',
    path: '/v1/external/jobs/list',
    body: () => ({ limit: 5 }),
    cells: anyAgent(
      ok(200, 'open jobs, never their instructions', (res) =>
        expect(JSON.stringify(res.body)).to.not.contain('the holder alone reads this'),
      ),
    ),
  },
  {
    method: 'POST',
    path: '/v1/external/jobs/{job_id}/reserve',
    params: () => reservableJob(),
    cells: {
      ...anyAgent(
        ok(201, 'reserved, its instructions revealed to it', (res) =>
          expect(res.body.instructions).to.equal('Matrix: the holder alone reads this.'),
        ),
      ),
      requester: forbidden('own_job'),
    },
  },
  {
    method: 'POST',
    path: '/v1/external/jobs/{job_id}/complete',
    params: () => reservableJob({ reserved: true }),
    body: (params) => ({ reservation_id: params.reservation_id, proof_text: 'Matrix proof' }),
    cells: {
      ...everyone(hidden('reservation', 'reservation_not_found')),
      anonymous: UNAUTHENTICATED,
      worker: ok(200, 'the holder completes it'),
    },
  },
  {
    method: 'POST',
    path: '/v1/external/jobs/{job_id}/status',
    params: () => reservableJob({ reserved: true }),
    cells: {
      ...anyAgent(
        ok(200, 'the job, without another holder’s instructions', (res) => {
          expect(res.body.reservation).to.equal(null)
          expect(JSON.stringify(res.body)).to.not.contain('the holder alone reads this')
        }),
      ),
      worker: ok(200, 'its own reservation with the instructions', (res) =>
        expect(res.body.reservation.instructions).to.equal('Matrix: the holder alone reads this.'),
      ),
    },
  },

  // Capability-routed tasks.
  {
    method: 'POST',
    path: '/v1/tasks',
    params: () => taskService(),
    body: () => ({ capability: 'matrix-task', input: 'routed', max_price: '0.01' }),
    cells: {
      ...anyAgent(ok(201, 'routed to the requester’s service and paid from its own balance')),
      requester: conflict('no_matching_service', 'never routed to its own service'),
    },
  },
  // Sessions (seed 000): the client (worker) hires the agent's (requester's) service.
  {
    method: 'POST',
    path: '/v1/sessions',
    params: async () => ({ service_id: await sessionService() }),
    body: (params) => ({ service_id: params.service_id, message: 'Matrix task', budget: '0.02' }),
    cells: {
      ...anyAgent(
        ok(201, 'a session on its own budget', (res) => expect(res.body.status).to.equal('session_created')),
      ),
      requester: { status: 400, code: 'self_invocation', says: 'self_invocation' },
    },
  },
  {
    method: 'GET',
    path: '/v1/tasks',
    cells: anyAgent(ok(200, 'its own tasks')),
  },
  // Seed 001's board is public: browsing it and reading an open task need no key.
  {
    method: 'GET',
    path: '/v1/tasks',
    params: () => boardTask(),
    query: () => ({ status: 'open', capability: 'matrix', limit: 100 }),
    cells: everyone(
      ok(200, 'the open board, this task on it', (res, params) =>
        expect((res.body as { task_id: string }[]).map((task) => task.task_id)).to.include(params.task_id),
      ),
    ),
  },
  {
    method: 'GET',
    path: '/v1/tasks/{task_id}',
    params: () => boardTask(),
    cells: everyone(ok(200, 'a task open on the board', (res) => expect(res.body.status).to.equal('open'))),
  },
  {
    method: 'GET',
    path: '/v1/tasks/{task_id}',
    params: () => routedTask(),
    cells: {
      ...callParties(
        ok(200, 'the task it requested or provided', (res) => expect(res.body.status).to.equal('completed')),
        hidden('task', 'task_not_found'),
      ),
      anonymous: hidden('task', 'task_not_found'),
    },
  },
  {
    method: 'GET',
    path: '/v1/tasks/{task_id}/payments',
    params: () => routedTask(),
    cells: callParties(
      ok(200, 'the payment it made or got', (res) => expect(res.body.status).to.equal('released')),
      hidden('task', 'task_not_found'),
    ),
  },
  {
    method: 'GET',
    path: '/v1/sessions/{session_id}',
    params: () => session(),
    cells: sessionParties(ok(200, 'its session'), ok(200, 'its session')),
  },
  {
    method: 'POST',
    path: '/v1/sessions/{session_id}/continue',
    params: () => session(),
    body: () => ({ message: 'Next turn' }),
    cells: sessionParties(ok(200, 'the reply relayed'), forbidden('not_session_client')),
  },
  {
    method: 'POST',
    path: '/v1/sessions/{session_id}/reply',
    params: () => session(),
    body: () => ({ message: 'Agent turn' }),
    cells: sessionParties(forbidden('not_session_agent'), ok(200, 'its reply stored')),
  },
  {
    method: 'POST',
    path: '/v1/sessions/{session_id}/settle',
    params: () => session(),
    body: () => ({ amount: '0.01' }),
    cells: sessionParties(
      ok(200, 'settled', (res) => expect(res.body.status).to.equal('settled')),
      forbidden('not_session_client'),
    ),
  },
  {
    method: 'POST',
    path: '/v1/sessions/{session_id}/fail',
    params: () => session(),
    body: () => ({}),
    cells: sessionParties(forbidden('not_session_agent'), ok(200, 'failed, refund queued')),
  },

  // Webhooks: the caller's own, and its own deliveries.
  {
    method: 'PUT',
    path: '/v1/agents/me/webhook',
    body: () => ({ webhook_url: 'https://hooks.example.com/matrix' }),
    cells: anyAgent(ok(200, 'its own webhook set')),
  },
  {
    method: 'GET',
    path: '/v1/agents/me/webhook',
    params: (caller) => setWebhook(caller),
    cells: anyAgent(
      ok(200, 'its own webhook, masked', (res) => expect(res.body).to.not.have.property('secret')),
    ),
  },
  {
    method: 'DELETE',
    path: '/v1/agents/me/webhook',
    params: (caller) => setWebhook(caller),
    cells: anyAgent(ok(204, 'its own webhook removed')),
  },
  {
    method: 'GET',
    path: '/v1/agents/me/webhook/deliveries',
    cells: anyAgent(ok(200, 'its own delivery log')),
  },
  {
    method: 'GET',
    path: '/v1/agents/me/webhook/deliveries/{delivery_id}',
    params: () => webhookDelivery(),
    cells: requesterOwns(ok(200), 'delivery', 'webhook_delivery_not_found'),
  },
  {
    method: 'POST',
    path: '/v1/agents/me/webhook/deliveries/{delivery_id}/redeliver',
    params: () => webhookDelivery(),
    cells: requesterOwns(ok(201, 'its own event sent again'), 'delivery', 'webhook_delivery_not_found'),
  },

  // Messages.
  {
    method: 'POST',
    path: '/v1/assignments/{assignment_id}/messages',
    params: async () => world.shared.submitted,
    body: (_params, caller) => ({ body: `A private note from ${caller}.` }),
    cells: participantsOnly(ok(201), 'assignment', 'assignment_not_found'),
  },
  {
    method: 'GET',
    path: '/v1/assignments/{assignment_id}/messages',
    params: async () => world.shared.submitted,
    cells: participantsOnly(
      ok(200, 'the private channel', (res, params) => {
        const ids = (res.body as MessageResponse[]).map((message) => message.message_id)
        expect(ids).to.include(params.private_message_id)
      }),
      'assignment',
      'assignment_not_found',
    ),
  },
  {
    method: 'POST',
    path: '/v1/jobs/{job_id}/messages',
    state: 'awarded job',
    params: async () => world.shared.submitted,
    body: () => ({ body: 'A public update from the requester.' }),
    cells: creatorOnly(ok(201)),
  },
  {
    method: 'POST',
    path: '/v1/jobs/{job_id}/messages',
    state: 'job closed after work',
    params: async () => world.shared.closed,
    body: () => ({ body: 'A public update from the requester.' }),
    cells: {
      ...everyone(HIDDEN_JOB),
      anonymous: UNAUTHENTICATED,
      requester: ok(201),
      worker: forbidden('not_job_creator'),
      resolver: forbidden('not_job_creator'),
    },
  },
  {
    method: 'GET',
    path: '/v1/jobs/{job_id}/messages',
    state: 'awarded job',
    params: async () => world.shared.submitted,
    cells: anyAgent(
      ok(200, 'public messages only', (res, params) => {
        const messages = res.body as MessageResponse[]
        expect(messages.map((message) => message.message_id)).to.include(params.public_message_id)
        for (const message of messages) expect(message.assignment_id).to.equal(null)
      }),
    ),
  },
  {
    method: 'GET',
    path: '/v1/jobs/{job_id}/messages',
    state: 'cancelled job',
    params: async () => world.shared.cancelled,
    cells: {
      ...everyone(HIDDEN_JOB),
      anonymous: UNAUTHENTICATED,
      requester: ok(200),
    },
  },
  {
    method: 'GET',
    path: '/v1/jobs/{job_id}/messages',
    state: 'job closed after work',
    params: async () => world.shared.closed,
    cells: {
      ...everyone(HIDDEN_JOB),
      anonymous: UNAUTHENTICATED,
      requester: ok(200),
      worker: ok(200),
      resolver: ok(200),
    },
  },
  {
    method: 'POST',
    path: '/v1/messages/{message_id}/reactions',
    state: 'public message',
    params: async () => ({ message_id: world.shared.submitted.public_message_id! }),
    body: () => ({ emoji: 'eyes' }),
    cells: anyAgent(ok(200)),
  },
  {
    method: 'POST',
    path: '/v1/messages/{message_id}/reactions',
    state: 'private message',
    params: async () => ({ message_id: world.shared.submitted.private_message_id! }),
    body: () => ({ emoji: 'eyes' }),
    cells: participantsOnly(ok(200), 'message', 'message_not_found'),
  },

  // Competitions: the worker is an entrant; the judge is the competition's resolver.
  {
    method: 'POST',
    path: '/v1/jobs/{job_id}/entries',
    state: 'open competition',
    competition: true,
    params: () => competition({ entry: false }),
    body: () => ({ deliverable: DELIVERABLE }),
    cells: {
      anonymous: UNAUTHENTICATED,
      stranger: ok(201),
      worker: ok(201),
      requester: forbidden('cannot_enter'),
      judge: forbidden('cannot_enter'),
    },
  },
  {
    method: 'GET',
    path: '/v1/jobs/{job_id}/entries',
    state: 'open competition',
    competition: true,
    params: async () => world.shared.competition,
    cells: (() => {
      const sees = (says: string, ...entrants: string[]) =>
        ok(200, says, (res) => {
          const owners = (res.body as EntryResponse[]).map((entry) => nameOf(entry.worker_agent_id))
          expect(owners.sort()).to.deep.equal(entrants)
        })
      return {
        anonymous: sees('sealed: no entries'),
        stranger: sees('sealed: no entries'),
        worker: sees('its own entry only', 'worker'),
        requester: sees('every entry', 'rival', 'worker'),
        judge: sees('every entry', 'rival', 'worker'),
      }
    })(),
  },
  {
    method: 'GET',
    path: '/v1/jobs/{job_id}/entries',
    state: 'past the deadline',
    competition: true,
    params: async () => world.shared.judging,
    cells: Object.fromEntries(
      (['anonymous', 'stranger', 'worker', 'requester', 'judge'] as const).map((caller) => [
        caller,
        ok(200, 'every entry, escrow ops only for the parties and the entrant', (res) => {
          const entries = res.body as EntryResponse[]
          expect(entries).to.have.length(2)
          for (const entry of entries) {
            const own = caller === 'worker' && nameOf(entry.worker_agent_id) === 'worker'
            const seesOps = caller === 'requester' || caller === 'judge' || own
            expect('chain_ops' in entry, `escrow ops of ${nameOf(entry.worker_agent_id)}'s entry`).to.equal(
              seesOps,
            )
          }
        }),
      ]),
    ),
  },
  {
    method: 'GET',
    path: '/v1/jobs/{job_id}/entries',
    state: 'cancelled competition',
    competition: true,
    params: async () => world.shared.cancelledCompetition,
    cells: {
      anonymous: HIDDEN_JOB,
      stranger: HIDDEN_JOB,
      worker: HIDDEN_JOB,
      judge: HIDDEN_JOB,
      requester: ok(200),
    },
  },
  {
    method: 'POST',
    path: '/v1/jobs/{job_id}/resolve',
    state: 'past the deadline',
    competition: true,
    params: () => competitionJudging(),
    body: (params) => ({ results: [{ entry_id: params.entry_id, bps: 10_000 }] }),
    cells: {
      anonymous: UNAUTHENTICATED,
      stranger: forbidden('not_judge'),
      worker: forbidden('not_judge'),
      requester: forbidden('not_judge'),
      judge: ok(200),
    },
  },
  {
    method: 'POST',
    path: '/v1/jobs/{job_id}/entries/{entry_id}/escrow-signature',
    state: 'resolved competition',
    competition: true,
    params: () => competitionResolved(),
    body: () => ({ kind: 'escrow_lock', signature: BOGUS_SIGNATURE }),
    cells: {
      anonymous: UNAUTHENTICATED,
      stranger: forbidden('not_payer'),
      worker: forbidden('not_payer'),
      judge: forbidden('not_payer'),
      requester: conflict('escrow_op_signed', 'its managed wallet signed the prize escrow already'),
    },
  },
  {
    method: 'POST',
    path: '/v1/jobs/{job_id}/entries/{entry_id}/escrow-signature',
    state: "the rival's sealed entry",
    competition: true,
    // Anyone but the creator is refused before the entry is looked up, so a sealed entry's
    // existence does not show through 403 against 404 (issue 10, attack 9).
    params: async () => ({
      job_id: world.shared.competition.job_id!,
      entry_id: world.shared.competition.rival_entry_id!,
    }),
    body: () => ({ kind: 'escrow_lock', signature: BOGUS_SIGNATURE }),
    cells: {
      anonymous: UNAUTHENTICATED,
      stranger: forbidden('not_payer'),
      worker: forbidden('not_payer'),
      judge: forbidden('not_payer'),
      requester: conflict('escrow_op_not_found', 'no prize is escrowed before the judge resolves'),
    },
  },
  {
    method: 'POST',
    path: '/v1/jobs/{job_id}/entries',
    state: 'cancelled competition',
    competition: true,
    params: async () => world.shared.cancelledCompetition,
    body: () => ({ deliverable: DELIVERABLE }),
    cells: {
      anonymous: UNAUTHENTICATED,
      stranger: HIDDEN_JOB,
      worker: HIDDEN_JOB,
      judge: HIDDEN_JOB,
      requester: forbidden('cannot_enter'),
    },
  },
  {
    method: 'POST',
    path: '/v1/jobs/{job_id}/resolve',
    state: 'cancelled competition',
    competition: true,
    params: async () => world.shared.cancelledCompetition,
    body: (params) => ({ results: [{ entry_id: params.entry_id, bps: 10_000 }] }),
    cells: {
      anonymous: UNAUTHENTICATED,
      stranger: HIDDEN_JOB,
      worker: HIDDEN_JOB,
      judge: HIDDEN_JOB,
      requester: forbidden('not_judge'),
    },
  },
  {
    method: 'POST',
    path: '/v1/jobs/{job_id}/entries/{entry_id}/escrow-signature',
    state: 'cancelled competition',
    competition: true,
    params: async () => world.shared.cancelledCompetition,
    body: () => ({ kind: 'escrow_lock', signature: BOGUS_SIGNATURE }),
    cells: {
      anonymous: UNAUTHENTICATED,
      stranger: HIDDEN_JOB,
      worker: HIDDEN_JOB,
      judge: HIDDEN_JOB,
      requester: conflict('escrow_op_not_found', 'no prize was ever escrowed'),
    },
  },
]

// ---------------------------------------------------------------------------------------------

function fillPath(template: string, params: Params): string {
  return template.replace(/\{(\w+)\}/g, (_match, name: string) => {
    const value = params[name]
    if (value === undefined) throw new Error(`no value for {${name}} in ${template}`)
    return encodeURIComponent(value)
  })
}

async function call(row: Row, caller: Caller): Promise<{ res: request.Response; params: Params }> {
  const params = row.params ? await row.params(caller) : {}
  const path = fillPath(row.path, params)
  const client = request(world.app)
  let req =
    row.method === 'GET'
      ? client.get(path)
      : row.method === 'POST'
        ? client.post(path)
        : row.method === 'PUT'
          ? client.put(path)
          : row.method === 'PATCH'
            ? client.patch(path)
            : client.delete(path)
  if (row.query) req = req.query(row.query(params, caller))
  if (caller !== 'anonymous') req = req.set('Authorization', auth(agent(caller)))
  const res = row.body ? await req.send(row.body(params, caller)) : await req
  return { res, params }
}

function operation(method: string, path: string): string {
  return `${method.toUpperCase()} ${path}`
}

describe('authorization matrix (every /v1 route × anonymous, stranger, requester, worker, resolver, judge)', () => {
  before(async function () {
    this.timeout(180_000)
    testDatabase = await createTestDatabase()
    const { app: bootstrap } = await createTestApp(testDatabase)
    const judge = await registerAgent(bootstrap, { handle: uniqueHandle('judge') })
    chain = await createChainTestApp(testDatabase, {
      contextOverrides: { platformJudgeAgentId: judge.agent.id },
    })
    // The faucet waits for the indexer to credit its deposit: index as the coordinator's worker does.
    chain.indexer.start(50)
    const app = chain.app
    const register = (prefix: string) => registerAgent(app, { handle: uniqueHandle(prefix) })
    world = {
      app,
      agents: {
        requester: await register('requester'),
        worker: await register('worker'),
        resolver: await register('resolver'),
        stranger: await register('stranger'),
        judge,
      },
      rival: await register('rival'),
      shared: {} as World['shared'],
    }
    upstream = await startUpstreamStub()
    await fundAgent(app, agent('requester').apiKey, '5000')
    for (const caller of ['worker', 'resolver', 'stranger', 'judge'] as const) {
      await fundAgent(app, agent(caller).apiKey, '100')
    }

    const requester = agent('requester')
    const worker = agent('worker')
    const shared = world.shared

    // An awarded job with submitted work, a rival's losing bid, a private and a public message.
    const submitted = await openJob()
    await postBid(app, world.rival.apiKey, submitted.job_id!, { proposal: RIVAL_PROPOSAL })
    Object.assign(submitted, await award(submitted))
    const note = await request(app)
      .post(`/v1/assignments/${submitted.assignment_id}/messages`)
      .set('Authorization', auth(worker))
      .send({ body: 'Private: the draft is ready.' })
      .expect(201)
    submitted.private_message_id = note.body.message_id
    const update = await request(app)
      .post(`/v1/jobs/${submitted.job_id}/messages`)
      .set('Authorization', auth(requester))
      .send({ body: 'Public: work is under way.' })
      .expect(201)
    submitted.public_message_id = update.body.message_id
    await postSubmit(app, worker.apiKey, submitted.job_id!, DELIVERABLE)
    shared.submitted = submitted

    shared.open = await openJob()
    await postBid(app, world.rival.apiKey, shared.open.job_id!, { proposal: RIVAL_PROPOSAL })

    shared.cancelled = await openJob()
    await cancel(shared.cancelled.job_id!)

    // Nothing closes a job after work yet (disputes will): put one in the state a ruling leaves.
    shared.closed = await jobInProgress()
    await testDatabase.pool.query(
      "UPDATE jobs SET status = 'closed', closed_reason = 'resolved', updated_at = now() WHERE id = $1",
      [shared.closed.job_id],
    )

    shared.competition = await competition()
    shared.competition.rival_entry_id = await enter(shared.competition.job_id!, world.rival)
    shared.judging = await competition()
    shared.judging.rival_entry_id = await enter(shared.judging.job_id!, world.rival)
    await pastDeadline(shared.judging.job_id!)
    shared.cancelledCompetition = await competition()
    await cancel(shared.cancelledCompetition.job_id!)

    const deposits = await request(app)
      .get('/v1/wallet/deposits')
      .set('Authorization', auth(requester))
      .expect(200)
    shared.deposit = { deposit_id: (deposits.body.data as Deposit[])[0]!.deposit_id }
    const withdrawn = await request(app)
      .post('/v1/wallet/withdraw')
      .set('Authorization', auth(requester))
      .send({ amount: '1', to: freshAddress() })
      .expect(201)
    shared.withdrawal = { withdrawal_id: (withdrawn.body as Withdrawal).withdrawal_id }
    shared.address = { address_id: await saveAddress(requester) }
  })

  after(async () => {
    await upstream?.close()
    await chain?.indexer.stop()
    await chain?.stop()
    await testDatabase?.drop()
  })

  for (const row of ROWS) {
    for (const caller of CALLERS) {
      const cell = row.cells[caller]
      if (!cell) continue
      const route = `${row.method} ${row.path}${row.state ? ` (${row.state})` : ''}`
      it(`${route} as ${AS[caller]} -> ${cell.status}${cell.says ? `, ${cell.says}` : ''}`, async () => {
        const { res, params } = await call(row, caller)
        // First, so that a rotated key is kept even when an assertion below fails.
        row.after?.(res, caller)
        expect(res.status, `${route} as ${caller}: ${JSON.stringify(res.body)}`).to.equal(cell.status)
        if (cell.code) expect(res.body.error?.code, JSON.stringify(res.body)).to.equal(cell.code)
        cell.check?.(res, params, caller)
      })
    }
  }

  it('has a row for every operation of the OpenAPI document, and no row for one it lacks', async () => {
    const res = await request(world.app).get('/v1/openapi.json').expect(200)
    const documented = Object.entries(res.body.paths as Record<string, Record<string, unknown>>).flatMap(
      ([path, operations]) => Object.keys(operations).map((method) => operation(method, path)),
    )
    // The document does not describe itself, but it is a /v1 route all the same.
    documented.push(operation('get', '/v1/openapi.json'))
    const covered = new Set(ROWS.map((row) => operation(row.method, row.path)))
    expect(documented.length).to.be.greaterThan(50)
    expect(
      documented.filter((entry) => !covered.has(entry)),
      'routes without a row',
    ).to.deep.equal([])
    expect(
      [...covered].filter((entry) => !documented.includes(entry)),
      'rows for undocumented routes',
    ).to.deep.equal([])
  })

  it('gives every row a cell for every caller (a competition’s resolver is its judge)', () => {
    for (const row of ROWS) {
      const expected = CALLERS.filter((caller) => !(row.competition && caller === 'resolver'))
      expect(Object.keys(row.cells).sort(), `${row.method} ${row.path} ${row.state ?? ''}`).to.deep.equal(
        [...expected].sort(),
      )
    }
  })
})
