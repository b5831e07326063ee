import { expect } from 'chai'
import type { Express } from 'express'
import request from 'supertest'
import type { ServiceResponse } from '../../../protocol/services'
import { createTestApp } from '../helpers/app'
import { bearer, registerAgent, type RegisteredTestAgent } from '../helpers/agents'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { expectFieldError } from '../helpers/jobs'

const CODE_REVIEW = {
  name: 'Code Review',
  description: 'Automated code review with security analysis of pull requests',
  category: 'development',
  pricing_model: 'fixed',
  price_amount: '5.0',
  tags: ['security', 'code-review'],
  response_time_seconds: 300,
  settlement_interval: 100,
  endpoint_url: 'https://review.example.com/run',
  input_schema: { type: 'object', properties: { repo: { type: 'string' } }, required: ['repo'] },
}

describe('the service registry', () => {
  let database: TestDatabase
  let app: Express
  let provider: RegisteredTestAgent
  let stranger: RegisteredTestAgent

  before(async () => {
    database = await createTestDatabase()
    ;({ app } = await createTestApp(database))
    provider = await registerAgent(app)
    stranger = await registerAgent(app)
  })
  after(async () => {
    await database.drop()
  })

  const register = (body: Record<string, unknown>, agent = provider) =>
    request(app).post('/v1/agents/me/services').set('Authorization', bearer(agent.apiKey)).send(body)
  const patch = (id: string, body: Record<string, unknown>, agent = provider) =>
    request(app).patch(`/v1/services/${id}`).set('Authorization', bearer(agent.apiKey)).send(body)

  it('registers a service with every field; its endpoint shows to its owner only', async () => {
    const res = await register(CODE_REVIEW).expect(201)
    const service = res.body as ServiceResponse
    expect(service).to.include({
      agent_id: provider.agent.id,
      name: 'Code Review',
      category: 'development',
      pricing_model: 'fixed',
      price_amount: '5',
      price_token: 'USDC',
      enabled: true,
      response_time_seconds: 300,
      settlement_interval: 100,
      endpoint_url: 'https://review.example.com/run',
    })
    expect(service.input_schema).to.deep.equal(CODE_REVIEW.input_schema)
    const seen = await request(app).get(`/v1/services/${service.service_id}`).expect(200)
    expect(seen.body).to.not.have.property('endpoint_url')
    expect(seen.body.name).to.equal('Code Review')
  })

  it('answers 400 naming the field: no price for a fixed model, a bad category, plain http, a negative interval', async () => {
    expectFieldError(await register({ ...CODE_REVIEW, price_amount: undefined }), 'price_amount')
    expectFieldError(await register({ ...CODE_REVIEW, category: 'Dev Tools' }), 'category')
    expectFieldError(
      await register({ ...CODE_REVIEW, endpoint_url: 'http://review.example.com/run' }),
      'endpoint_url',
    )
    expectFieldError(
      await register({ ...CODE_REVIEW, endpoint_url: 'https://user:pw@example.com/' }),
      'endpoint_url',
    )
    expectFieldError(await register({ ...CODE_REVIEW, settlement_interval: 0 }), 'settlement_interval')
    expectFieldError(await register({ ...CODE_REVIEW, pricing_model: 'bargain' }), 'pricing_model')
    expectFieldError(
      await register({ ...CODE_REVIEW, input_schema: ['not', 'an', 'object'] }),
      'input_schema',
    )
    const custom = await register({
      ...CODE_REVIEW,
      pricing_model: 'custom',
      price_amount: undefined,
    }).expect(201)
    expect(custom.body.price_amount).to.equal(null)
  })

  it("takes seed 002's auction and hybrid models and base_price as an alias of price_amount", async () => {
    const hybrid = await register({
      ...CODE_REVIEW,
      name: 'Hybrid Review',
      pricing_model: 'hybrid',
      price_amount: undefined,
      base_price: '7.50',
    }).expect(201)
    expect(hybrid.body).to.include({ pricing_model: 'hybrid', price_amount: '7.5', base_price: '7.5' })
    // A hybrid price is listed (then negotiated): it needs one, like fixed.
    expectFieldError(
      await register({ ...CODE_REVIEW, pricing_model: 'hybrid', price_amount: undefined }),
      'price_amount',
    )
    // An auction takes offers: a starting price is optional.
    const auction = await register({
      ...CODE_REVIEW,
      name: 'Auction Review',
      pricing_model: 'auction',
      price_amount: undefined,
    }).expect(201)
    expect(auction.body).to.include({ pricing_model: 'auction', price_amount: null, base_price: null })
    // Both names, meaning the same amount, are fine; different amounts are not.
    const both = await register({
      ...CODE_REVIEW,
      name: 'Both names',
      price_amount: '5.0',
      base_price: '5',
    }).expect(201)
    expectFieldError(await register({ ...CODE_REVIEW, price_amount: '5', base_price: '6' }), 'base_price')

    const patched = await patch(hybrid.body.service_id, { base_price: '8' }).expect(200)
    expect(patched.body).to.include({ price_amount: '8', base_price: '8' })
    await patch(auction.body.service_id, { pricing_model: 'hybrid' }).expect(400)
    const listed = await request(app).get('/v1/services').query({ pricing_model: 'auction' }).expect(200)
    expect(listed.body.map((row: ServiceResponse) => row.service_id)).to.deep.equal([auction.body.service_id])
    // The existing models are unchanged.
    const perCall = await register({ ...CODE_REVIEW, name: 'Per call', pricing_model: 'per_call' }).expect(
      201,
    )
    expect(perCall.body).to.include({ pricing_model: 'per_call', price_amount: '5', base_price: '5' })
    // The browsing tests below count this agent's services.
    for (const service of [hybrid.body, auction.body, both.body, perCall.body]) {
      await request(app)
        .delete(`/v1/services/${service.service_id}`)
        .set('Authorization', bearer(provider.apiKey))
        .expect(204)
    }
  })

  it('hides a disabled service from everyone but its owner, in every listing', async () => {
    const service = (await register({ ...CODE_REVIEW, name: 'Hidden Review' }).expect(201))
      .body as ServiceResponse
    await patch(service.service_id, { enabled: false }).expect(200)
    await request(app).get(`/v1/services/${service.service_id}`).expect(404)
    await request(app)
      .get(`/v1/services/${service.service_id}`)
      .set('Authorization', bearer(provider.apiKey))
      .expect(200)
    const theirs = await request(app).get(`/v1/agents/${provider.agent.id}/services`).expect(200)
    expect(theirs.body.map((row: ServiceResponse) => row.service_id)).to.not.include(service.service_id)
    const own = await request(app)
      .get('/v1/agents/me/services')
      .set('Authorization', bearer(provider.apiKey))
      .expect(200)
    expect(own.body.map((row: ServiceResponse) => row.service_id)).to.include(service.service_id)
    const browsed = await request(app).get('/v1/services').query({ search: 'hidden' }).expect(200)
    expect(browsed.body).to.deep.equal([])
  })

  it('browses by category, pricing model, price range, agent, tags and full-text search', async () => {
    const other = await registerAgent(app)
    await register(
      {
        ...CODE_REVIEW,
        name: 'Translation',
        description: 'Translate documents between languages',
        category: 'language',
        pricing_model: 'per_call',
        price_amount: '0.01',
        tags: ['translation'],
      },
      other,
    ).expect(201)
    await register(
      {
        ...CODE_REVIEW,
        name: 'Audit',
        description: 'Smart contract security audit',
        price_amount: '50',
        tags: ['security', 'solidity'],
      },
      other,
    ).expect(201)
    const names = async (query: Record<string, string>) =>
      ((await request(app).get('/v1/services').query(query).expect(200)).body as ServiceResponse[]).map(
        (row) => row.name,
      )
    expect(await names({ category: 'language' })).to.deep.equal(['Translation'])
    expect(await names({ pricing_model: 'per_call' })).to.deep.equal(['Translation'])
    expect(await names({ min_price: '10' })).to.deep.equal(['Audit'])
    expect(await names({ max_price: '0.5' })).to.deep.equal(['Translation'])
    expect((await names({ agent_id: other.agent.id })).sort()).to.deep.equal(['Audit', 'Translation'])
    expect(await names({ tags: 'solidity,translation' })).to.have.members(['Audit', 'Translation'])
    expect(await names({ search: 'translate documents' })).to.deep.equal(['Translation'])
    expectFieldError(await request(app).get('/v1/services').query({ limit: '0' }), 'limit')
    expectFieldError(await request(app).get('/v1/services').query({ min_price: '-1' }), 'min_price')
  })

  it('lets only its owner change or delete a service: 403 for another agent, 401 anonymous, 404 once deleted', async () => {
    const service = (await register(CODE_REVIEW).expect(201)).body as ServiceResponse
    expect(
      (await patch(service.service_id, { name: 'Mine now' }, stranger).expect(403)).body.error.code,
    ).to.equal('not_service_owner')
    await request(app)
      .delete(`/v1/services/${service.service_id}`)
      .set('Authorization', bearer(stranger.apiKey))
      .expect(403)
    await request(app).patch(`/v1/services/${service.service_id}`).send({ name: 'x' }).expect(401)
    const changed = await patch(service.service_id, {
      price_amount: '7.5',
      settlement_interval: null,
      endpoint_url: null,
    }).expect(200)
    expect(changed.body).to.include({
      price_amount: '7.5',
      settlement_interval: null,
      endpoint_url: null,
      name: 'Code Review',
    })
    expectFieldError(
      await patch(service.service_id, { pricing_model: 'fixed', price_amount: null }),
      'price_amount',
    )
    expectFieldError(await patch(service.service_id, {}), 'body')
    await request(app)
      .delete(`/v1/services/${service.service_id}`)
      .set('Authorization', bearer(provider.apiKey))
      .expect(204)
    await request(app).get(`/v1/services/${service.service_id}`).expect(404)
    await request(app).get('/v1/services/not-a-uuid').expect(400)
    await request(app)
      .get(`/v1/agents/${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}/services`)
      .expect(404)
  })
})
