import { expect } from 'chai'
import type { Express } from 'express'
import request from 'supertest'
import type { NegotiationResponse } from '../../../protocol/negotiations'
import { bearer, fundAgent, registerAgent, type RegisteredTestAgent } from '../helpers/agents'
import { createTestApp } from '../helpers/app'
import { shiftDatabaseClock } from '../helpers/clock'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { balanceOf, expectFieldError, postBid, postJob } from '../helpers/jobs'

const USDC = 1_000_000n

describe('negotiations (seed 002): offers, counters, accept into an award', () => {
  let database: TestDatabase
  let app: Express
  let provider: RegisteredTestAgent
  let buyer: RegisteredTestAgent
  let stranger: RegisteredTestAgent

  before(async () => {
    database = await createTestDatabase()
    ;({ app } = await createTestApp(database))
    provider = await registerAgent(app)
    buyer = await registerAgent(app)
    stranger = await registerAgent(app)
    await fundAgent(app, buyer.apiKey, '100')
    await fundAgent(app, provider.apiKey, '100')
  })
  after(async () => {
    await database.drop()
  })

  async function service(pricingModel: string, price: string | null = '10'): Promise<string> {
    const res = await request(app)
      .post('/v1/agents/me/services')
      .set('Authorization', bearer(provider.apiKey))
      .send({
        name: `Review ${pricingModel}`,
        category: 'development',
        pricing_model: pricingModel,
        ...(price === null ? {} : { base_price: price }),
      })
      .expect(201)
    return res.body.service_id as string
  }

  const post = (agent: RegisteredTestAgent | null, path: string, body: object = {}) => {
    const req = request(app).post(path)
    return (agent ? req.set('Authorization', bearer(agent.apiKey)) : req).send(body)
  }
  const offer = (agent: RegisteredTestAgent, body: object) => post(agent, '/v1/negotiations', body)
  const counter = (agent: RegisteredTestAgent, id: string, body: object) =>
    post(agent, `/v1/negotiations/${id}/counter`, body)
  const accept = (agent: RegisteredTestAgent, id: string) => post(agent, `/v1/negotiations/${id}/accept`)
  const reject = (agent: RegisteredTestAgent, id: string) => post(agent, `/v1/negotiations/${id}/reject`)

  it('a service negotiation countered twice then accepted becomes a job awarded at the final price', async () => {
    const serviceId = await service('hybrid', '10')
    const before = await balanceOf(app, buyer.apiKey)
    const opened = (
      await offer(buyer, { service_id: serviceId, amount: '6', message: 'Would you take 6?' }).expect(201)
    ).body as NegotiationResponse
    expect(opened).to.include({
      subject: 'service',
      status: 'open',
      amount: '6',
      token: 'USDC',
      buyer_agent_id: buyer.agent.id,
      seller_agent_id: provider.agent.id,
      turn_agent_id: provider.agent.id,
    })
    const id = opened.negotiation_id
    await counter(provider, id, { amount: '9', message: '9 and it is done today' }).expect(200)
    const second = (await counter(buyer, id, { amount: 7.5 }).expect(200)).body as NegotiationResponse
    expect(second).to.include({ amount: '7.5', turn_agent_id: provider.agent.id })
    expect(second.offers.map((o) => [o.by_agent_id, o.amount])).to.deep.equal([
      [buyer.agent.id, '6'],
      [provider.agent.id, '9'],
      [buyer.agent.id, '7.5'],
    ])

    const accepted = (await accept(provider, id).expect(200)).body as NegotiationResponse
    expect(accepted).to.include({ status: 'accepted', amount: '7.5', turn_agent_id: null })
    expect(accepted.award).to.not.equal(null)
    const assignment = await request(app)
      .get(`/v1/assignments/${accepted.award!.assignment_id}`)
      .set('Authorization', bearer(buyer.apiKey))
      .expect(200)
    expect(assignment.body).to.include({
      escrow_amount: '7.5',
      worker_agent_id: provider.agent.id,
      creator_agent_id: buyer.agent.id,
      status: 'in_progress',
    })
    const job = await request(app).get(`/v1/jobs/${accepted.award!.job_id}`).expect(200)
    expect(job.body).to.include({ status: 'in_progress', budget_amount: '7.5' })
    const after = await balanceOf(app, buyer.apiKey)
    expect(before.available - after.available).to.equal(7_500_000n)
    expect(after.escrow - before.escrow).to.equal(7_500_000n)

    // Once accepted it is closed to everything, the accept included (a retry without its key).
    expect((await accept(provider, id).expect(409)).body.error.code).to.equal('negotiation_not_open')
    expect((await counter(buyer, id, { amount: '1' }).expect(409)).body.error.code).to.equal(
      'negotiation_not_open',
    )
  })

  it('replays an accept sent again with its Idempotency-Key instead of awarding twice', async () => {
    const id = (await offer(buyer, { service_id: await service('auction', null), amount: '2' }).expect(201))
      .body.negotiation_id
    const send = () =>
      request(app)
        .post(`/v1/negotiations/${id}/accept`)
        .set('Authorization', bearer(provider.apiKey))
        .set('Idempotency-Key', `accept-${id}`)
        .send({})
    const first = await send().expect(200)
    const again = await send().expect(200)
    expect(again.body.award).to.deep.equal(first.body.award)
  })

  it('refuses to negotiate a fixed or per_call price with 409 price_not_negotiable', async () => {
    for (const model of ['fixed', 'per_call']) {
      const res = await offer(buyer, { service_id: await service(model), amount: '5' }).expect(409)
      expect(res.body.error.code).to.equal('price_not_negotiable')
      expect(res.body.error.details.pricing_model).to.equal(model)
    }
  })

  it('lets only the party whose turn it is answer, and hides a negotiation from anyone else', async () => {
    const id = (await offer(buyer, { service_id: await service('hybrid'), amount: '4' }).expect(201)).body
      .negotiation_id
    expect((await accept(buyer, id).expect(409)).body.error.code).to.equal('not_your_turn')
    expect((await counter(buyer, id, { amount: '5' }).expect(409)).body.error.code).to.equal('not_your_turn')
    expect((await reject(buyer, id).expect(409)).body.error.code).to.equal('not_your_turn')
    for (const path of [`/v1/negotiations/${id}/accept`, `/v1/negotiations/${id}/reject`]) {
      expect((await post(stranger, path).expect(404)).body.error.code).to.equal('negotiation_not_found')
    }
    await request(app).get(`/v1/negotiations/${id}`).set('Authorization', bearer(stranger.apiKey)).expect(404)
    await post(null, `/v1/negotiations/${id}/accept`).expect(401)
    const rejected = (await reject(provider, id).expect(200)).body as NegotiationResponse
    expect(rejected).to.include({ status: 'rejected', award: null })
    expect((await accept(provider, id).expect(409)).body.error.code).to.equal('negotiation_not_open')
  })

  it('refuses malformed offers with 400 naming the field, and offers on one’s own service with 403', async () => {
    const serviceId = await service('hybrid')
    const job = await postJob(app, buyer.apiKey)
    expectFieldError(await offer(buyer, { amount: '5' }), 'service_id')
    expectFieldError(
      await offer(buyer, { service_id: serviceId, job_id: job.job_id, amount: '5' }),
      'service_id',
    )
    expectFieldError(await offer(buyer, { service_id: serviceId, amount: '5.0000001' }), 'amount')
    expectFieldError(await offer(buyer, { service_id: serviceId, amount: '-1' }), 'amount')
    expectFieldError(
      await offer(buyer, { service_id: serviceId, amount: '5', expires_in_seconds: 1 }),
      'expires_in_seconds',
    )
    expectFieldError(await offer(buyer, { service_id: 'nope', amount: '5' }), 'service_id')
    expect(
      (await offer(buyer, { service_id: serviceId, amount: '5', token: 'DOGE' }).expect(400)).body.error.code,
    ).to.equal('unknown_token')
    expect(
      (await offer(provider, { service_id: serviceId, amount: '5' }).expect(403)).body.error.code,
    ).to.equal('own_service')
    // An offer on a job above its budget, as a bid above it would be.
    expectFieldError(await offer(stranger, { job_id: job.job_id, amount: '10.01' }), 'amount')
    expect((await offer(buyer, { job_id: job.job_id, amount: '5' }).expect(403)).body.error.code).to.equal(
      'own_job',
    )
    const first = (await offer(stranger, { job_id: job.job_id, amount: '5' }).expect(201))
      .body as NegotiationResponse
    expect((await offer(stranger, { job_id: job.job_id, amount: '4' }).expect(409)).body.error.code).to.equal(
      'negotiation_exists',
    )
    expectFieldError(await counter(buyer, first.negotiation_id, { amount: 'lots' }), 'amount')
    await request(app)
      .post(`/v1/negotiations/${first.negotiation_id}/accept`)
      .set('Authorization', bearer(buyer.apiKey))
      .set('Content-Type', 'application/json')
      .send('{"message": ')
      .expect(400)
  })

  it("a worker's offer on a job, countered by its creator and accepted by the worker, revises the worker's bid and awards it", async () => {
    const worker = await registerAgent(app)
    const job = await postJob(app, buyer.apiKey, { budget_amount: '20' })
    const bid = await postBid(app, worker.apiKey, job.job_id, { amount: '18' })
    const opened = (
      await offer(worker, {
        job_id: job.job_id,
        amount: '16',
        eta_seconds: 7200,
        message: 'For you, 16',
      }).expect(201)
    ).body as NegotiationResponse
    expect(opened).to.include({
      subject: 'job',
      buyer_agent_id: buyer.agent.id,
      seller_agent_id: worker.agent.id,
    })
    await counter(buyer, opened.negotiation_id, { amount: '12' }).expect(200)
    await counter(worker, opened.negotiation_id, { amount: '14' }).expect(200)
    await counter(buyer, opened.negotiation_id, { amount: '13' }).expect(200)
    const accepted = (await accept(worker, opened.negotiation_id).expect(200)).body as NegotiationResponse
    expect(accepted.award).to.include({ job_id: job.job_id, bid_id: bid.bid_id })
    const bids = await request(app)
      .get(`/v1/jobs/${job.job_id}/bids`)
      .set('Authorization', bearer(buyer.apiKey))
      .expect(200)
    expect(bids.body).to.have.length(1)
    expect(bids.body[0]).to.include({
      bid_id: bid.bid_id,
      amount: '13',
      status: 'accepted',
      eta_seconds: 7200,
    })
    const assignment = await request(app)
      .get(`/v1/assignments/${accepted.award!.assignment_id}`)
      .set('Authorization', bearer(worker.apiKey))
      .expect(200)
    expect(assignment.body.escrow_amount).to.equal('13')
  })

  it('an offer that expired cannot be accepted or countered, and the timers write it down', async () => {
    const id = (
      await offer(buyer, {
        service_id: await service('auction', null),
        amount: '3',
        expires_in_seconds: 60,
      }).expect(201)
    ).body.negotiation_id
    await shiftDatabaseClock(database.pool, 120)
    try {
      expect((await accept(provider, id).expect(409)).body.error.code).to.equal('negotiation_expired')
      expect((await counter(provider, id, { amount: '4' }).expect(409)).body.error.code).to.equal(
        'negotiation_expired',
      )
      const read = await request(app)
        .get(`/v1/negotiations/${id}`)
        .set('Authorization', bearer(buyer.apiKey))
        .expect(200)
      expect(read.body).to.include({ status: 'expired', turn_agent_id: null })
      const { rows } = await database.pool.query('SELECT status FROM negotiations WHERE id = $1', [id])
      expect(rows[0].status).to.equal('open')
      const { expireDueNegotiations } = await import('../../../server/negotiations/negotiations-service')
      const { context } = await createTestApp(database)
      expect(await expireDueNegotiations(context)).to.be.at.least(1)
      const swept = await database.pool.query('SELECT status FROM negotiations WHERE id = $1', [id])
      expect(swept.rows[0].status).to.equal('expired')
      // A lapsed negotiation does not block a new one on the same service.
      const serviceId = (
        await request(app).get(`/v1/negotiations/${id}`).set('Authorization', bearer(buyer.apiKey))
      ).body.service_id
      await offer(buyer, { service_id: serviceId, amount: '3.5' }).expect(201)
    } finally {
      await shiftDatabaseClock(database.pool, 0)
    }
  })

  it('two concurrent accepts make one award; the other gets 409', async () => {
    for (let round = 0; round < 4; round += 1) {
      const id = (await offer(buyer, { service_id: await service('hybrid'), amount: '1' }).expect(201)).body
        .negotiation_id
      const before = await balanceOf(app, buyer.apiKey)
      const results = await Promise.all([accept(provider, id), accept(provider, id)])
      expect(results.map((res) => res.status).sort()).to.deep.equal([200, 409])
      const loser = results.find((res) => res.status === 409)!
      expect(loser.body.error.code).to.equal('negotiation_not_open')
      const after = await balanceOf(app, buyer.apiKey)
      expect(after.escrow - before.escrow).to.equal(1n * USDC)
      const { rows } = await database.pool.query(
        'SELECT count(*)::int AS n FROM assignments AS a JOIN negotiations AS n ON n.awarded_job_id = a.job_id WHERE n.id = $1',
        [id],
      )
      expect(rows[0].n).to.equal(1)
    }
  })

  it('an accept racing a counter: either the accept awards the standing offer or the counter replaces it, never both', async () => {
    for (let round = 0; round < 4; round += 1) {
      const id = (await offer(buyer, { service_id: await service('hybrid'), amount: '2' }).expect(201)).body
        .negotiation_id
      const [accepted, countered] = await Promise.all([
        accept(provider, id),
        counter(provider, id, { amount: '3' }),
      ])
      const read = (
        await request(app)
          .get(`/v1/negotiations/${id}`)
          .set('Authorization', bearer(buyer.apiKey))
          .expect(200)
      ).body as NegotiationResponse
      if (accepted.status === 200) {
        expect(countered.status).to.equal(409)
        expect(read).to.include({ status: 'accepted', amount: '2' })
      } else {
        expect(countered.status).to.equal(200)
        expect(accepted.body.error.code).to.equal('not_your_turn')
        expect(read).to.include({ status: 'open', amount: '3', turn_agent_id: buyer.agent.id, award: null })
      }
    }
  })

  it('refuses an accept the buyer cannot pay, rolling the accept back with the award', async () => {
    const poor = await registerAgent(app)
    const id = (await offer(poor, { service_id: await service('hybrid'), amount: '5' }).expect(201)).body
      .negotiation_id
    const res = await accept(provider, id).expect(409)
    expect(res.body.error.code).to.equal('insufficient_balance')
    const read = await request(app)
      .get(`/v1/negotiations/${id}`)
      .set('Authorization', bearer(poor.apiKey))
      .expect(200)
    expect(read.body).to.include({ status: 'open', award: null })
  })

  it('lists the caller’s negotiations by role and status', async () => {
    const list = async (agent: RegisteredTestAgent, query: Record<string, string>) =>
      (
        await request(app)
          .get('/v1/negotiations')
          .query(query)
          .set('Authorization', bearer(agent.apiKey))
          .expect(200)
      ).body as NegotiationResponse[]
    const asBuyer = await list(buyer, { role: 'buyer' })
    expect(asBuyer.length).to.be.greaterThan(3)
    expect(asBuyer.every((n) => n.buyer_agent_id === buyer.agent.id)).to.equal(true)
    const selling = await list(provider, { role: 'seller', status: 'accepted' })
    expect(selling.length).to.be.greaterThan(0)
    expect(selling.every((n) => n.seller_agent_id === provider.agent.id && n.status === 'accepted')).to.equal(
      true,
    )
    expect(await list(await registerAgent(app), { role: 'any' })).to.deep.equal([])
    expectFieldError(
      await request(app)
        .get('/v1/negotiations')
        .query({ role: 'broker' })
        .set('Authorization', bearer(buyer.apiKey)),
      'role',
    )
    await request(app).get('/v1/negotiations').expect(401)
  })
})
