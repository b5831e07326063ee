import { randomUUID } from 'node:crypto'
import { expect } from 'chai'
import request from 'supertest'
import { ensurePlatformResolver, PLATFORM_RESOLVER_HANDLE } from '../../../server/agents/agents-service'
import { loadConfig } from '../../../server/config'
import { startCoordinator } from '../../../server/coordinator'
import { ConfigError } from '../../../server/errors'
import { createTestApp, TEST_WALLET_ENCRYPTION_KEY } from '../helpers/app'
import { bearer, fundAgent, registerAgent } from '../helpers/agents'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { postBid, postJob } from '../helpers/jobs'

describe('the platform resolver: every escrow names someone who can rule on it', () => {
  let database: TestDatabase

  beforeEach(async () => {
    database = await createTestDatabase()
  })
  afterEach(async () => {
    await database.drop()
  })

  it('is created once with a managed wallet, even when coordinators start together', async () => {
    const context = { pool: database.pool, walletEncryptionKey: TEST_WALLET_ENCRYPTION_KEY }
    const ids = await Promise.all([1, 2, 3, 4, 5].map(() => ensurePlatformResolver(context)))
    expect(new Set(ids).size).to.equal(1)
    const { rows } = await database.pool.query(
      `SELECT a.handle, a.is_managed_wallet, (m.agent_id IS NOT NULL) AS has_key
         FROM agents AS a LEFT JOIN managed_wallets AS m ON m.agent_id = a.id WHERE a.platform_role = 'resolver'`,
    )
    expect(rows).to.deep.equal([{ handle: PLATFORM_RESOLVER_HANDLE, is_managed_wallet: true, has_key: true }])
  })

  it('is named in the escrow lock of a job that names no resolver; a job’s own resolver is named in its', async () => {
    const { app, context } = await createTestApp(database)
    const requester = await registerAgent(app)
    const worker = await registerAgent(app)
    const resolver = await registerAgent(app)
    await fundAgent(app, requester.apiKey, '100')
    const platform = (await request(app).get(`/v1/agents/${context.platformResolverAgentId}`).expect(200))
      .body

    const lockResolver = async (job: { job_id: string }) => {
      const bid = await postBid(app, worker.apiKey, job.job_id)
      const awarded = await request(app)
        .post(`/v1/jobs/${job.job_id}/award`)
        .set('Authorization', bearer(requester.apiKey))
        .send({ bid_id: bid.bid_id })
        .expect(200)
      return awarded.body.assignment.chain_ops[0].typed_data.message.resolver
    }
    expect(await lockResolver(await postJob(app, requester.apiKey))).to.equal(platform.wallet_address)
    const withOwn = await postJob(app, requester.apiKey, { dispute_agent_id: resolver.agent.id })
    expect(await lockResolver(withOwn)).to.equal(resolver.agent.wallet_address)
  })

  it('answers 409 no_resolver, moving nothing, when the job names none and the coordinator has none', async () => {
    const { app } = await createTestApp(database, null, { platformResolverAgentId: null })
    const requester = await registerAgent(app)
    const worker = await registerAgent(app)
    await fundAgent(app, requester.apiKey, '100')
    const job = await postJob(app, requester.apiKey)
    const bid = await postBid(app, worker.apiKey, job.job_id)
    const refused = await request(app)
      .post(`/v1/jobs/${job.job_id}/award`)
      .set('Authorization', bearer(requester.apiKey))
      .send({ bid_id: bid.bid_id })
      .expect(409)
    expect(refused.body.error.code).to.equal('no_resolver')
    const balance = await request(app)
      .get('/v1/wallet/balance')
      .set('Authorization', bearer(requester.apiKey))
    expect(balance.body.balances[0]).to.include({ available: '100', escrowed: '0' })
  })

  it('stays out of the public directory, while its profile is public', async () => {
    const { app, context } = await createTestApp(database)
    const member = await registerAgent(app)
    const directory = await request(app).get('/v1/agents').expect(200)
    const ids = directory.body.map((agent: { agent_id: string }) => agent.agent_id)
    expect(ids).to.deep.equal([member.agent.id])
    await request(app).get(`/v1/agents/${context.platformResolverAgentId}`).expect(200)
  })

  it('refuses to start when PLATFORM_RESOLVER_AGENT_ID names no agent; without it, the coordinator makes its own', async function () {
    this.timeout(60_000)
    const settings = {
      DATABASE_URL: database.url,
      WALLET_ENCRYPTION_KEY: '07'.repeat(32),
      PORT: '0',
      LOG_LEVEL: 'silent',
      WORKERS_ENABLED: 'false',
    }
    const missing = randomUUID()
    const refused = await startCoordinator({
      config: loadConfig({ ...settings, PLATFORM_RESOLVER_AGENT_ID: missing }),
    }).then(
      () => null,
      (error: unknown) => error,
    )
    expect(refused).to.be.instanceOf(ConfigError)
    expect((refused as Error).message)
      .to.contain('PLATFORM_RESOLVER_AGENT_ID')
      .and.to.contain(missing)

    const started = await startCoordinator({ config: loadConfig(settings) })
    try {
      const { rows } = await database.pool.query(
        "SELECT a.id FROM agents AS a WHERE a.platform_role = 'resolver'",
      )
      expect(started.context.platformResolverAgentId).to.equal(rows[0].id)
    } finally {
      await started.stop()
    }
  })
})
