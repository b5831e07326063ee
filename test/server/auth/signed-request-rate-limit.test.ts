import { expect } from 'chai'
import type { Express } from 'express'
import request from 'supertest'
import { generatePrivateKey, privateKeyToAccount, type PrivateKeyAccount } from 'viem/accounts'
import { createTestApp } from '../helpers/app'
import { bearer, registerAgent, type RegisteredTestAgent } from '../helpers/agents'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { openSession, signRequest } from '../helpers/signed-requests'

/** The per-IP limited routes that authenticate, and a request that spends one unit of their limit. */
const LIMITED_ROUTES = [
  {
    path: '/v1/agents/rotate-key',
    // rotate-key shares its counter with registration: a challenge spends one unit.
    spend: (app: Express, from: string) =>
      request(app)
        .post('/v1/agents/challenge')
        .set('X-Forwarded-For', from)
        .send({ wallet_address: privateKeyToAccount(generatePrivateKey()).address }),
  },
  {
    path: '/v1/wallet/export-key',
    spend: (app: Express, from: string, apiKey: string) =>
      request(app)
        .post('/v1/wallet/export-key')
        .set('X-Forwarded-For', from)
        .set('Authorization', bearer(apiKey)),
  },
] as const

describe('signed requests and per-IP limits', () => {
  let database: TestDatabase
  /** Registers agents and opens sessions without touching the limited app's counters. */
  let setup: Express
  /** One request per minute per client IP; the client IP comes from X-Forwarded-For (a trusted local proxy). */
  let limited: Express
  let account: PrivateKeyAccount
  let owner: RegisteredTestAgent
  let bystander: RegisteredTestAgent

  before(async () => {
    database = await createTestDatabase()
    ;({ app: setup } = await createTestApp(database))
    ;({ app: limited } = await createTestApp(database, null, {
      authRateLimitPerMinute: 1,
      trustProxy: ['loopback'],
    }))
    account = privateKeyToAccount(generatePrivateKey())
    owner = await registerAgent(setup, { account })
    bystander = await registerAgent(setup)
  })
  after(async () => {
    await database.drop()
  })

  for (const [index, route] of LIMITED_ROUTES.entries()) {
    const name = route.path.split('/').pop()
    const victimAddress = `10.0.${index}.1`
    const attackerAddress = `10.0.${index}.2`

    it(`attack: replaying a logged signed ${name} that was answered 429 from another address -> refused as replayed`, async () => {
      const session = await openSession(setup, account)
      await route.spend(limited, victimAddress, bystander.apiKey)
      const signed = await signRequest(account, session, 'POST', route.path)
      const limitedAnswer = await request(limited)
        .post(route.path)
        .set('X-Forwarded-For', victimAddress)
        .set({ ...signed })
      expect(limitedAnswer.status, JSON.stringify(limitedAnswer.body)).to.equal(429)
      expect(limitedAnswer.body.error.code).to.equal('rate_limited')

      const replay = await request(limited)
        .post(route.path)
        .set('X-Forwarded-For', attackerAddress)
        .set({ ...signed })
      expect(replay.status, JSON.stringify(replay.body)).to.equal(401)
      expect(replay.body.error.details.reason).to.equal('request_replayed')
      await request(setup).get('/v1/agents/me').set('Authorization', bearer(owner.apiKey)).expect(200)
    })

    it(`${name} authenticates before the per-IP limit and still answers 429 past it`, async () => {
      const address = `10.1.${index}.1`
      await route.spend(limited, address, bystander.apiKey)
      const wrong = await request(limited)
        .post(route.path)
        .set('X-Forwarded-For', address)
        .set('Authorization', bearer(`sk_live_${'A'.repeat(43)}`))
      expect(wrong.status).to.equal(401)
      const over = await request(limited)
        .post(route.path)
        .set('X-Forwarded-For', address)
        .set('Authorization', bearer(bystander.apiKey))
      expect(over.status).to.equal(429)
      expect(over.body.error.code).to.equal('rate_limited')
    })
  }
})
