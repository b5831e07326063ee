import { expect } from 'chai'
import type { Express } from 'express'
import request from 'supertest'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { ConfigError } from '../../../server/errors'
import { createTestApp } from '../helpers/app'
import { createTestDatabase, type TestDatabase } from '../helpers/database'

/** A request to a per-IP limited route (a challenge for a fresh wallet is always 201). */
function challenge(app: Express, forwardedFor?: string): Promise<request.Response> {
  const pending = request(app)
    .post('/v1/agents/challenge')
    .send({ wallet_address: privateKeyToAccount(generatePrivateKey()).address })
  return forwardedFor === undefined ? pending : pending.set('X-Forwarded-For', forwardedFor)
}

describe('trusted proxies (TRUST_PROXY)', () => {
  let database: TestDatabase

  before(async () => {
    database = await createTestDatabase()
  })
  after(async () => {
    await database.drop()
  })

  it('attack: a local client sets X-Forwarded-For to dodge the per-IP limit -> still limited by its own address', async () => {
    const { app } = await createTestApp(database, null, { authRateLimitPerMinute: 2 })
    expect((await challenge(app, '203.0.113.1')).status).to.equal(201)
    expect((await challenge(app, '203.0.113.2')).status).to.equal(201)
    const third = await challenge(app, '203.0.113.3')
    expect(third.status).to.equal(429)
    expect(third.body.error.code).to.equal('rate_limited')
  })

  it('uses the forwarded address when the peer is a configured proxy (trustProxy ["loopback"])', async () => {
    const { app } = await createTestApp(database, null, {
      authRateLimitPerMinute: 2,
      trustProxy: ['loopback'],
    })
    for (const client of ['203.0.113.1', '203.0.113.2', '203.0.113.3']) {
      expect((await challenge(app, client)).status, client).to.equal(201)
    }
    expect((await challenge(app, '203.0.113.1')).status).to.equal(201)
    expect((await challenge(app, '203.0.113.1')).status).to.equal(429)
    expect((await challenge(app, '203.0.113.2')).status).to.equal(201)
  })

  it('ignores X-Forwarded-For from a peer that is not one of the configured proxies', async () => {
    // The test client connects over loopback, which 10.0.0.0/8 does not contain.
    const { app } = await createTestApp(database, null, {
      authRateLimitPerMinute: 1,
      trustProxy: ['10.0.0.0/8'],
    })
    expect((await challenge(app, '203.0.113.1')).status).to.equal(201)
    expect((await challenge(app, '203.0.113.2')).status).to.equal(429)
  })

  it('refuses to build the app with a trusted proxy that is not an address, CIDR or known name, naming TRUST_PROXY', async () => {
    let thrown: unknown
    try {
      await createTestApp(database, null, { trustProxy: ['proxy.example'] })
    } catch (error) {
      thrown = error
    }
    expect(thrown).to.be.instanceOf(ConfigError)
    expect((thrown as Error).message).to.match(/^invalid TRUST_PROXY: /)
  })
})
