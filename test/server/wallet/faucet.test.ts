import { expect } from 'chai'
import request from 'supertest'
import { bearer, registerAgent } from '../helpers/agents'
import { createChainTestApp, type ChainTestApp } from '../helpers/chain-app'
import { createTestDatabase, type TestDatabase } from '../helpers/database'

describe('POST /v1/dev/faucet on the embedded chain', () => {
  let database: TestDatabase
  let chain: ChainTestApp

  afterEach(async () => {
    await chain?.indexer.stop()
    await chain?.stop()
    await database.drop()
  })

  async function start(overrides: Parameters<typeof createChainTestApp>[1] = {}): Promise<ChainTestApp> {
    database = await createTestDatabase()
    chain = await createChainTestApp(database, overrides)
    return chain
  }

  it('mints and deposits into the vault on-chain, so the indexer credits it and the vault reconciles', async function () {
    this.timeout(120_000)
    const { app } = await start()
    chain.indexer.start(50)
    const agent = await registerAgent(app)
    const res = await request(app)
      .post('/v1/dev/faucet')
      .set('Authorization', bearer(agent.apiKey))
      .send({ amount: '12.5' })
      .expect(200)
    expect(res.body).to.include({ status: 'success', amount: '12.5', available: '12.5' })
    expect(res.body.tx_hash).to.match(/^0x[0-9a-f]{64}$/)
    expect(await chain.vaultBalanceOf(agent.agent.wallet_address)).to.equal(12_500_000n)

    const deposit = await request(app)
      .get(`/v1/wallet/deposits/${res.body.deposit_id}`)
      .set('Authorization', bearer(agent.apiKey))
      .expect(200)
    expect(deposit.body).to.include({ status: 'success', amount: '12.5', tx_hash: res.body.tx_hash })
    expect(await chain.reconciliationDifference()).to.equal(0n)
  })

  it('serialises concurrent calls on the coordinator key: every one lands and is credited once', async function () {
    this.timeout(120_000)
    const { app } = await start()
    chain.indexer.start(50)
    const agent = await registerAgent(app)
    const answers = await Promise.all(
      Array.from({ length: 5 }, () =>
        request(app).post('/v1/dev/faucet').set('Authorization', bearer(agent.apiKey)).send({ amount: '2' }),
      ),
    )
    expect(answers.map((res) => res.status)).to.deep.equal([200, 200, 200, 200, 200])
    expect(new Set(answers.map((res) => res.body.tx_hash)).size).to.equal(5)
    await chain.index()
    const balance = await request(app)
      .get('/v1/wallet/balance')
      .set('Authorization', bearer(agent.apiKey))
      .expect(200)
    expect(balance.body.balances[0]).to.include({ available: '10', on_chain: '10' })
    expect(await chain.reconciliationDifference()).to.equal(0n)
  })

  it('sends through the settler\u2019s sender: faucet calls and settlement batches at once never race for a nonce', async function () {
    this.timeout(120_000)
    const { app } = await start()
    chain.indexer.start(50)
    const payer = await registerAgent(app)
    await chain.fund(payer.agent.wallet_address, 50_000_000n)
    // Withdrawals queue ops for the settler, whose batches go out with the coordinator key too.
    for (let i = 0; i < 3; i += 1) {
      await request(app)
        .post('/v1/wallet/withdraw')
        .set('Authorization', bearer(payer.apiKey))
        .send({ amount: '1', to: '0x000000000000000000000000000000000000dEaD' })
        .expect(201)
    }
    const faucetAgent = await registerAgent(app)
    const [answers, settled] = await Promise.all([
      Promise.all(
        Array.from({ length: 3 }, () =>
          request(app)
            .post('/v1/dev/faucet')
            .set('Authorization', bearer(faucetAgent.apiKey))
            .send({ amount: '2' }),
        ),
      ),
      chain.settler.drain(),
    ])
    expect(answers.map((res) => res.status)).to.deep.equal([200, 200, 200])
    expect(settled.map((result) => result.outcome)).to.include('confirmed')
    await chain.index()
    expect(await chain.reconciliationDifference()).to.equal(0n)
  })

  it('answers 409 faucet_unavailable without a coordinator key, crediting nothing', async function () {
    this.timeout(120_000)
    const { app } = await start({ contextOverrides: { coordinatorAccount: null } })
    const agent = await registerAgent(app)
    const res = await request(app)
      .post('/v1/dev/faucet')
      .set('Authorization', bearer(agent.apiKey))
      .send({ amount: '1' })
      .expect(409)
    expect(res.body.error.code).to.equal('faucet_unavailable')
    await chain.index()
    expect(await chain.vaultBalanceOf(agent.agent.wallet_address)).to.equal(0n)
  })

  it('does not exist outside the embedded dev chain (404)', async function () {
    this.timeout(120_000)
    const { app } = await start({ contextOverrides: { isDevChain: false } })
    const agent = await registerAgent(app)
    const res = await request(app)
      .post('/v1/dev/faucet')
      .set('Authorization', bearer(agent.apiKey))
      .send({ amount: '1' })
      .expect(404)
    expect(res.body.error.code).to.equal('not_found')
  })
})

describe('per-agent limit on requests that make the coordinator pay gas', () => {
  let database: TestDatabase
  let chain: ChainTestApp

  before(async function () {
    this.timeout(120_000)
    database = await createTestDatabase()
    chain = await createChainTestApp(database, { contextOverrides: { chainWriteRateLimitPerMinute: 2 } })
  })
  after(async () => {
    await chain.stop()
    await database.drop()
  })

  it('answers 429 rate_limited past the limit for one agent, queues nothing more, and leaves other agents alone', async function () {
    this.timeout(120_000)
    const busy = await registerAgent(chain.app)
    const other = await registerAgent(chain.app)
    await chain.fund(busy.agent.wallet_address, 10_000_000n)
    await chain.fund(other.agent.wallet_address, 10_000_000n)
    const withdraw = (agent: typeof busy) =>
      request(chain.app)
        .post('/v1/wallet/withdraw')
        .set('Authorization', bearer(agent.apiKey))
        .send({ amount: '1', to: '0x000000000000000000000000000000000000dEaD' })
    await withdraw(busy).expect(201)
    await withdraw(busy).expect(201)
    const limited = await withdraw(busy).expect(429)
    expect(limited.body.error).to.include({ code: 'rate_limited' })
    expect(limited.body.error.details).to.include({ limit: 2, window_seconds: 60 })
    const faucet = await request(chain.app)
      .post('/v1/dev/faucet')
      .set('Authorization', bearer(busy.apiKey))
      .send({ amount: '1' })
      .expect(429)
    expect(faucet.body.error.code).to.equal('rate_limited')
    await withdraw(other).expect(201)

    const mine = await request(chain.app)
      .get('/v1/withdrawals')
      .set('Authorization', bearer(busy.apiKey))
      .expect(200)
    expect(mine.body.data).to.have.length(2)
    await chain.settle()
    expect(await chain.reconciliationDifference()).to.equal(0n)
  })
})
