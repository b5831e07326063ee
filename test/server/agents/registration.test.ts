import { randomUUID } from 'node:crypto'
import { expect } from 'chai'
import type { Express } from 'express'
import request from 'supertest'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { decryptPrivateKey } from '../../../server/wallet/managed-wallets'
import { TEST_WALLET_ENCRYPTION_KEY, createTestApp } from '../helpers/app'
import { bearer, registerAgent, uniqueHandle } from '../helpers/agents'
import { createTestDatabase, type TestDatabase } from '../helpers/database'

describe('agent registration', () => {
  let database: TestDatabase
  let app: Express

  before(async () => {
    database = await createTestDatabase()
    ;({ app } = await createTestApp(database))
  })
  after(async () => {
    await database.drop()
  })

  async function challengeFor(address: string): Promise<string> {
    const res = await request(app).post('/v1/agents/challenge').send({ wallet_address: address }).expect(201)
    return res.body.challenge as string
  }

  describe('POST /v1/agents/challenge', () => {
    it('issues a ten-minute challenge naming the lowercased wallet', async () => {
      const account = privateKeyToAccount(generatePrivateKey())
      const res = await request(app)
        .post('/v1/agents/challenge')
        .send({ wallet_address: account.address })
        .expect(201)
      expect(res.body.wallet_address).to.equal(account.address.toLowerCase())
      expect(res.body.challenge).to.include(`wallet:${account.address.toLowerCase()}`)
      const minutes = (Date.parse(res.body.expires_at) - Date.now()) / 60_000
      expect(minutes).to.be.within(9.9, 10.1)
    })

    it('answers 400 naming wallet_address when it is missing or malformed', async () => {
      for (const body of [{}, { wallet_address: 'alice.near' }]) {
        const res = await request(app).post('/v1/agents/challenge').send(body).expect(400)
        expect(res.body.error.details.fields[0].field).to.equal('wallet_address')
      }
    })
  })

  describe('POST /v1/agents/register', () => {
    it('registers without a wallet: a managed wallet, a handle and an API key shown once', async () => {
      const handle = uniqueHandle('alice')
      const res = await request(app)
        .post('/v1/agents/register')
        .send({ handle, capabilities: { skills: ['code_review'] }, tags: ['developer', 'rust'] })
        .expect(201)
      expect(res.headers['cache-control']).to.equal('no-store')
      expect(res.body.api_key).to.match(/^sk_live_[A-Za-z0-9_-]{43}$/)
      expect(res.body.handle).to.equal(handle)
      expect(res.body.is_managed_wallet).to.equal(true)
      expect(res.body.wallet_address).to.match(/^0x[0-9a-f]{40}$/)
      const me = await request(app)
        .get('/v1/agents/me')
        .set('Authorization', bearer(res.body.api_key))
        .expect(200)
      expect(me.body).to.not.have.property('api_key')
      expect(me.body.tags).to.deep.equal(['developer', 'rust'])
      expect(me.body.capabilities).to.deep.equal({ skills: ['code_review'] })
    })

    it('keeps the managed key encrypted under the agent id, and it belongs to the wallet address', async () => {
      const { agent } = await registerAgent(app)
      const { rows } = await database.pool.query('SELECT * FROM managed_wallets WHERE agent_id = $1', [
        agent.id,
      ])
      expect(rows[0].encrypted_private_key).to.match(/^v1\./)
      const key = decryptPrivateKey(TEST_WALLET_ENCRYPTION_KEY, agent.id, rows[0].encrypted_private_key)
      expect(privateKeyToAccount(key).address.toLowerCase()).to.equal(agent.wallet_address)
      expect(() =>
        decryptPrivateKey(TEST_WALLET_ENCRYPTION_KEY, randomUUID(), rows[0].encrypted_private_key),
      ).to.throw()
    })

    it('generates a valid handle when none is given', async () => {
      const res = await request(app).post('/v1/agents/register').send({}).expect(201)
      expect(res.body.handle).to.match(/^agent_[0-9a-f]{10}$/)
    })

    it('accepts a request with no body at all', async () => {
      await request(app).post('/v1/agents/register').expect(201)
    })

    it('registers with a wallet proven by a signature over a fresh challenge', async () => {
      const account = privateKeyToAccount(generatePrivateKey())
      const challenge = await challengeFor(account.address)
      const res = await request(app)
        .post('/v1/agents/register')
        .send({
          wallet_address: account.address,
          challenge,
          signature: await account.signMessage({ message: challenge }),
        })
        .expect(201)
      expect(res.body.is_managed_wallet).to.equal(false)
      expect(res.body.wallet_address).to.equal(account.address.toLowerCase())
      const { rows } = await database.pool.query('SELECT 1 FROM managed_wallets WHERE agent_id = $1', [
        res.body.agent_id,
      ])
      expect(rows).to.have.length(0)
    })

    it('answers 401 invalid_signature when another key signed the challenge', async () => {
      const account = privateKeyToAccount(generatePrivateKey())
      const impostor = privateKeyToAccount(generatePrivateKey())
      const challenge = await challengeFor(account.address)
      const res = await request(app)
        .post('/v1/agents/register')
        .send({
          wallet_address: account.address,
          challenge,
          signature: await impostor.signMessage({ message: challenge }),
        })
        .expect(401)
      expect(res.body.error.code).to.equal('invalid_signature')
    })

    it('answers 401 invalid_challenge for a challenge used twice', async () => {
      const account = privateKeyToAccount(generatePrivateKey())
      const challenge = await challengeFor(account.address)
      const signature = await account.signMessage({ message: challenge })
      await request(app)
        .post('/v1/agents/register')
        .send({ wallet_address: account.address, challenge, signature })
        .expect(201)
      const res = await request(app)
        .post('/v1/agents/register')
        .send({ wallet_address: account.address, challenge, signature, handle: uniqueHandle() })
        .expect(401)
      expect(res.body.error.code).to.equal('invalid_challenge')
    })

    it('answers 401 invalid_challenge for text the server never issued, even if correctly signed', async () => {
      const account = privateKeyToAccount(generatePrivateKey())
      const challenge = `Clearhouse wants you to prove you hold this wallet to register an agent.\nwallet:${account.address.toLowerCase()}`
      const res = await request(app)
        .post('/v1/agents/register')
        .send({
          wallet_address: account.address,
          challenge,
          signature: await account.signMessage({ message: challenge }),
        })
        .expect(401)
      expect(res.body.error.code).to.equal('invalid_challenge')
    })

    it('answers 401 invalid_challenge for an expired challenge', async () => {
      const account = privateKeyToAccount(generatePrivateKey())
      const challenge = await challengeFor(account.address)
      await database.pool.query(
        `UPDATE wallet_challenges SET expires_at = now() - interval '1 second' WHERE message = $1`,
        [challenge],
      )
      const res = await request(app)
        .post('/v1/agents/register')
        .send({
          wallet_address: account.address,
          challenge,
          signature: await account.signMessage({ message: challenge }),
        })
        .expect(401)
      expect(res.body.error.code).to.equal('invalid_challenge')
    })

    it('answers 409 wallet_taken for a wallet that already has an agent', async () => {
      const account = privateKeyToAccount(generatePrivateKey())
      await registerAgent(app, { account })
      const challenge = await challengeFor(account.address)
      const res = await request(app)
        .post('/v1/agents/register')
        .send({
          wallet_address: account.address,
          challenge,
          signature: await account.signMessage({ message: challenge }),
        })
        .expect(409)
      expect(res.body.error.code).to.equal('wallet_taken')
    })

    it('answers 409 handle_taken for a handle in use, and leaves no half-made agent', async () => {
      const handle = uniqueHandle('dup')
      await registerAgent(app, { handle })
      const { rows: before } = await database.pool.query('SELECT count(*)::int AS n FROM managed_wallets')
      const res = await request(app).post('/v1/agents/register').send({ handle }).expect(409)
      expect(res.body.error.code).to.equal('handle_taken')
      expect(res.body.error.details.field).to.equal('handle')
      const { rows: after } = await database.pool.query('SELECT count(*)::int AS n FROM managed_wallets')
      expect(after[0].n).to.equal(before[0].n)
    })

    for (const handle of ['ab', 'Alice', '1alice', '_alice', 'alice-bob', 'a'.repeat(21), 'alice bob', 42]) {
      it(`answers 400 naming handle for ${JSON.stringify(handle)}`, async () => {
        const res = await request(app).post('/v1/agents/register').send({ handle }).expect(400)
        expect(res.body.error.code).to.equal('validation_failed')
        expect(res.body.error.details.fields[0].field).to.equal('handle')
      })
    }

    it('accepts handles at both length limits', async () => {
      await request(app)
        .post('/v1/agents/register')
        .send({ handle: `a${Date.now().toString(36).slice(-2)}` })
        .expect(201)
      await request(app)
        .post('/v1/agents/register')
        .send({ handle: `z${Date.now().toString(36)}`.padEnd(20, '9') })
        .expect(201)
    })

    for (const [name, tags, field] of [
      ['eleven tags', Array.from({ length: 11 }, (_, i) => `t${i}`), 'tags'],
      ['an uppercase tag', ['Rust'], 'tags.0'],
      ['a tag with a leading hyphen', ['ok', '-rust'], 'tags.1'],
      ['a 31-character tag', ['x'.repeat(31)], 'tags.0'],
      ['tags that are not an array', 'rust', 'tags'],
    ] as const) {
      it(`answers 400 naming ${field} for ${name}`, async () => {
        const res = await request(app).post('/v1/agents/register').send({ tags }).expect(400)
        expect(res.body.error.details.fields[0].field).to.equal(field)
      })
    }

    it('stores repeated tags once', async () => {
      const { agent } = await registerAgent(app, { tags: ['rust', 'rust', 'go'] })
      expect(agent.tags).to.deep.equal(['rust', 'go'])
    })

    it('answers 400 naming capabilities when it is neither an object nor a list of names', async () => {
      for (const capabilities of ['x', 7, [1], [{ x: 1 }]]) {
        const res = await request(app).post('/v1/agents/register').send({ capabilities }).expect(400)
        expect(res.body.error.details.fields[0].field).to.equal('capabilities')
      }
    })

    it('answers 400 naming challenge when wallet_address comes without proof', async () => {
      const account = privateKeyToAccount(generatePrivateKey())
      const res = await request(app)
        .post('/v1/agents/register')
        .send({ wallet_address: account.address })
        .expect(400)
      expect(res.body.error.details.fields.map((f: { field: string }) => f.field)).to.deep.equal([
        'challenge',
        'signature',
      ])
    })

    it('answers 400 naming signature when it comes without wallet_address', async () => {
      const res = await request(app)
        .post('/v1/agents/register')
        .send({ signature: `0x${'1'.repeat(130)}` })
        .expect(400)
      expect(res.body.error.details.fields[0].field).to.equal('signature')
    })
  })

  describe('concurrent registration', () => {
    it('gives a contested handle to exactly one of ten simultaneous registrations, 409 to the rest', async () => {
      const handle = uniqueHandle('race')
      const statuses = await Promise.all(
        Array.from({ length: 10 }, () =>
          request(app)
            .post('/v1/agents/register')
            .send({ handle })
            .then((res) => res.status),
        ),
      )
      expect(statuses.filter((status) => status === 201)).to.have.length(1)
      expect(statuses.filter((status) => status === 409)).to.have.length(9)
      const { rows } = await database.pool.query(
        'SELECT count(*)::int AS n FROM managed_wallets AS mw JOIN agents AS a ON a.id = mw.agent_id WHERE a.handle = $1',
        [handle],
      )
      expect(rows[0].n).to.equal(1)
    })

    it('registers a wallet once when two challenges for it are redeemed at the same time', async () => {
      const account = privateKeyToAccount(generatePrivateKey())
      const bodies = await Promise.all(
        [1, 2].map(async () => {
          const challenge = await challengeFor(account.address)
          return {
            wallet_address: account.address,
            challenge,
            signature: await account.signMessage({ message: challenge }),
          }
        }),
      )
      const responses = await Promise.all(
        bodies.map((body) => request(app).post('/v1/agents/register').send(body)),
      )
      expect(responses.map((res) => res.status).sort()).to.deep.equal([201, 409])
      expect(responses.find((res) => res.status === 409)!.body.error.code).to.equal('wallet_taken')
    })

    it('lets only one of five concurrent rotations with the same key win; the rest get 401', async () => {
      const { apiKey } = await registerAgent(app)
      const rotated = await Promise.all(
        Array.from({ length: 5 }, () =>
          request(app).post('/v1/agents/rotate-key').set('Authorization', bearer(apiKey)),
        ),
      )
      expect(rotated.map((res) => res.status).sort()).to.deep.equal([200, 401, 401, 401, 401])
      const winner = rotated.find((res) => res.status === 200)!.body.api_key as string
      await request(app).get('/v1/agents/me').set('Authorization', bearer(winner)).expect(200)
      await request(app).get('/v1/agents/me').set('Authorization', bearer(apiKey)).expect(401)
    })
  })

  describe('GET /v1/agents/me', () => {
    it('shows the caller what only it sees: wallet custody, claims and key rotation', async () => {
      const { apiKey } = await registerAgent(app, { verifiableClaim: { github: 'alice' } })
      const res = await request(app).get('/v1/agents/me').set('Authorization', bearer(apiKey)).expect(200)
      expect(res.body).to.include({
        is_managed_wallet: true,
        managed_key_exported: false,
        api_key_rotated_at: null,
        key_export: null,
      })
      expect(res.body.verifiable_claim).to.deep.equal({ github: 'alice' })
      expect(res.body).to.include({ reputation_score: 0, reputation_stars: 0, total_earned: '0' })
    })

    it('answers 401 without credentials', async () => {
      await request(app).get('/v1/agents/me').expect(401)
    })
  })

  describe('POST /v1/agents/rotate-key', () => {
    it('returns a new key and kills the old one at once', async () => {
      const { apiKey, agent } = await registerAgent(app)
      const res = await request(app)
        .post('/v1/agents/rotate-key')
        .set('Authorization', bearer(apiKey))
        .expect(200)
      expect(res.headers['cache-control']).to.equal('no-store')
      expect(res.body.agent_id).to.equal(agent.id)
      expect(res.body.api_key)
        .to.match(/^sk_live_/)
        .and.not.equal(apiKey)
      const old = await request(app).get('/v1/agents/me').set('Authorization', bearer(apiKey)).expect(401)
      expect(old.body.error.details.reason).to.equal('invalid_api_key')
      const me = await request(app)
        .get('/v1/agents/me')
        .set('Authorization', bearer(res.body.api_key))
        .expect(200)
      expect(me.body.api_key_rotated_at).to.be.a('string')
    })

    it('cannot be used with a key that was already rotated away', async () => {
      const { apiKey } = await registerAgent(app)
      await request(app).post('/v1/agents/rotate-key').set('Authorization', bearer(apiKey)).expect(200)
      await request(app).post('/v1/agents/rotate-key').set('Authorization', bearer(apiKey)).expect(401)
    })

    it('answers 401 without credentials', async () => {
      const res = await request(app).post('/v1/agents/rotate-key').expect(401)
      expect(res.body.error.code).to.equal('unauthorized')
    })
  })
})

describe('rate limiting of registration and authentication', () => {
  let database: TestDatabase
  before(async () => {
    database = await createTestDatabase()
  })
  after(async () => {
    await database.drop()
  })

  it('answers 429 rate_limited in the error shape once a client exceeds the per-minute limit', async () => {
    const { app } = await createTestApp(database, null, { authRateLimitPerMinute: 3 })
    for (let i = 0; i < 3; i += 1) await request(app).post('/v1/agents/register').send({}).expect(201)
    const res = await request(app).post('/v1/agents/register').send({}).expect(429)
    expect(res.body.error.code).to.equal('rate_limited')
    expect(res.body.error.details).to.deep.equal({ limit: 3, window_seconds: 60 })
    expect(res.headers).to.have.property('ratelimit')
  })

  it('limits session requests too, but not ordinary authenticated reads', async () => {
    const { app } = await createTestApp(database, null, { authRateLimitPerMinute: 2 })
    const account = privateKeyToAccount(generatePrivateKey())
    const { apiKey } = await registerAgent(app, { account })
    // The helper used both register-route slots (challenge, register); sessions have their own.
    await request(app).post('/v1/auth/session').send({ wallet_address: account.address }).expect(201)
    await request(app).post('/v1/auth/session').send({ wallet_address: account.address }).expect(201)
    await request(app).post('/v1/auth/session').send({ wallet_address: account.address }).expect(429)
    for (let i = 0; i < 5; i += 1)
      await request(app).get('/v1/agents/me').set('Authorization', bearer(apiKey)).expect(200)
  })
})
