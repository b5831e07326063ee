import { expect } from 'chai'
import type { Express } from 'express'
import request from 'supertest'
import type { MatchServicesResponse, ServiceMatch, ServiceResponse } from '../../../protocol/services'
import { issuePlatformResolverKey } from '../../../server/agents/agents-service'
import { createTestApp } from '../helpers/app'
import { bearer, fundAgent, registerAgent, type RegisteredTestAgent } from '../helpers/agents'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { expectFieldError, postJob } from '../helpers/jobs'

const CODE_REVIEW = {
  name: 'Code Review',
  description: 'Automated code review with security analysis of pull requests',
  category: 'development',
  pricing_model: 'fixed',
  price_amount: '5.0',
  tags: ['security', 'code-review'],
  response_time_seconds: 300,
}
const AUDIT = {
  name: 'Audit',
  description: 'Smart contract security audit',
  category: 'development',
  pricing_model: 'fixed',
  price_amount: '50',
  tags: ['security', 'solidity'],
}
const TRANSLATION = {
  name: 'Translation',
  description: 'Translate documents between languages',
  category: 'language',
  pricing_model: 'per_call',
  price_amount: '0.01',
  tags: ['translation'],
}
const PENTEST = {
  name: 'Penetration testing',
  description: 'Manual security testing of web applications, priced per engagement',
  category: 'development',
  pricing_model: 'custom',
  tags: ['pentest'],
}

describe('POST /v1/match', () => {
  let database: TestDatabase
  let app: Express
  let provider: RegisteredTestAgent
  let auditor: RegisteredTestAgent
  let caller: RegisteredTestAgent

  const register = async (agent: { apiKey: string }, body: Record<string, unknown>) =>
    (
      await request(app)
        .post('/v1/agents/me/services')
        .set('Authorization', bearer(agent.apiKey))
        .send(body)
        .expect(201)
    ).body as ServiceResponse
  const match = (body: Record<string, unknown>, agent: { apiKey: string } = caller) =>
    request(app).post('/v1/match').set('Authorization', bearer(agent.apiKey)).send(body)
  const matches = async (body: Record<string, unknown>) => {
    const res = await match(body)
    expect(res.status, JSON.stringify(res.body)).to.equal(200)
    return res.body as MatchServicesResponse
  }
  const names = (response: MatchServicesResponse) => response.matches.map((row) => row.name)
  const named = (response: MatchServicesResponse, name: string) =>
    response.matches.find((row) => row.name === name) as ServiceMatch

  before(async () => {
    database = await createTestDatabase()
    const created = await createTestApp(database)
    app = created.app
    provider = await registerAgent(app)
    auditor = await registerAgent(app)
    caller = await registerAgent(app)
    await register(provider, CODE_REVIEW)
    await register(auditor, AUDIT)
    await register(auditor, TRANSLATION)
    await register(auditor, PENTEST)
    // Better text matches than any above, but nobody may be matched with them.
    const hidden = { ...CODE_REVIEW, name: 'Code review security analysis', enabled: false }
    await register(provider, hidden)
    await register(caller, hidden)
    const resolverKey = await issuePlatformResolverKey(
      database.pool,
      created.context.platformResolverAgentId!,
    )
    await register({ apiKey: resolverKey! }, { ...CODE_REVIEW, name: 'Platform code review' })
  })
  after(async () => {
    await database.drop()
  })

  it('ranks the better text match first, scores each in [0, 1] and says why', async () => {
    const response = await matches({ query: 'code review security analysis' })
    // Audit and Penetration testing share one word of it and tie on everything else: the older first.
    expect(names(response)).to.deep.equal(['Code Review', 'Audit', 'Penetration testing'])
    expect(response.total).to.equal(3)
    const [best, ...rest] = response.matches
    expect(best).to.include({
      agent_id: provider.agent.id,
      category: 'development',
      pricing_model: 'fixed',
      price_amount: '5',
      price_token: 'USDC',
    })
    expect(best!.tags).to.deep.equal(['security', 'code-review'])
    expect(best!.match_reasons).to.deep.equal(['text relevance', 'fast response (300 s)'])
    for (const row of response.matches) {
      expect(row.score).to.be.within(0, 1)
      expect(row.match_reasons).to.include('text relevance')
    }
    for (const row of rest) expect(row.score).to.be.below(best!.score)
    expect(best).to.not.have.property('endpoint_url')
  })

  it('counts the requested tags each service has, weighing only the criteria the request gives', async () => {
    const response = await matches({ tags: ['security', 'code-review', 'code-review'] })
    expect(names(response)).to.deep.equal(['Code Review', 'Audit'])
    expect(named(response, 'Code Review').match_reasons).to.include('2 matching tag(s)')
    expect(named(response, 'Audit').match_reasons).to.include('1 matching tag(s)')
    // Only tags (0.25), reputation (0.15, 0 for both) and response time (0.1) are in play, so they
    // weigh 0.5, 0.3 and 0.2: 0.5 * 2/2 + 0.2 * 3600 / (3600 + 300), and 0.5 * 1/2 + 0.2 * 3600 / 7200.
    expect(named(response, 'Code Review').score).to.equal(0.685)
    expect(named(response, 'Audit').score).to.equal(0.35)
  })

  it('takes a service sharing either a word of the query or a tag', async () => {
    const response = await matches({ query: 'translate', tags: ['solidity'] })
    expect(names(response)).to.have.members(['Translation', 'Audit'])
    expect(named(response, 'Translation').match_reasons).to.include('text relevance')
    expect(named(response, 'Audit').match_reasons).to.include('1 matching tag(s)')
  })

  it('keeps to the category', async () => {
    const response = await matches({ category: 'language' })
    expect(names(response)).to.deep.equal(['Translation'])
    expect(response.matches[0]!.match_reasons).to.include('category match')
    expect(names(await matches({ category: 'development', query: 'translate documents' }))).to.deep.equal([])
  })

  it('leaves out services priced above budget_max; a custom price stays, scored neutral', async () => {
    const response = await matches({ query: 'security', budget_max: '10' })
    expect(names(response)).to.have.members(['Code Review', 'Penetration testing'])
    expect(named(response, 'Code Review').match_reasons).to.include('within budget')
    expect(named(response, 'Penetration testing').match_reasons).to.not.include('within budget')
    expect(names(await matches({ query: 'security', budget_max: '50' }))).to.include('Audit')
    expect(names(await matches({ query: 'security', budget_max: '0' }))).to.deep.equal([
      'Penetration testing',
    ])
  })

  it("leaves out disabled services, the caller's own and others', and the platform's agents' services", async () => {
    for (const agent of [caller, provider]) {
      const response = (await match({ query: 'code review security analysis', limit: 50 }, agent).expect(200))
        .body as MatchServicesResponse
      expect(names(response)).to.not.include('Code review security analysis')
      expect(names(response)).to.not.include('Platform code review')
    }
  })

  it('answers the best `limit` and the total before the limit', async () => {
    const response = await matches({ query: 'security', limit: 1 })
    expect(names(response)).to.deep.equal(['Code Review'])
    expect(response.total).to.equal(3)
  })

  it("breaks ties on the older service, and ranks an agent's better reputation first", async () => {
    const newcomer = await registerAgent(app)
    const service = { ...TRANSLATION, name: 'Haiku', description: 'Writes a haiku', category: 'poetry' }
    await register(auditor, service)
    await register(newcomer, service)
    const agents = async () => (await matches({ category: 'poetry' })).matches.map((row) => row.agent_id)
    expect(await agents()).to.deep.equal([auditor.agent.id, newcomer.agent.id])
    // Posting jobs counts towards reputation (2 each, up to 10).
    await fundAgent(app, newcomer.apiKey, '50')
    for (let index = 0; index < 3; index += 1) await postJob(app, newcomer.apiKey)
    expect(await agents()).to.deep.equal([newcomer.agent.id, auditor.agent.id])
  })

  it('answers 400 naming the field: no query, category or tags; a bad limit; a bad budget', async () => {
    expectFieldError(await match({}), 'body')
    expectFieldError(await match({ tags: [], budget_max: '10' }), 'body')
    expectFieldError(await match({ query: '   ' }), 'query')
    expectFieldError(await match({ query: 'review', limit: 0 }), 'limit')
    expectFieldError(await match({ query: 'review', limit: 51 }), 'limit')
    expectFieldError(await match({ query: 'review', budget_max: '-1' }), 'budget_max')
    expectFieldError(await match({ query: 'review', budget_max: 'ten' }), 'budget_max')
    expectFieldError(await match({ query: 'review', budget_max: '0.0000001' }), 'budget_max')
    expectFieldError(await match({ category: 'Dev Tools' }), 'category')
  })

  it('answers 401 without an API key', async () => {
    const res = await request(app).post('/v1/match').send({ query: 'review' }).expect(401)
    expect(res.body.error.code).to.be.a('string')
  })
})
