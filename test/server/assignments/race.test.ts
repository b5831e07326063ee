import { expect } from 'chai'
import type { Express } from 'express'
import request from 'supertest'
import { selectEntrySumsByToken, selectPlatformBalance } from '../../../server/ledger/ledger-queries'
import { createTestApp, TEST_USDC } from '../helpers/app'
import { bearer, fundAgent, registerAgent, type RegisteredTestAgent } from '../helpers/agents'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { balanceOf, postAward, postBid, postJob, postSubmit, unsettledOf } from '../helpers/jobs'

const UNIT = 1_000_000n
const BID = 5n * UNIT
const FEE = (BID * 100n) / 10_000n

describe('job flow under concurrency', () => {
  let database: TestDatabase
  let app: Express

  before(async () => {
    database = await createTestDatabase()
    ;({ app } = await createTestApp(database))
  })
  after(async () => {
    await database.drop()
  })

  it('50 concurrent awards, accepts and cancels on one requester never overdraw it nor lose a unit', async function () {
    this.timeout(120_000)
    const requester = await registerAgent(app)
    const workers: RegisteredTestAgent[] = []
    for (let i = 0; i < 5; i += 1) workers.push(await registerAgent(app))
    await fundAgent(app, requester.apiKey, '150.00')
    const feesBefore = await selectPlatformBalance(database.pool, 'fees', TEST_USDC.address)

    // 10 jobs with submitted work to accept (50.00 locked), then 30 open jobs with one pending bid each.
    const toAccept: string[] = []
    for (let i = 0; i < 10; i += 1) {
      const job = await postJob(app, requester.apiKey)
      const worker = workers[i % workers.length]!
      const bid = await postBid(app, worker.apiKey, job.job_id)
      await postAward(app, requester.apiKey, job.job_id, bid.bid_id)
      await postSubmit(app, worker.apiKey, job.job_id)
      toAccept.push(job.job_id)
    }
    const toAward: { jobId: string; bidId: string }[] = []
    for (let i = 0; i < 30; i += 1) {
      const job = await postJob(app, requester.apiKey)
      const bid = await postBid(app, workers[i % workers.length]!.apiKey, job.job_id)
      toAward.push({ jobId: job.job_id, bidId: bid.bid_id })
    }
    expect(await balanceOf(app, requester.apiKey)).to.deep.equal({
      available: 100n * UNIT,
      escrow: 50n * UNIT,
    })

    // 30 awards (150.00 wanted, 100.00 available), 10 cancels racing the first 10 awards, 10 accepts.
    const auth = bearer(requester.apiKey)
    const operations = [
      ...toAward.map(({ jobId, bidId }) => ({
        kind: 'award',
        jobId,
        run: () =>
          request(app).post(`/v1/jobs/${jobId}/award`).set('Authorization', auth).send({ bid_id: bidId }),
      })),
      ...toAward.slice(0, 10).map(({ jobId }) => ({
        kind: 'cancel',
        jobId,
        run: () => request(app).post(`/v1/jobs/${jobId}/cancel`).set('Authorization', auth),
      })),
      ...toAccept.map((jobId) => ({
        kind: 'accept',
        jobId,
        run: () => request(app).post(`/v1/jobs/${jobId}/accept`).set('Authorization', auth),
      })),
    ]
    expect(operations).to.have.length(50)
    // A fixed shuffle, so cancels and awards of the same job start in either order.
    let seed = 7
    for (let i = operations.length - 1; i > 0; i -= 1) {
      seed = (seed * 48_271) % 2_147_483_647
      const j = seed % (i + 1)
      ;[operations[i], operations[j]] = [operations[j]!, operations[i]!]
    }
    const results = await Promise.all(
      operations.map(async (operation) => ({ ...operation, res: await operation.run() })),
    )

    for (const { res } of results) expect([200, 409], JSON.stringify(res.body)).to.include(res.status)
    const succeeded = (kind: string) => results.filter((r) => r.kind === kind && r.res.status === 200)
    const awarded = succeeded('award')
    const cancelled = new Set(succeeded('cancel').map((r) => r.jobId))
    expect(succeeded('accept')).to.have.length(10)
    for (const award of awarded) expect(cancelled.has(award.jobId), 'awarded and cancelled').to.equal(false)
    const refusals = results.filter((r) => r.kind === 'award' && r.res.status === 409)
    for (const refusal of refusals) {
      expect(['insufficient_balance', 'job_not_open']).to.include(refusal.res.body.error.code)
      if (refusal.res.body.error.code === 'job_not_open') expect(cancelled.has(refusal.jobId)).to.equal(true)
    }
    // A cancel loses only to an award of the same job.
    for (const r of results.filter((r) => r.kind === 'cancel' && r.res.status === 409)) {
      expect(awarded.some((award) => award.jobId === r.jobId)).to.equal(true)
    }

    const balance = await balanceOf(app, requester.apiKey)
    const locked = BigInt(awarded.length) * BID
    expect(awarded.length).to.be.at.most(20)
    expect(balance).to.deep.equal({ available: 100n * UNIT - locked, escrow: locked })
    // Available only falls during the race, so a refusal for balance must still be justified at the end.
    if (refusals.some((r) => r.res.body.error.code === 'insufficient_balance')) {
      expect(balance.available < BID).to.equal(true)
    }

    let paid = 0n
    // Booked to the workers as unsettled: spendable once the vault carries each release out.
    for (const worker of workers) paid += await unsettledOf(app, worker.apiKey)
    expect(paid).to.equal(10n * (BID - FEE))
    expect(await selectPlatformBalance(database.pool, 'fees', TEST_USDC.address)).to.equal(
      feesBefore + 10n * FEE,
    )

    for (const [, total] of await selectEntrySumsByToken(database.pool)) expect(total).to.equal(0n)
    const { rows: drift } = await database.pool.query(
      `SELECT lb.account_id FROM ledger_balances AS lb
        WHERE lb.balance <> (SELECT coalesce(sum(le.amount), 0) FROM ledger_entries AS le
                              WHERE le.account_id = lb.account_id AND le.token = lb.token)`,
    )
    expect(drift, 'running balances equal their entries').to.have.length(0)

    const { rows } = await database.pool.query(
      `SELECT
         (SELECT count(*)::int FROM assignments AS a JOIN jobs AS j ON j.id = a.job_id
           WHERE j.creator_agent_id = $1 AND a.status = 'in_progress') AS live,
         (SELECT count(*)::int FROM escrow_ops AS o JOIN assignments AS a ON a.id = o.assignment_id
            JOIN jobs AS j ON j.id = a.job_id WHERE j.creator_agent_id = $1) AS ops,
         (SELECT count(*)::int FROM jobs AS j WHERE j.creator_agent_id = $1 AND j.status = 'closed'
           AND EXISTS (SELECT 1 FROM assignments AS a WHERE a.job_id = j.id)) AS closed_with_work`,
      [requester.agent.id],
    )
    expect(rows[0]).to.deep.equal({ live: awarded.length, ops: 20 + awarded.length, closed_with_work: 0 })
  })

  it('settles accepts between two agents that pay each other at the same moment, none lost to a deadlock', async function () {
    this.timeout(120_000)
    const alice = await registerAgent(app)
    const bob = await registerAgent(app)
    await fundAgent(app, alice.apiKey, '100.00')
    await fundAgent(app, bob.apiKey, '100.00')
    const accepts: (() => request.Test)[] = []
    for (let i = 0; i < 10; i += 1) {
      for (const [payer, payee] of [
        [alice, bob],
        [bob, alice],
      ] as const) {
        const job = await postJob(app, payer.apiKey)
        const bid = await postBid(app, payee.apiKey, job.job_id)
        await postAward(app, payer.apiKey, job.job_id, bid.bid_id)
        await postSubmit(app, payee.apiKey, job.job_id)
        accepts.push(() =>
          request(app).post(`/v1/jobs/${job.job_id}/accept`).set('Authorization', bearer(payer.apiKey)),
        )
      }
    }
    const results = await Promise.all(accepts.map((accept) => accept()))
    for (const res of results) expect(res.status, JSON.stringify(res.body)).to.equal(200)
    // Each paid 10 × 5.00 and is owed 10 × (5.00 − fee), unsettled until the vault carries it out.
    for (const agent of [alice, bob]) {
      expect(await balanceOf(app, agent.apiKey)).to.deep.equal({ available: 50n * UNIT, escrow: 0n })
      expect(await unsettledOf(app, agent.apiKey)).to.equal(10n * (5n * UNIT - FEE))
    }
    for (const [, total] of await selectEntrySumsByToken(database.pool)) expect(total).to.equal(0n)
  })
})
