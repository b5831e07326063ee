import { expect } from 'chai'
import type { Express } from 'express'
import request from 'supertest'
import { handleFromName } from '../../../server/agents/agents-service'
import { bearer, fundAgent, registerAgent, uniqueHandle, type RegisteredTestAgent } from '../helpers/agents'
import { createTestApp } from '../helpers/app'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { registerStubService, startUpstreamStub, type UpstreamStub } from '../helpers/upstream'

/** Seed 001's registration body, as its docs show it. */
function seedRegistration(fields: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'ResearchBot',
    description: 'I research topics thoroughly',
    capabilities: ['research', 'summarization'],
    price_per_task: 15,
    system_prompt: 'You are a research assistant',
    owner_email: 'me@example.com',
    ...fields,
  }
}

/**
 * Issue 18: a client written for seed 001's API (register, list by capability, execute, wallet)
 * runs its calls against ours as it sends them.
 */
describe('seed 001 clients: register, directory by capability, execute, wallet', () => {
  let database: TestDatabase
  let app: Express
  let upstream: UpstreamStub

  before(async () => {
    database = await createTestDatabase()
    ;({ app } = await createTestApp(database))
    upstream = await startUpstreamStub()
  })
  after(async () => {
    await upstream.close()
    await database.drop()
  })

  async function register(body: Record<string, unknown>) {
    return request(app).post('/v1/agents/register').send(body)
  }

  describe('handleFromName', () => {
    it('lowercases, joins other characters with _, cuts to 20, prefixes what is no handle alone', () => {
      expect(handleFromName('ResearchBot')).to.equal('researchbot')
      expect(handleFromName('  Research Bot 2!')).to.equal('research_bot_2')
      expect(handleFromName('Ünïcode Böt')).to.equal('unicode_bot')
      expect(handleFromName('AI')).to.equal('agent_ai')
      expect(handleFromName('42 answers')).to.equal('agent_42_answers')
      expect(handleFromName('日本語')).to.equal('agent')
      expect(handleFromName('A very long research agent name')).to.equal('a_very_long_research')
      expect(handleFromName('abcdefghijklmnopqrs tuv')).to.equal('abcdefghijklmnopqrs')
    })
  })

  describe('POST /v1/agents/register with seed 001’s body', () => {
    it('registers it: handle from name, description, capabilities as a list, price_per_task, endpoint and webhook', async () => {
      const registered = await register(
        seedRegistration({
          name: 'Profile Bot',
          endpoint_url: `${upstream.baseUrl}/echo`,
          webhook_url: 'https://hooks.example.com/agentmarket',
        }),
      )
      expect(registered.status, JSON.stringify(registered.body)).to.equal(201)
      expect(registered.body.handle).to.equal('profile_bot')
      expect(registered.body.service_id, 'endpoint_url and price_per_task make a service').to.be.a('string')
      expect(registered.body.webhook_secret).to.match(/^whsec_/)
      expect(JSON.stringify(registered.body)).not.to.contain('me@example.com')
      const apiKey = registered.body.api_key as string

      const profile = await request(app)
        .get(`/v1/agents/${registered.body.agent_id as string}`)
        .expect(200)
      expect(profile.body).to.include({
        handle: 'profile_bot',
        description: 'I research topics thoroughly',
        base_price: '15',
        price_per_task: '15',
        price_token: 'USDC',
      })
      expect(profile.body.capabilities).to.deep.equal(['research', 'summarization'])
      expect(profile.body).not.to.have.property('endpoint_url')

      const own = await request(app).get('/v1/agents/me').set('X-API-Key', apiKey).expect(200)
      expect(own.body.endpoint_url).to.equal(`${upstream.baseUrl}/echo`)
      expect(own.body.capabilities).to.deep.equal(['research', 'summarization'])
      for (const body of [profile.body, own.body]) {
        const text = JSON.stringify(body)
        expect(text, 'owner_email is not stored, never shown').not.to.contain('me@example.com')
        expect(text, 'system_prompt is not stored').not.to.contain('research assistant')
      }

      const webhook = await request(app).get('/v1/agents/me/webhook').set('X-API-Key', apiKey).expect(200)
      expect(webhook.body.webhook_url).to.equal('...gentmarket')
      expect(webhook.body).not.to.have.property('secret')
    })

    it('takes seed 001’s quick-start body (name, capabilities, owner_email) and no webhook secret without webhook_url', async () => {
      const registered = await register({
        name: 'QuickBot',
        capabilities: ['coding'],
        owner_email: 'me@example.com',
      })
      expect(registered.status, JSON.stringify(registered.body)).to.equal(201)
      expect(registered.body.handle).to.equal('quickbot')
      expect(registered.body).not.to.have.property('webhook_secret')
      expect(registered.body, 'no endpoint, no service').not.to.have.property('service_id')
      const profile = await request(app).get('/v1/agents/quickbot').expect(200)
      expect(profile.body).to.include({ base_price: null, description: '' })
      expect(profile.body.capabilities).to.deep.equal(['coding'])
    })

    it('suffixes a handle derived from a name already taken; a given handle that is taken stays a 409', async () => {
      const handles: string[] = []
      for (let i = 0; i < 3; i += 1) {
        const registered = await register({ name: 'Twin Bot', capabilities: ['research'] })
        expect(registered.status, JSON.stringify(registered.body)).to.equal(201)
        handles.push(registered.body.handle as string)
      }
      expect(handles).to.deep.equal(['twin_bot', 'twin_bot_2', 'twin_bot_3'])

      const longName = 'Abcdefghij Klmnopqrstuvwxyz'
      expect((await register({ name: longName })).body.handle).to.equal('abcdefghij_klmnopqrs')
      expect((await register({ name: longName })).body.handle).to.equal('abcdefghij_klmnopq_2')

      const taken = await register({ name: 'Someone Else', handle: 'twin_bot' })
      expect(taken.status).to.equal(409)
      expect(taken.body.error.code).to.equal('handle_taken')

      const chosen = uniqueHandle('chosen')
      const both = await register({ name: 'Ignored Name', handle: chosen })
      expect(both.status).to.equal(201)
      expect(both.body.handle, 'a given handle wins over name').to.equal(chosen)
    })

    it('refuses malformed seed fields with 400 naming the field, and registers nothing', async () => {
      const cases: [Record<string, unknown>, string][] = [
        [{ capabilities: ['research', 7] }, 'capabilities'],
        [{ capabilities: 'research' }, 'capabilities'],
        [{ price_per_task: 0.0000001 }, 'price_per_task'],
        [{ price_per_task: -1 }, 'price_per_task'],
        [{ price_per_task: '1.1234567' }, 'price_per_task'],
        [{ endpoint_url: 'http://my-bot.com/execute' }, 'endpoint_url'],
        [{ endpoint_url: 'not a url' }, 'endpoint_url'],
        [{ webhook_url: 'http://my-bot.com/webhooks' }, 'webhook_url'],
        [{ webhook_url: 'https://10.0.0.1/webhooks' }, 'webhook_url'],
        [{ webhook_url: 'https://169.254.169.254/latest' }, 'webhook_url'],
        [{ name: '' }, 'name'],
        [{ owner_email: 42 }, 'owner_email'],
      ]
      for (const [fields, field] of cases) {
        const refused = await register(seedRegistration({ name: 'Refused Bot', ...fields }))
        expect(refused.status, `${JSON.stringify(fields)}: ${JSON.stringify(refused.body)}`).to.equal(400)
        expect(JSON.stringify(refused.body), JSON.stringify(fields)).to.contain(field)
      }
      // Each refusal rolled back: the name's handle is still free.
      const registered = await register(seedRegistration({ name: 'Refused Bot' }))
      expect(registered.status).to.equal(201)
      expect(registered.body.handle).to.equal('refused_bot')
    })

    it('still takes our own body: capabilities as an object, tags, a handle', async () => {
      const handle = uniqueHandle('ours')
      const registered = await register({
        handle,
        capabilities: { research: { depth: 3 } },
        tags: ['writing'],
      })
      expect(registered.status).to.equal(201)
      const profile = await request(app).get(`/v1/agents/${handle}`).expect(200)
      expect(profile.body.capabilities).to.deep.equal({ research: { depth: 3 } })
    })

    it('the table holds an object or a list of strings, nothing else (migration 0080)', async () => {
      const agent = await registerAgent(app)
      const set = (value: string) =>
        database.pool.query('UPDATE agents SET capabilities = $2::jsonb WHERE id = $1', [
          agent.agent.agent_id,
          value,
        ])
      await set('["research"]')
      await set('{"research": 1}')
      for (const refused of ['[1]', '["research", null]', '"research"', '7']) {
        let error: unknown = null
        await set(refused).catch((caught: unknown) => (error = caught))
        expect((error as { constraint?: string } | null)?.constraint, refused).to.equal(
          'agents_capabilities_check',
        )
      }
    })

    it('PATCH /v1/agents/me takes capabilities as a list too', async () => {
      const agent = await registerAgent(app, { capabilities: { translation: true } })
      const patched = await request(app)
        .patch('/v1/agents/me')
        .set('Authorization', bearer(agent.apiKey))
        .send({ capabilities: ['translation', 'research'] })
        .expect(200)
      expect(patched.body.capabilities).to.deep.equal(['translation', 'research'])
    })
  })

  describe('GET /v1/agents?capability=', () => {
    it('lists the agents whose capability list holds it or whose capabilities object has it as a key', async () => {
      const listed = await register({ name: 'Lister', capabilities: ['cartography', 'summarization'] })
      const keyed = await registerAgent(app, { capabilities: { cartography: { scale: '1:50000' } } })
      const valued = await registerAgent(app, { capabilities: { skills: ['cartography'] } })
      const other = await register({ name: 'Other', capabilities: ['Cartography'] })

      const found = await request(app)
        .get('/v1/agents')
        .query({ capability: 'cartography', limit: 20 })
        .expect(200)
      const ids = (found.body as { agent_id: string }[]).map((agent) => agent.agent_id)
      expect(ids).to.have.members([listed.body.agent_id, keyed.agent.agent_id])
      expect(ids, 'a value inside the object is not a capability name').not.to.include(valued.agent.agent_id)
      expect(ids, 'exact and case-sensitive').not.to.include(other.body.agent_id)

      const limited = await request(app)
        .get('/v1/agents')
        .query({ capability: 'cartography', limit: 1 })
        .expect(200)
      expect(limited.body).to.have.length(1)
      const paged = await request(app)
        .get('/v1/agents')
        .query({ capability: 'cartography', cursor: '' })
        .expect(200)
      expect(paged.body.data).to.have.length(2)

      const none = await request(app)
        .get('/v1/agents')
        .query({ capability: 'no-such-capability' })
        .expect(200)
      expect(none.body).to.deep.equal([])
      const bad = await request(app).get('/v1/agents').query({ capability: '' }).expect(400)
      expect(bad.body.error.code).to.equal('validation_failed')
    })
  })

  describe('POST /v1/execute with task_description and budget', () => {
    let provider: RegisteredTestAgent
    let caller: RegisteredTestAgent

    before(async () => {
      provider = await registerAgent(app)
      caller = await registerAgent(app)
      await fundAgent(app, caller.apiKey, '100')
      await registerStubService(app, provider.apiKey, upstream, { price: '15' })
    })

    async function available(agent: RegisteredTestAgent): Promise<string> {
      const wallet = await request(app)
        .get('/v1/wallet')
        .set('Authorization', bearer(agent.apiKey))
        .expect(200)
      return wallet.body.balance as string
    }

    function execute(body: Record<string, unknown>, apiKey = caller.apiKey) {
      return request(app).post('/v1/execute').set('X-API-Key', apiKey).send(body)
    }

    it('sends task_description as the input and takes a budget at or over the price', async () => {
      const executed = await execute({
        agent_id: provider.agent.agent_id,
        task_description: 'Write a haiku about distributed systems',
        budget: 15,
      })
      expect(executed.status, JSON.stringify(executed.body)).to.equal(200)
      expect(executed.body.result).to.deep.equal({ echo: 'Write a haiku about distributed systems' })
      expect(executed.body.cost).to.equal('15')
      expect(executed.body.job_id).to.be.a('string')
      expect(await available(caller)).to.equal('85')

      const generous = await execute({
        agent_id: provider.agent.agent_id,
        task_description: 'Again',
        budget: '20.5',
      })
      expect(generous.status, JSON.stringify(generous.body)).to.equal(200)
      expect(generous.body.cost, 'the price is charged, not the budget').to.equal('15')
      expect(await available(caller)).to.equal('70')
    })

    it('refuses a price over the budget with 409 price_over_budget before any money moves or the provider is called', async () => {
      const hits = upstream.hits.get('/echo') ?? 0
      const before = await available(caller)
      const refused = await execute({
        agent_id: provider.agent.agent_id,
        task_description: 'Too dear',
        budget: 14.99,
      })
      expect(refused.status).to.equal(409)
      expect(refused.body.error.code).to.equal('price_over_budget')
      expect(refused.body.error.details).to.include({ price: '15', budget: '14.99', token: 'USDC' })
      expect(upstream.hits.get('/echo') ?? 0).to.equal(hits)
      expect(await available(caller)).to.equal(before)
      const microJobs = await request(app)
        .get('/v1/micro-jobs')
        .set('Authorization', bearer(caller.apiKey))
        .expect(200)
      const jobs = (microJobs.body.data ?? microJobs.body) as unknown[]
      expect(jobs, 'only the two paid calls left a micro-job').to.have.length(2)
    })

    it('refuses malformed input: input and task_description together, a budget past the token’s decimals or negative', async () => {
      const both = await execute({ agent_id: provider.agent.agent_id, input: 'a', task_description: 'b' })
      expect(both.status).to.equal(400)
      expect(JSON.stringify(both.body)).to.contain('task_description')
      const precise = await execute({
        agent_id: provider.agent.agent_id,
        task_description: 'x',
        budget: '15.0000001',
      })
      expect(precise.status).to.equal(400)
      expect(JSON.stringify(precise.body)).to.contain('budget')
      const negative = await execute({ agent_id: provider.agent.agent_id, task_description: 'x', budget: -1 })
      expect(negative.status).to.equal(400)
      const empty = await execute({ agent_id: provider.agent.agent_id, task_description: '' })
      expect(empty.status).to.equal(400)
    })

    it('answers the wrong caller: 401 without a key, 400 self_invocation for the provider itself, 404 for no agent', async () => {
      const anonymous = await request(app)
        .post('/v1/execute')
        .send({ agent_id: provider.agent.agent_id, task_description: 'x', budget: 15 })
      expect(anonymous.status).to.equal(401)
      const self = await execute(
        { agent_id: provider.agent.agent_id, task_description: 'x', budget: 15 },
        provider.apiKey,
      )
      expect(self.status).to.equal(400)
      expect(self.body.error.code).to.equal('self_invocation')
      const missing = await execute({
        agent_id: '00000000-0000-4000-8000-000000000000',
        task_description: 'x',
        budget: 15,
      })
      expect(missing.status).to.equal(404)
    })
  })

  describe('GET /v1/wallet', () => {
    it('gives the default token’s available balance as balance, and GET /v1/wallet/balance’s list', async () => {
      const agent = await registerAgent(app)
      const empty = await request(app).get('/v1/wallet').set('X-API-Key', agent.apiKey).expect(200)
      expect(empty.body).to.include({ agent_id: agent.agent.agent_id, balance: '0', token: 'USDC' })

      await fundAgent(app, agent.apiKey, '107.25')
      const wallet = await request(app).get('/v1/wallet').set('X-API-Key', agent.apiKey).expect(200)
      const balance = await request(app).get('/v1/wallet/balance').set('X-API-Key', agent.apiKey).expect(200)
      expect(wallet.body).to.include({ agent_id: agent.agent.agent_id, balance: '107.25', token: 'USDC' })
      expect(wallet.body.balances).to.deep.equal(balance.body.balances)
    })

    it('answers 401 without credentials and with a wrong key', async () => {
      expect((await request(app).get('/v1/wallet')).status).to.equal(401)
      expect((await request(app).get('/v1/wallet').set('X-API-Key', 'sk_live_nope')).status).to.equal(401)
    })
  })

  it('replays seed 001’s documented calls in order: register, list by capability, execute, wallet', async () => {
    // A provider registers as seed 001 documents: its endpoint and price make its first service.
    const provider = await register(
      seedRegistration({
        name: 'Haiku Writer',
        capabilities: ['poetry', 'summarization'],
        price_per_task: 15,
        endpoint_url: `${upstream.baseUrl}/echo`,
        webhook_url: 'https://my-bot.example.com/webhooks',
      }),
    )
    expect(provider.status, JSON.stringify(provider.body)).to.equal(201)
    const service = await request(app)
      .get(`/v1/services/${provider.body.service_id as string}`)
      .expect(200)
    expect(service.body).to.include({ name: 'Haiku Writer', pricing_model: 'per_call', price_amount: '15' })
    expect(service.body.tags).to.deep.equal(['poetry', 'summarization'])

    // 1. Register (seed 001's quick start), saving the api_key.
    const me = await register({ name: 'MyBot', capabilities: ['coding'], owner_email: 'me@example.com' })
    expect(me.status, JSON.stringify(me.body)).to.equal(201)
    const apiKey = me.body.api_key as string
    await fundAgent(app, apiKey, '100') // seed 001 grants 100 credits; here the dev faucet does

    // 2. GET /agents?capability=poetry&limit=20
    const agents = await request(app).get('/v1/agents?capability=poetry&limit=20').expect(200)
    const found = (agents.body as { agent_id: string; price_per_task: string; capabilities: unknown }[]).find(
      (agent) => agent.agent_id === provider.body.agent_id,
    )
    expect(found, 'the provider is listed under its capability').to.not.equal(undefined)
    expect(found!.price_per_task).to.equal('15')
    expect(found!.capabilities).to.deep.equal(['poetry', 'summarization'])

    // 3. POST /execute { agent_id, task_description, budget }
    const executed = await request(app).post('/v1/execute').set('X-API-Key', apiKey).send({
      agent_id: found!.agent_id,
      task_description: 'Write a haiku about distributed systems',
      budget: 15,
    })
    expect(executed.status, JSON.stringify(executed.body)).to.equal(200)
    expect(executed.body.result).to.deep.equal({ echo: 'Write a haiku about distributed systems' })
    expect(executed.body.job_id).to.be.a('string')

    // 4. GET /wallet
    const wallet = await request(app).get('/v1/wallet').set('X-API-Key', apiKey).expect(200)
    expect(wallet.body).to.include({ agent_id: me.body.agent_id, balance: '85', token: 'USDC' })
  })
})
