import { createServer, type Server } from 'node:net'
import { expect } from 'chai'
import request from 'supertest'
import { createPublicClient, http, type PublicClient } from 'viem'
import { errorResponse } from '../../../protocol/errors'
import { withTransaction } from '../../../server/db/pool'
import { creditDeposit } from '../../../server/ledger/ledger-service'
import { bearer, registerAgent } from '../helpers/agents'
import { createTestApp } from '../helpers/app'
import { deployTestVault } from '../helpers/chain'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { postBid, postJob } from '../helpers/jobs'

/**
 * A request that needs the chain while the node fails answers as the node's fault: 502
 * `chain_error` when it refuses or errs, 504 `chain_timeout` when it goes silent, never a 500.
 */
describe('requests that need the chain when the node fails', () => {
  let database: TestDatabase
  let silent: Server
  let silentPort: number

  before(async function () {
    this.timeout(120_000)
    database = await createTestDatabase()
    // Accepts connections and never answers: a node that hung.
    silent = createServer(() => undefined)
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    silentPort = (silent.address() as { port: number }).port
  })
  after(async () => {
    silent.close()
    await database.drop()
  })

  /**
   * An award over `client`: the creator is credited in the ledger directly (funding on-chain would
   * need the node), and the award reads the chain's clock for the escrow's expiry.
   */
  async function awardOver(client: PublicClient) {
    const deployment = await deployTestVault()
    const { app } = await createTestApp(database, { client, deployment })
    const creator = await registerAgent(app)
    const worker = await registerAgent(app)
    const usdc = deployment.contracts.MockUSDC!
    await withTransaction(database.pool, (db) =>
      creditDeposit(db, {
        agentId: creator.agent.id,
        token: usdc,
        amount: 50_000_000n,
        reference: `seed:${creator.agent.id}`,
      }),
    )
    const job = await postJob(app, creator.apiKey)
    const bid = await postBid(app, worker.apiKey, job.job_id, { amount: '5' })
    return request(app)
      .post(`/v1/jobs/${job.job_id}/award`)
      .set('Authorization', bearer(creator.apiKey))
      .send({ bid_id: bid.bid_id })
  }

  it('answers 502 chain_error when the node refuses the connection', async function () {
    this.timeout(60_000)
    const refused = createPublicClient({
      transport: http('http://127.0.0.1:1', { retryCount: 0 }),
    }) as PublicClient
    const res = await awardOver(refused)
    expect(res.status, JSON.stringify(res.body)).to.equal(502)
    expect(errorResponse.parse(res.body).error.code).to.equal('chain_error')
  })

  it('answers 504 chain_timeout when the node never answers', async function () {
    this.timeout(60_000)
    const hung = createPublicClient({
      transport: http(`http://127.0.0.1:${silentPort}`, { retryCount: 0, timeout: 300 }),
    }) as PublicClient
    const res = await awardOver(hung)
    expect(res.status, JSON.stringify(res.body)).to.equal(504)
    expect(errorResponse.parse(res.body).error.code).to.equal('chain_timeout')
  })
})
