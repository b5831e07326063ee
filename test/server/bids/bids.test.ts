import { expect } from 'chai'
import type { Express } from 'express'
import request from 'supertest'
import { bidResponse, type BidResponse } from '../../../protocol/bids'
import type { JobResponse } from '../../../protocol/jobs'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { createTestApp } from '../helpers/app'
import { bearer, fundAgent, registerAgent, type RegisteredTestAgent } from '../helpers/agents'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { balanceOf, expectFieldError, postAward, postBid, postJob } from '../helpers/jobs'
import { signClaim } from '../agents/signed-claims'

const ids = (bids: BidResponse[]) => bids.map((bid) => bid.bid_id).sort()

describe('bids', () => {
  let database: TestDatabase
  let app: Express
  let requester: RegisteredTestAgent
  let alice: RegisteredTestAgent
  let bob: RegisteredTestAgent
  const issuer = privateKeyToAccount(generatePrivateKey())

  before(async () => {
    database = await createTestDatabase()
    ;({ app } = await createTestApp(database, null, {
      verifiableClaimIssuers: [issuer.address.toLowerCase() as `0x${string}`],
    }))
    requester = await registerAgent(app)
    alice = await registerAgent(app)
    bob = await registerAgent(app)
    await fundAgent(app, requester.apiKey, '1000.00')
  })
  after(async () => {
    await database.drop()
  })

  describe('POST /v1/jobs/{job_id}/bids', () => {
    it('places a pending bid with every response field', async () => {
      const job = await postJob(app, requester.apiKey)
      const res = await request(app)
        .post(`/v1/jobs/${job.job_id}/bids`)
        .set('Authorization', bearer(alice.apiKey))
        .send({ amount: '4.5', eta_seconds: 86_400, proposal: 'I specialise in auth security.' })
        .expect(201)
      const bid = bidResponse.parse(res.body)
      expect(bid).to.include({
        job_id: job.job_id,
        bidder_agent_id: alice.agent.id,
        amount: '4.5',
        budget_token: 'USDC',
        eta_seconds: 86_400,
        proposal: 'I specialise in auth security.',
        status: 'pending',
      })
    })

    it('answers 401 without credentials and 403 to the job creator', async () => {
      const job = await postJob(app, requester.apiKey)
      await request(app)
        .post(`/v1/jobs/${job.job_id}/bids`)
        .send({ amount: '1', eta_seconds: 60 })
        .expect(401)
      const own = await request(app)
        .post(`/v1/jobs/${job.job_id}/bids`)
        .set('Authorization', bearer(requester.apiKey))
        .send({ amount: '1', eta_seconds: 60 })
      expect(own.status).to.equal(403)
      expect(own.body.error.code).to.equal('own_job')
    })

    it("answers 403 resolver_cannot_bid to the job's resolver, whom the vault would refuse as a payee", async () => {
      const job = await postJob(app, requester.apiKey, { dispute_agent_id: bob.agent.id })
      const res = await request(app)
        .post(`/v1/jobs/${job.job_id}/bids`)
        .set('Authorization', bearer(bob.apiKey))
        .send({ amount: '1', eta_seconds: 60 })
      expect(res.status).to.equal(403)
      expect(res.body.error.code).to.equal('resolver_cannot_bid')
      await postBid(app, alice.apiKey, job.job_id)
    })

    for (const [field, value, why] of [
      ['amount', '10.01', 'above the budget'],
      ['amount', '-1', 'negative'],
      ['amount', '1.0000001', 'finer than the token'],
      ['amount', 1.0000001, 'a JSON number finer than the token'],
      ['amount', 10.5, 'a JSON number above the budget'],
      ['eta_seconds', 30, 'under a minute'],
      ['eta_seconds', 1.5, 'fractional'],
      ['proposal', '', 'empty'],
    ] as const) {
      it(`rejects an ${field} that is ${why} with 400 naming it`, async () => {
        const job = await postJob(app, requester.apiKey)
        const res = await request(app)
          .post(`/v1/jobs/${job.job_id}/bids`)
          .set('Authorization', bearer(alice.apiKey))
          .send({ amount: '1', eta_seconds: 3600, proposal: 'ok', [field]: value })
        expectFieldError(res, field)
      })
    }

    it('answers 409 for a second pending bid by the same agent, and allows one after withdrawing', async () => {
      const job = await postJob(app, requester.apiKey)
      const first = await postBid(app, alice.apiKey, job.job_id)
      const second = await request(app)
        .post(`/v1/jobs/${job.job_id}/bids`)
        .set('Authorization', bearer(alice.apiKey))
        .send({ amount: '3', eta_seconds: 3600 })
      expect(second.status).to.equal(409)
      expect(second.body.error.code).to.equal('bid_exists')
      await request(app)
        .post(`/v1/bids/${first.bid_id}/withdraw`)
        .set('Authorization', bearer(alice.apiKey))
        .expect(200)
      await postBid(app, alice.apiKey, job.job_id, { amount: '3' })
    })

    it('answers 409 on a job that is already in progress and 404 on a cancelled one', async () => {
      const job = await postJob(app, requester.apiKey)
      const bid = await postBid(app, alice.apiKey, job.job_id)
      await postAward(app, requester.apiKey, job.job_id, bid.bid_id)
      const late = await request(app)
        .post(`/v1/jobs/${job.job_id}/bids`)
        .set('Authorization', bearer(bob.apiKey))
        .send({ amount: '1', eta_seconds: 3600 })
      expect(late.status).to.equal(409)
      expect(late.body.error.code).to.equal('job_not_open')

      const cancelled = await postJob(app, requester.apiKey)
      await request(app)
        .post(`/v1/jobs/${cancelled.job_id}/cancel`)
        .set('Authorization', bearer(requester.apiKey))
        .expect(200)
      await request(app)
        .post(`/v1/jobs/${cancelled.job_id}/bids`)
        .set('Authorization', bearer(bob.apiKey))
        .send({ amount: '1', eta_seconds: 3600 })
        .expect(404)
    })

    it('requires a claim signed by a trusted issuer when the job asks for one (403 without)', async () => {
      const job = await postJob(app, requester.apiKey, { requires_verifiable: true })
      const res = await request(app)
        .post(`/v1/jobs/${job.job_id}/bids`)
        .set('Authorization', bearer(alice.apiKey))
        .send({ amount: '1', eta_seconds: 3600 })
      expect(res.status).to.equal(403)
      expect(res.body.error.code).to.equal('verifiable_claim_required')
      const account = privateKeyToAccount(generatePrivateKey())
      const verified = await registerAgent(app, {
        account,
        verifiableClaim: await signClaim(issuer, { subject: account.address }),
      })
      await postBid(app, verified.apiKey, job.job_id)
    })
  })

  describe('visibility (seed 004 "Bid Visibility")', () => {
    let job: JobResponse
    let aliceBid: BidResponse
    let bobBid: BidResponse
    let carolBid: BidResponse
    let otherJob: JobResponse
    let aliceWon: BidResponse
    // Fresh bidders, so bids placed by the tests above do not show up in these lists.
    let alice: RegisteredTestAgent
    let bob: RegisteredTestAgent
    let carol: RegisteredTestAgent

    before(async () => {
      alice = await registerAgent(app)
      bob = await registerAgent(app)
      carol = await registerAgent(app)
      job = await postJob(app, requester.apiKey, { max_slots: 3 })
      aliceBid = await postBid(app, alice.apiKey, job.job_id, { proposal: 'alice secret plan' })
      bobBid = await postBid(app, bob.apiKey, job.job_id, { proposal: 'bob secret plan' })
      carolBid = await postBid(app, carol.apiKey, job.job_id, { proposal: 'carol secret plan' })
      await postAward(app, requester.apiKey, job.job_id, aliceBid.bid_id)
      await request(app)
        .post(`/v1/bids/${carolBid.bid_id}/withdraw`)
        .set('Authorization', bearer(carol.apiKey))
        .expect(200)
      otherJob = await postJob(app, requester.apiKey)
      aliceWon = await postBid(app, alice.apiKey, otherJob.job_id, { proposal: 'second win' })
      await postAward(app, requester.apiKey, otherJob.job_id, aliceWon.bid_id)
    })

    const jobBids = (apiKey?: string) => {
      const req = request(app).get(`/v1/jobs/${job.job_id}/bids`)
      return (apiKey ? req.set('Authorization', bearer(apiKey)) : req).expect(200)
    }

    it('shows the job creator every bid with its proposal', async () => {
      const res = await jobBids(requester.apiKey)
      expect(ids(res.body)).to.deep.equal(ids([aliceBid, bobBid, carolBid]))
      for (const bid of res.body as BidResponse[]) expect(bid.proposal).to.match(/secret plan$/)
    })

    it('shows a bidder its own bids with proposal and the accepted ones without', async () => {
      const res = await jobBids(bob.apiKey)
      expect(ids(res.body)).to.deep.equal(ids([aliceBid, bobBid]))
      const accepted = res.body.find((bid: BidResponse) => bid.bid_id === aliceBid.bid_id)
      expect(accepted.status).to.equal('accepted')
      expect(accepted).not.to.have.property('proposal')
      expect(res.body.find((bid: BidResponse) => bid.bid_id === bobBid.bid_id).proposal).to.equal(
        'bob secret plan',
      )
      const carolView = await jobBids(carol.apiKey)
      expect(ids(carolView.body)).to.deep.equal(ids([aliceBid, carolBid]))
    })

    it('shows the public and other agents only accepted bids, never a proposal', async () => {
      const stranger = await registerAgent(app)
      for (const res of [await jobBids(), await jobBids(stranger.apiKey)]) {
        expect(ids(res.body)).to.deep.equal([aliceBid.bid_id])
        expect(res.body[0]).not.to.have.property('proposal')
      }
    })

    it('keeps the bid count public', async () => {
      const res = await request(app).get(`/v1/jobs/${job.job_id}`).expect(200)
      expect(res.body.bid_count).to.equal(2)
    })

    it('lists all of my own bids with proposals at /v1/agents/me/bids, filtered by status', async () => {
      const res = await request(app)
        .get('/v1/agents/me/bids')
        .set('Authorization', bearer(carol.apiKey))
        .expect(200)
      expect(ids(res.body)).to.deep.equal([carolBid.bid_id])
      expect(res.body[0]).to.include({ status: 'withdrawn', proposal: 'carol secret plan' })
      const accepted = await request(app)
        .get('/v1/agents/me/bids?status=accepted')
        .set('Authorization', bearer(alice.apiKey))
        .expect(200)
      expect(ids(accepted.body)).to.deep.equal(ids([aliceBid, aliceWon]))
      await request(app).get('/v1/agents/me/bids').expect(401)
    })

    it("shows another agent's accepted bids only, without proposals, by id or handle", async () => {
      await postBid(app, alice.apiKey, (await postJob(app, requester.apiKey)).job_id)
      for (const ref of [alice.agent.id, alice.agent.handle]) {
        const res = await request(app)
          .get(`/v1/agents/${ref}/bids`)
          .set('Authorization', bearer(bob.apiKey))
          .expect(200)
        expect(ids(res.body)).to.deep.equal(ids([aliceBid, aliceWon]))
        for (const bid of res.body) expect(bid).not.to.have.property('proposal')
      }
      const own = await request(app)
        .get(`/v1/agents/${alice.agent.id}/bids`)
        .set('Authorization', bearer(alice.apiKey))
        .expect(200)
      expect(own.body).to.have.length(3)
      await request(app).get('/v1/agents/no_such_agent/bids').expect(404)
    })

    it("lists every bid on my jobs at /v1/agents/me/jobs/bids, and only accepted ones on another agent's", async () => {
      const mine = await request(app)
        .get('/v1/agents/me/jobs/bids')
        .set('Authorization', bearer(requester.apiKey))
        .query({ limit: 100 })
        .expect(200)
      for (const bid of [aliceBid, bobBid, carolBid, aliceWon]) {
        expect(mine.body.map((row: BidResponse) => row.bid_id)).to.include(bid.bid_id)
      }
      expect(mine.body.find((row: BidResponse) => row.bid_id === bobBid.bid_id).proposal).to.equal(
        'bob secret plan',
      )

      const theirs = await request(app)
        .get(`/v1/agents/${requester.agent.handle}/jobs/bids`)
        .set('Authorization', bearer(bob.apiKey))
        .query({ limit: 100 })
        .expect(200)
      expect(
        theirs.body.every((bid: BidResponse) => bid.status === 'accepted' && !('proposal' in bid)),
      ).to.equal(true)
      expect(theirs.body.map((row: BidResponse) => row.bid_id)).not.to.include(bobBid.bid_id)

      const self = await request(app)
        .get(`/v1/agents/${requester.agent.id}/jobs/bids`)
        .set('Authorization', bearer(requester.apiKey))
        .query({ limit: 100 })
        .expect(200)
      expect(self.body.length).to.equal(mine.body.length)
    })

    it('answers 400 naming the field for a malformed list query', async () => {
      expectFieldError(
        await request(app).get('/v1/agents/me/bids?limit=0').set('Authorization', bearer(alice.apiKey)),
        'limit',
      )
      expectFieldError(await request(app).get(`/v1/jobs/${job.job_id}/bids?status=won`), 'status')
    })

    it('answers 400 naming the field for a malformed query on every bid list', async () => {
      const auth = bearer(alice.apiKey)
      expectFieldError(
        await request(app).get('/v1/agents/me/jobs/bids?offset=-1').set('Authorization', auth),
        'offset',
      )
      expectFieldError(await request(app).get(`/v1/agents/${alice.agent.id}/bids?limit=101`), 'limit')
      expectFieldError(
        await request(app).get(`/v1/agents/${requester.agent.id}/jobs/bids?status=x`),
        'status',
      )
      expectFieldError(await request(app).get(`/v1/agents/${'a'.repeat(101)}/bids`), 'agent_id')
    })

    it('answers 401 on the caller-only lists without credentials, and 404 for an unknown agent', async () => {
      await request(app).get('/v1/agents/me/jobs/bids').expect(401)
      await request(app).get('/v1/agents/me/bids').set('Authorization', 'Bearer sk_live_wrong').expect(401)
      const unknown = await request(app).get('/v1/agents/00000000-0000-4000-8000-000000000000/jobs/bids')
      expect(unknown.status).to.equal(404)
      expect(unknown.body.error.code).to.equal('agent_not_found')
      await request(app).get('/v1/agents/no_such_agent/jobs/bids').expect(404)
    })

    it("hides a cancelled job's bids from everyone but its creator, pending or not", async () => {
      const cancelled = await postJob(app, requester.apiKey)
      const pending = await postBid(app, bob.apiKey, cancelled.job_id, { proposal: 'bob hidden plan' })
      await request(app)
        .post(`/v1/jobs/${cancelled.job_id}/cancel`)
        .set('Authorization', bearer(requester.apiKey))
        .expect(200)
      const own = await request(app)
        .get(`/v1/jobs/${cancelled.job_id}/bids`)
        .set('Authorization', bearer(requester.apiKey))
        .expect(200)
      expect(own.body.map((bid: BidResponse) => [bid.bid_id, bid.status])).to.deep.equal([
        [pending.bid_id, 'rejected'],
      ])
      for (const apiKey of [bob.apiKey, carol.apiKey]) {
        const res = await request(app)
          .get(`/v1/jobs/${cancelled.job_id}/bids`)
          .set('Authorization', bearer(apiKey))
        expect(res.status).to.equal(404)
        expect(res.body.error.code).to.equal('job_not_found')
      }
      await request(app).get(`/v1/jobs/${cancelled.job_id}/bids`).expect(404)
    })

    it('never shows an accepted bid on a job closed after work to anyone outside the job', async () => {
      const closed = await postJob(app, requester.apiKey)
      const won = await postBid(app, bob.apiKey, closed.job_id, { proposal: 'bob closed plan' })
      await postAward(app, requester.apiKey, closed.job_id, won.bid_id)
      // No route closes a job after work yet (disputes will); the visibility rule must already hold.
      await database.pool.query(
        "UPDATE jobs SET status = 'closed', closed_reason = 'resolved' WHERE id = $1",
        [closed.job_id],
      )
      const outsider = await registerAgent(app)
      const seen = async (path: string, apiKey?: string) => {
        const req = request(app).get(path).query({ limit: 100 })
        const res = await (apiKey ? req.set('Authorization', bearer(apiKey)) : req).expect(200)
        return (res.body as BidResponse[]).map((bid) => bid.bid_id)
      }
      for (const apiKey of [outsider.apiKey, undefined]) {
        expect(await seen(`/v1/agents/${bob.agent.id}/bids`, apiKey)).not.to.include(won.bid_id)
        expect(await seen(`/v1/agents/${requester.agent.id}/jobs/bids`, apiKey)).not.to.include(won.bid_id)
        const req = request(app).get(`/v1/jobs/${closed.job_id}/bids`)
        await (apiKey ? req.set('Authorization', bearer(apiKey)) : req).expect(404)
      }
      expect(await seen(`/v1/agents/${bob.agent.id}/bids`, bob.apiKey)).to.include(won.bid_id)
      expect(await seen('/v1/agents/me/jobs/bids', requester.apiKey)).to.include(won.bid_id)
      const worker = await request(app)
        .get(`/v1/jobs/${closed.job_id}/bids`)
        .set('Authorization', bearer(bob.apiKey))
        .expect(200)
      expect(worker.body[0]).to.include({ bid_id: won.bid_id, proposal: 'bob closed plan' })
    })
  })

  describe('award: what placing the bid checked still holds (requireAwardable)', () => {
    /** A pending bid written behind the API's back: one placed before a check existed or applied. */
    const insertBid = async (jobId: string, bidderId: string, amount = '5000000') => {
      const { rows } = await database.pool.query(
        `INSERT INTO bids (id, job_id, bidder_agent_id, amount, eta_seconds)
         VALUES (gen_random_uuid(), $1, $2, $3::numeric, 3600) RETURNING id`,
        [jobId, bidderId, amount],
      )
      return rows[0].id as string
    }
    const award = (jobId: string, bidId: string) =>
      request(app)
        .post(`/v1/jobs/${jobId}/award`)
        .set('Authorization', bearer(requester.apiKey))
        .send({ bid_id: bidId })
    /** Expects the award refused with 409 `code`, nothing locked, and the bid and job untouched. */
    const expectRefusedAward = async (jobId: string, bidId: string, code: string) => {
      const before = await balanceOf(app, requester.apiKey)
      const res = await award(jobId, bidId)
      expect(res.status, JSON.stringify(res.body)).to.equal(409)
      expect(res.body.error.code).to.equal(code)
      expect(await balanceOf(app, requester.apiKey)).to.deep.equal(before)
      const { rows } = await database.pool.query(
        `SELECT b.status AS bid_status, j.status AS job_status,
                (SELECT count(*)::int FROM assignments AS a WHERE a.bid_id = b.id) AS assignments
           FROM bids AS b JOIN jobs AS j ON j.id = b.job_id WHERE b.id = $1`,
        [bidId],
      )
      expect(rows[0]).to.deep.equal({ bid_status: 'pending', job_status: 'open', assignments: 0 })
      return res
    }

    it("attack: the job's resolver bids, is awarded, and rules itself the escrow -> refused at bid and at award", async () => {
      const job = await postJob(app, requester.apiKey, { dispute_agent_id: bob.agent.id })
      const atBid = await request(app)
        .post(`/v1/jobs/${job.job_id}/bids`)
        .set('Authorization', bearer(bob.apiKey))
        .send({ amount: '5', eta_seconds: 3600 })
      expect(atBid.status).to.equal(403)
      expect(atBid.body.error.code).to.equal('resolver_cannot_bid')
      // A bid the resolver got in anyway (placed before the check, or before it was made resolver).
      const smuggled = await insertBid(job.job_id, bob.agent.id)
      const res = await expectRefusedAward(job.job_id, smuggled, 'bidder_is_resolver')
      expect(res.body.error.details).to.include({
        bidder_agent_id: bob.agent.id,
        dispute_agent_id: bob.agent.id,
      })

      const later = await postJob(app, requester.apiKey)
      const early = await postBid(app, bob.apiKey, later.job_id)
      await database.pool.query('UPDATE jobs SET dispute_agent_id = $2 WHERE id = $1', [
        later.job_id,
        bob.agent.id,
      ])
      await expectRefusedAward(later.job_id, early.bid_id, 'bidder_is_resolver')
      // Anyone else's bid on the same job is still awarded, with bob as its resolver.
      const fair = await postBid(app, alice.apiKey, later.job_id)
      await postAward(app, requester.apiKey, later.job_id, fair.bid_id)
    })

    it("award refuses a bid by the job's own creator written behind the API's back (409 bidder_is_creator)", async () => {
      const job = await postJob(app, requester.apiKey)
      await expectRefusedAward(
        job.job_id,
        await insertBid(job.job_id, requester.agent.id),
        'bidder_is_creator',
      )
    })

    it("attack: a bid above the job's budget is awarded after the creator lowers the budget -> refused with 409 bid_above_budget", async () => {
      const job = await postJob(app, requester.apiKey, { budget_amount: '10' })
      const high = await postBid(app, alice.apiKey, job.job_id, { amount: '8' })
      const exact = await postBid(app, bob.apiKey, job.job_id, { amount: '5' })
      await request(app)
        .patch(`/v1/jobs/${job.job_id}`)
        .set('Authorization', bearer(requester.apiKey))
        .send({ budget_amount: '5' })
        .expect(200)
      const res = await expectRefusedAward(job.job_id, high.bid_id, 'bid_above_budget')
      expect(res.body.error.details).to.deep.equal({
        bid_id: high.bid_id,
        bid_amount: '8',
        budget_amount: '5',
        budget_token: 'USDC',
      })
      // A bid at the budget is within it.
      await postAward(app, requester.apiKey, job.job_id, exact.bid_id)
    })

    it('awards a bid above a budget the creator since cleared: without a budget there is no ceiling', async () => {
      const job = await postJob(app, requester.apiKey, { budget_amount: '10' })
      const bid = await postBid(app, alice.apiKey, job.job_id, { amount: '8' })
      const patch = (budget: string | null) =>
        request(app)
          .patch(`/v1/jobs/${job.job_id}`)
          .set('Authorization', bearer(requester.apiKey))
          .send({ budget_amount: budget })
          .expect(200)
      await patch('7.999999')
      await expectRefusedAward(job.job_id, bid.bid_id, 'bid_above_budget')
      await patch(null)
      await postAward(app, requester.apiKey, job.job_id, bid.bid_id)
    })

    it('award refuses a bid whose bidder holds no verified claim on a job that requires one (409 bidder_not_verified)', async () => {
      const job = await postJob(app, requester.apiKey, { requires_verifiable: true, max_slots: 2 })
      // A bid placed while an empty claim still passed.
      const unverified = await registerAgent(app, { verifiableClaim: {} })
      await expectRefusedAward(
        job.job_id,
        await insertBid(job.job_id, unverified.agent.id),
        'bidder_not_verified',
      )
      const account = privateKeyToAccount(generatePrivateKey())
      const verified = await registerAgent(app, {
        account,
        verifiableClaim: await signClaim(issuer, { subject: account.address }),
      })
      const bid = await postBid(app, verified.apiKey, job.job_id)
      await postAward(app, requester.apiKey, job.job_id, bid.bid_id)
    })
  })

  describe('POST /v1/bids/{bid_id}/withdraw', () => {
    it('withdraws a pending bid for its bidder', async () => {
      const job = await postJob(app, requester.apiKey)
      const bid = await postBid(app, bob.apiKey, job.job_id)
      const res = await request(app)
        .post(`/v1/bids/${bid.bid_id}/withdraw`)
        .set('Authorization', bearer(bob.apiKey))
        .expect(200)
      expect(res.body).to.include({ bid_id: bid.bid_id, status: 'withdrawn' })
    })

    it('answers 404 to another bidder (the pending bid is invisible to it) and 403 to the job creator', async () => {
      const job = await postJob(app, requester.apiKey)
      const bid = await postBid(app, bob.apiKey, job.job_id)
      await request(app)
        .post(`/v1/bids/${bid.bid_id}/withdraw`)
        .set('Authorization', bearer(alice.apiKey))
        .expect(404)
      const creator = await request(app)
        .post(`/v1/bids/${bid.bid_id}/withdraw`)
        .set('Authorization', bearer(requester.apiKey))
      expect(creator.status).to.equal(403)
      expect(creator.body.error.code).to.equal('not_bidder')
      await request(app).post(`/v1/bids/${bid.bid_id}/withdraw`).expect(401)
    })

    it('answers 409 for an accepted or already withdrawn bid, 400 for a malformed id', async () => {
      const job = await postJob(app, requester.apiKey)
      const bid = await postBid(app, bob.apiKey, job.job_id)
      await postAward(app, requester.apiKey, job.job_id, bid.bid_id)
      const accepted = await request(app)
        .post(`/v1/bids/${bid.bid_id}/withdraw`)
        .set('Authorization', bearer(bob.apiKey))
      expect(accepted.status).to.equal(409)
      expect(accepted.body.error.code).to.equal('bid_not_pending')
      expectFieldError(
        await request(app).post('/v1/bids/xyz/withdraw').set('Authorization', bearer(bob.apiKey)),
        'bid_id',
      )
    })
  })
})
