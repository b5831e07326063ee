import { expect } from 'chai'
import request from 'supertest'
import type { DisputeResponse } from '../../../protocol/disputes'
import { TimersWorker } from '../../../server/workers/timers'
import { bearer, registerAgent, type RegisteredTestAgent } from '../helpers/agents'
import { createChainTestApp, type ChainTestApp } from '../helpers/chain-app'
import { shiftDatabaseClock } from '../helpers/clock'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { postBid, postJob } from '../helpers/jobs'
import { seededRandom } from '../helpers/random'

const USDC = 1_000_000n
const RULINGS = ['requester_wins', 'worker_wins', 'split', 'redo'] as const

/**
 * The vault and the ledger agree after every step of a seeded random mix of awards, submissions,
 * acceptances, disputes, rulings of every kind, review and overdue timeouts and settlements.
 */
describe('reconciliation through disputes, rulings and timeouts', () => {
  let database: TestDatabase
  let chain: ChainTestApp

  before(async function () {
    this.timeout(120_000)
    database = await createTestDatabase()
    chain = await createChainTestApp(database)
  })
  after(async () => {
    await chain.stop()
    await database.drop()
  })

  it('reads zero after every step of a random mix of awards, disputes, rulings and timeouts', async function () {
    this.timeout(600_000)
    const random = seededRandom(0xd15b07e)
    const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)]!
    const agents: RegisteredTestAgent[] = []
    for (let i = 0; i < 4; i += 1) {
      const agent = await registerAgent(chain.app)
      await chain.fund(agent.agent.wallet_address, 60n * USDC)
      agents.push(agent)
    }
    const resolver = await registerAgent(chain.app)
    const timers = new TimersWorker(chain.context, 10_000)
    let clockShift = 0
    type Work = { jobId: string; payer: RegisteredTestAgent; worker: RegisteredTestAgent }
    const live: Work[] = []
    const counts: Record<string, number> = {}
    const count = (what: string) => (counts[what] = (counts[what] ?? 0) + 1)
    const post = (path: string, agent: RegisteredTestAgent, body: object = {}) =>
      request(chain.app).post(path).set('Authorization', bearer(agent.apiKey)).send(body)
    const statusOf = async ({ jobId, worker }: Work) =>
      (await request(chain.app).get(`/v1/jobs/${jobId}`).set('Authorization', bearer(worker.apiKey))).body
        .my_assignments?.[0]?.status as string | undefined

    for (let step = 0; step < 60; step += 1) {
      const roll = random()
      const work = live.length ? pick(live) : null
      if (roll < 0.2 || !work) {
        const [payer, worker] = [pick(agents), pick(agents)]
        if (payer === worker) continue
        const job = await postJob(chain.app, payer.apiKey, {
          budget_amount: '10',
          deadline_seconds: 604800,
          dispute_agent_id: resolver.agent.id,
        }).catch(() => null)
        if (!job) continue
        const bid = await postBid(chain.app, worker.apiKey, job.job_id, {
          amount: String(2 + Math.floor(random() * 8)),
          eta_seconds: 3 * 86400,
        })
        const res = await post(`/v1/jobs/${job.job_id}/award`, payer, { bid_id: bid.bid_id })
        if (res.status === 200) live.push({ jobId: job.job_id, payer, worker })
        count(res.status === 200 ? 'award' : 'award refused')
      } else if (roll < 0.38) {
        count(
          (
            await post(`/v1/jobs/${work.jobId}/submit`, work.worker, {
              deliverable: 'https://example.com/r.md',
            })
          ).status === 200
            ? 'submit'
            : 'submit refused',
        )
      } else if (roll < 0.45) {
        count(
          (await post(`/v1/jobs/${work.jobId}/accept`, work.payer)).status === 200
            ? 'accept'
            : 'accept refused',
        )
      } else if (roll < 0.62) {
        // Mostly on submitted work; now and then on work that is not, which must be refused.
        const submitted: Work[] = []
        for (const item of live) if ((await statusOf(item)) === 'submitted') submitted.push(item)
        const target = submitted.length && random() < 0.85 ? pick(submitted) : work
        const opener = random() < 0.5 ? target.payer : target.worker
        const res = await post(`/v1/jobs/${target.jobId}/dispute`, opener, { reason: 'Not what was asked' })
        count(res.status === 201 ? 'dispute' : 'dispute refused')
      } else if (roll < 0.76) {
        const open: DisputeResponse[] = []
        for (const item of live) {
          const disputes = (
            await request(chain.app)
              .get(`/v1/jobs/${item.jobId}/disputes`)
              .set('Authorization', bearer(resolver.apiKey))
          ).body as DisputeResponse[]
          open.push(...disputes.filter((dispute) => dispute.status === 'open'))
        }
        if (!open.length) continue
        const disputed = pick(open)
        const ruling = pick([...RULINGS])
        const body = ruling === 'split' ? { ruling, split_bps: Math.floor(random() * 10_001) } : { ruling }
        await post(`/v1/disputes/${disputed.dispute_id}/rule`, resolver, body).expect(200)
        count(`rule ${ruling}`)
      } else if (roll < 0.82) {
        clockShift += 25 * 3600 + 1
        await shiftDatabaseClock(database.pool, clockShift)
        const round = await timers.runOnce()
        if (round.outcome === 'ran') {
          counts['review timeout'] = (counts['review timeout'] ?? 0) + round.reviewDisputes
          counts['overdue'] = (counts['overdue'] ?? 0) + round.overdueCancelled
        }
      } else {
        for (const result of await chain.settle())
          expect(result.outcome, `step ${step}`).to.equal('confirmed')
        count('settle')
      }
      for (const item of [...live]) {
        if (['accepted', 'cancelled'].includes((await statusOf(item)) ?? 'cancelled'))
          live.splice(live.indexOf(item), 1)
      }
      expect(
        await chain.reconciliationDifference(),
        `after step ${step}: ${JSON.stringify(counts)}`,
      ).to.equal(0n)
    }

    for (const result of await chain.settle()) expect(result.outcome).to.equal('confirmed')
    expect(await chain.reconciliationDifference()).to.equal(0n)
    expect(counts.dispute ?? 0, JSON.stringify(counts)).to.be.greaterThan(0)
    expect(
      Object.keys(counts).filter((key) => key.startsWith('rule ')).length,
      JSON.stringify(counts),
    ).to.be.greaterThan(1)
    await shiftDatabaseClock(database.pool, 0)
  })
})
