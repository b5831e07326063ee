import { DEFAULT_PROTOCOL_FEE_BPS } from '../../../server/chain/vault-fees'
import { randomUUID } from 'node:crypto'
import { expect } from 'chai'
import type { Express } from 'express'
import request from 'supertest'
import { decodeAbiParameters, keccak256, recoverTypedDataAddress, zeroAddress } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import {
  acceptResponse,
  assignmentResponse,
  awardResponse,
  type AssignmentResponse,
} from '../../../protocol/assignments'
import { escrowIdOf, type EscrowLockTerms } from '../../../protocol/escrow-sets'
import { OpKind, opDataAbi, type ClearhouseDomain } from '../../../protocol/typed-data'
import { ESCROW_RESOLVER_FEE_BPS, toViemTypedData } from '../../../server/escrow/escrow-ops'
import type { AppContext } from '../../../server/app-context'
import type { TypedDataJson } from '../../../protocol/assignments'
import { selectEntrySumsByToken, selectPlatformBalance } from '../../../server/ledger/ledger-queries'
import { COORDINATOR_NONCE_BASE } from '../../../server/wallet/wallet-service'
import { TEST_USDC, createTestApp } from '../helpers/app'
import { bearer, fundAgent, registerAgent, type RegisteredTestAgent } from '../helpers/agents'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import {
  balanceOf,
  unsettledOf,
  expectFieldError,
  jobBody,
  postAward,
  postBid,
  postJob,
  postSubmit,
} from '../helpers/jobs'
import { openSession, signedRequest } from '../helpers/signed-requests'

interface ChainOpRow {
  id: string
  kind: number
  data: `0x${string}`
  reference: string
  status: string
}

describe('assignments', () => {
  let database: TestDatabase
  let app: Express
  let context: AppContext
  let requester: RegisteredTestAgent
  let worker: RegisteredTestAgent
  let stranger: RegisteredTestAgent

  before(async () => {
    database = await createTestDatabase()
    ;({ app, context } = await createTestApp(database))
    requester = await registerAgent(app)
    worker = await registerAgent(app)
    stranger = await registerAgent(app)
    await fundAgent(app, requester.apiKey, '1000.00')
  })
  after(async () => {
    await database.drop()
  })

  async function chainOps(reference: string): Promise<ChainOpRow[]> {
    const { rows } = await database.pool.query(
      'SELECT o.id::text, o.kind, o.data, o.reference, o.status FROM chain_ops AS o WHERE o.reference LIKE $1 ORDER BY o.id',
      [`%${reference}`],
    )
    return rows as ChainOpRow[]
  }

  async function signer(op: AssignmentResponse['chain_ops'][number]): Promise<string> {
    const typed = toViemTypedData(op.typed_data as TypedDataJson)
    return (
      await recoverTypedDataAddress({ ...typed, signature: op.signature as `0x${string}` })
    ).toLowerCase()
  }

  it('runs the requester and worker flow from registration to acceptance, exact to the base unit', async () => {
    const alice = await registerAgent(app)
    const bob = await registerAgent(app)
    await fundAgent(app, alice.apiKey, '100.00')
    const platformBefore = await selectPlatformBalance(database.pool, 'fees', TEST_USDC.address)

    const job = await postJob(app, alice.apiKey, { budget_amount: '10' })
    const bid = await postBid(app, bob.apiKey, job.job_id, { amount: '7.25', eta_seconds: 7200 })

    const awarded = awardResponse.parse(
      (
        await request(app)
          .post(`/v1/jobs/${job.job_id}/award`)
          .set('Authorization', bearer(alice.apiKey))
          .send({ bid_id: bid.bid_id })
          .expect(200)
      ).body,
    )
    expect(awarded.job).to.include({
      status: 'in_progress',
      worker_agent_id: bob.agent.id,
      awarded_bid_id: bid.bid_id,
    })
    const assignment = awarded.assignment
    expect(assignment).to.include({
      status: 'in_progress',
      worker_agent_id: bob.agent.id,
      escrow_amount: '7.25',
      fee_bps: DEFAULT_PROTOCOL_FEE_BPS,
    })
    expect(await balanceOf(app, alice.apiKey)).to.deep.equal({ available: 92_750_000n, escrow: 7_250_000n })

    // The managed payer's EscrowLock is signed by the coordinator and queued for the settler.
    const [lock] = assignment.chain_ops
    expect(lock).to.include({
      kind: 'escrow_lock',
      status: 'pending',
      signer_address: alice.agent.wallet_address,
    })
    expect(await signer(lock!)).to.equal(alice.agent.wallet_address)
    expect(lock!.typed_data.domain).to.deep.equal({
      name: 'Clearhouse',
      version: '1',
      chainId: 31337,
      verifyingContract: zeroAddress,
    })
    expect(lock!.typed_data.message).to.include({
      payer: alice.agent.wallet_address,
      payee: bob.agent.wallet_address,
      token: TEST_USDC.address,
      amount: '7250000',
      // The job names no resolver, so the escrow names the platform's: every escrow can be ruled.
      resolver: (await request(app).get(`/v1/agents/${context.platformResolverAgentId}`).expect(200)).body
        .wallet_address,
      feeBps: String(DEFAULT_PROTOCOL_FEE_BPS),
      resolverFeeBps: String(ESCROW_RESOLVER_FEE_BPS),
    })
    // The escrow's id is the digest of the payer's lock, whose nonce the coordinator allocated.
    expect(BigInt(lock!.typed_data.message.nonce!) >= COORDINATOR_NONCE_BASE).to.equal(true)
    const signedTerms = toViemTypedData(lock!.typed_data as TypedDataJson)
      .message as unknown as EscrowLockTerms
    expect(assignment.escrow_id).to.equal(
      escrowIdOf(lock!.typed_data.domain as ClearhouseDomain, signedTerms),
    )
    const [queuedLock] = await chainOps(`:${assignment.assignment_id}`)
    expect(queuedLock).to.include({
      kind: OpKind.EscrowLock,
      reference: `escrow-lock:${assignment.assignment_id}`,
    })
    const [terms] = decodeAbiParameters(opDataAbi[OpKind.EscrowLock], queuedLock!.data)
    expect(terms).to.include({
      nonce: signedTerms.nonce,
      amount: 7_250_000n,
      feeBps: DEFAULT_PROTOCOL_FEE_BPS,
    })

    // The worker finds its assignment on the job, talks to the requester, and delivers.
    const seen = await request(app)
      .get(`/v1/jobs/${job.job_id}`)
      .set('Authorization', bearer(bob.apiKey))
      .expect(200)
    expect(seen.body.my_assignments[0].assignment_id).to.equal(assignment.assignment_id)
    await request(app)
      .post(`/v1/assignments/${assignment.assignment_id}/messages`)
      .set('Authorization', bearer(bob.apiKey))
      .send({ body: 'Draft is coming.' })
      .expect(201)
    const submitted = await postSubmit(app, bob.apiKey, job.job_id, 'https://example.com/audit.md')
    expect(submitted).to.include({ status: 'submitted', deliverable: 'https://example.com/audit.md' })

    const accepted = acceptResponse.parse(
      (
        await request(app)
          .post(`/v1/jobs/${job.job_id}/accept`)
          .set('Authorization', bearer(alice.apiKey))
          .expect(200)
      ).body,
    )
    expect(accepted.job.status).to.equal('completed')
    expect(accepted.assignments).to.have.length(1)
    const release = accepted.assignments[0]!.chain_ops.find((op) => op.kind === 'escrow_release')!
    // Signed, and queued for the vault only once the lock's escrow is committed on-chain (a release
    // names its position and proof); this app runs without a chain.
    expect(release.status).to.equal('signed')
    expect(await signer(release)).to.equal(alice.agent.wallet_address)

    const fee = (7_250_000n * BigInt(DEFAULT_PROTOCOL_FEE_BPS)) / 10_000n
    expect(await balanceOf(app, alice.apiKey)).to.deep.equal({
      available: 100_000_000n - 7_250_000n,
      escrow: 0n,
    })
    // The worker's pay is booked but not spendable until the vault carries the release out.
    expect(await balanceOf(app, bob.apiKey)).to.deep.equal({ available: 0n, escrow: 0n })
    expect(await unsettledOf(app, bob.apiKey)).to.equal(7_250_000n - fee)
    expect(await selectPlatformBalance(database.pool, 'fees', TEST_USDC.address)).to.equal(
      platformBefore + fee,
    )
    for (const [, total] of await selectEntrySumsByToken(database.pool)) expect(total).to.equal(0n)

    // Only the lock is in the settler's queue: the release waits for the lock to land on-chain.
    const ops = await chainOps(`:${assignment.assignment_id}`)
    expect(ops.map((op) => op.kind)).to.deep.equal([OpKind.EscrowLock])
  })

  describe('POST /v1/jobs/{job_id}/award', () => {
    it('answers 401 without credentials, 403 to anyone but the creator, 400 naming a malformed bid_id', async () => {
      const job = await postJob(app, requester.apiKey)
      const bid = await postBid(app, worker.apiKey, job.job_id)
      await request(app).post(`/v1/jobs/${job.job_id}/award`).send({ bid_id: bid.bid_id }).expect(401)
      const res = await request(app)
        .post(`/v1/jobs/${job.job_id}/award`)
        .set('Authorization', bearer(worker.apiKey))
        .send({ bid_id: bid.bid_id })
      expect(res.status).to.equal(403)
      expect(res.body.error.code).to.equal('not_job_creator')
      expectFieldError(
        await request(app)
          .post(`/v1/jobs/${job.job_id}/award`)
          .set('Authorization', bearer(requester.apiKey))
          .send({ bid_id: 'bid-1' }),
        'bid_id',
      )
    })

    it('answers 404 for a bid on another job and 409 for a withdrawn bid', async () => {
      const job = await postJob(app, requester.apiKey)
      const other = await postJob(app, requester.apiKey)
      const foreign = await postBid(app, worker.apiKey, other.job_id)
      await request(app)
        .post(`/v1/jobs/${job.job_id}/award`)
        .set('Authorization', bearer(requester.apiKey))
        .send({ bid_id: foreign.bid_id })
        .expect(404)
      const withdrawn = await postBid(app, worker.apiKey, job.job_id)
      await request(app)
        .post(`/v1/bids/${withdrawn.bid_id}/withdraw`)
        .set('Authorization', bearer(worker.apiKey))
        .expect(200)
      const res = await request(app)
        .post(`/v1/jobs/${job.job_id}/award`)
        .set('Authorization', bearer(requester.apiKey))
        .send({ bid_id: withdrawn.bid_id })
      expect(res.status).to.equal(409)
      expect(res.body.error.code).to.equal('bid_not_pending')
    })

    it('refuses an award the creator cannot fund with 409 and changes nothing', async () => {
      const poor = await registerAgent(app)
      await fundAgent(app, poor.apiKey, '3.00')
      const job = await postJob(app, poor.apiKey, { budget_amount: null })
      const bid = await postBid(app, worker.apiKey, job.job_id, { amount: '3.000001' })
      const res = await request(app)
        .post(`/v1/jobs/${job.job_id}/award`)
        .set('Authorization', bearer(poor.apiKey))
        .send({ bid_id: bid.bid_id })
      expect(res.status).to.equal(409)
      expect(res.body.error.code).to.equal('insufficient_balance')
      expect(res.body.error.details).to.include({ available: '3', required: '3.000001' })
      expect(await balanceOf(app, poor.apiKey)).to.deep.equal({ available: 3_000_000n, escrow: 0n })
      const after = await request(app).get(`/v1/jobs/${job.job_id}`).expect(200)
      expect(after.body).to.include({ status: 'open', filled_slots: 0 })
      const bids = await request(app)
        .get(`/v1/jobs/${job.job_id}/bids`)
        .set('Authorization', bearer(poor.apiKey))
      expect(bids.body[0].status).to.equal('pending')
    })

    it('fills a multi-slot job: filling, then in_progress with the remaining bids rejected, then 409', async () => {
      const job = await postJob(app, requester.apiKey, { max_slots: 2 })
      const helpers = [worker, stranger, await registerAgent(app)]
      const bids = []
      for (const agent of helpers) bids.push(await postBid(app, agent.apiKey, job.job_id))
      const first = await postAward(app, requester.apiKey, job.job_id, bids[0]!.bid_id)
      expect(first.job.status).to.equal('filling')
      const second = await postAward(app, requester.apiKey, job.job_id, bids[1]!.bid_id)
      expect(second.job.status).to.equal('in_progress')
      expect(second.job.awarded_bid_id).to.equal(bids[0]!.bid_id)
      const third = await request(app)
        .post(`/v1/jobs/${job.job_id}/award`)
        .set('Authorization', bearer(requester.apiKey))
        .send({ bid_id: bids[2]!.bid_id })
      expect(third.status).to.equal(409)
      const list = await request(app)
        .get(`/v1/jobs/${job.job_id}/bids`)
        .set('Authorization', bearer(requester.apiKey))
      const statuses = Object.fromEntries(
        list.body.map((bid: { bid_id: string; status: string }) => [bid.bid_id, bid.status]),
      )
      expect(statuses[bids[2]!.bid_id]).to.equal('rejected')
      const detail = await request(app).get(`/v1/jobs/${job.job_id}`).expect(200)
      expect(detail.body.filled_slots).to.equal(2)
    })

    it('replays a repeated Idempotency-Key without locking escrow twice', async () => {
      const payer = await registerAgent(app)
      await fundAgent(app, payer.apiKey, '20.00')
      const job = await postJob(app, payer.apiKey)
      const bid = await postBid(app, worker.apiKey, job.job_id)
      const send = () =>
        request(app)
          .post(`/v1/jobs/${job.job_id}/award`)
          .set('Authorization', bearer(payer.apiKey))
          .set('Idempotency-Key', `award-${bid.bid_id}`)
          .send({ bid_id: bid.bid_id })
      const first = await send().expect(200)
      const second = await send().expect(200)
      expect(second.headers['idempotent-replayed']).to.equal('true')
      expect(second.body.assignment.assignment_id).to.equal(first.body.assignment.assignment_id)
      expect(await balanceOf(app, payer.apiKey)).to.deep.equal({ available: 15_000_000n, escrow: 5_000_000n })
    })

    it("names the job's resolver in the escrow with the resolver fee", async () => {
      const resolver = await registerAgent(app)
      const job = await postJob(app, requester.apiKey, { dispute_agent_id: resolver.agent.id })
      const bid = await postBid(app, worker.apiKey, job.job_id)
      const { assignment } = await postAward(app, requester.apiKey, job.job_id, bid.bid_id)
      expect(assignment.chain_ops[0]!.typed_data.message).to.include({
        resolver: resolver.agent.wallet_address,
        resolverFeeBps: '200',
      })
      const asResolver = await request(app)
        .get(`/v1/assignments/${assignment.assignment_id}`)
        .set('Authorization', bearer(resolver.apiKey))
        .expect(200)
      expect(assignmentResponse.parse(asResolver.body).assignment_id).to.equal(assignment.assignment_id)
      await request(app)
        .get(`/v1/assignments/${assignment.assignment_id}`)
        .set('Authorization', bearer(stranger.apiKey))
        .expect(404)
    })
  })

  describe('POST /v1/jobs/{job_id}/submit', () => {
    async function awardedJob(): Promise<{ jobId: string; assignmentId: string }> {
      const job = await postJob(app, requester.apiKey)
      const bid = await postBid(app, worker.apiKey, job.job_id)
      const { assignment } = await postAward(app, requester.apiKey, job.job_id, bid.bid_id)
      return { jobId: job.job_id, assignmentId: assignment.assignment_id }
    }

    it('hashes inline text, checks a given hash against it, and keeps a URL with its hash', async () => {
      const { jobId } = await awardedJob()
      const text = 'The full report, inline.'
      const hash = `sha256:${keccak256('0x00').slice(2)}`
      const mismatch = await request(app)
        .post(`/v1/jobs/${jobId}/submit`)
        .set('Authorization', bearer(worker.apiKey))
        .send({ deliverable: text, deliverable_hash: hash })
      expectFieldError(mismatch, 'deliverable_hash')
      const inline = await request(app)
        .post(`/v1/jobs/${jobId}/submit`)
        .set('Authorization', bearer(worker.apiKey))
        .send({ deliverable: text })
        .expect(200)
      const { createHash } = await import('node:crypto')
      expect(inline.body.deliverable_hash).to.equal(
        `sha256:${createHash('sha256').update(text).digest('hex')}`,
      )
      const url = await request(app)
        .post(`/v1/jobs/${jobId}/submit`)
        .set('Authorization', bearer(worker.apiKey))
        .send({ deliverable_url: 'https://example.com/r.md', deliverable_hash: hash })
        .expect(200)
      expect(url.body).to.include({ deliverable: 'https://example.com/r.md', deliverable_hash: hash })
    })

    it('keeps every replaced deliverable: in the history table and as a private log message', async () => {
      const { jobId, assignmentId } = await awardedJob()
      await postSubmit(app, worker.apiKey, jobId, 'https://example.com/v1.md')
      await postSubmit(app, worker.apiKey, jobId, 'https://example.com/v2.md')
      const { rows } = await database.pool.query(
        'SELECT d.deliverable FROM assignment_deliverables AS d WHERE d.assignment_id = $1 ORDER BY d.id',
        [assignmentId],
      )
      expect(rows.map((row) => row.deliverable)).to.deep.equal([
        'https://example.com/v1.md',
        'https://example.com/v2.md',
      ])
      const messages = await request(app)
        .get(`/v1/assignments/${assignmentId}/messages`)
        .set('Authorization', bearer(requester.apiKey))
        .expect(200)
      const log = messages.body.find((message: { kind: string }) => message.kind === 'deliverable_log')
      expect(log.body).to.contain('https://example.com/v1.md')
    })

    it('answers 400 naming deliverable when it is missing, 403 to a non-worker, 409 after acceptance', async () => {
      const { jobId } = await awardedJob()
      expectFieldError(
        await request(app)
          .post(`/v1/jobs/${jobId}/submit`)
          .set('Authorization', bearer(worker.apiKey))
          .send({}),
        'deliverable',
      )
      for (const agent of [stranger, requester]) {
        const res = await request(app)
          .post(`/v1/jobs/${jobId}/submit`)
          .set('Authorization', bearer(agent.apiKey))
          .send({ deliverable: 'https://example.com/x' })
        expect(res.status).to.equal(403)
        expect(res.body.error.code).to.equal('not_assigned')
      }
      await postSubmit(app, worker.apiKey, jobId)
      await request(app)
        .post(`/v1/jobs/${jobId}/accept`)
        .set('Authorization', bearer(requester.apiKey))
        .expect(200)
      const late = await request(app)
        .post(`/v1/jobs/${jobId}/submit`)
        .set('Authorization', bearer(worker.apiKey))
        .send({ deliverable: 'https://example.com/late' })
      expect(late.status).to.equal(409)
      expect(late.body.error.code).to.equal('assignment_not_active')
      await request(app).post(`/v1/jobs/${jobId}/submit`).send({ deliverable: 'x' }).expect(401)
    })
  })

  describe('POST /v1/jobs/{job_id}/accept', () => {
    it('answers 409 with nothing submitted, 403 to the worker, 404 for an assignment of another job', async () => {
      const job = await postJob(app, requester.apiKey)
      const bid = await postBid(app, worker.apiKey, job.job_id)
      await postAward(app, requester.apiKey, job.job_id, bid.bid_id)
      const early = await request(app)
        .post(`/v1/jobs/${job.job_id}/accept`)
        .set('Authorization', bearer(requester.apiKey))
      expect(early.status).to.equal(409)
      expect(early.body.error.code).to.equal('no_submitted_work')
      await postSubmit(app, worker.apiKey, job.job_id)
      await request(app)
        .post(`/v1/jobs/${job.job_id}/accept`)
        .set('Authorization', bearer(worker.apiKey))
        .expect(403)
      await request(app)
        .post(`/v1/jobs/${job.job_id}/accept`)
        .set('Authorization', bearer(requester.apiKey))
        .send({ assignment_id: '00000000-0000-4000-8000-000000000000' })
        .expect(404)
      expectFieldError(
        await request(app)
          .post(`/v1/jobs/${job.job_id}/accept`)
          .set('Authorization', bearer(requester.apiKey))
          .send({ assignment_id: 7 }),
        'assignment_id',
      )
    })

    it('accepts one named assignment of a multi-slot job and completes the job after the last', async () => {
      const job = await postJob(app, requester.apiKey, { max_slots: 2 })
      const first = await postBid(app, worker.apiKey, job.job_id)
      const second = await postBid(app, stranger.apiKey, job.job_id)
      const a1 = (await postAward(app, requester.apiKey, job.job_id, first.bid_id)).assignment
      const a2 = (await postAward(app, requester.apiKey, job.job_id, second.bid_id)).assignment
      await postSubmit(app, worker.apiKey, job.job_id)
      await postSubmit(app, stranger.apiKey, job.job_id)
      const one = await request(app)
        .post(`/v1/jobs/${job.job_id}/accept`)
        .set('Authorization', bearer(requester.apiKey))
        .send({ assignment_id: a1.assignment_id })
        .expect(200)
      expect(one.body.job.status).to.equal('in_progress')
      expect(one.body.assignments.map((a: AssignmentResponse) => a.assignment_id)).to.deep.equal([
        a1.assignment_id,
      ])
      const again = await request(app)
        .post(`/v1/jobs/${job.job_id}/accept`)
        .set('Authorization', bearer(requester.apiKey))
        .send({ assignment_id: a1.assignment_id })
      expect(again.status).to.equal(409)
      const rest = await request(app)
        .post(`/v1/jobs/${job.job_id}/accept`)
        .set('Authorization', bearer(requester.apiKey))
        .expect(200)
      expect(rest.body.job.status).to.equal('completed')
      expect(rest.body.assignments.map((a: AssignmentResponse) => a.assignment_id)).to.deep.equal([
        a2.assignment_id,
      ])
    })
  })

  describe('the seed 004 client routes: GET /v1/jobs/{job_id}/assignments, POST /v1/assignments/{assignment_id}/accept', () => {
    it("lists a multi-slot job's assignments to its creator, each worker its own, and accepts one by id as the job route does", async () => {
      const job = await postJob(app, requester.apiKey, { max_slots: 2 })
      const first = await postBid(app, worker.apiKey, job.job_id)
      const second = await postBid(app, stranger.apiKey, job.job_id)
      const a1 = (await postAward(app, requester.apiKey, job.job_id, first.bid_id)).assignment
      const a2 = (await postAward(app, requester.apiKey, job.job_id, second.bid_id)).assignment
      const listed = async (apiKey: string) =>
        (
          await request(app)
            .get(`/v1/jobs/${job.job_id}/assignments`)
            .set('Authorization', bearer(apiKey))
            .expect(200)
        ).body.map((row: AssignmentResponse) => row.assignment_id)
      expect(await listed(requester.apiKey)).to.deep.equal([a1.assignment_id, a2.assignment_id])
      expect(await listed(worker.apiKey)).to.deep.equal([a1.assignment_id])
      expect(await listed(stranger.apiKey)).to.deep.equal([a2.assignment_id])

      const early = await request(app)
        .post(`/v1/assignments/${a1.assignment_id}/accept`)
        .set('Authorization', bearer(requester.apiKey))
      expect(early.status).to.equal(409)
      expect(early.body.error.code).to.equal('assignment_not_submitted')

      await postSubmit(app, worker.apiKey, job.job_id)
      const before = await unsettledOf(app, worker.apiKey)
      const accepted = await request(app)
        .post(`/v1/assignments/${a1.assignment_id}/accept`)
        .set('Authorization', bearer(requester.apiKey))
        .expect(200)
      expect(accepted.body.job.status).to.equal('in_progress')
      expect(
        accepted.body.assignments.map((a: AssignmentResponse) => [a.assignment_id, a.status]),
      ).to.deep.equal([[a1.assignment_id, 'accepted']])
      const fee = (5_000_000n * BigInt(DEFAULT_PROTOCOL_FEE_BPS)) / 10_000n
      expect(
        (await unsettledOf(app, worker.apiKey)) - before,
        'the bid less the fee, booked as unsettled',
      ).to.equal(5_000_000n - fee)
      const again = await request(app)
        .post(`/v1/assignments/${a1.assignment_id}/accept`)
        .set('Authorization', bearer(requester.apiKey))
      expect(again.status).to.equal(409)
    })

    it('answers 400 naming the id for a malformed job or assignment id, and 404 for unknown ones', async () => {
      const badJob = await request(app)
        .get('/v1/jobs/not-a-uuid/assignments')
        .set('Authorization', bearer(requester.apiKey))
      expectFieldError(badJob, 'job_id')
      const badAssignment = await request(app)
        .post('/v1/assignments/not-a-uuid/accept')
        .set('Authorization', bearer(requester.apiKey))
      expectFieldError(badAssignment, 'assignment_id')
      const unknown = randomUUID()
      await request(app)
        .get(`/v1/jobs/${unknown}/assignments`)
        .set('Authorization', bearer(requester.apiKey))
        .expect(404)
      await request(app)
        .post(`/v1/assignments/${unknown}/accept`)
        .set('Authorization', bearer(requester.apiKey))
        .expect(404)
    })
  })

  describe('auto_accept (seed 004 clients)', () => {
    it('accepts a submission to an auto-accept job as it arrives: the escrow to the worker less the fee, the job completed', async () => {
      const job = await postJob(app, requester.apiKey, { auto_accept: true })
      expect(job.auto_accept).to.equal(true)
      const bid = await postBid(app, worker.apiKey, job.job_id, { amount: '4' })
      const { assignment } = await postAward(app, requester.apiKey, job.job_id, bid.bid_id)
      const before = await unsettledOf(app, worker.apiKey)
      const submitted = await postSubmit(app, worker.apiKey, job.job_id)
      expect(submitted.status).to.equal('accepted')
      const fee = (4_000_000n * BigInt(DEFAULT_PROTOCOL_FEE_BPS)) / 10_000n
      expect((await unsettledOf(app, worker.apiKey)) - before).to.equal(4_000_000n - fee)
      const shown = await request(app)
        .get(`/v1/jobs/${job.job_id}`)
        .set('Authorization', bearer(requester.apiKey))
        .expect(200)
      expect(shown.body.status).to.equal('completed')
      const again = await request(app)
        .post(`/v1/jobs/${job.job_id}/submit`)
        .set('Authorization', bearer(worker.apiKey))
        .send({ deliverable: 'a second try' })
      expect(again.status).to.equal(409)
      const accept = await request(app)
        .post(`/v1/assignments/${assignment.assignment_id}/accept`)
        .set('Authorization', bearer(requester.apiKey))
      expect(accept.status, 'nothing left to accept').to.equal(409)
      for (const total of (await selectEntrySumsByToken(database.pool)).values()) expect(total).to.equal(0n)
    })

    it('releases the escrow once when the worker submits five times at once and the creator accepts meanwhile', async () => {
      const job = await postJob(app, requester.apiKey, { auto_accept: true })
      const bid = await postBid(app, worker.apiKey, job.job_id, { amount: '3' })
      const { assignment } = await postAward(app, requester.apiKey, job.job_id, bid.bid_id)
      const before = await unsettledOf(app, worker.apiKey)
      const answers = await Promise.all([
        ...Array.from({ length: 5 }, (_, i) =>
          request(app)
            .post(`/v1/jobs/${job.job_id}/submit`)
            .set('Authorization', bearer(worker.apiKey))
            .send({ deliverable: `attempt ${i}` }),
        ),
        request(app)
          .post(`/v1/assignments/${assignment.assignment_id}/accept`)
          .set('Authorization', bearer(requester.apiKey)),
      ])
      const statuses = answers.map((answer) => answer.status)
      expect(
        statuses.filter((status) => status === 200),
        JSON.stringify(statuses),
      ).to.have.length(1)
      const fee = (3_000_000n * BigInt(DEFAULT_PROTOCOL_FEE_BPS)) / 10_000n
      expect((await unsettledOf(app, worker.apiKey)) - before, 'one release').to.equal(3_000_000n - fee)
    })

    it('leaves a job without auto_accept waiting for the creator, and answers 400 naming auto_accept when it is not a boolean', async () => {
      const job = await postJob(app, requester.apiKey)
      expect(job.auto_accept).to.equal(false)
      const bid = await postBid(app, worker.apiKey, job.job_id)
      await postAward(app, requester.apiKey, job.job_id, bid.bid_id)
      expect((await postSubmit(app, worker.apiKey, job.job_id)).status).to.equal('submitted')
      const bad = await request(app)
        .post('/v1/jobs')
        .set('Authorization', bearer(requester.apiKey))
        .send(jobBody({ auto_accept: 'yes' }))
      expectFieldError(bad, 'auto_accept')
    })
  })

  describe('request changes', () => {
    it('sends the submitted work back with feedback the worker can read', async () => {
      const job = await postJob(app, requester.apiKey)
      const bid = await postBid(app, worker.apiKey, job.job_id)
      const { assignment } = await postAward(app, requester.apiKey, job.job_id, bid.bid_id)
      const early = await request(app)
        .post(`/v1/jobs/${job.job_id}/request-changes`)
        .set('Authorization', bearer(requester.apiKey))
        .send({ message: 'Add error handling.' })
      expect(early.status).to.equal(409)
      await postSubmit(app, worker.apiKey, job.job_id)
      await request(app)
        .post(`/v1/jobs/${job.job_id}/request-changes`)
        .set('Authorization', bearer(worker.apiKey))
        .send({ message: 'Add error handling.' })
        .expect(403)
      expectFieldError(
        await request(app)
          .post(`/v1/jobs/${job.job_id}/request-changes`)
          .set('Authorization', bearer(requester.apiKey))
          .send({ message: '   ' }),
        'message',
      )
      const res = await request(app)
        .post(`/v1/jobs/${job.job_id}/request-changes`)
        .set('Authorization', bearer(requester.apiKey))
        .send({ message: 'Add error handling for edge cases.' })
        .expect(200)
      expect(res.body.status).to.equal('in_progress')
      const messages = await request(app)
        .get(`/v1/assignments/${assignment.assignment_id}/messages`)
        .set('Authorization', bearer(worker.apiKey))
        .expect(200)
      expect(messages.body.at(-1)).to.include({
        kind: 'feedback',
        body: 'Add error handling for edge cases.',
      })
      await postSubmit(app, worker.apiKey, job.job_id, 'https://example.com/v2.md')
    })

    it('is ambiguous at job level with two submissions (409) and works per assignment', async () => {
      const job = await postJob(app, requester.apiKey, { max_slots: 2 })
      const first = await postBid(app, worker.apiKey, job.job_id)
      const second = await postBid(app, stranger.apiKey, job.job_id)
      const a1 = (await postAward(app, requester.apiKey, job.job_id, first.bid_id)).assignment
      await postAward(app, requester.apiKey, job.job_id, second.bid_id)
      await postSubmit(app, worker.apiKey, job.job_id)
      await postSubmit(app, stranger.apiKey, job.job_id)
      const ambiguous = await request(app)
        .post(`/v1/jobs/${job.job_id}/request-changes`)
        .set('Authorization', bearer(requester.apiKey))
        .send({ message: 'More tests.' })
      expect(ambiguous.status).to.equal(409)
      expect(ambiguous.body.error.code).to.equal('ambiguous_assignment')
      const path = `/v1/assignments/${a1.assignment_id}/request-changes`
      const outsider = await registerAgent(app)
      await request(app)
        .post(path)
        .set('Authorization', bearer(outsider.apiKey))
        .send({ message: 'x' })
        .expect(404)
      await request(app)
        .post(path)
        .set('Authorization', bearer(worker.apiKey))
        .send({ message: 'x' })
        .expect(403)
      const res = await request(app)
        .post(path)
        .set('Authorization', bearer(requester.apiKey))
        .send({ message: 'More tests.' })
        .expect(200)
      expect(res.body.status).to.equal('in_progress')
      await request(app)
        .post(path)
        .set('Authorization', bearer(requester.apiKey))
        .send({ message: 'x' })
        .expect(409)
    })
  })

  describe('GET /v1/assignments/{assignment_id}', () => {
    it('shows the assignment to its creator and worker, and 404 to the worker of another slot', async () => {
      const job = await postJob(app, requester.apiKey, { max_slots: 2 })
      const first = await postBid(app, worker.apiKey, job.job_id)
      const second = await postBid(app, stranger.apiKey, job.job_id)
      const mine = (await postAward(app, requester.apiKey, job.job_id, first.bid_id)).assignment
      const theirs = (await postAward(app, requester.apiKey, job.job_id, second.bid_id)).assignment
      for (const party of [requester, worker]) {
        const res = await request(app)
          .get(`/v1/assignments/${mine.assignment_id}`)
          .set('Authorization', bearer(party.apiKey))
          .expect(200)
        expect(assignmentResponse.parse(res.body)).to.include({
          assignment_id: mine.assignment_id,
          worker_agent_id: worker.agent.id,
          status: 'in_progress',
        })
      }
      const other = await request(app)
        .get(`/v1/assignments/${theirs.assignment_id}`)
        .set('Authorization', bearer(worker.apiKey))
      expect(other.status).to.equal(404)
      expect(other.body.error.code).to.equal('assignment_not_found')
      await request(app).get(`/v1/assignments/${mine.assignment_id}`).expect(401)
      await request(app)
        .get('/v1/assignments/00000000-0000-4000-8000-000000000000')
        .set('Authorization', bearer(requester.apiKey))
        .expect(404)
    })
  })

  describe('wrong caller and malformed input on the remaining assignment routes', () => {
    it('answers 401 without credentials on accept, both request-changes and escrow-signature', async () => {
      const job = await postJob(app, requester.apiKey)
      const bid = await postBid(app, worker.apiKey, job.job_id)
      const { assignment } = await postAward(app, requester.apiKey, job.job_id, bid.bid_id)
      await postSubmit(app, worker.apiKey, job.job_id)
      await request(app).post(`/v1/jobs/${job.job_id}/accept`).expect(401)
      await request(app).post(`/v1/jobs/${job.job_id}/request-changes`).send({ message: 'x' }).expect(401)
      await request(app)
        .post(`/v1/assignments/${assignment.assignment_id}/request-changes`)
        .send({ message: 'x' })
        .expect(401)
      await request(app)
        .post(`/v1/assignments/${assignment.assignment_id}/escrow-signature`)
        .send({ kind: 'escrow_lock', signature: `0x${'1'.repeat(130)}` })
        .expect(401)
      // Nothing above changed the work: it is still submitted.
      const after = await request(app)
        .get(`/v1/assignments/${assignment.assignment_id}`)
        .set('Authorization', bearer(worker.apiKey))
        .expect(200)
      expect(after.body.status).to.equal('submitted')
    })

    it('answers 404 job_not_found to an outsider who awards, submits, accepts or requests changes on a cancelled job', async () => {
      const job = await postJob(app, requester.apiKey)
      await request(app)
        .post(`/v1/jobs/${job.job_id}/cancel`)
        .set('Authorization', bearer(requester.apiKey))
        .expect(200)
      for (const [path, body] of [
        [`/v1/jobs/${job.job_id}/accept`, {}],
        [`/v1/jobs/${job.job_id}/request-changes`, { message: 'x' }],
        [`/v1/jobs/${job.job_id}/award`, { bid_id: '00000000-0000-4000-8000-000000000000' }],
        [`/v1/jobs/${job.job_id}/submit`, { deliverable: 'x' }],
      ] as const) {
        const res = await request(app).post(path).set('Authorization', bearer(stranger.apiKey)).send(body)
        expect(res.status, path).to.equal(404)
        expect(res.body.error.code, path).to.equal('job_not_found')
      }
    })

    it('answers 400 naming message at assignment level, and 400 naming kind or signature on escrow-signature', async () => {
      const job = await postJob(app, requester.apiKey)
      const bid = await postBid(app, worker.apiKey, job.job_id)
      const { assignment } = await postAward(app, requester.apiKey, job.job_id, bid.bid_id)
      await postSubmit(app, worker.apiKey, job.job_id)
      const changes = `/v1/assignments/${assignment.assignment_id}/request-changes`
      const as = (body: unknown) =>
        request(app)
          .post(changes)
          .set('Authorization', bearer(requester.apiKey))
          .send(body as object)
      expectFieldError(await as({}), 'message')
      expectFieldError(await as({ message: 'x'.repeat(10_001) }), 'message')
      expectFieldError(await as({ message: ['a'] }), 'message')
      const sign = `/v1/assignments/${assignment.assignment_id}/escrow-signature`
      const signing = (body: unknown) =>
        request(app)
          .post(sign)
          .set('Authorization', bearer(requester.apiKey))
          .send(body as object)
      expectFieldError(await signing({ kind: 'escrow_refund', signature: `0x${'1'.repeat(130)}` }), 'kind')
      expectFieldError(await signing({ kind: 'escrow_lock', signature: `0x${'g'.repeat(130)}` }), 'signature')
      expectFieldError(await signing({ kind: 'escrow_lock' }), 'signature')
    })

    it('answers 409 escrow_op_signed to a managed payer, whose lock the coordinator already signed', async () => {
      const job = await postJob(app, requester.apiKey)
      const bid = await postBid(app, worker.apiKey, job.job_id)
      const { assignment } = await postAward(app, requester.apiKey, job.job_id, bid.bid_id)
      const res = await request(app)
        .post(`/v1/assignments/${assignment.assignment_id}/escrow-signature`)
        .set('Authorization', bearer(requester.apiKey))
        .send({ kind: 'escrow_lock', signature: `0x${'1'.repeat(130)}` })
      expect(res.status).to.equal(409)
      expect(res.body.error.code).to.equal('escrow_op_signed')
      const missing = await request(app)
        .post(`/v1/assignments/${assignment.assignment_id}/escrow-signature`)
        .set('Authorization', bearer(requester.apiKey))
        .send({ kind: 'escrow_release', signature: `0x${'1'.repeat(130)}` })
      expect(missing.status).to.equal(409)
      expect(missing.body.error.code).to.equal('escrow_op_not_found')
    })
  })

  describe('self-custody payer', () => {
    it('attack: a self-custody payer gets work accepted without ever signing the escrow -> no work starts, and the worker is credited only by the signed release', async () => {
      const account = privateKeyToAccount(generatePrivateKey())
      const payer = await registerAgent(app, { account })
      expect(payer.agent.is_managed_wallet).to.equal(false)
      await fundAgent(app, payer.apiKey, '50.00')
      const hired = await registerAgent(app)
      const job = await postJob(app, payer.apiKey)
      const bid = await postBid(app, hired.apiKey, job.job_id)
      const { assignment } = await postAward(app, payer.apiKey, job.job_id, bid.bid_id)
      // Awarded, money held by the ledger, but not yet by the vault: nothing can start.
      expect(assignment.status).to.equal('awaiting_escrow')
      const lock = assignment.chain_ops[0]!
      expect(lock).to.include({ kind: 'escrow_lock', status: 'awaiting_signature', signature: null })
      expect(await chainOps(`:${assignment.assignment_id}`)).to.have.length(0)
      const early = await request(app)
        .post(`/v1/jobs/${job.job_id}/submit`)
        .set('Authorization', bearer(hired.apiKey))
        .send({ deliverable: 'https://example.com/work.md' })
      expect(early.status).to.equal(409)
      expect(early.body.error.code).to.equal('escrow_not_signed')
      const noAccept = await request(app)
        .post(`/v1/jobs/${job.job_id}/accept`)
        .set('Authorization', bearer(payer.apiKey))
      expect(noAccept.status).to.equal(409)

      // The lock's signature: refused unless the payer's own over the lock's typed data.
      const path = `/v1/assignments/${assignment.assignment_id}/escrow-signature`
      const forged = await privateKeyToAccount(generatePrivateKey()).signTypedData(
        toViemTypedData(lock.typed_data as TypedDataJson),
      )
      expectFieldError(
        await request(app)
          .post(path)
          .set('Authorization', bearer(payer.apiKey))
          .send({ kind: 'escrow_lock', signature: forged }),
        'signature',
      )
      expectFieldError(
        await request(app)
          .post(path)
          .set('Authorization', bearer(payer.apiKey))
          .send({ kind: 'escrow_lock', signature: '0x12' }),
        'signature',
      )
      const lockSignature = await account.signTypedData(toViemTypedData(lock.typed_data as TypedDataJson))
      await request(app)
        .post(path)
        .set('Authorization', bearer(hired.apiKey))
        .send({ kind: 'escrow_lock', signature: lockSignature })
        .expect(403)
      await request(app)
        .post(path)
        .set('Authorization', bearer(stranger.apiKey))
        .send({ kind: 'escrow_lock', signature: lockSignature })
        .expect(404)
      const noRelease = await request(app)
        .post(path)
        .set('Authorization', bearer(payer.apiKey))
        .send({ kind: 'escrow_release', signature: lockSignature })
      expect(noRelease.status).to.equal(409)
      expect(noRelease.body.error.code).to.equal('escrow_op_not_found')
      const signedLock = await request(app)
        .post(path)
        .set('Authorization', bearer(payer.apiKey))
        .send({ kind: 'escrow_lock', signature: lockSignature })
        .expect(200)
      expect(signedLock.body.status).to.equal('in_progress')
      expect(signedLock.body.chain_ops.map((op: { status: string }) => op.status)).to.deep.equal(['pending'])
      const again = await request(app)
        .post(path)
        .set('Authorization', bearer(payer.apiKey))
        .send({ kind: 'escrow_lock', signature: lockSignature })
      expect(again.status).to.equal(409)
      expect(again.body.error.code).to.equal('escrow_op_signed')

      // Work, then acceptance: the worker is not credited before the payer signs the release.
      await postSubmit(app, hired.apiKey, job.job_id)
      const accepted = await request(app)
        .post(`/v1/jobs/${job.job_id}/accept`)
        .set('Authorization', bearer(payer.apiKey))
        .expect(200)
      const release = accepted.body.assignments[0].chain_ops.find(
        (op: { kind: string }) => op.kind === 'escrow_release',
      )
      expect(release.status).to.equal('awaiting_signature')
      expect(await balanceOf(app, hired.apiKey)).to.deep.equal({ available: 0n, escrow: 0n })
      expect(await unsettledOf(app, hired.apiKey)).to.equal(0n)
      expect(await balanceOf(app, payer.apiKey)).to.deep.equal({ available: 45_000_000n, escrow: 5_000_000n })

      const releaseSignature = await account.signTypedData(
        toViemTypedData(release.typed_data as TypedDataJson),
      )
      await request(app)
        .post(path)
        .set('Authorization', bearer(hired.apiKey))
        .send({ kind: 'escrow_release', signature: releaseSignature })
        .expect(403)
      const signedRelease = await request(app)
        .post(path)
        .set('Authorization', bearer(payer.apiKey))
        .send({ kind: 'escrow_release', signature: releaseSignature })
        .expect(200)
      // Credited as unsettled: not spendable until the vault carries the release out, which waits
      // for the lock to land (this app runs without a chain).
      expect(signedRelease.body.chain_ops.map((op: { status: string }) => op.status)).to.deep.equal([
        'pending',
        'signed',
      ])
      const fee = (5_000_000n * BigInt(DEFAULT_PROTOCOL_FEE_BPS)) / 10_000n
      expect(await balanceOf(app, hired.apiKey)).to.deep.equal({ available: 0n, escrow: 0n })
      expect(await unsettledOf(app, hired.apiKey)).to.equal(5_000_000n - fee)
      expect(await balanceOf(app, payer.apiKey)).to.deep.equal({ available: 45_000_000n, escrow: 0n })
      const ops = await chainOps(`:${assignment.assignment_id}`)
      expect(ops.map((op) => op.kind)).to.deep.equal([OpKind.EscrowLock])
    })

    it('works with wallet-signed requests instead of an API key, from job to queued escrow', async () => {
      const account = privateKeyToAccount(generatePrivateKey())
      const payer = await registerAgent(app, { account })
      await fundAgent(app, payer.apiKey, '20.00')
      const session = await openSession(app, account)
      const created = await signedRequest(app, account, session, 'POST', '/v1/jobs', jobBody())
      expect(created.status, JSON.stringify(created.body)).to.equal(201)
      const jobId = created.body.job_id as string
      const bid = await postBid(app, worker.apiKey, jobId)
      const awarded = await signedRequest(app, account, session, 'POST', `/v1/jobs/${jobId}/award`, {
        bid_id: bid.bid_id,
      })
      expect(awarded.status, JSON.stringify(awarded.body)).to.equal(200)
      const assignment = awarded.body.assignment as AssignmentResponse
      const signature = await account.signTypedData(
        toViemTypedData(assignment.chain_ops[0]!.typed_data as TypedDataJson),
      )
      const signed = await signedRequest(
        app,
        account,
        session,
        'POST',
        `/v1/assignments/${assignment.assignment_id}/escrow-signature`,
        { kind: 'escrow_lock', signature },
      )
      expect(signed.status, JSON.stringify(signed.body)).to.equal(200)
      expect(signed.body.chain_ops[0].status).to.equal('pending')
    })
  })
})
