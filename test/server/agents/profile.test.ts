import { expect } from 'chai'
import type { Express } from 'express'
import request from 'supertest'
import { agentProfile, myAgentResponse } from '../../../protocol/agents'
import { createTestApp } from '../helpers/app'
import { bearer, registerAgent, type RegisteredTestAgent } from '../helpers/agents'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { expectFieldError } from '../helpers/jobs'

/** Issue 18: the profile an agent edits itself (`PATCH /v1/agents/me`), with seed clients' field names. */
describe('PATCH /v1/agents/me', () => {
  let database: TestDatabase
  let app: Express
  let agent: RegisteredTestAgent

  before(async () => {
    database = await createTestDatabase()
    ;({ app } = await createTestApp(database, null, { allowLoopbackEndpoints: false }))
    agent = await registerAgent(app)
  })
  after(async () => {
    await database.drop()
  })

  const patch = (body: Record<string, unknown>, apiKey = agent.apiKey) =>
    request(app).patch('/v1/agents/me').set('Authorization', bearer(apiKey)).send(body)

  it('changes only the fields given, and shows them on the profile; the endpoint to the agent alone', async () => {
    const changed = await patch({
      description: 'Reviews Rust code for memory safety.',
      tags: ['rust', 'security', 'rust'],
      capabilities: { languages: ['rust'] },
      endpoint: 'https://agent.example.com/run',
      price: 12.5,
      pricing_model: 'hybrid',
    }).expect(200)
    expect(myAgentResponse.parse(changed.body)).to.include({
      description: 'Reviews Rust code for memory safety.',
      endpoint_url: 'https://agent.example.com/run',
      base_price: '12.5',
      price_token: 'USDC',
      pricing_model: 'hybrid',
    })
    expect(changed.body.tags).to.deep.equal(['rust', 'security'])

    const again = await patch({ description: 'Reviews Rust and Go code.' }).expect(200)
    expect(again.body).to.include({ base_price: '12.5', endpoint_url: 'https://agent.example.com/run' })
    expect(again.body.capabilities).to.deep.equal({ languages: ['rust'] })

    const seen = await request(app).get(`/v1/agents/${agent.agent.id}`).expect(200)
    expect(agentProfile.parse(seen.body)).to.include({
      description: 'Reviews Rust and Go code.',
      base_price: '12.5',
      pricing_model: 'hybrid',
    })
    expect(seen.body).to.not.have.property('endpoint_url')
    const listed = await request(app).get('/v1/agents').query({ query: agent.agent.handle }).expect(200)
    expect(listed.body[0]).to.not.have.property('endpoint_url')
  })

  it('clears the price and the endpoint with null', async () => {
    await patch({ base_price: '3', endpoint_url: 'https://agent.example.com/x' }).expect(200)
    const cleared = await patch({ base_price: null, endpoint: null }).expect(200)
    expect(cleared.body).to.include({ base_price: null, price_token: null, endpoint_url: null })
  })

  it('answers 401 without credentials, and changes nobody else', async () => {
    await request(app).patch('/v1/agents/me').send({ description: 'x' }).expect(401)
    const other = await registerAgent(app)
    await patch({ description: 'Mine only.' }, other.apiKey).expect(200)
    const mine = await request(app)
      .get('/v1/agents/me')
      .set('Authorization', bearer(agent.apiKey))
      .expect(200)
    expect(mine.body.description).to.not.equal('Mine only.')
  })

  for (const [name, body, field] of [
    ['an empty body', {}, 'description'],
    ['an unknown field', { handle: 'renamed' }, 'handle'],
    ['a description over 2000 characters', { description: 'x'.repeat(2001) }, 'description'],
    ['a plain http endpoint', { endpoint_url: 'http://agent.example.com' }, 'endpoint_url'],
    ['an endpoint with credentials', { endpoint: 'https://user:pw@agent.example.com' }, 'endpoint'],
    ['a loopback http endpoint off the embedded stack', { endpoint: 'http://127.0.0.1:9000' }, 'endpoint'],
    ['a price finer than the token', { price: '1.0000001' }, 'price'],
    ['a price as a JSON number finer than the token', { base_price: 0.0000001 }, 'base_price'],
    ['a negative price', { base_price: '-1' }, 'base_price'],
    ['a price token without a price', { price_token: 'USDC' }, 'price_token'],
    ['aliases that disagree', { price: '1', base_price: '2' }, 'price'],
    ['an unknown pricing model', { pricing_model: 'barter' }, 'pricing_model'],
  ] as const) {
    it(`answers 400 naming ${field} for ${name}, changing nothing`, async () => {
      const before = await request(app).get('/v1/agents/me').set('Authorization', bearer(agent.apiKey))
      expectFieldError(await patch(body), field)
      const after = await request(app).get('/v1/agents/me').set('Authorization', bearer(agent.apiKey))
      expect(after.body).to.deep.equal(before.body)
    })
  }

  it('answers 400 unknown_token for a price in a token that is not allowlisted', async () => {
    const res = await patch({ price: '1', price_token: 'NEAR' }).expect(400)
    expect(res.body.error.code).to.equal('unknown_token')
  })
})
