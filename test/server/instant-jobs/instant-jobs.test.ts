import { expect } from 'chai'
import type { Express } from 'express'
import request from 'supertest'
import { enforceInstantJobSlas } from '../../../server/instant-jobs/instant-jobs-service'
import { TimersWorker } from '../../../server/workers/timers'
import { createTestApp } from '../helpers/app'
import { bearer, fundAgent, registerAgent, type RegisteredTestAgent } from '../helpers/agents'
import { shiftDatabaseClock } from '../helpers/clock'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { balanceOf, expectFieldError, postSubmit } from '../helpers/jobs'
import type { AppContext } from '../../../server/app-context'

const UNIT = 1_000_000n

/** A service of `owner`'s in `category`, priced `price` (fixed), answering within `responseTime` seconds. */
async function offerService(
  app: Express,
  owner: RegisteredTestAgent,
  options: { category?: string; price?: string; responseTime?: number; name?: string; pricing?: string } = {},
): Promise<string> {
  const res = await request(app)
    .post('/v1/agents/me/services')
    .set('Authorization', bearer(owner.apiKey))
    .send({
      name: options.name ?? 'Spanish translation',
      description: 'Translates English documents to Spanish',
      category: options.category ?? 'content',
      pricing_model: options.pricing ?? 'fixed',
      ...(options.pricing === 'custom' ? {} : { price_amount: options.price ?? '3' }),
      response_time_seconds: options.responseTime ?? 300,
    })
  expect(res.status, JSON.stringify(res.body)).to.equal(201)
  return res.body.service_id
}

function instantBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    title: 'Translate document to Spanish',
    description: 'Translate the attached 2-page document from English to Spanish.',
    tags: ['translation'],
    budget_amount: '5',
    budget_token: 'USDC',
    ...overrides,
  }
}

async function postInstant(app: Express, apiKey: string, body: Record<string, unknown>) {
  return request(app).post('/v1/jobs/instant').set('Authorization', bearer(apiKey)).send(body)
}

describe('instant jobs (seed 004 "Create Instant Job")', () => {
  let database: TestDatabase
  let app: Express
  let context: AppContext
  let timers: TimersWorker

  before(async () => {
    database = await createTestDatabase()
    ;({ app, context } = await createTestApp(database))
    timers = new TimersWorker(context, 10_000)
  })
  after(async () => {
    await database.drop()
  })
  afterEach(async () => {
    await shiftDatabaseClock(database.pool, 0)
  })

  /** A funded requester and a worker offering one service (seed 004's example: 3 USDC, 5 minutes). */
  async function market(options: { funds?: string; price?: string; category?: string } = {}) {
    const requester = await registerAgent(app)
    const worker = await registerAgent(app)
    await fundAgent(app, requester.apiKey, options.funds ?? '20')
    const serviceId = await offerService(app, worker, { price: options.price, category: options.category })
    return { requester, worker, serviceId }
  }

  describe('creating', () => {
    it('funds the escrow with the named service’s price and assigns its owner in one call', async () => {
      const { requester, worker, serviceId } = await market()
      const res = await postInstant(app, requester.apiKey, instantBody({ service_id: serviceId }))
      expect(res.status, JSON.stringify(res.body)).to.equal(201)
      expect(res.body).to.include({
        job_type: 'instant',
        status: 'in_progress',
        worker_agent_id: worker.agent.id,
        matched_service_id: serviceId,
        matched_service_name: 'Spanish translation',
        escrow_amount: '3',
        budget_amount: '5',
        escrow_tx_hash: null,
        instant_status: 'assigned',
        max_attempts: 3,
      })
      expect(res.body.bid_id).to.be.a('string')
      expect(res.body.awarded_bid_id).to.equal(res.body.bid_id)
      expect(res.body.attempts).to.have.length(1)
      expect(res.body.attempts[0]).to.include({ attempt: 1, service_id: serviceId, outcome: 'assigned' })
      const slaSeconds = (Date.parse(res.body.sla_deadline) - Date.now()) / 1000
      expect(slaSeconds).to.be.within(290, 301)
      expect(await balanceOf(app, requester.apiKey)).to.deep.equal({
        available: 17n * UNIT,
        escrow: 3n * UNIT,
      })

      const assignment = await request(app)
        .get(`/v1/assignments/${res.body.assignment_id}`)
        .set('Authorization', bearer(worker.apiKey))
        .expect(200)
      expect(assignment.body).to.include({ status: 'in_progress', escrow_amount: '3' })
      expect(assignment.body.chain_ops.map((op: { kind: string }) => op.kind)).to.deep.equal(['escrow_lock'])
    })

    it('matches by category the best service within the budget, skipping the caller’s own and the overpriced', async () => {
      const requester = await registerAgent(app)
      await fundAgent(app, requester.apiKey, '20')
      const category = 'research'
      await offerService(app, requester, { category, price: '1', name: 'My own research' })
      const pricey = await registerAgent(app)
      await offerService(app, pricey, { category, price: '9', name: 'Deep research' })
      const fitting = await registerAgent(app)
      const fittingId = await offerService(app, fitting, { category, price: '4', name: 'Quick research' })
      const res = await postInstant(app, requester.apiKey, instantBody({ category, match_query: 'research' }))
      expect(res.status, JSON.stringify(res.body)).to.equal(201)
      expect(res.body).to.include({
        matched_service_id: fittingId,
        worker_agent_id: fitting.agent.id,
        escrow_amount: '4',
      })
    })

    it('offers a custom-priced service the whole budget', async () => {
      const requester = await registerAgent(app)
      const worker = await registerAgent(app)
      await fundAgent(app, requester.apiKey, '20')
      const serviceId = await offerService(app, worker, { pricing: 'custom' })
      const res = await postInstant(
        app,
        requester.apiKey,
        instantBody({ service_id: serviceId, budget_amount: 4.5 }),
      )
      expect(res.status, JSON.stringify(res.body)).to.equal(201)
      expect(res.body.escrow_amount).to.equal('4.5')
    })

    it('refuses a body without service_id or category, a zero budget and unknown fields', async () => {
      const { requester, serviceId } = await market()
      expectFieldError(await postInstant(app, requester.apiKey, instantBody()), 'service_id')
      expectFieldError(
        await postInstant(app, requester.apiKey, instantBody({ service_id: serviceId, budget_amount: '0' })),
        'budget_amount',
      )
      expectFieldError(
        await postInstant(
          app,
          requester.apiKey,
          instantBody({ service_id: serviceId, budget_amount: '1.0000001' }),
        ),
        'budget_amount',
      )
      expectFieldError(
        await postInstant(app, requester.apiKey, instantBody({ service_id: 'nope' })),
        'service_id',
      )
      const unknown = await postInstant(
        app,
        requester.apiKey,
        instantBody({ service_id: serviceId, bid: '1' }),
      )
      expect(unknown.status).to.equal(400)
      expect(unknown.body.error.message).to.contain('bid')
      expect(await balanceOf(app, requester.apiKey)).to.deep.equal({ available: 20n * UNIT, escrow: 0n })
    })

    it('refuses to hire one’s own service (400), a missing service (404) and anonymous callers (401)', async () => {
      const { worker, serviceId } = await market()
      await fundAgent(app, worker.apiKey, '10')
      const own = await postInstant(app, worker.apiKey, instantBody({ service_id: serviceId }))
      expect(own.status).to.equal(400)
      expect(own.body.error.code).to.equal('self_invocation')
      const missing = await postInstant(
        app,
        worker.apiKey,
        instantBody({ service_id: '00000000-0000-4000-8000-000000000000' }),
      )
      expect(missing.status).to.equal(404)
      expect(missing.body.error.code).to.equal('service_not_found')
      await request(app)
        .post('/v1/jobs/instant')
        .send(instantBody({ service_id: serviceId }))
        .expect(401)
    })

    it('answers 409 no_matching_service when the service costs more than the budget or nothing matches', async () => {
      const { requester, serviceId } = await market({ price: '6' })
      const over = await postInstant(app, requester.apiKey, instantBody({ service_id: serviceId }))
      expect(over.status).to.equal(409)
      expect(over.body.error).to.include({ code: 'no_matching_service' })
      expect(over.body.error.details).to.include({ price_amount: '6', price_token: 'USDC' })
      const none = await postInstant(
        app,
        requester.apiKey,
        instantBody({ category: 'other', match_query: 'origami' }),
      )
      expect(none.status).to.equal(409)
      expect(none.body.error.code).to.equal('no_matching_service')
    })

    it('answers 409 insufficient_balance and leaves no job, bid or escrow behind', async () => {
      const { requester, serviceId } = await market({ funds: '2' })
      const res = await postInstant(app, requester.apiKey, instantBody({ service_id: serviceId }))
      expect(res.status).to.equal(409)
      expect(res.body.error.code).to.equal('insufficient_balance')
      const mine = await request(app)
        .get('/v1/jobs?created_by=me')
        .set('Authorization', bearer(requester.apiKey))
        .expect(200)
      expect(mine.body).to.deep.equal([])
      expect(await balanceOf(app, requester.apiKey)).to.deep.equal({ available: 2n * UNIT, escrow: 0n })
    })

    it('takes no bids and no awards: the platform assigns it', async () => {
      const { requester, serviceId } = await market()
      const created = await postInstant(app, requester.apiKey, instantBody({ service_id: serviceId }))
      const stranger = await registerAgent(app)
      const bid = await request(app)
        .post(`/v1/jobs/${created.body.job_id}/bids`)
        .set('Authorization', bearer(stranger.apiKey))
        .send({ amount: '1', eta_seconds: 3600 })
      expect(bid.status).to.equal(409)
      const award = await request(app)
        .post(`/v1/jobs/${created.body.job_id}/award`)
        .set('Authorization', bearer(requester.apiKey))
        .send({ bid_id: created.body.bid_id })
      expect(award.status).to.equal(409)
      expect(award.body.error.code).to.equal('instant_job')
    })

    it('races: concurrent instant jobs never overdraw the caller, and one Idempotency-Key funds once', async function () {
      this.timeout(60_000)
      const { requester, serviceId } = await market({ funds: '10' })
      // 3 each: 10 covers three of eight.
      const results = await Promise.all(
        Array.from({ length: 8 }, () =>
          postInstant(app, requester.apiKey, instantBody({ service_id: serviceId })),
        ),
      )
      expect(results.filter((res) => res.status === 201)).to.have.length(3)
      expect(results.filter((res) => res.status === 409).map((res) => res.body.error.code)).to.deep.equal(
        Array(5).fill('insufficient_balance'),
      )
      expect(await balanceOf(app, requester.apiKey)).to.deep.equal({
        available: 1n * UNIT,
        escrow: 9n * UNIT,
      })

      const again = await market({ funds: '10' })
      const keyed = () =>
        request(app)
          .post('/v1/jobs/instant')
          .set('Authorization', bearer(again.requester.apiKey))
          .set('Idempotency-Key', 'instant-once')
          .send(instantBody({ service_id: again.serviceId }))
      const [first, second] = await Promise.all([keyed(), keyed()])
      const created = [first, second].filter((res) => res.status === 201)
      expect(created.length, JSON.stringify([first.body, second.body])).to.be.at.least(1)
      expect(new Set(created.map((res) => res.body.job_id)).size).to.equal(1)
      expect(await balanceOf(app, again.requester.apiKey)).to.deep.equal({
        available: 7n * UNIT,
        escrow: 3n * UNIT,
      })
    })
  })

  describe('SLA reassignment (by the database clock)', () => {
    // Each test on its own database, so the clock it moves times out its own jobs only.
    let shared: { database: TestDatabase; app: Express; context: AppContext; timers: TimersWorker }
    beforeEach(async () => {
      shared = { database, app, context, timers }
      database = await createTestDatabase()
      ;({ app, context } = await createTestApp(database))
      timers = new TimersWorker(context, 10_000)
    })
    afterEach(async () => {
      await database.drop()
      ;({ database, app, context, timers } = shared)
    })

    /** Three workers offering one category's service; the first is named. */
    async function threeCandidates(funds: string) {
      const requester = await registerAgent(app)
      await fundAgent(app, requester.apiKey, funds)
      const category = 'data'
      const workers: RegisteredTestAgent[] = []
      const services: string[] = []
      for (const price of ['3', '3', '3']) {
        const worker = await registerAgent(app)
        workers.push(worker)
        services.push(
          await offerService(app, worker, { category, price, name: `Data cleaning ${workers.length}` }),
        )
      }
      const created = await postInstant(app, requester.apiKey, instantBody({ service_id: services[0] }))
      expect(created.status, JSON.stringify(created.body)).to.equal(201)
      return { requester, workers, services, jobId: created.body.job_id as string }
    }

    async function progress(jobId: string, apiKey: string) {
      return (
        await request(app).get(`/v1/jobs/${jobId}/instant`).set('Authorization', bearer(apiKey)).expect(200)
      ).body
    }

    it('hands a silent worker’s job to the next candidate once its response time passes, and fires once', async () => {
      const { requester, workers, services, jobId } = await threeCandidates('20')
      await shiftDatabaseClock(database.pool, 299)
      expect(await timers.runOnce(), 'not before the SLA').to.include({ instantTimedOut: 0 })
      await shiftDatabaseClock(database.pool, 301)
      // Two passes at once (a lease handed over mid-round): the SLA fires once.
      const passes = await Promise.all([enforceInstantJobSlas(context), enforceInstantJobSlas(context)])
      expect(passes.map((pass) => pass.timedOut).sort()).to.deep.equal([0, 1])
      expect(passes.map((pass) => pass.reassigned).sort()).to.deep.equal([0, 1])
      expect(await timers.runOnce(), 'it fires once').to.include({ instantTimedOut: 0, instantReassigned: 0 })

      const state = await progress(jobId, requester.apiKey)
      expect(state.instant_status).to.equal('assigned')
      expect(
        state.attempts.map((row: { service_id: string; outcome: string }) => [row.service_id, row.outcome]),
      ).to.deep.equal([
        [services[0], 'timed_out'],
        [services[1], 'assigned'],
      ])
      const job = await request(app)
        .get(`/v1/jobs/${jobId}`)
        .set('Authorization', bearer(requester.apiKey))
        .expect(200)
      expect(job.body).to.include({ status: 'in_progress', worker_agent_id: workers[1]!.agent.id })
      // The silent worker's escrow goes back through the vault: the ledger still holds it until then.
      expect(await balanceOf(app, requester.apiKey)).to.deep.equal({
        available: 14n * UNIT,
        escrow: 6n * UNIT,
      })
      const silent = await request(app)
        .get(`/v1/assignments/${state.attempts[0].assignment_id}`)
        .set('Authorization', bearer(workers[0]!.apiKey))
        .expect(200)
      expect(silent.body.status).to.equal('cancelled')
      expect(silent.body.chain_ops.map((op: { kind: string }) => op.kind)).to.deep.equal([
        'escrow_lock',
        'escrow_refund',
      ])
      // The new worker sees the job as its own; the silent one lost it.
      await postSubmit(app, workers[1]!.apiKey, jobId)
      await shiftDatabaseClock(database.pool, 700)
      expect(await timers.runOnce(), 'a worker who delivered keeps the job').to.include({
        instantTimedOut: 0,
      })
      expect((await progress(jobId, workers[1]!.apiKey)).instant_status).to.equal('delivered')
    })

    it('waits for the refund when the caller cannot fund the next worker yet', async () => {
      const { requester, jobId } = await threeCandidates('3')
      await shiftDatabaseClock(database.pool, 301)
      expect(await timers.runOnce()).to.include({
        instantTimedOut: 1,
        instantReassigned: 0,
        instantFailed: 0,
      })
      expect((await progress(jobId, requester.apiKey)).instant_status).to.equal('reassigning')
      const job = await request(app)
        .get(`/v1/jobs/${jobId}`)
        .set('Authorization', bearer(requester.apiKey))
        .expect(200)
      expect(job.body.status).to.equal('open')
    })

    it('closes the job after three silent workers, every escrow on its way back', async () => {
      const { requester, jobId } = await threeCandidates('20')
      for (let attempt = 1; attempt <= 3; attempt += 1) {
        await shiftDatabaseClock(database.pool, 301 * attempt)
        expect(await timers.runOnce()).to.include({ instantTimedOut: 1 })
      }
      const state = await progress(jobId, requester.apiKey)
      expect(state.instant_status).to.equal('failed')
      expect(state.attempts.map((row: { outcome: string }) => row.outcome)).to.deep.equal([
        'timed_out',
        'timed_out',
        'timed_out',
      ])
      const job = await request(app)
        .get(`/v1/jobs/${jobId}`)
        .set('Authorization', bearer(requester.apiKey))
        .expect(200)
      expect(job.body.status).to.equal('closed')
    })

    it('shows the attempts to the creator and its workers only', async () => {
      const { workers, jobId } = await threeCandidates('20')
      const stranger = await registerAgent(app)
      const hidden = await request(app)
        .get(`/v1/jobs/${jobId}/instant`)
        .set('Authorization', bearer(stranger.apiKey))
      expect(hidden.status).to.equal(404)
      expect(hidden.body.error.code).to.equal('job_not_found')
      const notYet = await request(app)
        .get(`/v1/jobs/${jobId}/instant`)
        .set('Authorization', bearer(workers[2]!.apiKey))
      expect(notYet.status, 'a candidate not yet given the job').to.equal(404)
      expect((await progress(jobId, workers[0]!.apiKey)).attempts).to.have.length(1)
    })
  })
})
