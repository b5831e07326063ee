import { expect } from 'chai'
import pino from 'pino'
import request from 'supertest'
import { Settler, type SettlerRoundHooks } from '../../../server/chain/settler/settler'
import { bearer, registerAgent } from '../helpers/agents'
import { walletFor } from '../helpers/chain'
import { coordinatorAccount, createChainTestApp, type ChainTestApp } from '../helpers/chain-app'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { postBid, postJob, postSubmit } from '../helpers/jobs'
import { crashAfterSend, SimulatedCrash } from '../helpers/settler-crash'

const OUTSIDE = '0x000000000000000000000000000000000000bEEF'

/**
 * The coordinator process dies after its settler sent a batch and before it recorded the receipt
 * (no clean shutdown: its lease is left to expire). The next process must find the batch on-chain
 * by its number, record it without sending it again, and leave every balance right.
 */
describe('coordinator killed between sending a batch and recording it', () => {
  let database: TestDatabase
  let chain: ChainTestApp

  beforeEach(async function () {
    this.timeout(120_000)
    database = await createTestDatabase()
    chain = await createChainTestApp(database)
  })
  afterEach(async () => {
    await chain.stop()
    await database.drop()
  })

  async function processSettler(roundHooks?: SettlerRoundHooks): Promise<Settler> {
    return new Settler({
      pool: database.pool,
      publicClient: chain.client,
      walletClient: await walletFor(coordinatorAccount),
      account: coordinatorAccount,
      chainId: chain.deployment.chainId,
      vault: chain.vault,
      maxBatchAgeMs: 0,
      leaseTtlMs: 300,
      logger: pino({ level: 'silent' }),
      roundHooks,
    })
  }

  async function balance(apiKey: string) {
    const res = await request(chain.app)
      .get('/v1/wallet/balance')
      .set('Authorization', bearer(apiKey))
      .expect(200)
    return res.body.balances[0] as Record<string, string>
  }

  it('recognises the landed batch after restart, sends nothing twice, and every balance is right', async function () {
    this.timeout(120_000)
    const payer = await registerAgent(chain.app)
    const worker = await registerAgent(chain.app)
    await chain.fund(payer.agent.wallet_address, 50_000_000n)
    // One batch carrying a fast withdrawal and an escrow lock; the release, which names the
    // escrow's place in the vault, follows once the lock's set is indexed.
    await request(chain.app)
      .post('/v1/wallet/withdraw')
      .set('Authorization', bearer(payer.apiKey))
      .send({ amount: '15', to: OUTSIDE })
      .expect(201)
    const job = await postJob(chain.app, payer.apiKey)
    const bid = await postBid(chain.app, worker.apiKey, job.job_id, { amount: '10' })
    await request(chain.app)
      .post(`/v1/jobs/${job.job_id}/award`)
      .set('Authorization', bearer(payer.apiKey))
      .send({ bid_id: bid.bid_id })
      .expect(200)
    await postSubmit(chain.app, worker.apiKey, job.job_id)
    await request(chain.app)
      .post(`/v1/jobs/${job.job_id}/accept`)
      .set('Authorization', bearer(payer.apiKey))
      .expect(200)

    const dying = await processSettler(crashAfterSend)
    let crashed = false
    await dying.settleOnce().catch((error) => (crashed = error instanceof SimulatedCrash))
    expect(crashed).to.equal(true)
    const sentNonce = await chain.client.getTransactionCount({ address: coordinatorAccount.address })

    // The restarted process: its lease waits for the dead one's to expire, then it recovers.
    await new Promise((resolve) => setTimeout(resolve, 400))
    const restarted = await processSettler()
    const results = await restarted.drain()
    expect(results[0]).to.include({ outcome: 'confirmed', recovered: true, batchNumber: 1n })
    expect(await chain.client.getTransactionCount({ address: coordinatorAccount.address })).to.equal(
      sentNonce,
    )
    await chain.index()
    const [release] = await restarted.drain()
    expect(release).to.include({ outcome: 'confirmed', recovered: false, batchNumber: 2n, opCount: 1 })
    await restarted.resign()
    await chain.index()

    const withdrawals = await request(chain.app)
      .get('/v1/withdrawals')
      .set('Authorization', bearer(payer.apiKey))
      .expect(200)
    expect(withdrawals.body.data[0]).to.include({ status: 'success', amount: '15' })
    expect(await balance(payer.apiKey)).to.include({ available: '25', escrowed: '0', withdrawing: '0' })
    expect(await balance(worker.apiKey)).to.include({ available: '9.9' })
    expect(await chain.vaultBalanceOf(payer.agent.wallet_address)).to.equal(25_000_000n)
    expect(await chain.vaultBalanceOf(worker.agent.wallet_address)).to.equal(9_900_000n)
    expect(await chain.reconciliationDifference()).to.equal(0n)
  })
  it('lets the indexer confirm a batch whose receipt the dead settler never recorded, so nothing is sent again', async function () {
    this.timeout(120_000)
    const agent = await registerAgent(chain.app)
    await chain.fund(agent.agent.wallet_address, 20_000_000n)
    await request(chain.app)
      .post('/v1/wallet/withdraw')
      .set('Authorization', bearer(agent.apiKey))
      .send({ amount: '5', to: OUTSIDE })
      .expect(201)
    const dying = await processSettler(crashAfterSend)
    await dying.settleOnce().catch((error) => expect(error).to.be.instanceOf(SimulatedCrash))
    const sentNonce = await chain.client.getTransactionCount({ address: coordinatorAccount.address })

    await chain.index()
    const { rows } = await database.pool.query(
      'SELECT status, settled_tx_hash, settled_block_number FROM settlement_batches WHERE batch_number = 1',
    )
    expect(rows[0].status).to.equal('confirmed')
    expect(rows[0].settled_tx_hash).to.match(/^0x[0-9a-f]{64}$/)
    const ops = await database.pool.query('SELECT DISTINCT status FROM chain_ops')
    expect(ops.rows.map((row) => row.status)).to.deep.equal(['confirmed'])

    await new Promise((resolve) => setTimeout(resolve, 400))
    const restarted = await processSettler()
    expect(await restarted.drain()).to.deep.equal([])
    await restarted.resign()
    expect(await chain.client.getTransactionCount({ address: coordinatorAccount.address })).to.equal(
      sentNonce,
    )
    expect(await balance(agent.apiKey)).to.include({ available: '15', withdrawing: '0' })
    expect(await chain.reconciliationDifference()).to.equal(0n)
  })
})
