import { expect } from 'chai'
import type { Express } from 'express'
import request from 'supertest'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { hashApiKey } from '../../../server/auth/api-key-codec'
import type { AppContext } from '../../../server/app-context'
import { UnauthorizedError } from '../../../server/errors'
import { exportWalletKey } from '../../../server/wallet/wallet-service'
import { createTestApp } from '../helpers/app'
import { bearer, registerAgent } from '../helpers/agents'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { openSession, signedRequest } from '../helpers/signed-requests'

const DAY_MS = 86_400_000

/**
 * Issue 10, item 2: with a leaked API key a thief exported the managed wallet's key at once, kept
 * wallet-signed sessions open past the owner's rotation, and replaced the API key by a
 * wallet-signed rotate-key. These are the recovery model's guarantees against each step.
 */
describe('account takeover with a leaked API key', () => {
  let database: TestDatabase
  /** The deployed default: KEY_EXPORT_DELAY_SECONDS unset, a day. */
  let app: Express
  let context: AppContext
  /** KEY_EXPORT_DELAY_SECONDS=0: the key comes at once, as it did before the delay existed. */
  let instant: Express

  before(async () => {
    database = await createTestDatabase()
    ;({ app, context } = await createTestApp(database))
    ;({ app: instant } = await createTestApp(database, null, { keyExportDelaySeconds: 0 }))
  })
  after(async () => {
    await database.drop()
  })

  /** Moves the agent's pending key export into the past, as if `ms` had gone by. */
  async function letTimePass(agentId: string, ms: number): Promise<void> {
    await database.pool.query(
      `UPDATE managed_wallets
       SET export_requested_at = export_requested_at - make_interval(secs => $2::double precision),
           export_available_at = export_available_at - make_interval(secs => $2::double precision)
       WHERE agent_id = $1`,
      [agentId, ms / 1000],
    )
  }

  /** A managed-wallet agent whose key a thief exported at once (on the app without a delay). */
  async function exportedByThief() {
    const owner = await registerAgent(instant)
    const exported = await request(instant)
      .post('/v1/wallet/export-key')
      .set('Authorization', bearer(owner.apiKey))
      .expect(200)
    const thief = privateKeyToAccount(exported.body.private_key)
    return { owner, thief, session: await openSession(instant, thief) }
  }

  it("attack: a leaked API key exports the managed wallet key at once -> only after the delay, and the owner's rotation cancels it", async () => {
    const owner = await registerAgent(app)
    const leakedKey = owner.apiKey

    const started = await request(app).post('/v1/wallet/export-key').set('Authorization', bearer(leakedKey))
    expect(started.status, JSON.stringify(started.body)).to.equal(202)
    expect(started.body).to.not.have.property('private_key')
    expect(started.body.status).to.equal('pending')
    const wait = Date.parse(started.body.available_at) - Date.parse(started.body.requested_at)
    expect(wait).to.equal(DAY_MS)

    const early = await request(app)
      .post('/v1/wallet/export-key')
      .set('Authorization', bearer(leakedKey))
      .expect(409)
    expect(early.body.error.code).to.equal('key_export_pending')
    expect(early.body.error.details.available_at).to.equal(started.body.available_at)
    expect(JSON.stringify(early.body)).to.not.match(/0x[0-9a-f]{64}/)

    // The owner sees an export it did not ask for and rotates the key.
    const seen = await request(app)
      .get('/v1/agents/me')
      .set('Authorization', bearer(owner.apiKey))
      .expect(200)
    expect(seen.body.key_export).to.deep.equal({
      status: 'pending',
      requested_at: started.body.requested_at,
      available_at: started.body.available_at,
    })
    const rotated = await request(app)
      .post('/v1/agents/rotate-key')
      .set('Authorization', bearer(owner.apiKey))
      .expect(200)
    const me = await request(app)
      .get('/v1/agents/me')
      .set('Authorization', bearer(rotated.body.api_key))
      .expect(200)
    expect(me.body.key_export).to.equal(null)
    expect(me.body.managed_key_exported).to.equal(false)

    // A day later the thief's key is dead and there is nothing left to collect.
    await letTimePass(owner.agent.id, 2 * DAY_MS)
    await request(app).post('/v1/wallet/export-key').set('Authorization', bearer(leakedKey)).expect(401)
    const { rows } = await database.pool.query(
      'SELECT exported_at, export_requested_at FROM managed_wallets WHERE agent_id = $1',
      [owner.agent.id],
    )
    expect(rows[0]).to.deep.equal({ exported_at: null, export_requested_at: null })
  })

  it("attack: sessions opened with an exported key survive the owner's key rotation -> ended", async () => {
    const { owner, thief, session } = await exportedByThief()
    const before = await signedRequest(instant, thief, session, 'GET', '/v1/agents/me')
    expect(before.status).to.equal(200)

    await request(instant)
      .post('/v1/agents/rotate-key')
      .set('Authorization', bearer(owner.apiKey))
      .expect(200)

    const after = await signedRequest(instant, thief, session, 'GET', '/v1/agents/me')
    expect(after.status, JSON.stringify(after.body)).to.equal(401)
    expect(after.body.error.details.reason).to.equal('invalid_session')
    const { rows } = await database.pool.query('SELECT 1 FROM auth_sessions WHERE agent_id = $1', [
      owner.agent.id,
    ])
    expect(rows).to.have.length(0)
  })

  it("attack: a wallet-signed rotate-key replaces a managed-origin agent's API key -> refused", async () => {
    const { owner, thief, session } = await exportedByThief()
    const res = await signedRequest(instant, thief, session, 'POST', '/v1/agents/rotate-key')
    expect(res.status, JSON.stringify(res.body)).to.equal(403)
    expect(res.body.error.code).to.equal('api_key_required')
    expect(res.body).to.not.have.property('api_key')
    // The owner's key is untouched and still the root: it rotates, and that ends the thief's session.
    await request(instant).get('/v1/agents/me').set('Authorization', bearer(owner.apiKey)).expect(200)
    await request(instant)
      .post('/v1/agents/rotate-key')
      .set('Authorization', bearer(owner.apiKey))
      .expect(200)
    const after = await signedRequest(instant, thief, session, 'POST', '/v1/agents/rotate-key')
    expect(after.status).to.equal(401)
  })

  it("attack: an export authenticated just before the owner's rotation starts a new export after it -> refused 401", async () => {
    const owner = await registerAgent(app)
    // The thief's request passed authentication with the leaked key; then the owner rotated.
    const thiefCredential = { kind: 'api_key', apiKeyHash: hashApiKey(owner.apiKey) } as const
    await request(app).post('/v1/agents/rotate-key').set('Authorization', bearer(owner.apiKey)).expect(200)
    const error = await exportWalletKey(context, owner.agent.id, thiefCredential).catch(
      (caught: unknown) => caught,
    )
    expect(error).to.be.instanceOf(UnauthorizedError)
    const { rows } = await database.pool.query(
      'SELECT export_requested_at FROM managed_wallets WHERE agent_id = $1',
      [owner.agent.id],
    )
    expect(rows[0].export_requested_at).to.equal(null)
  })

  it("attack: a thief's export racing the owner's rotation survives it -> never: the export is cancelled or refused", async () => {
    const owner = await registerAgent(app)
    const [exported, rotated] = await Promise.all([
      request(app).post('/v1/wallet/export-key').set('Authorization', bearer(owner.apiKey)),
      request(app).post('/v1/agents/rotate-key').set('Authorization', bearer(owner.apiKey)),
    ])
    expect(rotated.status).to.equal(200)
    expect([202, 401]).to.include(exported.status)
    const me = await request(app)
      .get('/v1/agents/me')
      .set('Authorization', bearer(rotated.body.api_key))
      .expect(200)
    expect(me.body.key_export).to.equal(null)
  })

  describe('rotate-key by the root credential', () => {
    it('an agent registered with its own wallet rotates by a wallet-signed request, which ends its sessions', async () => {
      const account = privateKeyToAccount(generatePrivateKey())
      const owner = await registerAgent(app, { account })
      const session = await openSession(app, account)
      const other = await openSession(app, account)
      const res = await signedRequest(app, account, session, 'POST', '/v1/agents/rotate-key')
      expect(res.status, JSON.stringify(res.body)).to.equal(200)
      await request(app).get('/v1/agents/me').set('Authorization', bearer(owner.apiKey)).expect(401)
      await request(app).get('/v1/agents/me').set('Authorization', bearer(res.body.api_key)).expect(200)
      const stale = await signedRequest(app, account, other, 'GET', '/v1/agents/me')
      expect(stale.status).to.equal(401)
      // The wallet is still the root: a fresh session signs again.
      const fresh = await openSession(app, account)
      expect((await signedRequest(app, account, fresh, 'GET', '/v1/agents/me')).status).to.equal(200)
    })

    it('a managed-wallet agent rotates with its API key, after its key was exported too', async () => {
      const { owner, thief } = await exportedByThief()
      const res = await request(instant)
        .post('/v1/agents/rotate-key')
        .set('Authorization', bearer(owner.apiKey))
        .expect(200)
      await request(instant).get('/v1/agents/me').set('Authorization', bearer(res.body.api_key)).expect(200)
      // The exported key is the wallet's own: it can open a new session, but never rotate.
      const session = await openSession(instant, thief)
      const refused = await signedRequest(instant, thief, session, 'POST', '/v1/agents/rotate-key')
      expect(refused.status).to.equal(403)
    })
  })
})
