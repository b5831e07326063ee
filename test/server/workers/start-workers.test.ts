import { expect } from 'chai'
import request from 'supertest'
import { createTestClient, http } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { loadConfig } from '../../../server/config'
import { chainEventHandlers } from '../../../server/chain/chain-event-handlers'
import { startWorkers, type RunningWorkers } from '../../../server/workers/start-workers'
import { WITHDRAWAL_DEADLINE_SECONDS } from '../../../server/wallet/withdrawals-service'
import { bearer, registerAgent } from '../helpers/agents'
import { hardhatRpcUrl, mine } from '../helpers/chain'
import { createChainTestApp, type ChainTestApp } from '../helpers/chain-app'
import { createTestDatabase, type TestDatabase } from '../helpers/database'

/** Polls `check` until it returns a value, or fails after `timeoutMs`. */
async function eventually<T>(check: () => Promise<T | null | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== null && value !== undefined) return value
    if (Date.now() > deadline) throw new Error('condition not reached in time')
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/**
 * The coordinator's workers as `npm start` runs them, on their own timers: nothing in these tests
 * calls the indexer or the settler by hand.
 */
describe('startWorkers: the indexer, settler and withdrawal refunds on their own timers', () => {
  let database: TestDatabase
  let chain: ChainTestApp
  let workers: RunningWorkers

  before(async function () {
    this.timeout(120_000)
    database = await createTestDatabase()
    chain = await createChainTestApp(database)
    const config = loadConfig({
      RPC_URL: await hardhatRpcUrl(),
      INDEXER_POLL_MS: '50',
      SETTLER_POLL_MS: '50',
      SETTLER_MAX_BATCH_AGE_MS: '0',
      RECONCILE_INTERVAL_MS: '1000',
    })
    workers = startWorkers(chain.context, config, chainEventHandlers(chain.context))!
  })
  after(async () => {
    await workers?.stop()
    await chain.stop()
    await database.drop()
  })

  async function balance(apiKey: string): Promise<Record<string, string>> {
    const res = await request(chain.app)
      .get('/v1/wallet/balance')
      .set('Authorization', bearer(apiKey))
      .expect(200)
    return res.body.balances[0]
  }

  it('credits an on-chain deposit and settles a fast withdrawal with nobody driving them', async function () {
    this.timeout(60_000)
    const agent = await registerAgent(chain.app)
    await chain.depositOnChain(agent.agent.wallet_address, 20_000_000n)
    await eventually(async () => ((await balance(agent.apiKey)).available === '20' ? true : null))
    const created = await request(chain.app)
      .post('/v1/wallet/withdraw')
      .set('Authorization', bearer(agent.apiKey))
      .send({ amount: '8', to: '0x000000000000000000000000000000000000dEaD' })
      .expect(201)
    const settled = await eventually(async () => {
      const res = await request(chain.app)
        .get(`/v1/withdrawals/${created.body.withdrawal_id}`)
        .set('Authorization', bearer(agent.apiKey))
        .expect(200)
      return res.body.status === 'success' ? res.body : null
    })
    expect(settled.tx_hash).to.match(/^0x[0-9a-f]{64}$/)
    expect(await chain.vaultBalanceOf(agent.agent.wallet_address)).to.equal(12_000_000n)
    expect(await chain.reconciliationDifference()).to.equal(0n)
  })

  it('reports each worker up and the settled batches at /metrics', async function () {
    this.timeout(30_000)
    const metrics = await eventually(async () => {
      const text = (await request(chain.app).get('/metrics').expect(200)).text
      return /clearhouse_worker_up\{worker="reconciliation"\} 1/.test(text) ? text : null
    })
    for (const worker of ['indexer', 'settler', 'withdrawal_refunds']) {
      expect(metrics).to.match(new RegExp(`clearhouse_worker_up\\{worker="${worker}"\\} 1`))
    }
    // The previous test's withdrawal went out in a batch.
    expect(metrics).to.match(/clearhouse_settler_batches_total\{outcome="confirmed"\} [1-9]/)
    expect(metrics).to.match(/^clearhouse_settler_failed_rounds_total 0$/m)
  })

  it("expires an unsigned self-custody withdrawal by the chain's clock, which runs ahead of the wall clock here", async function () {
    this.timeout(60_000)
    const owner = privateKeyToAccount(generatePrivateKey())
    const agent = await registerAgent(chain.app, { account: owner })
    await chain.depositOnChain(owner.address, 5_000_000n)
    await eventually(async () => ((await balance(agent.apiKey)).available === '5' ? true : null))
    const created = await request(chain.app)
      .post('/v1/wallet/withdraw')
      .set('Authorization', bearer(agent.apiKey))
      .send({ amount: '1' })
      .expect(201)
    expect(created.body.status).to.equal('awaiting_signature')
    const testClient = createTestClient({ mode: 'hardhat', transport: http(await hardhatRpcUrl()) })
    await testClient.increaseTime({ seconds: Number(WITHDRAWAL_DEADLINE_SECONDS) + 60 })
    await mine(1)
    const expired = await eventually(async () => {
      const { rows } = await database.pool.query(
        'SELECT status, failure_reason FROM withdrawals WHERE id = $1',
        [created.body.withdrawal_id],
      )
      return rows[0].status === 'failed' ? rows[0] : null
    })
    expect(expired.failure_reason).to.equal('signature_expired')
    expect(await balance(agent.apiKey)).to.include({ available: '5', withdrawing: '0' })
  })
})
