import { expect } from 'chai'
import type { Express } from 'express'
import request from 'supertest'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { balanceResponse, faucetResponse, transactionsPage } from '../../../protocol/wallet'
import { withTransaction } from '../../../server/db/pool'
import { lockEscrow } from '../../../server/ledger/ledger-service'
import { TEST_USDC, createTestApp } from '../helpers/app'
import { bearer, fundAgent, registerAgent, type RegisteredTestAgent } from '../helpers/agents'
import { createTestDatabase, type TestDatabase } from '../helpers/database'

const EURC = { symbol: 'EURC', address: '0x00000000000000000000000000000000000000EE', decimals: 6 } as const

describe('wallet routes', () => {
  let database: TestDatabase
  let app: Express
  let owner: RegisteredTestAgent

  before(async () => {
    database = await createTestDatabase()
    // No export delay here: the delay itself is tested in key-export.test.ts.
    ;({ app } = await createTestApp(database, null, { tokens: [TEST_USDC, EURC], keyExportDelaySeconds: 0 }))
    owner = await registerAgent(app)
  })
  after(async () => {
    await database.drop()
  })

  describe('GET /v1/wallet/balance', () => {
    it('shows available, escrowed, unsettled and pending per allowlisted token as decimal strings', async () => {
      const agent = await registerAgent(app)
      await fundAgent(app, agent.apiKey, '100.25')
      await withTransaction(database.pool, (db) =>
        lockEscrow(db, {
          payerId: agent.agent.id,
          token: TEST_USDC.address,
          amount: 40_000_000n,
          reference: `t:${agent.agent.id}`,
        }),
      )
      const res = await request(app)
        .get('/v1/wallet/balance')
        .set('Authorization', bearer(agent.apiKey))
        .expect(200)
      const body = balanceResponse.parse(res.body)
      expect(body.agent_id).to.equal(agent.agent.id)
      expect(body.wallet_address).to.equal(agent.agent.wallet_address)
      expect(body.balances).to.deep.equal([
        {
          token: 'USDC',
          token_address: TEST_USDC.address,
          decimals: 6,
          available: '60.25',
          escrowed: '40',
          unsettled: '0',
          pending: '0',
          withdrawing: '0',
          debt: '0',
          on_chain: null,
        },
        {
          token: 'EURC',
          token_address: EURC.address.toLowerCase(),
          decimals: 6,
          available: '0',
          escrowed: '0',
          unsettled: '0',
          pending: '0',
          withdrawing: '0',
          debt: '0',
          on_chain: null,
        },
      ])
    })

    it('answers 401 without credentials', async () => {
      const res = await request(app).get('/v1/wallet/balance').expect(401)
      expect(res.body.error.code).to.equal('unauthorized')
    })
  })

  describe('POST /v1/dev/faucet', () => {
    it('credits the caller through the ledger and reports the new balance', async () => {
      const agent = await registerAgent(app)
      const res = await request(app)
        .post('/v1/dev/faucet')
        .set('Authorization', bearer(agent.apiKey))
        .send({ amount: '100.00' })
        .expect(200)
      expect(faucetResponse.parse(res.body)).to.include({
        token: 'USDC',
        amount: '100',
        available: '100',
        escrowed: '0',
      })
      const { rows } = await database.pool.query(
        `SELECT kind, amount::text FROM ledger_transactions WHERE id = $1`,
        [res.body.transaction_id],
      )
      expect(rows[0]).to.deep.equal({ kind: 'deposit', amount: '100000000' })
    })

    it('credits another allowlisted token named by symbol or address', async () => {
      const agent = await registerAgent(app)
      await request(app)
        .post('/v1/dev/faucet')
        .set('Authorization', bearer(agent.apiKey))
        .send({ amount: '1', token: 'eurc' })
        .expect(200)
      const res = await request(app)
        .post('/v1/dev/faucet')
        .set('Authorization', bearer(agent.apiKey))
        .send({ amount: '2', token: EURC.address })
        .expect(200)
      expect(res.body).to.include({ token: 'EURC', available: '3' })
    })

    it('does not exist outside the dev chain: 404 before authentication', async () => {
      const { app: production } = await createTestApp(database, null, { isDevChain: false })
      const res = await request(production).post('/v1/dev/faucet').send({ amount: '1' }).expect(404)
      expect(res.body.error.code).to.equal('not_found')
    })

    it('answers 401 without credentials', async () => {
      await request(app).post('/v1/dev/faucet').send({ amount: '1' }).expect(401)
    })

    for (const [name, body, field] of [
      ['a missing amount', {}, 'amount'],
      ['a JSON number finer than the token', { amount: 0.0000001 }, 'amount'],
      ['a negative JSON number', { amount: -5 }, 'amount'],
      ['a negative amount', { amount: '-5' }, 'amount'],
      ['an exponent', { amount: '1e6' }, 'amount'],
      ['more decimals than the token has', { amount: '0.0000001' }, 'amount'],
      ['zero', { amount: '0' }, 'amount'],
      ['more than the faucet gives', { amount: '1000000.000001' }, 'amount'],
    ] as const) {
      it(`answers 400 naming ${field} for ${name}`, async () => {
        const res = await request(app)
          .post('/v1/dev/faucet')
          .set('Authorization', bearer(owner.apiKey))
          .send(body)
          .expect(400)
        expect(res.body.error.details.fields[0].field).to.equal(field)
      })
    }

    it('answers 400 unknown_token for a token outside the allowlist', async () => {
      const res = await request(app)
        .post('/v1/dev/faucet')
        .set('Authorization', bearer(owner.apiKey))
        .send({ amount: '1', token: 'DOGE' })
        .expect(400)
      expect(res.body.error.code).to.equal('unknown_token')
      expect(res.body.error.details).to.deep.include({ field: 'token', allowed: ['USDC', 'EURC'] })
    })
  })

  describe('GET /v1/wallet/transactions', () => {
    let agent: RegisteredTestAgent
    before(async () => {
      agent = await registerAgent(app)
      for (const amount of ['1', '2', '3', '4', '5']) await fundAgent(app, agent.apiKey, amount)
      await fundAgent(app, agent.apiKey, '9', 'EURC')
      await withTransaction(database.pool, (db) =>
        lockEscrow(db, {
          payerId: agent.agent.id,
          token: TEST_USDC.address,
          amount: 1_500_000n,
          reference: `t2:${agent.agent.id}`,
        }),
      )
    })

    it("lists the caller's entries newest first with signed amounts and running balances", async () => {
      const res = await request(app)
        .get('/v1/wallet/transactions')
        .set('Authorization', bearer(agent.apiKey))
        .expect(200)
      const page = transactionsPage.parse(res.body)
      expect(page.has_more).to.equal(false)
      expect(
        page.data.map((entry) => [entry.kind, entry.account, entry.token, entry.amount, entry.balance_after]),
      ).to.deep.equal([
        ['escrow_lock', 'escrow', 'USDC', '1.5', '1.5'],
        ['escrow_lock', 'available', 'USDC', '-1.5', '13.5'],
        ['deposit', 'available', 'EURC', '9', '9'],
        ['deposit', 'available', 'USDC', '5', '15'],
        ['deposit', 'available', 'USDC', '4', '10'],
        ['deposit', 'available', 'USDC', '3', '6'],
        ['deposit', 'available', 'USDC', '2', '3'],
        ['deposit', 'available', 'USDC', '1', '1'],
      ])
      expect(page.data[0]!.transaction_id).to.equal(page.data[1]!.transaction_id)
    })

    it('pages with a cursor without repeating or skipping an entry', async () => {
      const seen: string[] = []
      let cursor = ''
      for (;;) {
        const res = await request(app)
          .get(`/v1/wallet/transactions?limit=3&cursor=${cursor}`)
          .set('Authorization', bearer(agent.apiKey))
          .expect(200)
        seen.push(...res.body.data.map((entry: { entry_id: string }) => entry.entry_id))
        if (!res.body.has_more) break
        cursor = res.body.next_cursor
      }
      expect(seen).to.have.length(8)
      expect(new Set(seen).size).to.equal(8)
    })

    it('filters by token', async () => {
      const res = await request(app)
        .get('/v1/wallet/transactions?token=EURC')
        .set('Authorization', bearer(agent.apiKey))
        .expect(200)
      expect(res.body.data).to.have.length(1)
      expect(res.body.data[0].token).to.equal('EURC')
    })

    it("never shows another agent's entries", async () => {
      const res = await request(app)
        .get('/v1/wallet/transactions')
        .set('Authorization', bearer(owner.apiKey))
        .expect(200)
      expect(res.body.data).to.deep.equal([])
    })

    it('answers 401 without credentials', async () => {
      await request(app).get('/v1/wallet/transactions').expect(401)
    })

    for (const [query, field] of [
      ['limit=0', 'limit'],
      ['limit=abc', 'limit'],
      ['cursor=abc', 'cursor'],
    ] as const) {
      it(`answers 400 naming ${field} for ?${query}`, async () => {
        const res = await request(app)
          .get(`/v1/wallet/transactions?${query}`)
          .set('Authorization', bearer(agent.apiKey))
          .expect(400)
        expect(res.body.error.details.fields[0].field).to.equal(field)
      })
    }

    it('answers 400 unknown_token for a token outside the allowlist', async () => {
      const res = await request(app)
        .get('/v1/wallet/transactions?token=DOGE')
        .set('Authorization', bearer(agent.apiKey))
        .expect(400)
      expect(res.body.error.code).to.equal('unknown_token')
    })
  })

  describe('POST /v1/wallet/export-key', () => {
    it("returns the managed wallet's private key once, then 409 key_already_exported", async () => {
      const agent = await registerAgent(app)
      const first = await request(app)
        .post('/v1/wallet/export-key')
        .set('Authorization', bearer(agent.apiKey))
        .expect(200)
      expect(first.headers['cache-control']).to.equal('no-store')
      expect(first.body.wallet_address).to.equal(agent.agent.wallet_address)
      expect(privateKeyToAccount(first.body.private_key).address.toLowerCase()).to.equal(
        agent.agent.wallet_address,
      )
      const second = await request(app)
        .post('/v1/wallet/export-key')
        .set('Authorization', bearer(agent.apiKey))
        .expect(409)
      expect(second.body.error.code).to.equal('key_already_exported')
      expect(JSON.stringify(second.body)).to.not.include(first.body.private_key.slice(2))
      const me = await request(app)
        .get('/v1/agents/me')
        .set('Authorization', bearer(agent.apiKey))
        .expect(200)
      expect(me.body.managed_key_exported).to.equal(true)
    })

    it('hands the key out exactly once under concurrent requests', async () => {
      const agent = await registerAgent(app)
      const statuses = await Promise.all(
        Array.from({ length: 5 }, () =>
          request(app)
            .post('/v1/wallet/export-key')
            .set('Authorization', bearer(agent.apiKey))
            .then((res) => res.status),
        ),
      )
      expect(statuses.sort()).to.deep.equal([200, 409, 409, 409, 409])
    })

    it('answers 409 wallet_not_managed for an agent that holds its own key', async () => {
      const agent = await registerAgent(app, { account: privateKeyToAccount(generatePrivateKey()) })
      const res = await request(app)
        .post('/v1/wallet/export-key')
        .set('Authorization', bearer(agent.apiKey))
        .expect(409)
      expect(res.body.error.code).to.equal('wallet_not_managed')
    })

    it('answers 401 without credentials', async () => {
      await request(app).post('/v1/wallet/export-key').expect(401)
    })

    it('ignores Idempotency-Key so no copy of the key is ever stored for replay', async () => {
      const agent = await registerAgent(app)
      await request(app)
        .post('/v1/wallet/export-key')
        .set('Authorization', bearer(agent.apiKey))
        .set('Idempotency-Key', 'export-1')
        .expect(200)
      const { rows } = await database.pool.query('SELECT 1 FROM idempotency_keys WHERE agent_id = $1', [
        agent.agent.id,
      ])
      expect(rows).to.have.length(0)
    })
  })
})
