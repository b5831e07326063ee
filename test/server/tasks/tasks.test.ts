import { expect } from 'chai'
import request from 'supertest'
import { parseUnits } from 'viem'
import { bearer, registerAgent, type RegisteredTestAgent } from '../helpers/agents'
import { createChainTestApp, type ChainTestApp } from '../helpers/chain-app'
import { shiftDatabaseClock } from '../helpers/clock'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { TimersWorker } from '../../../server/workers/timers'
import { fanOutEvents } from '../../../server/webhooks/webhooks-queries'
import { expectFieldError } from '../helpers/jobs'
import { registerStubService, startUpstreamStub, type UpstreamStub } from '../helpers/upstream'

const USDC = 1_000_000n

/** Seed 002's capability-routed tasks, with the money followed into the ledger and the vault. */
describe('capability-routed tasks (POST /v1/tasks)', () => {
  let database: TestDatabase
  let chain: ChainTestApp
  let upstream: UpstreamStub
  let worker: TimersWorker | null = null
  /** One timekeeper for the file: a second would wait out the first one's lease. */
  const timers = () => (worker ??= new TimersWorker(chain.context, 10_000))

  before(async function () {
    this.timeout(120_000)
    database = await createTestDatabase()
    chain = await createChainTestApp(database)
    upstream = await startUpstreamStub()
  })
  after(async () => {
    await upstream.close()
    await chain.stop()
    await database.drop()
  })

  async function settleAll(): Promise<void> {
    for (const result of await chain.settle()) expect(result.outcome).to.equal('confirmed')
  }

  async function available(agent: RegisteredTestAgent): Promise<string> {
    const res = await request(chain.app)
      .get('/v1/wallet/balance')
      .set('Authorization', bearer(agent.apiKey))
      .expect(200)
    return res.body.balances[0].available
  }

  /** A provider offering `capability` (as a tag) at `price`, answering at the stub's `path`. */
  async function provider(
    capability: string,
    price: string,
    path = '/echo',
    fields: Record<string, unknown> = {},
  ) {
    const agent = await registerAgent(chain.app)
    const serviceId = await registerStubService(chain.app, agent.apiKey, upstream, {
      path,
      price,
      fields: { name: `${capability} by ${path}`, tags: [capability], ...fields },
    })
    return { agent, serviceId }
  }

  async function requester(funds: bigint): Promise<RegisteredTestAgent> {
    const agent = await registerAgent(chain.app)
    await chain.fund(agent.agent.wallet_address, funds)
    return agent
  }

  function postTask(agent: RegisteredTestAgent, body: Record<string, unknown>) {
    return request(chain.app).post('/v1/tasks').set('Authorization', bearer(agent.apiKey)).send(body)
  }

  it('routes to the best-matching callable service within max_price and pays it through escrow, to the base unit', async function () {
    this.timeout(120_000)
    const capability = 'text-translation'
    await provider(capability, '12') // over max_price
    await provider(capability, '1', '/echo', { pricing_model: 'custom', price_amount: null }) // no listed price
    const chosen = await provider(capability, '2.5')
    const caller = await requester(20n * USDC)
    await registerStubService(chain.app, caller.apiKey, upstream, {
      price: '0.1',
      fields: { tags: [capability] }, // its own: never routed to
    })

    const res = await postTask(caller, {
      capability,
      input: { text: 'Hello', target_lang: 'es' },
      payment_type: 'balance',
      max_price: 10.0,
    })
    expect(res.status, JSON.stringify(res.body)).to.equal(201)
    expect(res.body).to.include({
      capability,
      status: 'completed',
      service_id: chosen.serviceId,
      provider_agent_id: chosen.agent.agent.id,
      max_price: '10',
      failure_reason: null,
    })
    expect(res.body.output).to.deep.equal({ echo: { text: 'Hello', target_lang: 'es' } })
    expect(res.body.payment).to.include({ status: 'released', amount: '2.5', payment_type: 'balance' })
    expect(await available(caller)).to.equal('17.5')

    await settleAll()
    const feeUnits = parseUnits(res.body.payment.fee_amount, 6)
    expect(feeUnits, 'a paid task pays the platform fee').to.be.greaterThan(0n)
    expect(await chain.vaultBalanceOf(caller.agent.wallet_address)).to.equal(20n * USDC - 2_500_000n)
    expect(await chain.vaultBalanceOf(chosen.agent.agent.wallet_address)).to.equal(2_500_000n - feeUnits)
    const payment = await request(chain.app)
      .get(`/v1/tasks/${res.body.task_id}/payments`)
      .set('Authorization', bearer(chosen.agent.apiKey))
      .expect(200)
    expect(payment.body).to.include({ status: 'released', provider_amount: res.body.payment.provider_amount })
    expect(payment.body.micro_job.escrow_ops.map((op: { status: string }) => op.status)).to.deep.equal([
      'confirmed',
      'confirmed',
    ])
    expect(await chain.reconciliationDifference()).to.equal(0n)
  })

  for (const [failure, path, reason] of [
    ['answers an error status', '/fail', 'the service answered 500'],
    ['declares the task failed', '/declare-failure', 'cannot translate into Klingon'],
  ] as const) {
    it(`refunds the caller when the provider ${failure}: nothing reaches the vault`, async function () {
      this.timeout(120_000)
      const capability = `refund-${path.slice(1)}`
      const failing = await provider(capability, '3', path)
      const caller = await requester(10n * USDC)
      const res = await postTask(caller, { capability, input: 'klingon please', max_price: '3' })
      expect(res.status, JSON.stringify(res.body)).to.equal(201)
      expect(res.body).to.include({ status: 'failed', output: null, service_id: failing.serviceId })
      expect(res.body.failure_reason).to.contain(reason)
      expect(res.body.payment).to.include({
        status: 'refunded',
        amount: '3',
        fee_amount: '0',
        provider_amount: '0',
      })
      expect(res.body.payment.micro_job.status).to.equal('refunded')
      expect(await available(caller)).to.equal('10')
      await settleAll()
      expect(await chain.vaultBalanceOf(caller.agent.wallet_address)).to.equal(10n * USDC)
      expect(await chain.vaultBalanceOf(failing.agent.agent.wallet_address)).to.equal(0n)
      const listed = await request(chain.app)
        .get('/v1/tasks?role=provider&status=failed')
        .set('Authorization', bearer(failing.agent.apiKey))
        .expect(200)
      expect(listed.body.map((task: { task_id: string }) => task.task_id)).to.deep.equal([res.body.task_id])
    })
  }

  it('costs nothing for a free service', async () => {
    await provider('free-summary', '0')
    const caller = await requester(1n * USDC)
    const res = await postTask(caller, { capability: 'free-summary', input: 'x', max_price: '0' })
    expect(res.status, JSON.stringify(res.body)).to.equal(201)
    expect(res.body.payment).to.deep.include({
      status: 'free',
      amount: '0',
      fee_amount: '0',
      micro_job: null,
    })
    expect(await available(caller)).to.equal('1')
  })

  it('answers 409 no_matching_service when nothing callable offers the capability within the price', async () => {
    await provider('costly-audit', '50')
    const caller = await requester(100n * USDC)
    const res = await postTask(caller, { capability: 'costly-audit', max_price: '49.999999' })
    expect(res.status).to.equal(409)
    expect(res.body.error).to.include({ code: 'no_matching_service' })
    expect(res.body.error.details).to.include({ capability: 'costly-audit', max_price: '49.999999' })
  })

  it('refuses malformed tasks with a 400 naming the field, and anonymous callers with a 401', async () => {
    const caller = await requester(1n * USDC)
    expectFieldError(await postTask(caller, { max_price: '1' }), 'capability')
    expectFieldError(await postTask(caller, { capability: 'x', max_price: '-1' }), 'max_price')
    expectFieldError(await postTask(caller, { capability: 'x', max_price: '0.0000001' }), 'max_price')
    expectFieldError(
      await postTask(caller, { capability: 'x', max_price: '1', payment_type: 'crypto' }),
      'payment_type',
    )
    const unknown = await postTask(caller, { capability: 'x', max_price: '1', budget: '1' })
    expect(unknown.status).to.equal(400)
    expect(unknown.body.error.message).to.contain('budget')
    await request(chain.app).post('/v1/tasks').send({ capability: 'x', max_price: '1' }).expect(401)
  })

  it('shows a task to its requester and provider only', async () => {
    const { agent: providerAgent } = await provider('private-task', '0.5')
    const caller = await requester(1n * USDC)
    const created = await postTask(caller, { capability: 'private-task', max_price: '1' })
    const stranger = await registerAgent(chain.app)
    for (const path of [`/v1/tasks/${created.body.task_id}`, `/v1/tasks/${created.body.task_id}/payments`]) {
      const hidden = await request(chain.app).get(path).set('Authorization', bearer(stranger.apiKey))
      expect(hidden.status).to.equal(404)
      expect(hidden.body.error.code).to.equal('task_not_found')
      await request(chain.app).get(path).set('Authorization', bearer(providerAgent.apiKey)).expect(200)
    }
    const malformed = await request(chain.app)
      .get('/v1/tasks/not-a-uuid')
      .set('Authorization', bearer(caller.apiKey))
    expect(malformed.status).to.equal(400)
  })

  it('races: concurrent tasks never overdraw the caller; one Idempotency-Key pays once', async function () {
    this.timeout(120_000)
    await provider('raced-lookup', '2')
    const caller = await requester(5n * USDC)
    const results = await Promise.all(
      Array.from({ length: 6 }, () => postTask(caller, { capability: 'raced-lookup', max_price: '2' })),
    )
    expect(results.filter((res) => res.status === 201)).to.have.length(2)
    expect(results.filter((res) => res.status === 409).map((res) => res.body.error.code)).to.deep.equal(
      Array(4).fill('insufficient_balance'),
    )
    expect(await available(caller)).to.equal('1')

    const keyed = () =>
      request(chain.app)
        .post('/v1/tasks')
        .set('Authorization', bearer(caller.apiKey))
        .set('Idempotency-Key', 'task-once')
        .send({ capability: 'raced-lookup', max_price: '2' })
    await chain.fund(caller.agent.wallet_address, 4n * USDC)
    const [first, second] = await Promise.all([keyed(), keyed()])
    const created = [first, second].filter((res) => res.status === 201)
    expect(created.length, JSON.stringify([first.body, second.body])).to.be.at.least(1)
    expect(new Set(created.map((res) => res.body.task_id)).size).to.equal(1)
    expect(await available(caller)).to.equal('3')
  })

  describe('a provider without an endpoint (seed 002: it submits through the complete endpoint)', () => {
    afterEach(async () => {
      await shiftDatabaseClock(database.pool, 0)
    })

    /** A provider offering `capability` at `price` with no endpoint: it works tasks through the API. */
    async function apiProvider(capability: string, price: string) {
      const agent = await registerAgent(chain.app)
      const res = await request(chain.app)
        .post('/v1/agents/me/services')
        .set('Authorization', bearer(agent.apiKey))
        .send({
          name: `${capability} by hand`,
          category: 'research',
          pricing_model: 'fixed',
          price_amount: price,
          tags: [capability],
          response_time_seconds: 300,
        })
        .expect(201)
      return { agent, serviceId: res.body.service_id as string }
    }

    async function assignedTask(capability: string) {
      const provider = await apiProvider(capability, '4')
      const caller = await requester(10n * USDC)
      const res = await postTask(caller, { capability, input: { topic: 'vaults' }, max_price: '5' })
      expect(res.status, JSON.stringify(res.body)).to.equal(201)
      return { provider, caller, task: res.body }
    }

    function act(agent: RegisteredTestAgent, taskId: string, action: 'complete' | 'fail', body: object) {
      return request(chain.app)
        .post(`/v1/tasks/${taskId}/${action}`)
        .set('Authorization', bearer(agent.apiKey))
        .send(body)
    }

    it('holds the price on the vault until the provider completes it, then pays it less the fee, to the base unit', async function () {
      this.timeout(120_000)
      const { provider, caller, task } = await assignedTask('deep-research')
      expect(task).to.include({ status: 'assigned', service_id: provider.serviceId, output: null })
      expect(task.payment).to.include({ status: 'held', amount: '4', micro_job: null })
      expect(task.payment.assignment.status).to.equal('in_progress')
      await settleAll()
      expect(await chain.vaultBalanceOf(caller.agent.wallet_address)).to.equal(6n * USDC)

      const listed = await request(chain.app)
        .get('/v1/tasks?role=provider&status=assigned')
        .set('Authorization', bearer(provider.agent.apiKey))
        .expect(200)
      expect(listed.body.map((row: { task_id: string }) => row.task_id)).to.deep.equal([task.task_id])
      const done = await act(provider.agent, task.task_id, 'complete', {
        output: { summary: 'Vaults hold money.' },
      })
      expect(done.status, JSON.stringify(done.body)).to.equal(200)
      expect(done.body).to.deep.include({ status: 'completed', output: { summary: 'Vaults hold money.' } })
      expect(done.body.payment.status).to.equal('released')
      await settleAll()
      const fee = (4n * USDC * BigInt(done.body.payment.assignment.fee_bps)) / 10_000n
      expect(parseUnits(done.body.payment.fee_amount, 6)).to.equal(fee)
      expect(await chain.vaultBalanceOf(provider.agent.agent.wallet_address)).to.equal(4n * USDC - fee)
      expect(await chain.vaultBalanceOf(caller.agent.wallet_address)).to.equal(6n * USDC)
      expect(await chain.reconciliationDifference()).to.equal(0n)
      const again = await act(provider.agent, task.task_id, 'complete', { output: 'twice' })
      expect(again.status).to.equal(409)
      expect(again.body.error.code).to.equal('task_not_assigned')
    })

    it('refunds the requester in full when the provider fails it', async function () {
      this.timeout(120_000)
      const { provider, caller, task } = await assignedTask('failing-research')
      await settleAll()
      const failed = await act(provider.agent, task.task_id, 'fail', { reason: 'no sources on this topic' })
      expect(failed.status, JSON.stringify(failed.body)).to.equal(200)
      expect(failed.body).to.include({ status: 'failed', failure_reason: 'no sources on this topic' })
      expect(failed.body.payment).to.include({ status: 'refunded', provider_amount: '0' })
      await settleAll()
      expect(await chain.vaultBalanceOf(caller.agent.wallet_address)).to.equal(10n * USDC)
      expect(await chain.vaultBalanceOf(provider.agent.agent.wallet_address)).to.equal(0n)
      expect(await chain.reconciliationDifference()).to.equal(0n)
    })

    it('refunds the requester when the provider lets its response time pass', async function () {
      this.timeout(120_000)
      const { caller, task } = await assignedTask('slow-research')
      await settleAll()
      await shiftDatabaseClock(database.pool, 301)
      const round = await timers().runOnce()
      expect(round).to.include({ instantReassigned: 0 })
      expect(round.outcome === 'ran' && round.instantTimedOut).to.be.at.least(1)
      await settleAll()
      const read = await request(chain.app)
        .get(`/v1/tasks/${task.task_id}`)
        .set('Authorization', bearer(caller.apiKey))
        .expect(200)
      expect(read.body).to.include({ status: 'failed' })
      expect(read.body.payment.status).to.equal('refunded')
      expect(await chain.vaultBalanceOf(caller.agent.wallet_address)).to.equal(10n * USDC)
    })

    it('lets only the provider complete or fail it, once, with a result or a reason', async function () {
      this.timeout(120_000)
      const { provider: worker, caller, task } = await assignedTask('guarded-research')
      const byRequester = await act(caller, task.task_id, 'complete', { output: 'mine' })
      expect(byRequester.status).to.equal(403)
      expect(byRequester.body.error.code).to.equal('not_task_provider')
      const stranger = await registerAgent(chain.app)
      const byStranger = await act(stranger, task.task_id, 'fail', { reason: 'nope' })
      expect(byStranger.status).to.equal(404)
      expect(byStranger.body.error.code).to.equal('task_not_found')
      expectFieldError(await act(worker.agent, task.task_id, 'complete', {}), 'output')
      expectFieldError(await act(worker.agent, task.task_id, 'fail', {}), 'reason')

      const echo = await provider('sync-only', '0.5')
      const sync = await postTask(caller, { capability: 'sync-only', max_price: '1' })
      const onSync = await act(echo.agent, sync.body.task_id, 'complete', { output: 'late' })
      expect(onSync.status).to.equal(409)
      expect(onSync.body.error.code).to.equal('task_not_assigned')
    })
  })

  describe('the board (seed 001: post a task, an agent accepts and completes it)', () => {
    afterEach(async () => {
      await shiftDatabaseClock(database.pool, 0)
    })

    async function posted(poster: RegisteredTestAgent, overrides: Record<string, unknown> = {}) {
      const res = await postTask(poster, {
        title: 'Summarize this research paper',
        description: 'Full text of the paper...',
        budget: 25,
        required_capabilities: ['research', 'summarization'],
        ...overrides,
      })
      expect(res.status, JSON.stringify(res.body)).to.equal(201)
      return res.body
    }

    const accept = (agent: RegisteredTestAgent, taskId: string) =>
      request(chain.app).post(`/v1/tasks/${taskId}/accept`).set('Authorization', bearer(agent.apiKey))

    it('posts, lists by capability, is accepted with the budget escrowed, and pays the taker its result, to the base unit', async function () {
      this.timeout(120_000)
      const poster = await requester(30n * USDC)
      const task = await posted(poster)
      expect(task).to.include({
        status: 'open',
        budget: '25',
        title: 'Summarize this research paper',
        assigned_to: null,
      })
      expect(task.required_capabilities).to.deep.equal(['research', 'summarization'])
      expect(task.payment).to.include({ status: 'pending', amount: '25' })

      const taker = await registerAgent(chain.app)
      const board = await request(chain.app)
        .get('/v1/tasks?status=open&capability=research&limit=20')
        .set('Authorization', bearer(taker.apiKey))
        .expect(200)
      expect(board.body.map((row: { id: string }) => row.id)).to.include(task.task_id)
      const other = await request(chain.app)
        .get('/v1/tasks?status=open&capability=cooking')
        .set('Authorization', bearer(taker.apiKey))
        .expect(200)
      expect(other.body.map((row: { id: string }) => row.id)).to.not.include(task.task_id)
      await request(chain.app)
        .get(`/v1/tasks/${task.task_id}`)
        .set('Authorization', bearer(taker.apiKey))
        .expect(200)

      const taken = await accept(taker, task.task_id)
      expect(taken.status, JSON.stringify(taken.body)).to.equal(200)
      expect(taken.body).to.include({ status: 'assigned', assigned_to: taker.agent.id })
      expect(taken.body.payment.status).to.equal('held')
      await settleAll()
      expect(await chain.vaultBalanceOf(poster.agent.wallet_address)).to.equal(5n * USDC)
      const late = await accept(await registerAgent(chain.app), task.task_id)
      expect(late.status).to.equal(409)
      expect(late.body.error.code).to.equal('task_not_open')

      const done = await request(chain.app)
        .post(`/v1/tasks/${task.task_id}/complete`)
        .set('Authorization', bearer(taker.apiKey))
        .send({ result: 'Here is the completed summary...' })
      expect(done.status, JSON.stringify(done.body)).to.equal(200)
      expect(done.body).to.include({ status: 'completed', result: 'Here is the completed summary...' })
      await settleAll()
      const fee = (25n * USDC * BigInt(done.body.payment.assignment.fee_bps)) / 10_000n
      expect(await chain.vaultBalanceOf(taker.agent.wallet_address)).to.equal(25n * USDC - fee)
      expect(await chain.vaultBalanceOf(poster.agent.wallet_address)).to.equal(5n * USDC)
      expect(await chain.reconciliationDifference()).to.equal(0n)
    })

    it('goes back on the board, its escrow refunded, when its taker gives it up or lets the window lapse', async function () {
      this.timeout(120_000)
      const poster = await requester(30n * USDC)
      const task = await posted(poster, { deadline_seconds: 3600, budget: '10' })
      const first = await registerAgent(chain.app)
      await accept(first, task.task_id).expect(200)
      await settleAll()
      const gaveUp = await request(chain.app)
        .post(`/v1/tasks/${task.task_id}/fail`)
        .set('Authorization', bearer(first.apiKey))
        .send({ reason: 'not my field' })
      expect(gaveUp.status, JSON.stringify(gaveUp.body)).to.equal(200)
      expect(gaveUp.body).to.include({ status: 'open', assigned_to: null })
      await settleAll()
      expect(await chain.vaultBalanceOf(poster.agent.wallet_address)).to.equal(30n * USDC)

      const second = await registerAgent(chain.app)
      await accept(second, task.task_id).expect(200)
      await settleAll()
      await shiftDatabaseClock(database.pool, 3601)
      const round = await timers().runOnce()
      expect(round).to.include({ reservationsExpired: 1, boardTasksReopened: 1 })
      await settleAll()
      const reopened = await request(chain.app)
        .get(`/v1/tasks/${task.task_id}`)
        .set('Authorization', bearer(poster.apiKey))
        .expect(200)
      expect(reopened.body).to.include({ status: 'open', assigned_to: null })
      expect(await chain.vaultBalanceOf(poster.agent.wallet_address)).to.equal(30n * USDC)
      expect(await chain.reconciliationDifference()).to.equal(0n)
    })

    it('tells the agents whose capabilities it requires, through their webhooks (seed 001 task.posted)', async () => {
      const poster = await requester(30n * USDC)
      const researcher = await registerAgent(chain.app, { capabilities: ['Research', 'writing'] })
      const cook = await registerAgent(chain.app, { capabilities: ['cooking'] })
      for (const agent of [researcher, cook]) {
        await request(chain.app)
          .put('/v1/agents/me/webhook')
          .set('Authorization', bearer(agent.apiKey))
          .send({ webhook_url: 'https://hooks.example.com/tasks' })
          .expect(200)
      }
      const task = await posted(poster, { required_capabilities: ['research'] })
      await fanOutEvents(database.pool, '0', 100_000)
      const { rows } = await database.pool.query(
        `SELECT agent_id, event_data FROM webhook_deliveries
          WHERE event_type = 'task.posted' AND event_data -> 'task' ->> 'id' = $1`,
        [task.task_id],
      )
      expect(rows.map((row) => row.agent_id)).to.deep.equal([researcher.agent.id])
      expect(rows[0].event_data.task).to.deep.include({
        title: 'Summarize this research paper',
        budget: '25',
        required_capabilities: ['research'],
      })
    })

    it('races: of agents accepting one task at once, one takes it; the budget is escrowed once', async function () {
      this.timeout(120_000)
      const poster = await requester(10n * USDC)
      const task = await posted(poster, { budget: '10' })
      const takers = await Promise.all(Array.from({ length: 4 }, () => registerAgent(chain.app)))
      const results = await Promise.all(takers.map((taker) => accept(taker, task.task_id)))
      expect(results.filter((res) => res.status === 200)).to.have.length(1)
      expect(results.filter((res) => res.status === 409).map((res) => res.body.error.code)).to.deep.equal(
        Array(3).fill('task_not_open'),
      )
      expect(await available(poster)).to.equal('0')
    })

    it('refuses mixed or incomplete bodies, the poster taking its own task, and accepting a routed task', async () => {
      const poster = await requester(30n * USDC)
      expectFieldError(await postTask(poster, { title: 'A task', capability: 'x', max_price: '1' }), 'title')
      expectFieldError(await postTask(poster, { title: 'A task' }), 'budget')
      expectFieldError(await postTask(poster, { title: 'A task', budget: '0' }), 'budget')
      const broke = await postTask(await registerAgent(chain.app), { title: 'A task', budget: '5' })
      expect(broke.status).to.equal(409)
      expect(broke.body.error.code).to.equal('insufficient_balance')
      const task = await posted(poster)
      const own = await accept(poster, task.task_id)
      expect(own.status).to.equal(403)
      await provider('routed-only', '0.5')
      const routed = await postTask(poster, { capability: 'routed-only', max_price: '1' })
      const onRouted = await accept(await registerAgent(chain.app), routed.body.task_id)
      expect(onRouted.status, 'a routed task is private to its parties').to.equal(404)
      const byItsRequester = await accept(poster, routed.body.task_id)
      expect(byItsRequester.status).to.equal(409)
      expect(byItsRequester.body.error.code).to.equal('task_not_open')
    })
  })
})
