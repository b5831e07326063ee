import { expect } from 'chai'
import type { Express } from 'express'
import request from 'supertest'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { decryptPrivateKey } from '../../../server/wallet/managed-wallets'
import { TEST_WALLET_ENCRYPTION_KEY, createTestApp } from '../helpers/app'
import { bearer, registerAgent, type RegisteredTestAgent } from '../helpers/agents'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { openSession, signedRequest } from '../helpers/signed-requests'

describe('managed wallet key export with a delay', () => {
  let database: TestDatabase
  /** KEY_EXPORT_DELAY_SECONDS unset: the default day. */
  let app: Express

  before(async () => {
    database = await createTestDatabase()
    ;({ app } = await createTestApp(database))
  })
  after(async () => {
    await database.drop()
  })

  /** Moves the agent's pending key export a day and a minute into the past. */
  async function letDelayPass(agentId: string): Promise<void> {
    await database.pool.query(
      `UPDATE managed_wallets
       SET export_requested_at = export_requested_at - interval '1 day 1 minute',
           export_available_at = export_available_at - interval '1 day 1 minute'
       WHERE agent_id = $1`,
      [agentId],
    )
  }

  const post = (agent: RegisteredTestAgent) =>
    request(app).post('/v1/wallet/export-key').set('Authorization', bearer(agent.apiKey))
  const cancel = (agent: RegisteredTestAgent) =>
    request(app).delete('/v1/wallet/export-key').set('Authorization', bearer(agent.apiKey))
  const me = async (agent: RegisteredTestAgent) =>
    (await request(app).get('/v1/agents/me').set('Authorization', bearer(agent.apiKey)).expect(200)).body

  describe('POST /v1/wallet/export-key', () => {
    it('starts the export: 202 pending, available a day later, shown on /v1/agents/me', async () => {
      const agent = await registerAgent(app)
      expect((await me(agent)).key_export).to.equal(null)
      const before = Date.now()
      const res = await post(agent).expect(202)
      expect(res.headers['cache-control']).to.equal('no-store')
      expect(Object.keys(res.body).sort()).to.deep.equal(['available_at', 'requested_at', 'status'])
      expect(res.body.status).to.equal('pending')
      expect(Date.parse(res.body.available_at) - before).to.be.within(86_390_000, 86_410_000)
      const profile = await me(agent)
      expect(profile.key_export).to.deep.equal(res.body)
      expect(profile.managed_key_exported).to.equal(false)
    })

    it('answers 409 key_export_pending with requested_at and available_at before the delay has passed', async () => {
      const agent = await registerAgent(app)
      const started = await post(agent).expect(202)
      const res = await post(agent).expect(409)
      expect(res.body.error.code).to.equal('key_export_pending')
      expect(res.body.error.details).to.deep.equal({
        requested_at: started.body.requested_at,
        available_at: started.body.available_at,
      })
    })

    it('after the delay returns a key that signs for the wallet, exactly once', async () => {
      const agent = await registerAgent(app)
      await post(agent).expect(202)
      await letDelayPass(agent.agent.id)
      expect((await me(agent)).key_export.status).to.equal('ready')
      const res = await post(agent).expect(200)
      expect(res.headers['cache-control']).to.equal('no-store')
      expect(res.body.wallet_address).to.equal(agent.agent.wallet_address)
      const account = privateKeyToAccount(res.body.private_key)
      expect(account.address.toLowerCase()).to.equal(agent.agent.wallet_address)
      const session = await openSession(app, account)
      const signed = await signedRequest(app, account, session, 'GET', '/v1/agents/me')
      expect(signed.status).to.equal(200)
      expect(signed.body.agent_id).to.equal(agent.agent.id)

      const again = await post(agent).expect(409)
      expect(again.body.error.code).to.equal('key_already_exported')
      expect(JSON.stringify(again.body)).to.not.include(res.body.private_key.slice(2))
      const profile = await me(agent)
      expect(profile).to.include({ managed_key_exported: true, key_export: null })
    })

    it('counts the delay by the clock: with KEY_EXPORT_DELAY_SECONDS=1 the key comes a second later', async () => {
      const { app: quick } = await createTestApp(database, null, { keyExportDelaySeconds: 1 })
      const agent = await registerAgent(quick)
      const exportKey = () =>
        request(quick).post('/v1/wallet/export-key').set('Authorization', bearer(agent.apiKey))
      const started = await exportKey().expect(202)
      await new Promise((resolve) =>
        setTimeout(resolve, Date.parse(started.body.available_at) - Date.now() + 50),
      )
      await exportKey().expect(200)
    })

    it('with KEY_EXPORT_DELAY_SECONDS=0 hands the key out on the first call', async () => {
      const { app: instant } = await createTestApp(database, null, { keyExportDelaySeconds: 0 })
      const agent = await registerAgent(instant)
      const res = await request(instant)
        .post('/v1/wallet/export-key')
        .set('Authorization', bearer(agent.apiKey))
        .expect(200)
      expect(privateKeyToAccount(res.body.private_key).address.toLowerCase()).to.equal(
        agent.agent.wallet_address,
      )
    })

    it('of five concurrent first calls starts one export; the others get 409 key_export_pending', async () => {
      const agent = await registerAgent(app)
      const responses = await Promise.all(Array.from({ length: 5 }, () => post(agent)))
      expect(responses.map((res) => res.status).sort()).to.deep.equal([202, 409, 409, 409, 409])
      for (const res of responses.filter((res) => res.status === 409)) {
        expect(res.body.error.code).to.equal('key_export_pending')
      }
    })

    it('hands the key out exactly once to five concurrent calls after the delay', async () => {
      const agent = await registerAgent(app)
      await post(agent).expect(202)
      await letDelayPass(agent.agent.id)
      const responses = await Promise.all(Array.from({ length: 5 }, () => post(agent)))
      expect(responses.map((res) => res.status).sort()).to.deep.equal([200, 409, 409, 409, 409])
    })

    it('ignores Idempotency-Key at both steps, so no copy of the key is ever stored for replay', async () => {
      const agent = await registerAgent(app)
      await post(agent).set('Idempotency-Key', 'export-1').expect(202)
      await letDelayPass(agent.agent.id)
      await post(agent).set('Idempotency-Key', 'export-1').expect(200)
      await post(agent).set('Idempotency-Key', 'export-1').expect(409)
      const { rows } = await database.pool.query('SELECT 1 FROM idempotency_keys WHERE agent_id = $1', [
        agent.agent.id,
      ])
      expect(rows).to.have.length(0)
    })

    it('answers 409 wallet_not_managed for an agent that holds its own key', async () => {
      const agent = await registerAgent(app, { account: privateKeyToAccount(generatePrivateKey()) })
      const res = await post(agent).expect(409)
      expect(res.body.error.code).to.equal('wallet_not_managed')
    })

    it('answers 403 api_key_required to a wallet-signed request, which can neither start nor collect an export', async () => {
      const agent = await registerAgent(app)
      // The managed key as only the coordinator holds it, standing for a copy that got out.
      const { rows } = await database.pool.query(
        'SELECT encrypted_private_key FROM managed_wallets WHERE agent_id = $1',
        [agent.agent.id],
      )
      const account = privateKeyToAccount(
        decryptPrivateKey(TEST_WALLET_ENCRYPTION_KEY, agent.agent.id, rows[0].encrypted_private_key),
      )
      const session = await openSession(app, account)
      const start = await signedRequest(app, account, session, 'POST', '/v1/wallet/export-key')
      expect(start.status, JSON.stringify(start.body)).to.equal(403)
      expect(start.body.error.code).to.equal('api_key_required')
      expect((await me(agent)).key_export).to.equal(null)

      await post(agent).expect(202)
      await letDelayPass(agent.agent.id)
      const collect = await signedRequest(app, account, session, 'POST', '/v1/wallet/export-key')
      expect(collect.status).to.equal(403)
      expect((await me(agent)).key_export.status).to.equal('ready')
    })

    it('answers 401 without credentials or with a malformed Authorization header', async () => {
      await request(app).post('/v1/wallet/export-key').expect(401)
      const res = await request(app)
        .post('/v1/wallet/export-key')
        .set('Authorization', 'Basic abc')
        .expect(401)
      expect(res.body.error.details.reason).to.equal('malformed_authorization')
    })
  })

  describe('DELETE /v1/wallet/export-key', () => {
    it('cancels a pending export: 204, /v1/agents/me shows none, and a new request starts the delay over', async () => {
      const agent = await registerAgent(app)
      const first = await post(agent).expect(202)
      const res = await cancel(agent).expect(204)
      expect(res.text).to.equal('')
      expect((await me(agent)).key_export).to.equal(null)
      await new Promise((resolve) => setTimeout(resolve, 10))
      const second = await post(agent).expect(202)
      expect(Date.parse(second.body.available_at)).to.be.greaterThan(Date.parse(first.body.available_at))
    })

    it('cancels an export whose delay has passed but whose key was not collected', async () => {
      const agent = await registerAgent(app)
      await post(agent).expect(202)
      await letDelayPass(agent.agent.id)
      await cancel(agent).expect(204)
      await post(agent).expect(202)
    })

    it('answers 409 key_export_not_pending when no export waits', async () => {
      const agent = await registerAgent(app)
      const res = await cancel(agent).expect(409)
      expect(res.body.error.code).to.equal('key_export_not_pending')
    })

    it('answers 409 key_already_exported once the key is out', async () => {
      const agent = await registerAgent(app)
      await post(agent).expect(202)
      await letDelayPass(agent.agent.id)
      await post(agent).expect(200)
      const res = await cancel(agent).expect(409)
      expect(res.body.error.code).to.equal('key_already_exported')
    })

    it('answers 409 wallet_not_managed for an agent that holds its own key', async () => {
      const agent = await registerAgent(app, { account: privateKeyToAccount(generatePrivateKey()) })
      const res = await cancel(agent).expect(409)
      expect(res.body.error.code).to.equal('wallet_not_managed')
    })

    it("acts on the caller's own export only: another agent's DELETE leaves it pending", async () => {
      const owner = await registerAgent(app)
      const other = await registerAgent(app)
      await post(owner).expect(202)
      const res = await cancel(other).expect(409)
      expect(res.body.error.code).to.equal('key_export_not_pending')
      expect((await me(owner)).key_export.status).to.equal('pending')
    })

    it('answers 401 without credentials or with a malformed key, and leaves the export pending', async () => {
      const owner = await registerAgent(app)
      await post(owner).expect(202)
      await request(app).delete('/v1/wallet/export-key').expect(401)
      await request(app)
        .delete('/v1/wallet/export-key')
        .set('Authorization', 'Bearer sk_live_short')
        .expect(401)
      await request(app).delete('/v1/wallet/export-key').set('Authorization', 'Basic abc').expect(401)
      expect((await me(owner)).key_export.status).to.equal('pending')
    })

    it('answers 400 in the error shape to a malformed JSON body, never 5xx', async () => {
      const agent = await registerAgent(app)
      await post(agent).expect(202)
      const res = await cancel(agent).set('Content-Type', 'application/json').send('{"a":')
      expect(res.status).to.equal(400)
      expect(res.body.error.code).to.be.a('string')
      expect((await me(agent)).key_export.status).to.equal('pending')
    })
  })
})
