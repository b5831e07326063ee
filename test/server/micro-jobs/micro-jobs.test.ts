import { expect } from 'chai'
import type { Express } from 'express'
import request from 'supertest'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { requestHashOf } from '../../../protocol/channels'
import type { MicroJobResponse } from '../../../protocol/micro-jobs'
import type { AppContext } from '../../../server/app-context'
import { findCallableService } from '../../../server/services/services-service'
import { openMicroJob } from '../../../server/micro-jobs/micro-jobs-service'
import { TimersWorker } from '../../../server/workers/timers'
import { bearer, fundAgent, registerAgent, type RegisteredTestAgent } from '../helpers/agents'
import { createTestApp } from '../helpers/app'
import { shiftDatabaseClock } from '../helpers/clock'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { registerStubService, startUpstreamStub, type UpstreamStub } from '../helpers/upstream'

const PRICE = '0.01'
// 1 % of 0.01 (the protocol fee without a chain).
const PROVIDER_SHARE = '0.0099'

/**
 * Seed 004 "Invoke Service": a priced call made without a channel "creates a micro-job under the
 * hood for billing and audit": the price is held in escrow during the call and released to the
 * provider once it answers; a call that fails costs nothing and never reaches the chain.
 */
describe('micro-jobs: priced calls without a channel, paid through escrow', () => {
  let database: TestDatabase
  let app: Express
  let context: AppContext
  let upstream: UpstreamStub
  let provider: RegisteredTestAgent
  let caller: RegisteredTestAgent
  let stranger: RegisteredTestAgent
  let serviceId: string
  let failingId: string

  before(async () => {
    database = await createTestDatabase()
    ;({ app, context } = await createTestApp(database))
    upstream = await startUpstreamStub()
    provider = await registerAgent(app)
    caller = await registerAgent(app)
    stranger = await registerAgent(app)
    await fundAgent(app, caller.apiKey, '1')
    serviceId = await registerService('/echo')
    failingId = await registerService('/fail')
  })
  after(async () => {
    await upstream.close()
    await database.drop()
  })

  const registerService = (path: string) =>
    registerStubService(app, provider.apiKey, upstream, { path, price: PRICE })

  const invoke = (agent: RegisteredTestAgent, id: string, body: Record<string, unknown>) =>
    request(app).post(`/v1/services/${id}/invoke`).set('Authorization', bearer(agent.apiKey)).send(body)
  const microJob = (agent: RegisteredTestAgent, id: string) =>
    request(app).get(`/v1/micro-jobs/${id}`).set('Authorization', bearer(agent.apiKey))

  async function balance(
    agent: RegisteredTestAgent,
  ): Promise<{ available: string; escrowed: string; unsettled: string }> {
    const res = await request(app)
      .get('/v1/wallet/balance')
      .set('Authorization', bearer(agent.apiKey))
      .expect(200)
    const { available, escrowed, unsettled } = res.body.balances[0]
    return { available, escrowed, unsettled }
  }

  async function chainOpsNamed(microJobId: string): Promise<number> {
    const { rows } = await database.pool.query(
      'SELECT count(*)::int AS n FROM chain_ops WHERE reference LIKE $1',
      [`%${microJobId}`],
    )
    return rows[0].n as number
  }

  it('charges a managed caller the price, credits the provider less the fee, and records the call for audit', async () => {
    const callerBefore = await balance(caller)
    const res = await invoke(caller, serviceId, { input: { city: 'NYC' } })
    expect(res.status, JSON.stringify(res.body)).to.equal(200)
    expect(res.body).to.include({ cost: PRICE, channel_id: null, call: null })
    expect(res.body.output).to.deep.equal({ echo: { city: 'NYC' } })
    const jobId = res.body.job_id as string
    expect(upstream.lastRequest.get('/echo')!.headers['x-clearhouse-job']).to.equal(jobId)

    expect(await balance(caller)).to.deep.equal({
      ...callerBefore,
      available: (Number(callerBefore.available) - Number(PRICE)).toString(),
    })
    expect((await balance(provider)).unsettled).to.equal(PROVIDER_SHARE)

    for (const party of [caller, provider]) {
      const job = (await microJob(party, jobId).expect(200)).body as MicroJobResponse
      expect(job).to.include({
        job_id: jobId,
        service_id: serviceId,
        caller_agent_id: caller.agent.id,
        provider_agent_id: provider.agent.id,
        amount: PRICE,
        fee_amount: '0.0001',
        status: 'completed',
        request_hash: requestHashOf({ city: 'NYC' }),
        upstream_status: 200,
        failure_reason: null,
      })
      expect(job.response_hash).to.match(/^0x[0-9a-f]{64}$/)
      // The lock goes to the settler now; the release once the lock's escrow is on-chain.
      expect(job.escrow_ops.map((op) => [op.kind, op.status, op.signer_address])).to.deep.equal([
        ['escrow_lock', 'pending', caller.agent.wallet_address.toLowerCase()],
        ['escrow_release', 'signed', caller.agent.wallet_address.toLowerCase()],
      ])
    }
    expect(await chainOpsNamed(jobId)).to.equal(1)
  })

  it('charges nothing and queues nothing for the chain when the provider fails (502): the escrow goes back', async () => {
    const before = await balance(caller)
    const res = await invoke(caller, failingId, { input: 1 }).expect(502)
    expect(res.body.error.code).to.equal('upstream_error')
    expect(await balance(caller)).to.deep.equal(before)
    const [job] = (
      await request(app)
        .get('/v1/micro-jobs?status=refunded')
        .set('Authorization', bearer(caller.apiKey))
        .expect(200)
    ).body as MicroJobResponse[]
    expect(job).to.include({ service_id: failingId, status: 'refunded', response_hash: null })
    expect(job.failure_reason).to.match(/answered 500/)
    expect(job.escrow_ops.map((op) => op.status)).to.deep.equal(['failed'])
    expect(await chainOpsNamed(job.job_id)).to.equal(0)
  })

  it('refuses a caller who cannot pay (409 insufficient_balance) without calling the provider', async () => {
    const poor = await registerAgent(app)
    const hits = upstream.hits.get('/echo') ?? 0
    const res = await invoke(poor, serviceId, { input: 1 }).expect(409)
    expect(res.body.error.code).to.equal('insufficient_balance')
    expect(res.body.error.details).to.include({ required: PRICE, available: '0' })
    expect(upstream.hits.get('/echo') ?? 0).to.equal(hits)
    const listed = await request(app)
      .get('/v1/micro-jobs')
      .set('Authorization', bearer(poor.apiKey))
      .expect(200)
    expect(listed.body).to.deep.equal([])
  })

  it('sends a self-custody caller to a channel (409 channel_required): it cannot sign inside the call', async () => {
    const selfCustody = await registerAgent(app, { account: privateKeyToAccount(generatePrivateKey()) })
    await fundAgent(app, selfCustody.apiKey, '1')
    const res = await invoke(selfCustody, serviceId, { input: 1 }).expect(409)
    expect(res.body.error.code).to.equal('channel_required')
    expect((await balance(selfCustody)).available).to.equal('1')
  })

  it('races: 12 concurrent calls with money for 5 charge exactly 5, and the rest are refused with nothing lost', async () => {
    const racer = await registerAgent(app)
    await fundAgent(app, racer.apiKey, '0.05')
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, n) => invoke(racer, serviceId, { input: { n } })),
    )
    const statuses = results.map((res) => res.status).sort()
    expect(statuses.filter((status) => status === 200)).to.have.length(5)
    for (const res of results.filter((res) => res.status !== 200)) {
      expect(res.status).to.equal(409)
      expect(res.body.error.code).to.equal('insufficient_balance')
    }
    expect(await balance(racer)).to.include({ available: '0', escrowed: '0' })
    const jobs = await request(app)
      .get('/v1/micro-jobs?limit=100')
      .set('Authorization', bearer(racer.apiKey))
      .expect(200)
    expect(jobs.body.map((job: MicroJobResponse) => job.status)).to.deep.equal(Array(5).fill('completed'))
  })

  it('pays a managed caller’s call as a micro-job once its channel cannot cover it', async () => {
    const topped = await registerAgent(app)
    await fundAgent(app, topped.apiKey, '1')
    const opened = await request(app)
      .post('/v1/channels')
      .set('Authorization', bearer(topped.apiKey))
      .send({ service_id: serviceId, deposit_amount: PRICE })
      .expect(201)
    const first = await invoke(topped, serviceId, { input: 1 }).expect(200)
    expect(first.body).to.include({ channel_id: opened.body.channel_id, job_id: null })
    const second = await invoke(topped, serviceId, { input: 2 }).expect(200)
    expect(second.body).to.include({ channel_id: null, cost: PRICE })
    expect(second.body.job_id).to.be.a('string')
  })

  it('shows a micro-job to its caller and provider only; lists by role; refuses malformed ids and no key', async () => {
    const res = await invoke(caller, serviceId, { input: 'audit' }).expect(200)
    const jobId = res.body.job_id as string
    const hidden = await microJob(stranger, jobId).expect(404)
    expect(hidden.body.error.code).to.equal('micro_job_not_found')
    expect(
      (await microJob(caller, '00000000-0000-4000-8000-000000000000').expect(404)).body.error.code,
    ).to.equal('micro_job_not_found')
    await microJob(caller, 'not-a-uuid').expect(400)
    await request(app).get(`/v1/micro-jobs/${jobId}`).expect(401)
    await request(app)
      .get('/v1/micro-jobs')
      .set('Authorization', bearer(caller.apiKey))
      .query({ role: 'boss' })
      .expect(400)
    const asProvider = await request(app)
      .get('/v1/micro-jobs?role=provider&limit=1')
      .set('Authorization', bearer(provider.apiKey))
      .expect(200)
    expect(asProvider.body.map((job: MicroJobResponse) => job.job_id)).to.deep.equal([jobId])
    const asStranger = await request(app)
      .get('/v1/micro-jobs?role=provider')
      .set('Authorization', bearer(stranger.apiKey))
      .expect(200)
    expect(asStranger.body).to.deep.equal([])
  })

  it('refunds, once, a micro-job a crash left mid-call, when the timers find it past the longest call', async () => {
    const stranded = await registerAgent(app)
    await fundAgent(app, stranded.apiKey, '1')
    const service = await findCallableService(context.pool, serviceId, stranded.agent.id)
    const actor = {
      id: stranded.agent.id,
      handle: stranded.agent.handle,
      walletAddress: stranded.agent.wallet_address as `0x${string}`,
      isManagedWallet: true,
    }
    // The escrow is held, then the process "dies" before the provider answers.
    const open = await openMicroJob(context, actor, { ...service, priceAmount: service.priceAmount! }, 'x')
    expect(await balance(stranded)).to.include({ available: '0.99', escrowed: PRICE })
    const timers = new TimersWorker(context, 10_000)
    try {
      expect(await timers.runOnce(), 'not while the call may still run').to.include({ microJobsRefunded: 0 })
      await shiftDatabaseClock(database.pool, 6 * 60)
      expect(await timers.runOnce()).to.include({ microJobsRefunded: 1 })
      expect(await timers.runOnce(), 'refunded once').to.include({ microJobsRefunded: 0 })
    } finally {
      await shiftDatabaseClock(database.pool, 0)
      await timers.resign()
    }
    expect(await balance(stranded)).to.include({ available: '1', escrowed: '0' })
    const job = (await microJob(stranded, open.id).expect(200)).body as MicroJobResponse
    expect(job.status).to.equal('refunded')
    expect(job.failure_reason).to.match(/never finished/)
    expect(await chainOpsNamed(open.id)).to.equal(0)
  })
})
