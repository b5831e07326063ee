import { expect } from 'chai'
import type { Express } from 'express'
import request from 'supertest'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { entryResponse, resolveCompetitionResponse, type EntryResponse } from '../../../protocol/competitions'
import type { TypedDataJson } from '../../../protocol/assignments'
import { toViemTypedData } from '../../../server/escrow/escrow-ops'
import type { AppContext } from '../../../server/app-context'
import { expireDueJobs } from '../../../server/jobs/jobs-service'
import { selectEntrySumsByToken, selectPlatformBalance } from '../../../server/ledger/ledger-queries'
import { createTestApp, TEST_USDC } from '../helpers/app'
import { bearer, fundAgent, registerAgent, type RegisteredTestAgent } from '../helpers/agents'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { balanceOf, expectFieldError, jobBody, postJob, unsettledOf } from '../helpers/jobs'

const UNIT = 1_000_000n

describe('competitions', () => {
  let database: TestDatabase
  let app: Express
  let context: AppContext
  let judge: RegisteredTestAgent
  let creator: RegisteredTestAgent
  let alice: RegisteredTestAgent
  let bob: RegisteredTestAgent

  before(async () => {
    database = await createTestDatabase()
    const { app: bootstrap } = await createTestApp(database)
    judge = await registerAgent(bootstrap)
    ;({ app, context } = await createTestApp(database, null, { platformJudgeAgentId: judge.agent.id }))
    creator = await registerAgent(app)
    alice = await registerAgent(app)
    bob = await registerAgent(app)
    await fundAgent(app, creator.apiKey, '1000.00')
  })
  after(async () => {
    await database.drop()
  })

  const competition = (agent = creator, overrides: Record<string, unknown> = {}) =>
    postJob(app, agent.apiKey, { job_type: 'competition', budget_amount: '10', ...overrides })
  const enter = (
    agent: RegisteredTestAgent,
    jobId: string,
    deliverable = `https://example.com/${agent.agent.handle}`,
  ) =>
    request(app)
      .post(`/v1/jobs/${jobId}/entries`)
      .set('Authorization', bearer(agent.apiKey))
      .send({ deliverable })
  const entries = (jobId: string, agent?: RegisteredTestAgent) => {
    const req = request(app).get(`/v1/jobs/${jobId}/entries`)
    return (agent ? req.set('Authorization', bearer(agent.apiKey)) : req).expect(200)
  }
  const pastDeadline = (jobId: string) =>
    database.pool.query("UPDATE jobs SET expires_at = now() - interval '1 second' WHERE id = $1", [jobId])

  describe('creation', () => {
    it('escrows the prize pool at creation and assigns the platform judge', async () => {
      const payer = await registerAgent(app)
      await fundAgent(app, payer.apiKey, '25.00')
      const job = await competition(payer)
      expect(job).to.include({ job_type: 'competition', status: 'open', dispute_agent_id: judge.agent.id })
      expect(await balanceOf(app, payer.apiKey)).to.deep.equal({ available: 15n * UNIT, escrow: 10n * UNIT })
    })

    it('creates and escrows once when a creation with an Idempotency-Key is retried, even at once', async () => {
      const payer = await registerAgent(app)
      await fundAgent(app, payer.apiKey, '25.00')
      const create = () =>
        request(app)
          .post('/v1/jobs')
          .set('Authorization', bearer(payer.apiKey))
          .set('Idempotency-Key', `pool-${payer.agent.id}`)
          .send(jobBody({ job_type: 'competition', budget_amount: '10' }))
      const responses = await Promise.all([create(), create(), create()])
      const created = responses.filter((res) => res.status === 201)
      expect(created.length, JSON.stringify(responses.map((res) => res.status))).to.be.at.least(1)
      expect(new Set(created.map((res) => res.body.job_id)).size).to.equal(1)
      const retried = await create().expect(201)
      expect(retried.body.job_id).to.equal(created[0]!.body.job_id)
      expect(await balanceOf(app, payer.apiKey)).to.deep.equal({ available: 15n * UNIT, escrow: 10n * UNIT })
    })

    it('answers 400 naming the field without a pool, with a chosen judge, or with slots', async () => {
      const send = (body: Record<string, unknown>) =>
        request(app)
          .post('/v1/jobs')
          .set('Authorization', bearer(creator.apiKey))
          .send({
            title: 'Logo design competition',
            description: 'Design a logo for the Clearhouse marketplace; the best three entries win a share.',
            job_type: 'competition',
            budget_amount: '10',
            ...body,
          })
      expectFieldError(await send({ budget_amount: undefined }), 'budget_amount')
      expectFieldError(await send({ dispute_agent_id: alice.agent.id }), 'dispute_agent_id')
      expectFieldError(await send({ max_slots: 3 }), 'max_slots')
    })

    it('answers 409 when the pool is not covered, or the coordinator has no judge', async () => {
      const poor = await registerAgent(app)
      await fundAgent(app, poor.apiKey, '5.00')
      const res = await request(app).post('/v1/jobs').set('Authorization', bearer(poor.apiKey)).send({
        title: 'Logo design competition',
        description: 'Design a logo for the Clearhouse marketplace; the best three entries win a share.',
        job_type: 'competition',
        budget_amount: '10',
      })
      expect(res.status).to.equal(409)
      expect(res.body.error.code).to.equal('insufficient_balance')
      expect(await balanceOf(app, poor.apiKey)).to.deep.equal({ available: 5n * UNIT, escrow: 0n })
      expect((await request(app).get('/v1/jobs').query({ creator: poor.agent.id })).body).to.have.length(0)

      const { app: judgeless } = await createTestApp(database)
      const none = await request(judgeless)
        .post('/v1/jobs')
        .set('Authorization', bearer(creator.apiKey))
        .send({
          title: 'Logo design competition',
          description: 'Design a logo for the Clearhouse marketplace; the best three entries win a share.',
          job_type: 'competition',
          budget_amount: '10',
        })
      expect(none.status).to.equal(409)
      expect(none.body.error.code).to.equal('no_platform_judge')
    })

    it('takes no bids and no awards (409)', async () => {
      const job = await competition()
      const bid = await request(app)
        .post(`/v1/jobs/${job.job_id}/bids`)
        .set('Authorization', bearer(alice.apiKey))
        .send({ amount: '1', eta_seconds: 3600 })
      expect(bid.status).to.equal(409)
      expect(bid.body.error.code).to.equal('competition_job')
    })
  })

  describe('entries', () => {
    it('creates an entry (201), updates it on resubmission (200) and keeps every revision', async () => {
      const job = await competition()
      const first = await enter(alice, job.job_id, 'https://example.com/v1').expect(201)
      const entry = entryResponse.parse(first.body)
      expect(entry).to.include({ job_id: job.job_id, worker_agent_id: alice.agent.id, prize_bps: null })
      const second = await enter(alice, job.job_id, 'Inline entry text').expect(200)
      expect(second.body.entry_id).to.equal(entry.entry_id)
      expect(second.body.deliverable_hash).to.match(/^sha256:[0-9a-f]{64}$/)
      const { rows } = await database.pool.query(
        'SELECT r.deliverable FROM competition_entry_revisions AS r WHERE r.entry_id = $1 ORDER BY r.id',
        [entry.entry_id],
      )
      expect(rows.map((row) => row.deliverable)).to.deep.equal([
        'https://example.com/v1',
        'Inline entry text',
      ])
    })

    it('seals entries while open: own entry only, all for creator and judge; all after the deadline', async () => {
      const job = await competition()
      await enter(alice, job.job_id).expect(201)
      await enter(bob, job.job_id).expect(201)
      const ownerOf = (rows: EntryResponse[]) => rows.map((row) => row.worker_agent_id).sort()
      expect(ownerOf((await entries(job.job_id, alice)).body)).to.deep.equal([alice.agent.id])
      expect(ownerOf((await entries(job.job_id, bob)).body)).to.deep.equal([bob.agent.id])
      expect((await entries(job.job_id)).body).to.deep.equal([])
      for (const party of [creator, judge]) expect((await entries(job.job_id, party)).body).to.have.length(2)
      await pastDeadline(job.job_id)
      expect((await entries(job.job_id, alice)).body).to.have.length(2)
      expect((await entries(job.job_id)).body).to.have.length(2)
    })

    it('answers 403 to the creator and the judge, 409 after the deadline or on a standard job, 400 without a deliverable', async () => {
      const job = await competition()
      for (const party of [creator, judge]) {
        const res = await enter(party, job.job_id)
        expect(res.status).to.equal(403)
        expect(res.body.error.code).to.equal('cannot_enter')
      }
      expectFieldError(
        await request(app)
          .post(`/v1/jobs/${job.job_id}/entries`)
          .set('Authorization', bearer(alice.apiKey))
          .send({}),
        'deliverable',
      )
      await request(app).post(`/v1/jobs/${job.job_id}/entries`).send({ deliverable: 'x' }).expect(401)
      await pastDeadline(job.job_id)
      const late = await enter(alice, job.job_id)
      expect(late.status).to.equal(409)
      expect(late.body.error.code).to.equal('job_expired')
      const standard = await postJob(app, creator.apiKey)
      const wrongType = await enter(alice, standard.job_id)
      expect(wrongType.status).to.equal(409)
      expect(wrongType.body.error.code).to.equal('not_a_competition')
    })
  })

  describe('wrong caller, wrong state and malformed input', () => {
    it('answers 409 not_a_competition when listing entries of a standard job, 404 for a missing job', async () => {
      const standard = await postJob(app, creator.apiKey)
      const res = await request(app).get(`/v1/jobs/${standard.job_id}/entries`)
      expect(res.status).to.equal(409)
      expect(res.body.error.code).to.equal('not_a_competition')
      await request(app).get('/v1/jobs/00000000-0000-4000-8000-000000000000/entries').expect(404)
      await request(app)
        .get(`/v1/jobs/${standard.job_id}/entries`)
        .set('Authorization', 'Bearer sk_live_wrong')
        .expect(401)
    })

    it('answers 401 to an anonymous resolve, 404 for a missing job, 400 naming results when malformed', async () => {
      const job = await competition()
      const entry = (await enter(alice, job.job_id).expect(201)).body as EntryResponse
      await pastDeadline(job.job_id)
      const resolve = (body: unknown, agent: RegisteredTestAgent | null = judge, jobId = job.job_id) => {
        const req = request(app).post(`/v1/jobs/${jobId}/resolve`)
        return (agent ? req.set('Authorization', bearer(agent.apiKey)) : req).send(body as object)
      }
      await resolve({ results: [{ entry_id: entry.entry_id, bps: 1 }] }, null).expect(401)
      await resolve(
        { results: [{ entry_id: entry.entry_id, bps: 1 }] },
        judge,
        '00000000-0000-4000-8000-000000000000',
      ).expect(404)
      expectFieldError(await resolve({}), 'results')
      expectFieldError(await resolve({ results: { entry_id: entry.entry_id, bps: 1 } }), 'results')
      expectFieldError(await resolve({ results: [{ entry_id: entry.entry_id, bps: -1 }] }), 'results.0.bps')
      expectFieldError(
        await resolve({ results: [{ entry_id: entry.entry_id, bps: 10_001 }] }),
        'results.0.bps',
      )
      expectFieldError(await resolve({ results: [{ entry_id: entry.entry_id, bps: 1.5 }] }), 'results.0.bps')
      expectFieldError(
        await resolve({ results: [{ entry_id: entry.entry_id, bps: '5000' }] }),
        'results.0.bps',
      )
      // None of it moved money: the pool is still in escrow and the competition still unresolved.
      const after = await request(app).get(`/v1/jobs/${job.job_id}`).expect(200)
      expect(after.body.status).not.to.equal('completed')
    })

    it('guards prize escrow signatures: 401, 404 for an entry of another job, 409 when already signed, 400 naming the field', async () => {
      const job = await competition()
      const entry = (await enter(alice, job.job_id).expect(201)).body as EntryResponse
      const other = await competition()
      const foreign = (await enter(bob, other.job_id).expect(201)).body as EntryResponse
      await pastDeadline(job.job_id)
      await request(app)
        .post(`/v1/jobs/${job.job_id}/resolve`)
        .set('Authorization', bearer(judge.apiKey))
        .send({ results: [{ entry_id: entry.entry_id, bps: 10_000 }] })
        .expect(200)
      const sign = (entryId: string, body: unknown, agent: RegisteredTestAgent | null = creator) => {
        const req = request(app).post(`/v1/jobs/${job.job_id}/entries/${entryId}/escrow-signature`)
        return (agent ? req.set('Authorization', bearer(agent.apiKey)) : req).send(body as object)
      }
      const valid = { kind: 'escrow_lock', signature: `0x${'1'.repeat(130)}` }
      await sign(entry.entry_id, valid, null).expect(401)
      const notHere = await sign(foreign.entry_id, valid)
      expect(notHere.status).to.equal(404)
      expect(notHere.body.error.code).to.equal('entry_not_found')
      // The creator's wallet is managed, so the coordinator signed both prize escrows already.
      const signed = await sign(entry.entry_id, valid)
      expect(signed.status).to.equal(409)
      expect(signed.body.error.code).to.equal('escrow_op_signed')
      expectFieldError(await sign(entry.entry_id, { kind: 'escrow_lock', signature: '0x1234' }), 'signature')
      expectFieldError(await sign(entry.entry_id, { kind: 'prize', signature: valid.signature }), 'kind')
      expectFieldError(await sign(entry.entry_id, [valid]), 'body')
    })

    it("attack: probing a sealed entry's existence through 403 vs 404 -> same answer", async () => {
      const job = await competition()
      const sealed = (await enter(bob, job.job_id).expect(201)).body as EntryResponse
      // Alice sees the job but not bob's entry: entries are sealed while the competition is open.
      expect((await entries(job.job_id, alice)).body).to.deep.equal([])
      const probe = (entryId: string, agent: RegisteredTestAgent) =>
        request(app)
          .post(`/v1/jobs/${job.job_id}/entries/${entryId}/escrow-signature`)
          .set('Authorization', bearer(agent.apiKey))
          .send({ kind: 'escrow_lock', signature: `0x${'1'.repeat(130)}` })
      for (const agent of [alice, bob, judge]) {
        const existing = await probe(sealed.entry_id, agent)
        const missing = await probe('00000000-0000-4000-8000-000000000000', agent)
        expect(existing.status, agent.agent.handle).to.equal(403)
        expect(missing.status, agent.agent.handle).to.equal(existing.status)
        expect(missing.body.error.code).to.equal(existing.body.error.code).and.to.equal('not_payer')
      }
      // The creator still tells a missing entry from an existing one: it sees every entry anyway.
      expect((await probe('00000000-0000-4000-8000-000000000000', creator)).status).to.equal(404)
    })
  })

  describe('deadline, judging and resolution', () => {
    it('pays the winners their share less the fee and refunds the rest, exact to the base unit', async () => {
      const payer = await registerAgent(app)
      await fundAgent(app, payer.apiKey, '30.00')
      const job = await competition(payer)
      const a = (await enter(alice, job.job_id).expect(201)).body as EntryResponse
      const b = (await enter(bob, job.job_id).expect(201)).body as EntryResponse
      const carol = await registerAgent(app)
      const c = (await enter(carol, job.job_id).expect(201)).body as EntryResponse
      const before = {
        alice: await unsettledOf(app, alice.apiKey),
        bob: await unsettledOf(app, bob.apiKey),
        fees: await selectPlatformBalance(database.pool, 'fees', TEST_USDC.address),
      }
      const resolve = (agent: RegisteredTestAgent, results: unknown) =>
        request(app)
          .post(`/v1/jobs/${job.job_id}/resolve`)
          .set('Authorization', bearer(agent.apiKey))
          .send({ results })
      const results = [
        { entry_id: a.entry_id, bps: 5000 },
        { entry_id: b.entry_id, bps: 3333 },
        { entry_id: c.entry_id, bps: 0 },
      ]

      const early = await resolve(judge, results)
      expect(early.status).to.equal(409)
      expect(early.body.error.code).to.equal('job_not_judging')
      await pastDeadline(job.job_id)
      for (const agent of [payer, alice]) {
        const res = await resolve(agent, results)
        expect(res.status).to.equal(403)
        expect(res.body.error.code).to.equal('not_judge')
      }
      expectFieldError(
        await resolve(judge, [
          { entry_id: a.entry_id, bps: 6000 },
          { entry_id: b.entry_id, bps: 4001 },
        ]),
        'results',
      )
      expectFieldError(
        await resolve(judge, [
          { entry_id: a.entry_id, bps: 1 },
          { entry_id: a.entry_id, bps: 1 },
        ]),
        'results',
      )
      expectFieldError(await resolve(judge, [{ entry_id: payer.agent.id, bps: 1 }]), 'results.0.entry_id')

      const res = await request(app)
        .post(`/v1/jobs/${job.job_id}/resolve`)
        .set('Authorization', bearer(judge.apiKey))
        .set('Idempotency-Key', `resolve-${job.job_id}`)
        .send({ results })
        .expect(200)
      const body = resolveCompetitionResponse.parse(res.body)
      const prizeA = 5_000_000n
      const prizeB = (10n * UNIT * 3333n) / 10_000n
      expect(body.job.status).to.equal('completed')
      expect(body.refunded_amount).to.equal('1.667')
      expect(body.winners.map((entry) => [entry.entry_id, entry.prize_amount])).to.deep.equal([
        [a.entry_id, '5'],
        [b.entry_id, '3.333'],
      ])
      // The outbox tells the winning workers (seed 004 `competition_resolved`), not the one paid nothing.
      const { rows: events } = await database.pool.query(
        `SELECT audience::text[] AS audience, data FROM events
          WHERE event_type = 'competition_resolved' AND data->>'job_id' = $1`,
        [job.job_id],
      )
      expect(events).to.have.length(1)
      expect([...events[0].audience].sort()).to.deep.equal([alice.agent.id, bob.agent.id].sort())
      expect(events[0].data).to.deep.equal({ job_id: job.job_id, job_title: job.title })
      const fee = (amount: bigint) => (amount * 100n) / 10_000n
      expect(await balanceOf(app, payer.apiKey)).to.deep.equal({
        available: 30n * UNIT - prizeA - prizeB,
        escrow: 0n,
      })
      // Booked to the winners as unsettled: spendable once the vault carries each prize's release out.
      expect((await unsettledOf(app, alice.apiKey)) - before.alice).to.equal(prizeA - fee(prizeA))
      expect((await unsettledOf(app, bob.apiKey)) - before.bob).to.equal(prizeB - fee(prizeB))
      expect(await selectPlatformBalance(database.pool, 'fees', TEST_USDC.address)).to.equal(
        before.fees + fee(prizeA) + fee(prizeB),
      )
      for (const [, total] of await selectEntrySumsByToken(database.pool)) expect(total).to.equal(0n)

      // Each prize is a creator-signed escrow lock, queued for the vault, and a signed release,
      // queued once the lock's escrow is committed on-chain (this app runs without a chain).
      for (const winner of body.winners) {
        expect(winner.chain_ops!.map((op) => `${op.kind}:${op.status}`)).to.deep.equal([
          'escrow_lock:pending',
          'escrow_release:signed',
        ])
      }
      const replay = await request(app)
        .post(`/v1/jobs/${job.job_id}/resolve`)
        .set('Authorization', bearer(judge.apiKey))
        .set('Idempotency-Key', `resolve-${job.job_id}`)
        .send({ results })
        .expect(200)
      expect(replay.headers['idempotent-replayed']).to.equal('true')
      const again = await resolve(judge, results)
      expect(again.status).to.equal(409)
      const listed = (await entries(job.job_id)).body as EntryResponse[]
      expect(listed.find((entry) => entry.entry_id === c.entry_id)).to.include({
        prize_bps: 0,
        prize_amount: '0',
      })
      expect(listed[0]).not.to.have.property('chain_ops')
    })

    it('moves to judging at the deadline with entries, or expires and refunds the pool without', async () => {
      const payer = await registerAgent(app)
      await fundAgent(app, payer.apiKey, '30.00')
      const judged = await competition(payer)
      await enter(alice, judged.job_id).expect(201)
      const empty = await competition(payer)
      await pastDeadline(judged.job_id)
      await pastDeadline(empty.job_id)
      expect(await expireDueJobs(context)).to.be.at.least(2)
      expect((await request(app).get(`/v1/jobs/${empty.job_id}`)).body.status).to.equal('expired')
      const awaiting = await request(app)
        .get('/v1/jobs')
        .query({ judge: judge.agent.id, status: 'judging', job_type: 'competition' })
        .expect(200)
      expect(awaiting.body.map((job: { job_id: string }) => job.job_id)).to.include(judged.job_id)
      expect(await balanceOf(app, payer.apiKey)).to.deep.equal({ available: 20n * UNIT, escrow: 10n * UNIT })
    })
  })

  describe('cancel and delete', () => {
    it('refunds the pool on cancel; an open competition cannot be deleted, a cancelled one without entries can', async () => {
      const payer = await registerAgent(app)
      await fundAgent(app, payer.apiKey, '20.00')
      const job = await competition(payer)
      const early = await request(app)
        .delete(`/v1/jobs/${job.job_id}`)
        .set('Authorization', bearer(payer.apiKey))
      expect(early.status).to.equal(409)
      await request(app)
        .post(`/v1/jobs/${job.job_id}/cancel`)
        .set('Authorization', bearer(payer.apiKey))
        .expect(200)
      expect(await balanceOf(app, payer.apiKey)).to.deep.equal({ available: 20n * UNIT, escrow: 0n })
      await request(app)
        .delete(`/v1/jobs/${job.job_id}`)
        .set('Authorization', bearer(payer.apiKey))
        .expect(204)

      const entered = await competition(payer)
      await enter(alice, entered.job_id).expect(201)
      await request(app)
        .post(`/v1/jobs/${entered.job_id}/cancel`)
        .set('Authorization', bearer(payer.apiKey))
        .expect(200)
      await request(app)
        .delete(`/v1/jobs/${entered.job_id}`)
        .set('Authorization', bearer(payer.apiKey))
        .expect(409)
      await request(app)
        .get(`/v1/jobs/${entered.job_id}/entries`)
        .set('Authorization', bearer(alice.apiKey))
        .expect(404)
    })
  })

  describe('self-custody creator', () => {
    it('leaves prize escrows awaiting the creator signature, then queues them in order', async () => {
      const account = privateKeyToAccount(generatePrivateKey())
      const payer = await registerAgent(app, { account })
      await fundAgent(app, payer.apiKey, '20.00')
      const job = await competition(payer)
      const entry = (await enter(alice, job.job_id).expect(201)).body as EntryResponse
      await pastDeadline(job.job_id)
      const resolved = await request(app)
        .post(`/v1/jobs/${job.job_id}/resolve`)
        .set('Authorization', bearer(judge.apiKey))
        .send({ results: [{ entry_id: entry.entry_id, bps: 10_000 }] })
        .expect(200)
      const [lock, release] = resolved.body.winners[0].chain_ops
      expect([lock.status, release.status]).to.deep.equal(['awaiting_signature', 'awaiting_signature'])
      const path = `/v1/jobs/${job.job_id}/entries/${entry.entry_id}/escrow-signature`
      const sign = (op: { typed_data: TypedDataJson }) =>
        account.signTypedData(toViemTypedData(op.typed_data))
      await request(app)
        .post(path)
        .set('Authorization', bearer(alice.apiKey))
        .send({ kind: 'escrow_lock', signature: await sign(lock) })
        .expect(403)
      const held = await request(app)
        .post(path)
        .set('Authorization', bearer(payer.apiKey))
        .send({ kind: 'escrow_release', signature: await sign(release) })
        .expect(200)
      expect(held.body.chain_ops.map((op: { status: string }) => op.status)).to.deep.equal([
        'awaiting_signature',
        'signed',
      ])
      const done = await request(app)
        .post(path)
        .set('Authorization', bearer(payer.apiKey))
        .send({ kind: 'escrow_lock', signature: await sign(lock) })
        .expect(200)
      expect(done.body.chain_ops.map((op: { status: string }) => op.status)).to.deep.equal([
        'pending',
        'signed',
      ])
      const { rows } = await database.pool.query(
        'SELECT o.reference FROM chain_ops AS o WHERE o.reference LIKE $1 ORDER BY o.id',
        [`%${entry.entry_id}`],
      )
      expect(rows.map((row) => row.reference)).to.deep.equal([`prize-escrow-lock:${entry.entry_id}`])
    })
  })
})
