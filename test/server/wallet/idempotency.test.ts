import { expect } from 'chai'
import express, { type Express } from 'express'
import request from 'supertest'
import { requireAgent } from '../../../server/http/auth'
import { errorHandler } from '../../../server/http/errors-middleware'
import { idempotencyRequestHash, idempotent } from '../../../server/http/idempotency'
import { createTestApp } from '../helpers/app'
import { bearer, registerAgent, type RegisteredTestAgent } from '../helpers/agents'
import { createTestDatabase, type TestDatabase } from '../helpers/database'

describe('Idempotency-Key on money-moving POSTs', () => {
  let database: TestDatabase
  let app: Express

  before(async () => {
    database = await createTestDatabase()
    ;({ app } = await createTestApp(database))
  })
  after(async () => {
    await database.drop()
  })

  async function available(agent: RegisteredTestAgent): Promise<string> {
    const res = await request(app)
      .get('/v1/wallet/balance')
      .set('Authorization', bearer(agent.apiKey))
      .expect(200)
    return res.body.balances[0].available
  }

  function faucet(agent: RegisteredTestAgent, key: string | null, body: object) {
    const pending = request(app).post('/v1/dev/faucet').set('Authorization', bearer(agent.apiKey))
    if (key !== null) pending.set('Idempotency-Key', key)
    return pending.send(body)
  }

  it('replays the stored status and body for the same key and body, moving money once', async () => {
    const agent = await registerAgent(app)
    const first = await faucet(agent, 'key-1', { amount: '5' }).expect(200)
    const second = await faucet(agent, 'key-1', { amount: '5' }).expect(200)
    expect(second.headers['idempotent-replayed']).to.equal('true')
    expect(first.headers).to.not.have.property('idempotent-replayed')
    expect(second.body).to.deep.equal(first.body)
    expect(await available(agent)).to.equal('5')
  })

  it('treats a body with the same members in another order as the same request', async () => {
    const agent = await registerAgent(app)
    await faucet(agent, 'key-order', { amount: '1', token: 'USDC' }).expect(200)
    const replay = await faucet(agent, 'key-order', { token: 'USDC', amount: '1' }).expect(200)
    expect(replay.headers['idempotent-replayed']).to.equal('true')
  })

  it('answers 409 idempotency_key_reused for the same key with a different body', async () => {
    const agent = await registerAgent(app)
    await faucet(agent, 'key-2', { amount: '5' }).expect(200)
    const res = await faucet(agent, 'key-2', { amount: '6' }).expect(409)
    expect(res.body.error.code).to.equal('idempotency_key_reused')
    expect(await available(agent)).to.equal('5')
  })

  it('keeps keys per agent: two agents may use the same key', async () => {
    const a = await registerAgent(app)
    const b = await registerAgent(app)
    await faucet(a, 'shared', { amount: '1' }).expect(200)
    const res = await faucet(b, 'shared', { amount: '1' }).expect(200)
    expect(res.headers).to.not.have.property('idempotent-replayed')
    expect(await available(b)).to.equal('1')
  })

  it('executes ten concurrent identical requests once; the rest replay or say in progress', async () => {
    const agent = await registerAgent(app)
    const responses = await Promise.all(
      Array.from({ length: 10 }, () => faucet(agent, 'race', { amount: '7' })),
    )
    const executed = responses.filter((res) => res.status === 200 && !res.headers['idempotent-replayed'])
    expect(executed).to.have.length(1)
    for (const res of responses) {
      if (res.status === 409) expect(res.body.error.code).to.equal('idempotency_in_progress')
      else expect(res.status).to.equal(200)
    }
    expect(await available(agent)).to.equal('7')
    const later = await faucet(agent, 'race', { amount: '7' }).expect(200)
    expect(later.body).to.deep.equal(executed[0]!.body)
  })

  it('does not store a failed request, so the key can be retried with a corrected body', async () => {
    const agent = await registerAgent(app)
    await faucet(agent, 'key-3', { amount: 'lots' }).expect(400)
    const res = await faucet(agent, 'key-3', { amount: '2' }).expect(200)
    expect(res.headers).to.not.have.property('idempotent-replayed')
    expect(await available(agent)).to.equal('2')
  })

  it('stores an unexpected 500 and replays it, so a request that failed after committing never runs twice', async () => {
    const { context } = await createTestApp(database)
    const agent = await registerAgent(app)
    let executions = 0
    const failing = express()
    failing.use(express.json())
    failing.post('/v1/fails-after-commit', requireAgent(context), idempotent(context), () => {
      executions += 1
      throw new Error('boom after the money moved')
    })
    failing.use(errorHandler(context.logger))
    const send = () =>
      request(failing)
        .post('/v1/fails-after-commit')
        .set('Authorization', bearer(agent.apiKey))
        .set('Idempotency-Key', 'boom')
        .send({ amount: '1' })
    expect((await send()).status).to.equal(500)
    const replay = await send()
    expect(replay.status).to.equal(500)
    expect(replay.headers['idempotent-replayed']).to.equal('true')
    expect(executions).to.equal(1)
  })

  it('forgets a key after 24 hours', async () => {
    const agent = await registerAgent(app)
    await faucet(agent, 'key-4', { amount: '1' }).expect(200)
    const { rows } = await database.pool.query(
      `SELECT expires_at - created_at AS ttl FROM idempotency_keys WHERE agent_id = $1 AND key = 'key-4'`,
      [agent.agent.id],
    )
    expect(rows[0].ttl.hours ?? rows[0].ttl.days * 24).to.equal(24)
    await database.pool.query(
      `UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE agent_id = $1`,
      [agent.agent.id],
    )
    const res = await faucet(agent, 'key-4', { amount: '1' }).expect(200)
    expect(res.headers).to.not.have.property('idempotent-replayed')
    expect(await available(agent)).to.equal('2')
  })

  it('answers 409 idempotency_in_progress while the first request has not finished', async () => {
    const agent = await registerAgent(app)
    // A request that crashed mid-way leaves its claim in progress; a retry must not run again.
    await database.pool.query(
      `INSERT INTO idempotency_keys (agent_id, key, request_hash, state, expires_at)
       VALUES ($1, 'stuck', $2, 'in_progress', now() + interval '1 day')`,
      [agent.agent.id, idempotencyRequestHash('POST', '/v1/dev/faucet', { amount: '1' })],
    )
    const res = await faucet(agent, 'stuck', { amount: '1' }).expect(409)
    expect(res.body.error.code).to.equal('idempotency_in_progress')
    expect(await available(agent)).to.equal('0')
  })

  it('runs normally without the header, every time', async () => {
    const agent = await registerAgent(app)
    await faucet(agent, null, { amount: '1' }).expect(200)
    await faucet(agent, null, { amount: '1' }).expect(200)
    expect(await available(agent)).to.equal('2')
  })

  it('answers 400 naming Idempotency-Key when it is too long', async () => {
    const agent = await registerAgent(app)
    const res = await faucet(agent, 'k'.repeat(256), { amount: '1' }).expect(400)
    expect(res.body.error.details.fields[0].field).to.equal('Idempotency-Key')
  })

  it('answers 400, not 500, for a body with an unpaired surrogate that cannot be canonicalized', async () => {
    const agent = await registerAgent(app)
    const res = await request(app)
      .post('/v1/dev/faucet')
      .set('Authorization', bearer(agent.apiKey))
      .set('Idempotency-Key', 'lone-surrogate')
      .set('Content-Type', 'application/json')
      .send('{"amount":"1","note":"\\ud800"}')
    expect(res.status, JSON.stringify(res.body)).to.equal(400)
    expect(res.body.error.message).to.contain('note')
  })

  it('authenticates before looking at the key: 401 without credentials', async () => {
    await request(app).post('/v1/dev/faucet').set('Idempotency-Key', 'anon').send({ amount: '1' }).expect(401)
  })

  describe('leases (issue 11)', () => {
    async function insertClaim(
      agent: RegisteredTestAgent,
      key: string,
      body: object,
      lease: { lapsed: boolean; workCommitted: boolean },
    ): Promise<void> {
      await database.pool.query(
        `INSERT INTO idempotency_keys
           (agent_id, key, request_hash, state, expires_at, lease_token, lease_expires_at, work_committed)
         VALUES ($1, $2, $3, 'in_progress', now() + interval '1 day', gen_random_uuid(),
                 now() + CASE WHEN $4 THEN interval '-1 second' ELSE interval '30 seconds' END, $5)`,
        [
          agent.agent.id,
          key,
          idempotencyRequestHash('POST', '/v1/dev/faucet', body),
          lease.lapsed,
          lease.workCommitted,
        ],
      )
    }

    it('records on the claim that the request committed work, inside its own transaction', async () => {
      const agent = await registerAgent(app)
      await faucet(agent, 'fenced', { amount: '1' }).expect(200)
      const { rows } = await database.pool.query(
        `SELECT state, work_committed, lease_token IS NOT NULL AS has_token FROM idempotency_keys
         WHERE agent_id = $1 AND key = 'fenced'`,
        [agent.agent.id],
      )
      expect(rows[0]).to.deep.equal({ state: 'completed', work_committed: true, has_token: true })
    })

    it('answers 409 idempotency_in_progress with Retry-After while the lease of the claim is live', async () => {
      const agent = await registerAgent(app)
      await insertClaim(agent, 'live', { amount: '1' }, { lapsed: false, workCommitted: false })
      const res = await faucet(agent, 'live', { amount: '1' }).expect(409)
      expect(res.body.error.code).to.equal('idempotency_in_progress')
      expect(Number(res.headers['retry-after'])).to.be.within(1, 30)
      expect(await available(agent)).to.equal('0')
    })

    it('lets a retry take over a lapsed claim that committed nothing, and runs the request once', async () => {
      const agent = await registerAgent(app)
      await insertClaim(agent, 'lapsed', { amount: '3' }, { lapsed: true, workCommitted: false })
      const res = await faucet(agent, 'lapsed', { amount: '3' }).expect(200)
      expect(res.headers).to.not.have.property('idempotent-replayed')
      const replay = await faucet(agent, 'lapsed', { amount: '3' }).expect(200)
      expect(replay.headers['idempotent-replayed']).to.equal('true')
      expect(await available(agent)).to.equal('3')
    })

    it('answers 409 idempotency_outcome_unrecorded for a lapsed claim whose work committed without a response', async () => {
      const agent = await registerAgent(app)
      await insertClaim(agent, 'unrecorded', { amount: '1' }, { lapsed: true, workCommitted: true })
      const res = await faucet(agent, 'unrecorded', { amount: '1' }).expect(409)
      expect(res.body.error.code).to.equal('idempotency_outcome_unrecorded')
      expect(await available(agent)).to.equal('0')
    })

    it('never takes over a lapsed claim for a different request: 409 idempotency_key_reused', async () => {
      const agent = await registerAgent(app)
      await insertClaim(agent, 'lapsed-other', { amount: '1' }, { lapsed: true, workCommitted: false })
      const res = await faucet(agent, 'lapsed-other', { amount: '2' }).expect(409)
      expect(res.body.error.code).to.equal('idempotency_key_reused')
    })
  })
})
