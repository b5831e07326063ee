import { expect } from 'chai'
import type { Express } from 'express'
import request from 'supertest'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { createTestApp } from '../helpers/app'
import { bearer, fundAgent, registerAgent, type RegisteredTestAgent } from '../helpers/agents'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { expectFieldError, postAward, postBid, postJob, postSubmit } from '../helpers/jobs'

describe('free jobs: a bid of 0 moves no money and pays no fee', () => {
  let database: TestDatabase
  let app: Express
  let requester: RegisteredTestAgent
  let worker: RegisteredTestAgent
  let resolver: RegisteredTestAgent

  before(async () => {
    database = await createTestDatabase()
    ;({ app } = await createTestApp(database))
    requester = await registerAgent(app)
    worker = await registerAgent(app)
    resolver = await registerAgent(app)
    await fundAgent(app, requester.apiKey, '20')
  })
  after(async () => {
    await database.drop()
  })

  const balances = async (agent: RegisteredTestAgent) =>
    (await request(app).get('/v1/wallet/balance').set('Authorization', bearer(agent.apiKey))).body.balances[0]

  async function freeAssignment(payer = requester) {
    const job = await postJob(app, payer.apiKey, { budget_amount: '0', dispute_agent_id: resolver.agent.id })
    expect(job.budget_amount).to.equal('0')
    const bid = await postBid(app, worker.apiKey, job.job_id, { amount: '0' })
    const { assignment } = await postAward(app, payer.apiKey, job.job_id, bid.bid_id)
    return { job, assignment }
  }

  it('awards, submits and accepts with no escrow, no op and no balance moved', async () => {
    const before = { requester: await balances(requester), worker: await balances(worker) }
    const { job, assignment } = await freeAssignment()
    expect(assignment).to.include({ status: 'in_progress', escrow_amount: '0', fee_bps: 0, escrow_id: null })
    expect(assignment.chain_ops).to.deep.equal([])
    await postSubmit(app, worker.apiKey, job.job_id)
    const accepted = await request(app)
      .post(`/v1/jobs/${job.job_id}/accept`)
      .set('Authorization', bearer(requester.apiKey))
      .expect(200)
    expect(accepted.body.job.status).to.equal('completed')
    expect(accepted.body.assignments[0]).to.include({ status: 'accepted' })
    expect(accepted.body.assignments[0].chain_ops).to.deep.equal([])
    expect(await balances(requester)).to.deep.equal(before.requester)
    expect(await balances(worker)).to.deep.equal(before.worker)
  })

  it('starts a self-custody payer’s free work at once: there is no escrow to sign', async () => {
    const payer = await registerAgent(app, { account: privateKeyToAccount(generatePrivateKey()) })
    await fundAgent(app, payer.apiKey, '5')
    const { assignment } = await freeAssignment(payer)
    expect(assignment).to.include({ status: 'in_progress', escrow_id: null })
  })

  it('takes no bid above a budget of 0', async () => {
    const job = await postJob(app, requester.apiKey, { budget_amount: '0' })
    const res = await request(app)
      .post(`/v1/jobs/${job.job_id}/bids`)
      .set('Authorization', bearer(worker.apiKey))
      .send({ amount: '1', eta_seconds: 3600 })
    expectFieldError(res, 'amount')
  })

  it('disputes and rules a free assignment with no deposit and no op', async () => {
    const { job } = await freeAssignment()
    await postSubmit(app, worker.apiKey, job.job_id)
    const opened = await request(app)
      .post(`/v1/jobs/${job.job_id}/dispute`)
      .set('Authorization', bearer(requester.apiKey))
      .send({ reason: 'Not what was asked' })
      .expect(201)
    expect(opened.body).to.include({ deposit_amount: '0', resolver_agent_id: resolver.agent.id })
    const ruled = await request(app)
      .post(`/v1/disputes/${opened.body.dispute_id}/rule`)
      .set('Authorization', bearer(resolver.apiKey))
      .send({ ruling: 'worker_wins' })
      .expect(200)
    expect(ruled.body.chain_ops).to.deep.equal([])
    const detail = await request(app)
      .get(`/v1/jobs/${job.job_id}`)
      .set('Authorization', bearer(worker.apiKey))
    expect(detail.body.my_assignments[0].status).to.equal('accepted')
  })
})
