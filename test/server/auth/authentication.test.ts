import { createHash } from 'node:crypto'
import { expect } from 'chai'
import type { Express } from 'express'
import request from 'supertest'
import { hexToBytes, toHex } from 'viem'
import { generatePrivateKey, privateKeyToAccount, type PrivateKeyAccount } from 'viem/accounts'
import { SIGNED_REQUEST_HEADERS, signedRequestTimestamp } from '../../../protocol/signed-request'
import { createTestApp } from '../helpers/app'
import { bearer, registerAgent, type RegisteredTestAgent } from '../helpers/agents'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { openSession, signRequest, signedRequest } from '../helpers/signed-requests'

const CURVE_ORDER = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n

describe('authentication', () => {
  let database: TestDatabase
  let app: Express
  let account: PrivateKeyAccount
  let owner: RegisteredTestAgent
  let session: string

  before(async () => {
    database = await createTestDatabase()
    ;({ app } = await createTestApp(database))
    account = privateKeyToAccount(generatePrivateKey())
    owner = await registerAgent(app, { account })
    session = await openSession(app, account)
  })
  after(async () => {
    await database.drop()
  })

  describe('POST /v1/auth/session', () => {
    it('opens a 24-hour session for the wallet of a registered agent', async () => {
      const res = await request(app)
        .post('/v1/auth/session')
        .send({ wallet_address: account.address })
        .expect(201)
      expect(res.body.session_nonce).to.match(/^[0-9a-f]{32}$/)
      expect(res.body.agent_id).to.equal(owner.agent.id)
      expect(res.body.wallet_address).to.equal(account.address.toLowerCase())
      const hours = (Date.parse(res.body.expires_at) - Date.now()) / 3_600_000
      expect(hours).to.be.within(23.9, 24.1)
    })

    it('answers 404 agent_not_found for a wallet no agent has', async () => {
      const stranger = privateKeyToAccount(generatePrivateKey())
      const res = await request(app)
        .post('/v1/auth/session')
        .send({ wallet_address: stranger.address })
        .expect(404)
      expect(res.body.error.code).to.equal('agent_not_found')
    })

    it('answers 400 naming wallet_address when it is not an address', async () => {
      const res = await request(app).post('/v1/auth/session').send({ wallet_address: '0x123' }).expect(400)
      expect(res.body.error.details.fields[0].field).to.equal('wallet_address')
    })
  })

  describe('API keys', () => {
    it('authenticates Authorization: Bearer sk_live_…', async () => {
      const res = await request(app)
        .get('/v1/agents/me')
        .set('Authorization', bearer(owner.apiKey))
        .expect(200)
      expect(res.body.agent_id).to.equal(owner.agent.id)
    })

    it('answers 401 unauthorized without credentials', async () => {
      const res = await request(app).get('/v1/agents/me').expect(401)
      expect(res.body.error.code).to.equal('unauthorized')
      expect(res.body.error.details.reason).to.equal('missing_credentials')
    })

    it('answers 401 for a well-formed key that belongs to nobody', async () => {
      const res = await request(app)
        .get('/v1/agents/me')
        .set('Authorization', bearer(`sk_live_${'A'.repeat(43)}`))
        .expect(401)
      expect(res.body.error.details.reason).to.equal('invalid_api_key')
    })

    it('answers 401 for an Authorization header that is not a Bearer token', async () => {
      const res = await request(app)
        .get('/v1/agents/me')
        .set('Authorization', 'Basic dXNlcjpwYXNz')
        .expect(401)
      expect(res.body.error.details.reason).to.equal('malformed_authorization')
    })

    it('authenticates X-API-Key: sk_live_… (seed 001) as the same agent, on reads and writes', async () => {
      const me = await request(app).get('/v1/agents/me').set('X-API-Key', owner.apiKey).expect(200)
      expect(me.body.agent_id).to.equal(owner.agent.id)
      const payout = privateKeyToAccount(generatePrivateKey()).address
      await request(app)
        .post('/v1/withdrawal-addresses')
        .set('X-API-Key', owner.apiKey)
        .send({ address: payout, label: 'through X-API-Key' })
        .expect(201)
      const saved = await request(app)
        .get('/v1/withdrawal-addresses')
        .set('Authorization', bearer(owner.apiKey))
        .expect(200)
      expect(JSON.stringify(saved.body)).to.include('through X-API-Key')
    })

    it('answers 401 invalid_api_key for an X-API-Key that belongs to nobody', async () => {
      const res = await request(app)
        .get('/v1/agents/me')
        .set('X-API-Key', `sk_live_${'B'.repeat(43)}`)
        .expect(401)
      expect(res.body.error.details.reason).to.equal('invalid_api_key')
    })

    it('answers 401 when Authorization and X-API-Key name different keys, even if one of them is valid', async () => {
      const other = await registerAgent(app)
      const res = await request(app)
        .get('/v1/agents/me')
        .set('Authorization', bearer(owner.apiKey))
        .set('X-API-Key', other.apiKey)
        .expect(401)
      expect(res.body.error.details.reason).to.equal('conflicting_api_keys')
      await request(app)
        .get('/v1/agents/me')
        .set('Authorization', bearer(owner.apiKey))
        .set('X-API-Key', owner.apiKey)
        .expect(200)
    })

    it('answers 401 for an empty or spaced X-API-Key', async () => {
      for (const value of ['', 'sk_live_a b']) {
        const res = await request(app).get('/v1/agents/me').set('X-API-Key', value).expect(401)
        expect(res.body.error.details.reason, JSON.stringify(value)).to.equal('malformed_api_key_header')
      }
    })

    it('stores only the sha256 of the key', async () => {
      const { rows } = await database.pool.query('SELECT api_key_hash FROM agents WHERE id = $1', [
        owner.agent.id,
      ])
      expect(rows[0].api_key_hash).to.equal(createHash('sha256').update(owner.apiKey).digest('hex'))
      const { rows: leaks } = await database.pool.query(
        `SELECT 1 FROM agents AS a WHERE a::text LIKE '%' || $1 || '%'`,
        [owner.apiKey.slice(8)],
      )
      expect(leaks).to.have.length(0)
    })
  })

  describe('wallet-signed requests', () => {
    it('reach the same route as an API key and act as the same agent', async () => {
      const res = await signedRequest(app, account, session, 'GET', '/v1/agents/me')
      expect(res.status).to.equal(200)
      expect(res.body.agent_id).to.equal(owner.agent.id)
    })

    it('sign the JSON body: a signed faucet request credits the wallet owner', async () => {
      const res = await signedRequest(app, account, session, 'POST', '/v1/dev/faucet', { amount: '2.5' })
      expect(res.status).to.equal(200)
      expect(res.body.available).to.equal('2.5')
    })

    it('sign the query string', async () => {
      const res = await signedRequest(app, account, session, 'GET', '/v1/wallet/transactions?limit=1')
      expect(res.status).to.equal(200)
      expect(res.body.data).to.have.length(1)
    })

    it('reject a replay of the same request id with 401 request_replayed', async () => {
      const headers = await signRequest(account, session, 'GET', '/v1/agents/me')
      await request(app)
        .get('/v1/agents/me')
        .set({ ...headers })
        .expect(200)
      const replay = await request(app)
        .get('/v1/agents/me')
        .set({ ...headers })
        .expect(401)
      expect(replay.body.error.code).to.equal('unauthorized')
      expect(replay.body.error.details.reason).to.equal('request_replayed')
    })

    it('let exactly one of ten concurrent copies of one signed request through', async () => {
      const headers = await signRequest(account, session, 'POST', '/v1/dev/faucet', { amount: '1' })
      const before = await request(app).get('/v1/wallet/balance').set('Authorization', bearer(owner.apiKey))
      const statuses = await Promise.all(
        Array.from({ length: 10 }, () =>
          request(app)
            .post('/v1/dev/faucet')
            .set({ ...headers })
            .send({ amount: '1' })
            .then((res) => res.status),
        ),
      )
      expect(statuses.filter((status) => status === 200)).to.have.length(1)
      expect(statuses.filter((status) => status === 401)).to.have.length(9)
      const after = await request(app).get('/v1/wallet/balance').set('Authorization', bearer(owner.apiKey))
      expect(Number(after.body.balances[0].available) - Number(before.body.balances[0].available)).to.equal(1)
    })

    it('reject a tampered body with 401 invalid_signature', async () => {
      const headers = await signRequest(account, session, 'POST', '/v1/dev/faucet', { amount: '1' })
      const res = await request(app)
        .post('/v1/dev/faucet')
        .set({ ...headers })
        .send({ amount: '1000' })
        .expect(401)
      expect(res.body.error.details.reason).to.equal('invalid_signature')
    })

    it('reject a tampered query string', async () => {
      const headers = await signRequest(account, session, 'GET', '/v1/wallet/transactions?limit=1')
      const res = await request(app)
        .get('/v1/wallet/transactions?limit=2')
        .set({ ...headers })
        .expect(401)
      expect(res.body.error.details.reason).to.equal('invalid_signature')
    })

    it('reject a signature made for another route', async () => {
      const headers = await signRequest(account, session, 'GET', '/v1/wallet/balance')
      const res = await request(app)
        .get('/v1/agents/me')
        .set({ ...headers })
        .expect(401)
      expect(res.body.error.details.reason).to.equal('invalid_signature')
    })

    it('treat an empty body sent as application/json as no payload', async () => {
      const headers = await signRequest(account, session, 'GET', '/v1/agents/me')
      await request(app)
        .get('/v1/agents/me')
        .set({ ...headers, 'Content-Type': 'application/json' })
        .expect(200)
    })

    it('reject a body added to a request signed without one', async () => {
      const headers = await signRequest(account, session, 'POST', '/v1/dev/faucet')
      const res = await request(app)
        .post('/v1/dev/faucet')
        .set({ ...headers })
        .send({ amount: '1' })
        .expect(401)
      expect(res.body.error.details.reason).to.equal('invalid_signature')
    })

    it("reject another wallet's signature presented for this wallet", async () => {
      const attacker = privateKeyToAccount(generatePrivateKey())
      const forged = await signRequest(attacker, session, 'GET', '/v1/agents/me')
      const res = await request(app)
        .get('/v1/agents/me')
        .set({ ...forged, [SIGNED_REQUEST_HEADERS.wallet]: account.address })
        .expect(401)
      expect(res.body.error.details.reason).to.equal('invalid_signature')
    })

    it("reject a session that belongs to another agent's wallet", async () => {
      const other = privateKeyToAccount(generatePrivateKey())
      await registerAgent(app, { account: other })
      const otherSession = await openSession(app, other)
      const res = await signedRequest(app, account, otherSession, 'GET', '/v1/agents/me')
      expect(res.status).to.equal(401)
      expect(res.body.error.details.reason).to.equal('invalid_session')
    })

    it('reject an expired session', async () => {
      const expiring = await openSession(app, account)
      await database.pool.query(
        `UPDATE auth_sessions SET expires_at = now() - interval '1 second' WHERE nonce = $1`,
        [expiring],
      )
      const res = await signedRequest(app, account, expiring, 'GET', '/v1/agents/me')
      expect(res.status).to.equal(401)
      expect(res.body.error.details.reason).to.equal('invalid_session')
    })

    it('reject a session nonce that was never issued', async () => {
      const res = await signedRequest(app, account, 'f'.repeat(32), 'GET', '/v1/agents/me')
      expect(res.status).to.equal(401)
      expect(res.body.error.details.reason).to.equal('invalid_session')
    })

    it('answer 401 naming the missing header when the signed headers are incomplete', async () => {
      const headers: Record<string, string> = {
        ...(await signRequest(account, session, 'GET', '/v1/agents/me')),
      }
      delete headers[SIGNED_REQUEST_HEADERS.requestId]
      const res = await request(app).get('/v1/agents/me').set(headers).expect(401)
      expect(res.body.error.details.reason).to.equal('incomplete_signed_request')
      expect(res.body.error.details.missing).to.deep.equal([SIGNED_REQUEST_HEADERS.requestId])
    })

    it('reject a malformed signature, and the high-s twin of a valid one', async () => {
      const headers = await signRequest(account, session, 'GET', '/v1/agents/me')
      const bad = await request(app)
        .get('/v1/agents/me')
        .set({ ...headers, [SIGNED_REQUEST_HEADERS.signature]: '0x1234' })
        .expect(401)
      expect(bad.body.error.details.reason).to.equal('invalid_signature')

      const bytes = hexToBytes(headers[SIGNED_REQUEST_HEADERS.signature] as `0x${string}`)
      const s = BigInt(toHex(bytes.subarray(32, 64)))
      const twin = new Uint8Array(bytes)
      twin.set(hexToBytes(toHex(CURVE_ORDER - s, { size: 32 })), 32)
      twin[64] = bytes[64] === 27 ? 28 : 27
      const malleated = await request(app)
        .get('/v1/agents/me')
        .set({ ...headers, [SIGNED_REQUEST_HEADERS.signature]: toHex(twin) })
        .expect(401)
      expect(malleated.body.error.details.reason).to.equal('invalid_signature')
      // The untouched original still works: the rejected attempts did not burn its request id.
      await request(app)
        .get('/v1/agents/me')
        .set({ ...headers })
        .expect(200)
    })

    describe('signed timestamp', () => {
      // A session of its own: the rotation tests of the enclosing suite end the agent's sessions.
      let session: string
      before(async () => {
        session = await openSession(app, account)
      })

      it('attack: a captured signed request, held back and replayed after its validity window -> refused as stale_request', async () => {
        // Captured 301 s ago (a proxy's log, a request that never arrived): past the 300 s window.
        const captured = await signRequest(
          account,
          session,
          'POST',
          '/v1/agents/rotate-key',
          undefined,
          undefined,
          signedRequestTimestamp() - 301,
        )
        const res = await request(app)
          .post('/v1/agents/rotate-key')
          .set({ ...captured })
          .expect(401)
        expect(res.body.error.code).to.equal('unauthorized')
        expect(res.body.error.details.reason).to.equal('stale_request')
        expect(res.body.error.details.max_age_seconds).to.equal(300)
        await request(app).get('/v1/agents/me').set('Authorization', bearer(owner.apiKey)).expect(200)
      })

      it('attack: a request dated ahead of the window, refused as stale, replayed once the clock reaches it -> refused as replayed', async () => {
        const ahead = await signRequest(
          account,
          session,
          'GET',
          '/v1/agents/me',
          undefined,
          undefined,
          // Well past the 300 s window: a second ticking over before the check must not bring it inside.
          signedRequestTimestamp() + 310,
        )
        const early = await request(app)
          .get('/v1/agents/me')
          .set({ ...ahead })
          .expect(401)
        expect(early.body.error.details.reason).to.equal('stale_request')
        // A clock at the signed time is what a wider window sees: the refusal spent the request id.
        const { app: later } = await createTestApp(database, null, { signedRequestMaxAgeSeconds: 3600 })
        const replay = await request(later)
          .get('/v1/agents/me')
          .set({ ...ahead })
          .expect(401)
        expect(replay.body.error.details.reason).to.equal('request_replayed')
      })

      it('accept a timestamp up to the window away in either direction (client clock skew)', async () => {
        for (const skew of [-290, 290]) {
          const headers = await signRequest(
            account,
            session,
            'GET',
            '/v1/agents/me',
            undefined,
            undefined,
            signedRequestTimestamp() + skew,
          )
          const res = await request(app)
            .get('/v1/agents/me')
            .set({ ...headers })
          expect(res.status, `skew ${skew}: ${JSON.stringify(res.body)}`).to.equal(200)
        }
      })

      it('use signedRequestMaxAgeSeconds from the context', async () => {
        const { app: strict } = await createTestApp(database, null, { signedRequestMaxAgeSeconds: 10 })
        const old = await signRequest(
          account,
          session,
          'GET',
          '/v1/agents/me',
          undefined,
          undefined,
          signedRequestTimestamp() - 20,
        )
        const res = await request(strict)
          .get('/v1/agents/me')
          .set({ ...old })
          .expect(401)
        expect(res.body.error.details).to.deep.include({ reason: 'stale_request', max_age_seconds: 10 })
        const fresh = await signRequest(account, session, 'GET', '/v1/agents/me')
        await request(strict)
          .get('/v1/agents/me')
          .set({ ...fresh })
          .expect(200)
      })

      it('reject a timestamp changed after signing with 401 invalid_signature', async () => {
        const headers = await signRequest(account, session, 'GET', '/v1/agents/me')
        const res = await request(app)
          .get('/v1/agents/me')
          .set({
            ...headers,
            [SIGNED_REQUEST_HEADERS.timestamp]: String(Number(headers[SIGNED_REQUEST_HEADERS.timestamp]) + 1),
          })
          .expect(401)
        expect(res.body.error.details.reason).to.equal('invalid_signature')
      })

      for (const timestamp of [
        'abc',
        '-5',
        '1.7e9',
        '01700000000',
        '1700000000.5',
        '9'.repeat(13),
        '+1700000000',
      ]) {
        it(`reject the timestamp ${JSON.stringify(timestamp)} with 401 malformed_timestamp`, async () => {
          const headers = await signRequest(account, session, 'GET', '/v1/agents/me')
          const res = await request(app)
            .get('/v1/agents/me')
            .set({ ...headers, [SIGNED_REQUEST_HEADERS.timestamp]: timestamp })
          expect(res.status).to.equal(401)
          expect(res.body.error.details.reason).to.equal('malformed_timestamp')
        })
      }

      it('answer 401 incomplete_signed_request naming X-Clearhouse-Timestamp when it is missing', async () => {
        const headers: Record<string, string> = {
          ...(await signRequest(account, session, 'GET', '/v1/agents/me')),
        }
        delete headers[SIGNED_REQUEST_HEADERS.timestamp]
        const res = await request(app).get('/v1/agents/me').set(headers).expect(401)
        expect(res.body.error.details.reason).to.equal('incomplete_signed_request')
        expect(res.body.error.details.missing).to.deep.equal([SIGNED_REQUEST_HEADERS.timestamp])
      })
    })

    it('reject a request id outside the allowed characters', async () => {
      const headers = await signRequest(account, session, 'GET', '/v1/agents/me', undefined, 'has space')
      const res = await request(app)
        .get('/v1/agents/me')
        .set({ ...headers })
        .expect(401)
      expect(res.body.error.details.reason).to.equal('malformed_request_id')
    })

    it('answer 400, not 500, to a body with an unpaired surrogate, which no signer can canonicalize', async () => {
      const headers = await signRequest(account, session, 'POST', '/v1/dev/faucet', { amount: '1' })
      const res = await request(app)
        .post('/v1/dev/faucet')
        .set(headers as unknown as Record<string, string>)
        .set('Content-Type', 'application/json')
        .send('{"amount":"1","note":"\\ud800"}')
      expect(res.status, JSON.stringify(res.body)).to.equal(400)
      expect(res.body.error.details.fields[0].field).to.equal('note')
    })

    it('prefer an API key when both kinds of credentials are sent', async () => {
      const other = await registerAgent(app)
      const headers = await signRequest(account, session, 'GET', '/v1/agents/me')
      const res = await request(app)
        .get('/v1/agents/me')
        .set({ ...headers, Authorization: bearer(other.apiKey) })
        .expect(200)
      expect(res.body.agent_id).to.equal(other.agent.id)
    })

    it('can rotate the API key without knowing it, so a wallet owner recovers from a leaked key', async () => {
      const res = await signedRequest(app, account, session, 'POST', '/v1/agents/rotate-key')
      expect(res.status).to.equal(200)
      await request(app).get('/v1/agents/me').set('Authorization', bearer(owner.apiKey)).expect(401)
      await request(app).get('/v1/agents/me').set('Authorization', bearer(res.body.api_key)).expect(200)
      owner = { ...owner, apiKey: res.body.api_key }
    })

    it('work for a managed-wallet agent once it has exported its key', async () => {
      const managed = await registerAgent(app)
      // Without the export delay the first call hands the key out.
      const { app: instantExport } = await createTestApp(database, null, { keyExportDelaySeconds: 0 })
      const exported = await request(instantExport)
        .post('/v1/wallet/export-key')
        .set('Authorization', bearer(managed.apiKey))
        .expect(200)
      const managedAccount = privateKeyToAccount(exported.body.private_key)
      const managedSession = await openSession(app, managedAccount)
      const res = await signedRequest(app, managedAccount, managedSession, 'GET', '/v1/agents/me')
      expect(res.status).to.equal(200)
      expect(res.body.agent_id).to.equal(managed.agent.id)
    })
  })
})
