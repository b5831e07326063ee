import { expect } from 'chai'
import type { Express } from 'express'
import request from 'supertest'
import type { AppContext } from '../../../server/app-context'
import { TimersWorker } from '../../../server/workers/timers'
import { bearer, fundAgent, registerAgent, type RegisteredTestAgent } from '../helpers/agents'
import { createTestApp } from '../helpers/app'
import { shiftDatabaseClock } from '../helpers/clock'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { postBid, postJob } from '../helpers/jobs'

describe('the timers worker: deadlines by the database clock, one replica at a time', () => {
  let database: TestDatabase
  let app: Express
  let context: AppContext
  let requester: RegisteredTestAgent
  let worker: RegisteredTestAgent

  beforeEach(async () => {
    database = await createTestDatabase()
    ;({ app, context } = await createTestApp(database))
    requester = await registerAgent(app)
    worker = await registerAgent(app)
    await fundAgent(app, requester.apiKey, '100.00')
  })
  afterEach(async () => {
    await database.drop()
  })

  const jobStatus = async (jobId: string) =>
    (await request(app).get(`/v1/jobs/${jobId}`).expect(200)).body.status

  it('expires a job once the database clock passes its deadline, and not before', async () => {
    const job = await postJob(app, requester.apiKey, { deadline_seconds: 3600 })
    const bid = await postBid(app, worker.apiKey, job.job_id)
    const timers = new TimersWorker(context, 10_000)

    expect(await timers.runOnce()).to.deep.equal({ outcome: 'ran', expiredJobs: 0 })
    expect(await jobStatus(job.job_id)).to.equal('open')

    await shiftDatabaseClock(database.pool, 3601)
    expect(await timers.runOnce()).to.deep.equal({ outcome: 'ran', expiredJobs: 1 })
    expect(await jobStatus(job.job_id)).to.equal('expired')
    const bids = await request(app).get('/v1/agents/me/bids').set('Authorization', bearer(worker.apiKey))
    expect(bids.body.find((row: { bid_id: string }) => row.bid_id === bid.bid_id).status).to.equal('rejected')
    expect(await timers.runOnce(), 'a deadline fires once').to.deep.equal({ outcome: 'ran', expiredJobs: 0 })
  })

  it('refuses a bid past the deadline by the database clock before the expiry pass has run', async () => {
    const job = await postJob(app, requester.apiKey, { deadline_seconds: 3600 })
    await shiftDatabaseClock(database.pool, 3601)
    const late = await request(app)
      .post(`/v1/jobs/${job.job_id}/bids`)
      .set('Authorization', bearer(worker.apiKey))
      .send({ amount: '1', eta_seconds: 3600 })
      .expect(409)
    expect(late.body.error.code).to.equal('job_expired')
  })

  it('runs each deadline once with two coordinator processes on one database: one leads, the other waits', async () => {
    const jobs = await Promise.all(
      [1, 2, 3].map(() => postJob(app, requester.apiKey, { deadline_seconds: 3600 })),
    )
    await shiftDatabaseClock(database.pool, 3601)
    const first = new TimersWorker(context, 10_000)
    const second = new TimersWorker(context, 10_000)

    const rounds = await Promise.all([first.runOnce(), second.runOnce(), first.runOnce(), second.runOnce()])
    const expired = rounds.reduce((sum, round) => sum + (round.outcome === 'ran' ? round.expiredJobs : 0), 0)
    expect(expired, 'each job expired exactly once').to.equal(3)
    expect(rounds.filter((round) => round.outcome === 'not-leader')).to.have.length(2)
    for (const job of jobs) expect(await jobStatus(job.job_id)).to.equal('expired')

    await first.resign()
    expect(await second.runOnce(), 'the other takes over once the leader resigns').to.deep.equal({
      outcome: 'ran',
      expiredJobs: 0,
    })
  })
})
