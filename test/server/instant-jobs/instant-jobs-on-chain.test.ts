import { expect } from 'chai'
import request from 'supertest'
import { TimersWorker } from '../../../server/workers/timers'
import { bearer, registerAgent, type RegisteredTestAgent } from '../helpers/agents'
import { createChainTestApp, type ChainTestApp } from '../helpers/chain-app'
import { shiftDatabaseClock } from '../helpers/clock'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { postAccept, postSubmit } from '../helpers/jobs'

const USDC = 1_000_000n

/** Instant jobs with their money on the vault: a silent worker's escrow comes back and pays the next. */
describe('instant jobs on the vault', () => {
  let database: TestDatabase
  let chain: ChainTestApp
  let timers: TimersWorker

  before(async function () {
    this.timeout(120_000)
    database = await createTestDatabase()
    chain = await createChainTestApp(database)
    timers = new TimersWorker(chain.context, 10_000)
  })
  after(async () => {
    await shiftDatabaseClock(database.pool, 0)
    await chain.stop()
    await database.drop()
  })

  async function settleAll(): Promise<void> {
    for (const result of await chain.settle()) expect(result.outcome).to.equal('confirmed')
  }

  async function balances(agent: RegisteredTestAgent): Promise<{ available: string; escrowed: string }> {
    const res = await request(chain.app)
      .get('/v1/wallet/balance')
      .set('Authorization', bearer(agent.apiKey))
      .expect(200)
    return { available: res.body.balances[0].available, escrowed: res.body.balances[0].escrowed }
  }

  async function offer(owner: RegisteredTestAgent, name: string): Promise<string> {
    const res = await request(chain.app)
      .post('/v1/agents/me/services')
      .set('Authorization', bearer(owner.apiKey))
      .send({
        name,
        category: 'content',
        pricing_model: 'fixed',
        price_amount: '4',
        response_time_seconds: 600,
      })
      .expect(201)
    return res.body.service_id
  }

  it('reassigns a silent worker’s instant job once its escrow is back, and pays the next worker to the base unit', async function () {
    this.timeout(180_000)
    const requester = await registerAgent(chain.app)
    const silent = await registerAgent(chain.app)
    const next = await registerAgent(chain.app)
    await chain.fund(requester.agent.wallet_address, 6n * USDC)
    const silentService = await offer(silent, 'Silent translation')
    const nextService = await offer(next, 'Prompt translation')

    const created = await request(chain.app)
      .post('/v1/jobs/instant')
      .set('Authorization', bearer(requester.apiKey))
      .send({
        title: 'Translate document to Spanish',
        description: 'Translate the attached 2-page document from English to Spanish.',
        budget_amount: 5,
        service_id: silentService,
      })
    expect(created.status, JSON.stringify(created.body)).to.equal(201)
    expect(created.body).to.include({ worker_agent_id: silent.agent.id, escrow_amount: '4' })
    await settleAll()
    expect(await balances(requester)).to.deep.equal({ available: '2', escrowed: '4' })
    expect(await chain.vaultBalanceOf(requester.agent.wallet_address)).to.equal(2n * USDC)

    // The SLA passes: the silent worker's escrow is refunded, but 2 cannot fund the next worker yet.
    await shiftDatabaseClock(database.pool, 601)
    expect(await timers.runOnce()).to.include({ instantTimedOut: 1, instantReassigned: 0 })
    await settleAll()
    expect(await chain.vaultBalanceOf(requester.agent.wallet_address)).to.equal(6n * USDC)
    expect(await balances(requester)).to.deep.equal({ available: '6', escrowed: '0' })

    // The refund is booked: the next pass gives the job to the next candidate.
    expect(await timers.runOnce()).to.include({ instantTimedOut: 0, instantReassigned: 1 })
    await settleAll()
    const job = await request(chain.app)
      .get(`/v1/jobs/${created.body.job_id}`)
      .set('Authorization', bearer(requester.apiKey))
      .expect(200)
    expect(job.body).to.include({ status: 'in_progress', worker_agent_id: next.agent.id })
    const progress = await request(chain.app)
      .get(`/v1/jobs/${created.body.job_id}/instant`)
      .set('Authorization', bearer(next.apiKey))
      .expect(200)
    expect(progress.body.attempts.map((row: { service_id: string }) => row.service_id)).to.deep.equal([
      silentService,
      nextService,
    ])

    const assignment = await postSubmit(chain.app, next.apiKey, created.body.job_id)
    await postAccept(chain.app, requester.apiKey, created.body.job_id)
    await settleAll()
    const fee = (4n * USDC * BigInt(assignment.fee_bps)) / 10_000n
    expect(await chain.vaultBalanceOf(next.agent.wallet_address)).to.equal(4n * USDC - fee)
    expect(await chain.vaultBalanceOf(silent.agent.wallet_address)).to.equal(0n)
    expect(await chain.vaultBalanceOf(requester.agent.wallet_address)).to.equal(2n * USDC)
    expect(await balances(requester)).to.deep.equal({ available: '2', escrowed: '0' })
    expect(await chain.reconciliationDifference()).to.equal(0n)
  })
})
