import { expect } from 'chai'
import type { Express } from 'express'
import request from 'supertest'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import type { DisputeResponse } from '../../../protocol/disputes'
import type { AppContext } from '../../../server/app-context'
import { DISPUTE_DEPOSIT_BPS } from '../../../server/disputes/disputes-service'
import { ESCROW_RESOLVER_FEE_BPS } from '../../../server/escrow/escrow-ops'
import { bearer, fundAgent, registerAgent, type RegisteredTestAgent } from '../helpers/agents'
import { createTestApp } from '../helpers/app'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { expectFieldError, postAward, postBid, postJob, postSubmit } from '../helpers/jobs'

const CRITERIA = [
  { id: 'severity', description: 'Every finding has a severity rating' },
  { id: 'repro', description: 'Every high finding has reproduction steps' },
]

describe('disputes: opening, evidence and rulings through the API', () => {
  let database: TestDatabase
  let app: Express
  let context: AppContext
  let requester: RegisteredTestAgent
  let resolver: RegisteredTestAgent

  before(async () => {
    database = await createTestDatabase()
    ;({ app, context } = await createTestApp(database))
    requester = await registerAgent(app)
    resolver = await registerAgent(app)
    await fundAgent(app, requester.apiKey, '1000')
  })
  after(async () => {
    await database.drop()
  })

  const balance = async (agent: RegisteredTestAgent) =>
    (await request(app).get('/v1/wallet/balance').set('Authorization', bearer(agent.apiKey))).body
      .balances[0] as {
      available: string
      escrowed: string
    }

  /** A fresh worker's submitted assignment on a job of 10 USDC resolved by `resolver`. */
  async function submitted(options: { fundWorker?: string } = {}) {
    const worker = await registerAgent(app)
    if (options.fundWorker) await fundAgent(app, worker.apiKey, options.fundWorker)
    const job = await postJob(app, requester.apiKey, {
      dispute_agent_id: resolver.agent.id,
      acceptance_criteria: CRITERIA,
    })
    const bid = await postBid(app, worker.apiKey, job.job_id, { amount: '10' })
    const { assignment } = await postAward(app, requester.apiKey, job.job_id, bid.bid_id)
    await postSubmit(app, worker.apiKey, job.job_id)
    return { worker, job, assignment }
  }

  const open = (jobId: string, agent: RegisteredTestAgent, body: Record<string, unknown> = {}) =>
    request(app)
      .post(`/v1/jobs/${jobId}/dispute`)
      .set('Authorization', bearer(agent.apiKey))
      .send({ reason: 'Severity ratings are missing', ...body })

  const rule = (disputeId: string, body: Record<string, unknown>, agent = resolver) =>
    request(app).post(`/v1/disputes/${disputeId}/rule`).set('Authorization', bearer(agent.apiKey)).send(body)

  const assignmentStatus = async (jobId: string, worker: RegisteredTestAgent) =>
    (await request(app).get(`/v1/jobs/${jobId}`).set('Authorization', bearer(worker.apiKey))).body
      .my_assignments[0].status

  it('opens on a submitted assignment: disputed, the deposit into escrow, the criteria in question, a message to both', async () => {
    const { worker, job, assignment } = await submitted()
    const before = await balance(requester)
    const res = await open(job.job_id, requester, {
      criteria: ['severity'],
      evidence_urls: ['https://example.com/brief.md'],
    }).expect(201)
    const dispute = res.body as DisputeResponse
    expect(dispute).to.include({
      job_id: job.job_id,
      assignment_id: assignment.assignment_id,
      opened_by_agent_id: requester.agent.id,
      resolver_agent_id: resolver.agent.id,
      status: 'open',
      deposit_amount: String((10 * DISPUTE_DEPOSIT_BPS) / 10_000),
      ruling: null,
    })
    expect(dispute.criteria_in_question).to.deep.equal(['severity'])
    expect(dispute.evidence_urls).to.deep.equal(['https://example.com/brief.md'])
    expect(dispute.chain_ops.map((op) => [op.kind, op.status, op.signer_address])).to.deep.equal([
      ['escrow_lock', 'pending', requester.agent.wallet_address],
    ])
    expect(dispute.chain_ops[0]!.typed_data.message).to.include({
      payer: requester.agent.wallet_address,
      payee: worker.agent.wallet_address,
      resolver: resolver.agent.wallet_address,
      feeBps: '0',
      resolverFeeBps: '0',
    })
    const after = await balance(requester)
    expect(Number(before.available) - Number(after.available)).to.equal(0.5)
    expect(Number(after.escrowed) - Number(before.escrowed)).to.equal(0.5)
    expect(await assignmentStatus(job.job_id, worker)).to.equal('disputed')
    const messages = await request(app)
      .get(`/v1/assignments/${assignment.assignment_id}/messages`)
      .set('Authorization', bearer(worker.apiKey))
      .expect(200)
    expect(messages.body.map((message: { body: string }) => message.body)).to.include(
      'Dispute opened: Severity ratings are missing',
    )
  })

  it('answers 409 to a second dispute, to work not submitted, and to an opener who cannot cover the deposit, changing nothing', async () => {
    const { worker, job } = await submitted()
    await open(job.job_id, requester).expect(201)
    expect((await open(job.job_id, requester).expect(409)).body.error.code).to.equal('dispute_open')

    const unfunded = await submitted()
    const poor = await open(unfunded.job.job_id, unfunded.worker).expect(409)
    expect(poor.body.error.code).to.equal('insufficient_balance')
    expect(await assignmentStatus(unfunded.job.job_id, unfunded.worker)).to.equal('submitted')
    const listed = await request(app)
      .get(`/v1/jobs/${unfunded.job.job_id}/disputes`)
      .set('Authorization', bearer(requester.apiKey))
      .expect(200)
    expect(listed.body).to.deep.equal([])

    const fresh = await postJob(app, requester.apiKey, { dispute_agent_id: resolver.agent.id })
    const bid = await postBid(app, worker.apiKey, fresh.job_id, { amount: '10' })
    await postAward(app, requester.apiKey, fresh.job_id, bid.bid_id)
    expect((await open(fresh.job_id, requester).expect(409)).body.error.code).to.equal(
      'assignment_not_submitted',
    )
  })

  it('takes one deposit when the same dispute is opened twice at once', async () => {
    const { job } = await submitted()
    const before = await balance(requester)
    const statuses = await Promise.all(
      [1, 2, 3].map(() => open(job.job_id, requester).then((res) => res.status)),
    )
    expect(statuses.sort()).to.deep.equal([201, 409, 409])
    const after = await balance(requester)
    expect(Number(before.available) - Number(after.available)).to.equal(0.5)
  })

  it('answers 400 naming the field for a missing reason, a bad evidence URL, a criterion the job lacks or a malformed id', async () => {
    const { worker, job } = await submitted()
    expectFieldError(await open(job.job_id, requester, { reason: '' }), 'reason')
    expectFieldError(
      await open(job.job_id, requester, { evidence_urls: ['ftp://example.com/x'] }),
      'evidence_urls.0',
    )
    expectFieldError(await open(job.job_id, requester, { criteria: ['speed'] }), 'criteria.0')
    expectFieldError(await open(job.job_id, requester, { assignment_id: 'not-a-uuid' }), 'assignment_id')
    const malformed = await request(app).get('/v1/disputes/42').set('Authorization', bearer(requester.apiKey))
    expectFieldError(malformed, 'dispute_id')
    expect(await assignmentStatus(job.job_id, worker)).to.equal('submitted')
  })

  it('takes evidence of each type from the parties while open, 400 for a malformed piece, 409 once ruled', async () => {
    const { worker, job } = await submitted()
    const dispute = (await open(job.job_id, requester).expect(201)).body as DisputeResponse
    const add = (agent: RegisteredTestAgent, body: Record<string, unknown>) =>
      request(app)
        .post(`/v1/disputes/${dispute.dispute_id}/evidence`)
        .set('Authorization', bearer(agent.apiKey))
        .send(body)
    await add(requester, { type: 'url', url: 'https://example.com/spec.md', description: 'The spec' }).expect(
      201,
    )
    await add(worker, { type: 'photo', url: 'https://example.com/screenshot.png' }).expect(201)
    await add(worker, { type: 'tracking', carrier: 'DHL', tracking_number: '123456' }).expect(201)
    await add(requester, { type: 'hash', algorithm: 'sha256', value: 'ab'.repeat(32) }).expect(201)
    expectFieldError(await add(worker, { type: 'tracking', carrier: 'DHL' }), 'tracking_number')
    expectFieldError(await add(worker, { type: 'video', url: 'https://example.com/v.mp4' }), 'type')
    const read = await request(app)
      .get(`/v1/disputes/${dispute.dispute_id}`)
      .set('Authorization', bearer(resolver.apiKey))
      .expect(200)
    expect(read.body.evidence.map((piece: { type: string }) => piece.type)).to.deep.equal([
      'url',
      'photo',
      'tracking',
      'hash',
    ])
    await rule(dispute.dispute_id, { ruling: 'redo' }).expect(200)
    const late = await add(worker, { type: 'url', url: 'https://example.com/late.md' }).expect(409)
    expect(late.body.error.code).to.equal('dispute_resolved')
  })

  it('rules once: 400 for a split without split_bps or a finding on a criterion not in question, 409 the second time', async () => {
    const { job } = await submitted()
    const dispute = (await open(job.job_id, requester, { criteria: ['severity'] }).expect(201))
      .body as DisputeResponse
    expectFieldError(await rule(dispute.dispute_id, { ruling: 'split' }), 'split_bps')
    expectFieldError(await rule(dispute.dispute_id, { ruling: 'worker_wins', split_bps: 5000 }), 'split_bps')
    expectFieldError(
      await rule(dispute.dispute_id, {
        ruling: 'worker_wins',
        findings: [{ criterion_id: 'repro', finding: 'met' }],
      }),
      'findings.0.criterion_id',
    )
    expectFieldError(await rule(dispute.dispute_id, { ruling: 'everyone_wins' }), 'ruling')
    const ruled = await rule(dispute.dispute_id, {
      ruling: 'split',
      split_bps: 7000,
      reasoning: 'Most findings are rated',
      findings: [{ criterion_id: 'severity', finding: 'not_met', note: 'three of ten unrated' }],
    }).expect(200)
    expect(ruled.body).to.include({
      status: 'resolved',
      ruling: 'split',
      split_bps: 7000,
      reasoning: 'Most findings are rated',
    })
    expect(ruled.body.findings).to.deep.equal([
      { criterion_id: 'severity', finding: 'not_met', note: 'three of ten unrated' },
    ])
    expect(ruled.body.chain_ops.map((op: { kind: string }) => op.kind)).to.deep.equal([
      'escrow_lock',
      'escrow_ruling',
      'escrow_ruling',
    ])
    const again = await rule(dispute.dispute_id, { ruling: 'worker_wins' }).expect(409)
    expect(again.body.error.code).to.equal('dispute_resolved')
  })

  it('redo sends the assignment back to in progress with the escrow still locked; the worker resubmits', async () => {
    const { worker, job } = await submitted()
    const dispute = (await open(job.job_id, requester).expect(201)).body as DisputeResponse
    const ruled = (await rule(dispute.dispute_id, { ruling: 'redo' }).expect(200)).body as DisputeResponse
    // Only the deposit is ruled on (back to the opener); the disputed escrow is not touched.
    expect(ruled.chain_ops.map((op) => op.kind)).to.deep.equal(['escrow_lock', 'escrow_ruling'])
    expect(ruled.chain_ops[1]!.typed_data.message).to.include({ payeeBps: '0' })
    expect(await assignmentStatus(job.job_id, worker)).to.equal('in_progress')
    await postSubmit(app, worker.apiKey, job.job_id)
    expect(await assignmentStatus(job.job_id, worker)).to.equal('submitted')
  })

  it('ends the assignment and closes the job with a ruling; the loser’s disputes_lost counts it', async () => {
    const { worker, job, assignment } = await submitted({ fundWorker: '10' })
    const dispute = (await open(job.job_id, worker).expect(201)).body as DisputeResponse
    const ruled = (await rule(dispute.dispute_id, { ruling: 'requester_wins' }).expect(200))
      .body as DisputeResponse
    const rulings = ruled.chain_ops.filter((op) => op.kind === 'escrow_ruling')
    const jobRuling = rulings.find((op) => op.typed_data.message.escrowId === assignment.escrow_id)
    expect(jobRuling!.typed_data.message).to.include({ payeeBps: '0' })
    expect(jobRuling!.signer_address).to.equal(resolver.agent.wallet_address)
    // The worker opened and lost: its deposit goes to the requester (the deposit escrow's payee).
    const depositRuling = rulings.find((op) => op !== jobRuling)
    expect(depositRuling!.typed_data.message).to.include({ payeeBps: '10000' })
    expect(await assignmentStatus(job.job_id, worker)).to.equal('cancelled')
    const closed = await request(app)
      .get(`/v1/jobs/${job.job_id}`)
      .set('Authorization', bearer(requester.apiKey))
    expect(closed.body).to.include({ status: 'closed' })
    const profile = await request(app).get(`/v1/agents/${worker.agent.id}`).expect(200)
    expect(profile.body.disputes_lost).to.equal(1)
  })

  it('returns a deposit its self-custody opener never signed when the dispute is ruled, and rules on nothing else for it', async () => {
    const worker = await registerAgent(app, { account: privateKeyToAccount(generatePrivateKey()) })
    await fundAgent(app, worker.apiKey, '10')
    const job = await postJob(app, requester.apiKey, { dispute_agent_id: resolver.agent.id })
    const bid = await postBid(app, worker.apiKey, job.job_id, { amount: '10' })
    await postAward(app, requester.apiKey, job.job_id, bid.bid_id)
    await postSubmit(app, worker.apiKey, job.job_id)
    const opened = (await open(job.job_id, worker).expect(201)).body as DisputeResponse
    expect(opened.chain_ops.map((op) => op.status)).to.deep.equal(['awaiting_signature'])
    expect(await balance(worker)).to.include({ available: '9.5', escrowed: '0.5' })

    const ruled = (await rule(opened.dispute_id, { ruling: 'requester_wins' }).expect(200))
      .body as DisputeResponse
    expect(await balance(worker)).to.include({ available: '10', escrowed: '0' })
    const depositOps = ruled.chain_ops.filter((op) => op.signer_address === worker.agent.wallet_address)
    expect(depositOps.map((op) => [op.kind, op.status])).to.deep.equal([['escrow_lock', 'failed']])
  })

  it('answers the dispute terms to anyone', async () => {
    const res = await request(app).get('/v1/platform/dispute-info').expect(200)
    expect(res.body).to.deep.equal({
      resolver_fee_bps: ESCROW_RESOLVER_FEE_BPS,
      dispute_deposit_bps: DISPUTE_DEPOSIT_BPS,
      platform_resolver_agent_id: context.platformResolverAgentId,
    })
  })
})
