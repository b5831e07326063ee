import { expect } from 'chai'
import type { Express } from 'express'
import request from 'supertest'
import type { AppContext } from '../../../server/app-context'
import { TimersWorker } from '../../../server/workers/timers'
import { bearer, fundAgent, registerAgent, type RegisteredTestAgent } from '../helpers/agents'
import { createTestApp } from '../helpers/app'
import { shiftDatabaseClock } from '../helpers/clock'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { postAward, postBid, postJob, postSubmit } from '../helpers/jobs'

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

    expect(await timers.runOnce()).to.deep.equal({
      outcome: 'ran',
      expiredJobs: 0,
      reviewDisputes: 0,
      overdueCancelled: 0,
      instantTimedOut: 0,
      instantReassigned: 0,
      instantFailed: 0,
      reservationsExpired: 0,
      boardTasksReopened: 0,
      escrowsReclaimed: 0,
      sessionsExpired: 0,
      channelsSettled: 0,
      channelsClosed: 0,
      microJobsRefunded: 0,
      negotiationsExpired: 0,
      eventsPruned: 0,
      webhookDeliveriesPruned: 0,
    })
    expect(await jobStatus(job.job_id)).to.equal('open')

    await shiftDatabaseClock(database.pool, 3601)
    expect(await timers.runOnce()).to.deep.equal({
      outcome: 'ran',
      expiredJobs: 1,
      reviewDisputes: 0,
      overdueCancelled: 0,
      instantTimedOut: 0,
      instantReassigned: 0,
      instantFailed: 0,
      reservationsExpired: 0,
      boardTasksReopened: 0,
      escrowsReclaimed: 0,
      sessionsExpired: 0,
      channelsSettled: 0,
      channelsClosed: 0,
      microJobsRefunded: 0,
      negotiationsExpired: 0,
      eventsPruned: 0,
      webhookDeliveriesPruned: 0,
    })
    expect(await jobStatus(job.job_id)).to.equal('expired')
    const bids = await request(app).get('/v1/agents/me/bids').set('Authorization', bearer(worker.apiKey))
    expect(bids.body.find((row: { bid_id: string }) => row.bid_id === bid.bid_id).status).to.equal('rejected')
    expect(await timers.runOnce(), 'a deadline fires once').to.deep.equal({
      outcome: 'ran',
      expiredJobs: 0,
      reviewDisputes: 0,
      overdueCancelled: 0,
      instantTimedOut: 0,
      instantReassigned: 0,
      instantFailed: 0,
      reservationsExpired: 0,
      boardTasksReopened: 0,
      escrowsReclaimed: 0,
      sessionsExpired: 0,
      channelsSettled: 0,
      channelsClosed: 0,
      microJobsRefunded: 0,
      negotiationsExpired: 0,
      eventsPruned: 0,
      webhookDeliveriesPruned: 0,
    })
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

  it('disputes work nobody reviewed 24 h after its submission, once, on the worker’s behalf and with no deposit', async () => {
    const job = await postJob(app, requester.apiKey, { deadline_seconds: 604800 })
    const bid = await postBid(app, worker.apiKey, job.job_id)
    await postAward(app, requester.apiKey, job.job_id, bid.bid_id)
    await postSubmit(app, worker.apiKey, job.job_id)
    const timers = new TimersWorker(context, 10_000)
    await shiftDatabaseClock(database.pool, 23 * 3600)
    expect(await timers.runOnce()).to.include({ reviewDisputes: 0 })
    const before = (
      await request(app).get('/v1/wallet/balance').set('Authorization', bearer(requester.apiKey))
    ).body.balances[0]

    await shiftDatabaseClock(database.pool, 24 * 3600 + 1)
    expect(await timers.runOnce()).to.include({ reviewDisputes: 1 })
    expect(await timers.runOnce(), 'it fires once').to.include({ reviewDisputes: 0 })
    const disputes = await request(app)
      .get(`/v1/jobs/${job.job_id}/disputes`)
      .set('Authorization', bearer(worker.apiKey))
      .expect(200)
    expect(disputes.body).to.have.length(1)
    expect(disputes.body[0]).to.include({ opened_by_agent_id: null, deposit_amount: '0', status: 'open' })
    expect(disputes.body[0].chain_ops).to.deep.equal([])
    const detail = await request(app)
      .get(`/v1/jobs/${job.job_id}`)
      .set('Authorization', bearer(worker.apiKey))
    expect(detail.body.my_assignments[0].status).to.equal('disputed')
    const after = (
      await request(app).get('/v1/wallet/balance').set('Authorization', bearer(requester.apiKey))
    ).body.balances[0]
    expect(after).to.deep.equal(before)
  })

  it('cancels work not submitted 24 h past its ETA: the slot reopens and the worker’s managed key refunds the escrow', async () => {
    const job = await postJob(app, requester.apiKey, { deadline_seconds: 604800 })
    const bid = await postBid(app, worker.apiKey, job.job_id, { eta_seconds: 3600 })
    const { assignment } = await postAward(app, requester.apiKey, job.job_id, bid.bid_id)
    const timers = new TimersWorker(context, 10_000)
    await shiftDatabaseClock(database.pool, 3600 + 23 * 3600)
    expect(await timers.runOnce()).to.include({ overdueCancelled: 0 })

    await shiftDatabaseClock(database.pool, 3600 + 24 * 3600 + 1)
    expect(await timers.runOnce()).to.include({ overdueCancelled: 1 })
    expect(await timers.runOnce(), 'it fires once').to.include({ overdueCancelled: 0 })
    expect(await jobStatus(job.job_id)).to.equal('open')
    const read = await request(app)
      .get(`/v1/assignments/${assignment.assignment_id}`)
      .set('Authorization', bearer(requester.apiKey))
      .expect(200)
    expect(read.body.status).to.equal('cancelled')
    const refund = read.body.chain_ops.find((op: { kind: string }) => op.kind === 'escrow_refund')
    expect(refund).to.include({ signer_address: worker.agent.wallet_address })
    expect(refund.typed_data.message).to.deep.equal({ escrowId: assignment.escrow_id })
    // A late submission finds nothing to submit to.
    const late = await request(app)
      .post(`/v1/jobs/${job.job_id}/submit`)
      .set('Authorization', bearer(worker.apiKey))
      .send({ deliverable: 'https://example.com/late.md' })
      .expect(409)
    expect(late.body.error.code).to.equal('assignment_not_active')
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
      reviewDisputes: 0,
      overdueCancelled: 0,
      instantTimedOut: 0,
      instantReassigned: 0,
      instantFailed: 0,
      reservationsExpired: 0,
      boardTasksReopened: 0,
      escrowsReclaimed: 0,
      sessionsExpired: 0,
      channelsSettled: 0,
      channelsClosed: 0,
      microJobsRefunded: 0,
      negotiationsExpired: 0,
      eventsPruned: 0,
      webhookDeliveriesPruned: 0,
    })
  })
})
