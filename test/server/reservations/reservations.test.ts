import { expect } from 'chai'
import { randomUUID } from 'node:crypto'
import request from 'supertest'
import { parseUnits } from 'viem'
import { generatePrivateKey, privateKeyToAccount, type PrivateKeyAccount } from 'viem/accounts'
import { signedEnvelopeBody } from '../../../protocol/signed-request'
import { ESCROW_RESOLVER_FEE_BPS } from '../../../server/escrow/escrow-ops'
import { TimersWorker } from '../../../server/workers/timers'
import { bearer, registerAgent, type RegisteredTestAgent } from '../helpers/agents'
import { createChainTestApp, type ChainTestApp } from '../helpers/chain-app'
import { shiftDatabaseClock } from '../helpers/clock'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { expectFieldError } from '../helpers/jobs'

const USDC = 1_000_000n
const INSTRUCTIONS = 'Private: post the summary to ticket #12345 in the support desk, then reply "done".'

/** An agent written for seed 003: a wallet it signs with, and a session opened at seed 003's path. */
interface Seed003Agent {
  agent: RegisteredTestAgent
  account: PrivateKeyAccount
  session: string
}

/** Seed 003's reservable jobs, driven as an agent written for that API drives them: signed envelopes in the body. */
describe('reservable jobs (seed 003) with the signed body envelope', () => {
  let database: TestDatabase
  let chain: ChainTestApp
  let timers: TimersWorker

  before(async function () {
    this.timeout(120_000)
    database = await createTestDatabase()
    chain = await createChainTestApp(database)
    timers = new TimersWorker(chain.context, 10_000)
  })
  afterEach(async () => {
    await shiftDatabaseClock(database.pool, 0)
  })
  after(async () => {
    await chain.stop()
    await database.drop()
  })

  async function settleAll(): Promise<void> {
    for (const result of await chain.settle()) expect(result.outcome).to.equal('confirmed')
  }

  async function seed003Agent(): Promise<Seed003Agent> {
    const account = privateKeyToAccount(generatePrivateKey())
    const agent = await registerAgent(chain.app, { account })
    const session = await request(chain.app)
      .post('/v1/external/auth/session')
      .send({ wallet_address: account.address })
      .expect(201)
    return { agent, account, session: session.body.session_nonce }
  }

  /** A seed 003 call: `payload` plus the envelope, signed for `action` and `product`. */
  async function signedCall(
    who: Seed003Agent,
    path: string,
    action: string,
    options: { product?: string; payload?: Record<string, unknown>; requestId?: string } = {},
  ) {
    const body = await signedEnvelopeBody({
      wallet: who.account.address,
      signMessage: (message) => who.account.signMessage({ message }),
      session: who.session,
      requestId: options.requestId ?? `req-${randomUUID()}`,
      action,
      product: options.product,
      payload: options.payload,
    })
    return request(chain.app).post(path).send(body)
  }

  const list = (who: Seed003Agent) =>
    signedCall(who, '/v1/external/jobs/list', 'job_list', { payload: { limit: 50, skip: 0 } })
  const reserve = (who: Seed003Agent, jobId: string) =>
    signedCall(who, `/v1/external/jobs/${jobId}/reserve`, 'job_reserve', { product: jobId })
  const status = (who: Seed003Agent, jobId: string) =>
    signedCall(who, `/v1/external/jobs/${jobId}/status`, 'job_status', { product: jobId })
  const complete = (who: Seed003Agent, jobId: string, payload: Record<string, unknown>) =>
    signedCall(who, `/v1/external/jobs/${jobId}/complete`, 'job_complete', { product: jobId, payload })

  /** A funded creator (the platform's treasury agent, say) and its reservable job. */
  async function postedJob(options: { reward?: string; autoAccept?: boolean; funds?: bigint } = {}) {
    const creator = await registerAgent(chain.app)
    await chain.fund(creator.agent.wallet_address, options.funds ?? 20n * USDC)
    const res = await request(chain.app)
      .post('/v1/jobs/reservable')
      .set('Authorization', bearer(creator.apiKey))
      .send({
        title: 'Summarise the support ticket backlog',
        description: 'Read the open support tickets and post a one-paragraph summary of the themes.',
        budget_amount: options.reward ?? '5',
        private_instructions: INSTRUCTIONS,
        reservation_seconds: 600,
        auto_accept: options.autoAccept ?? true,
      })
    expect(res.status, JSON.stringify(res.body)).to.equal(201)
    expect(res.body).to.include({
      job_type: 'reservable',
      status: 'open',
      private_instructions: INSTRUCTIONS,
    })
    return { creator, jobId: res.body.job_id as string }
  }

  it('lets a reservation lapse back to the next agent, keeps the instructions private, and pays the one who completes, to the base unit', async function () {
    this.timeout(180_000)
    const { creator, jobId } = await postedJob()
    const first = await seed003Agent()
    const second = await seed003Agent()

    const listed = await list(first)
    expect(listed.status, JSON.stringify(listed.body)).to.equal(200)
    const entry = listed.body.jobs.find((job: { job_id: string }) => job.job_id === jobId)
    expect(entry).to.include({ reward: '5', token: 'USDC', reservation_seconds: 600, status: 'open' })
    expect(JSON.stringify(listed.body)).to.not.contain('ticket #12345')

    const reserved = await reserve(first, jobId)
    expect(reserved.status, JSON.stringify(reserved.body)).to.equal(201)
    expect(reserved.body).to.include({
      job_id: jobId,
      status: 'active',
      instructions: INSTRUCTIONS,
      reward: '5',
    })
    const expiresIn = (Date.parse(reserved.body.expires_at) - Date.now()) / 1000
    expect(expiresIn).to.be.within(590, 601)
    await settleAll()
    expect(await chain.vaultBalanceOf(creator.agent.wallet_address)).to.equal(15n * USDC)

    // The window is exclusive, and the instructions are the holder's alone.
    const taken = await reserve(second, jobId)
    expect(taken.status).to.equal(409)
    expect(taken.body.error.code).to.equal('job_reserved')
    expect((await list(second)).body.jobs.map((job: { job_id: string }) => job.job_id)).to.not.include(jobId)
    const seen = await status(second, jobId)
    expect(seen.status).to.equal(200)
    expect(seen.body).to.include({ status: 'reserved', reservation: null, payout: 'none' })
    expect(JSON.stringify(seen.body)).to.not.contain('ticket #12345')

    // The window lapses: the reward goes back through the vault and the job is open again.
    await shiftDatabaseClock(database.pool, 601)
    expect(await timers.runOnce()).to.include({ reservationsExpired: 1 })
    expect(await timers.runOnce(), 'it lapses once').to.include({ reservationsExpired: 0 })
    await settleAll()
    // A self-custody worker cannot be made to sign the refund: the platform resolver rules the
    // escrow back to the creator, whose terms pay the resolver its fee.
    const resolverFee = (5n * USDC * BigInt(ESCROW_RESOLVER_FEE_BPS)) / 10_000n
    expect(await chain.vaultBalanceOf(creator.agent.wallet_address)).to.equal(20n * USDC - resolverFee)
    const late = await complete(first, jobId, {
      reservation_id: reserved.body.reservation_id,
      proof_text: 'Too late: summary posted.',
    })
    expect(late.status).to.equal(409)
    expect(late.body.error.code).to.equal('reservation_not_active')
    const lapsed = await status(first, jobId)
    expect(lapsed.body).to.include({ status: 'open', payout: 'refunded' })
    expect(lapsed.body.reservation).to.include({ status: 'expired', instructions: null })

    // The next agent reserves it, completes it with proof, and is paid at once (auto_accept).
    const again = await reserve(second, jobId)
    expect(again.status, JSON.stringify(again.body)).to.equal(201)
    expect(again.body.instructions).to.equal(INSTRUCTIONS)
    const done = await complete(second, jobId, {
      reservation_id: again.body.reservation_id,
      proof_text: 'Submitted to destination system: ticket #12345',
      proof_hash: 'sha256:feedface',
    })
    expect(done.status, JSON.stringify(done.body)).to.equal(200)
    expect(done.body).to.include({ status: 'completed', proof_hash: 'sha256:feedface' })
    await settleAll()
    const final = await status(second, jobId)
    expect(final.body).to.include({ job_status: 'completed', payout: 'released' })
    const assignment = await request(chain.app)
      .get(`/v1/assignments/${again.body.assignment_id}`)
      .set('Authorization', bearer(creator.apiKey))
      .expect(200)
    const fee = (5n * USDC * BigInt(assignment.body.fee_bps)) / 10_000n
    expect(await chain.vaultBalanceOf(second.account.address)).to.equal(5n * USDC - fee)
    expect(await chain.vaultBalanceOf(first.account.address)).to.equal(0n)
    expect(await chain.vaultBalanceOf(creator.agent.wallet_address)).to.equal(15n * USDC - resolverFee)
    expect(await chain.reconciliationDifference()).to.equal(0n)
  })

  it('waits for the creator to accept the proof when the job does not auto-accept', async function () {
    this.timeout(120_000)
    const { creator, jobId } = await postedJob({ autoAccept: false })
    const worker = await seed003Agent()
    const reserved = await reserve(worker, jobId)
    const done = await complete(worker, jobId, {
      reservation_id: reserved.body.reservation_id,
      proof_text: 'Done: posted.',
    })
    expect(done.status, JSON.stringify(done.body)).to.equal(200)
    expect((await status(worker, jobId)).body.payout).to.equal('awaiting_acceptance')
    await request(chain.app)
      .post(`/v1/jobs/${jobId}/accept`)
      .set('Authorization', bearer(creator.apiKey))
      .send({})
      .expect(200)
    expect((await status(worker, jobId)).body.payout).to.equal('released')
  })

  it('refuses an envelope that does not verify: another wallet’s signature, a replayed request id, another job, a changed payload', async () => {
    const { jobId } = await postedJob()
    const { jobId: otherJobId } = await postedJob()
    const worker = await seed003Agent()
    const impostor = await seed003Agent()

    const forged = await signedEnvelopeBody({
      wallet: worker.account.address,
      signMessage: (message) => impostor.account.signMessage({ message }),
      session: worker.session,
      requestId: 'forged-1',
      action: 'job_reserve',
      product: jobId,
    })
    const refused = await request(chain.app).post(`/v1/external/jobs/${jobId}/reserve`).send(forged)
    expect(refused.status).to.equal(401)
    expect(refused.body.error.details.reason).to.equal('invalid_signature')

    // Signed for one job, sent for another.
    const forJob = await signedEnvelopeBody({
      wallet: worker.account.address,
      signMessage: (message) => worker.account.signMessage({ message }),
      session: worker.session,
      requestId: 'moved-1',
      action: 'job_reserve',
      product: jobId,
    })
    const moved = await request(chain.app).post(`/v1/external/jobs/${otherJobId}/reserve`).send(forJob)
    expect(moved.status).to.equal(401)
    expect(moved.body.error.details.reason).to.equal('invalid_signature')

    const listedOnce = await signedCall(worker, '/v1/external/jobs/list', 'job_list', {
      payload: { limit: 5, skip: 0 },
      requestId: 'list-once',
    })
    expect(listedOnce.status).to.equal(200)
    const replayed = await signedCall(worker, '/v1/external/jobs/list', 'job_list', {
      payload: { limit: 5, skip: 0 },
      requestId: 'list-once',
    })
    expect(replayed.status).to.equal(401)
    expect(replayed.body.error.details.reason).to.equal('request_replayed')

    const reserved = await reserve(worker, jobId)
    const body = await signedEnvelopeBody({
      wallet: worker.account.address,
      signMessage: (message) => worker.account.signMessage({ message }),
      session: worker.session,
      requestId: 'tampered-1',
      action: 'job_complete',
      product: jobId,
      payload: { reservation_id: reserved.body.reservation_id, proof_text: 'the real proof' },
    })
    const tampered = await request(chain.app)
      .post(`/v1/external/jobs/${jobId}/complete`)
      .send({ ...body, proof_text: 'a different proof' })
    expect(tampered.status).to.equal(401)
    expect(tampered.body.error.details.reason).to.equal('invalid_signature')

    // Part of an envelope is no credential at all.
    const partial = await request(chain.app)
      .post('/v1/external/jobs/list')
      .send({ wallet_address: worker.account.address, signature: '0x00' })
    expect(partial.status).to.equal(401)
    expect(partial.body.error.details.reason).to.equal('missing_credentials')
  })

  it('takes the same routes with an API key, and refuses the wrong caller, state and input', async () => {
    const { creator, jobId } = await postedJob()
    const worker = await registerAgent(chain.app)
    const auth = bearer(worker.apiKey)
    const own = await request(chain.app)
      .post(`/v1/external/jobs/${jobId}/reserve`)
      .set('Authorization', bearer(creator.apiKey))
    expect(own.status).to.equal(403)
    expect(own.body.error.code).to.equal('own_job')
    const bid = await request(chain.app)
      .post(`/v1/jobs/${jobId}/bids`)
      .set('Authorization', auth)
      .send({ amount: '5', eta_seconds: 3600 })
    expect(bid.status).to.equal(409)
    expect(bid.body.error.code).to.equal('reservable_job')

    const reserved = await request(chain.app)
      .post(`/v1/external/jobs/${jobId}/reserve`)
      .set('Authorization', auth)
    expect(reserved.status, JSON.stringify(reserved.body)).to.equal(201)
    const stranger = await registerAgent(chain.app)
    const notYours = await request(chain.app)
      .post(`/v1/external/jobs/${jobId}/complete`)
      .set('Authorization', bearer(stranger.apiKey))
      .send({ reservation_id: reserved.body.reservation_id, proof_text: 'mine now' })
    expect(notYours.status).to.equal(404)
    expect(notYours.body.error.code).to.equal('reservation_not_found')
    expectFieldError(
      await request(chain.app)
        .post(`/v1/external/jobs/${jobId}/complete`)
        .set('Authorization', auth)
        .send({ reservation_id: reserved.body.reservation_id }),
      'proof_text',
    )
    expectFieldError(
      await request(chain.app).post('/v1/external/jobs/list').set('Authorization', auth).send({ limit: 0 }),
      'limit',
    )
    const standard = await request(chain.app)
      .post('/v1/jobs')
      .set('Authorization', bearer(creator.apiKey))
      .send({
        title: 'An ordinary job, not reservable',
        description: 'Bid on it as usual: this one is awarded by its creator, not reserved by anyone.',
      })
      .expect(201)
    const notReservable = await request(chain.app)
      .post(`/v1/external/jobs/${standard.body.job_id}/reserve`)
      .set('Authorization', auth)
    expect(notReservable.status).to.equal(404)
    expectFieldError(
      await request(chain.app).post('/v1/jobs/reservable').set('Authorization', bearer(creator.apiKey)).send({
        title: 'Summarise the support ticket backlog',
        description: 'Read the open support tickets and post a one-paragraph summary of the themes.',
        budget_amount: '5',
      }),
      'private_instructions',
    )
    const unfunded = await registerAgent(chain.app)
    const broke = await request(chain.app)
      .post('/v1/jobs/reservable')
      .set('Authorization', bearer(unfunded.apiKey))
      .send({
        title: 'Summarise the support ticket backlog',
        description: 'Read the open support tickets and post a one-paragraph summary of the themes.',
        budget_amount: '5',
        private_instructions: INSTRUCTIONS,
      })
    expect(broke.status).to.equal(409)
    expect(broke.body.error.code).to.equal('insufficient_balance')
  })

  it('races: of agents reserving one job at once, one holds it; the escrow is locked once', async function () {
    this.timeout(120_000)
    const { creator, jobId } = await postedJob({ funds: 5n * USDC })
    const agents = await Promise.all(Array.from({ length: 4 }, () => seed003Agent()))
    const results = await Promise.all(agents.map((agent) => reserve(agent, jobId)))
    expect(results.filter((res) => res.status === 201)).to.have.length(1)
    expect(results.filter((res) => res.status === 409).map((res) => res.body.error.code)).to.deep.equal(
      Array(3).fill('job_reserved'),
    )
    const balance = await request(chain.app)
      .get('/v1/wallet/balance')
      .set('Authorization', bearer(creator.apiKey))
      .expect(200)
    expect(parseUnits(balance.body.balances[0].escrowed, 6)).to.equal(5n * USDC)
    expect(parseUnits(balance.body.balances[0].available, 6)).to.equal(0n)
  })
})
