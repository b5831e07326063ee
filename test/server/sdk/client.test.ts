import { expect } from 'chai'
import { readFile } from 'node:fs/promises'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import request from 'supertest'
import type { Address } from 'viem'
import { ChannelCaller, ClearhouseApiError, ClearhouseClient } from 'clearhouse/sdk'
import { uniqueHandle } from '../helpers/agents'
import { createChainTestApp, hardhatAccount, type ChainTestApp } from '../helpers/chain-app'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { startUpstreamStub, type UpstreamStub } from '../helpers/upstream'

const USDC = 1_000_000n
const OUTSIDE = '0x00000000000000000000000000000000000c0ffe' as Address

/**
 * Issue 15: the SDK against a running coordinator over real HTTP: it covers every route, carries
 * the API's error codes, authenticates by API key or by a wallet's signed requests, signs what a
 * self-custody wallet must sign (channel fundings, vouchers, escrow ops, withdrawals), and retries
 * money moves with their idempotency key so a lost answer never moves money twice.
 */
describe('the SDK (ClearhouseClient) against a running coordinator', () => {
  let database: TestDatabase
  let chain: ChainTestApp
  let upstream: UpstreamStub
  let server: Server
  let baseUrl: string
  let anonymous: ClearhouseClient

  before(async function () {
    this.timeout(120_000)
    database = await createTestDatabase()
    chain = await createChainTestApp(database)
    upstream = await startUpstreamStub()
    server = chain.app.listen(0, '127.0.0.1')
    await new Promise((resolve) => server.once('listening', resolve))
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    anonymous = new ClearhouseClient({ baseUrl })
  })
  after(async () => {
    server?.close()
    await upstream?.close()
    await chain?.stop()
    await database?.drop()
  })

  async function managedAgent(
    funds = 0n,
  ): Promise<{ client: ClearhouseClient; agentId: string; wallet: Address }> {
    const registered = await anonymous.agents.register({
      handle: uniqueHandle(),
    })
    if (funds > 0n) await chain.fund(registered.wallet_address as Address, funds)
    return {
      client: anonymous.with({ apiKey: registered.api_key }),
      agentId: registered.agent_id,
      wallet: registered.wallet_address as Address,
    }
  }

  it('has a method for every /v1 route of the API (its OpenAPI document)', async () => {
    const document = (await request(chain.app).get('/v1/openapi.json').expect(200)).body as {
      paths: Record<string, Record<string, unknown>>
    }
    // The /v1 API; the public feed (/dashboard/events) is an SSE stream, not a JSON route.
    const routes = Object.entries(document.paths)
      .filter(([route]) => route.startsWith('/v1/'))
      .flatMap(([route, methods]) => Object.keys(methods).map((method) => `${method.toUpperCase()} ${route}`))
    const source = await readFile(path.join(__dirname, '../../../sdk/client.ts'), 'utf8')
    const covered = new Set(
      [...source.matchAll(/'(GET|POST|PATCH|DELETE|PUT)',\s*'(\/v1\/[^']*)'/g)].map(
        (match) => `${match[1]} ${match[2]}`,
      ),
    )
    expect(routes.filter((route) => !covered.has(route))).to.deep.equal([])
    expect(routes.length).to.be.greaterThan(80)
  })

  it('throws ClearhouseApiError with the API’s code, status and details', async () => {
    const stranger = anonymous.with({ apiKey: 'ch_not_a_key' })
    const unauthorized = await stranger.agents.me().catch((error: unknown) => error)
    expect(unauthorized).to.be.instanceOf(ClearhouseApiError)
    expect(unauthorized).to.include({ status: 401, code: 'unauthorized' })
    const { client } = await managedAgent()
    const missing = await client.jobs
      .get('00000000-0000-4000-8000-000000000000')
      .catch((error: unknown) => error)
    expect(missing).to.include({ status: 404, code: 'job_not_found' })
    const invalid = (await client.jobs
      .create({ title: 'x' } as never)
      .catch((error: unknown) => error)) as ClearhouseApiError
    expect(invalid.status).to.equal(400)
    expect(invalid.details).to.have.property('fields')
  })

  it('runs the job flow with managed wallets and withdraws, every response typed', async function () {
    this.timeout(60_000)
    const requester = await managedAgent(50n * USDC)
    const worker = await managedAgent()
    const job = await requester.client.jobs.create({
      title: 'Review the SDK end to end',
      description: 'Read every method of the client and report anything that does not match the API.',
      budget_amount: '10',
      tags: ['sdk'],
    })
    const bid = await worker.client.jobs.bid(job.job_id, {
      amount: '8',
      eta_seconds: 3600,
      proposal: 'On it.',
    })
    const award = await requester.client.jobs.award(job.job_id, { bid_id: bid.bid_id })
    expect(award.assignment.status).to.equal('in_progress')
    await worker.client.jobs.submit(job.job_id, { deliverable: 'https://example.com/review.md' })
    const accepted = await requester.client.jobs.accept(job.job_id)
    expect(accepted.job.status).to.equal('completed')
    await chain.settle()
    const balance = await worker.client.wallet.balance()
    expect(balance.balances[0]).to.include({ available: '7.92', unsettled: '0' })
    const withdrawal = await worker.client.wallet.withdraw({ amount: '2', to: OUTSIDE })
    expect(withdrawal.status).to.equal('pending')
    await chain.settle()
    expect((await worker.client.wallet.withdrawal(withdrawal.withdrawal_id)).status).to.equal('success')
    expect(await chain.vaultBalanceOf(worker.wallet)).to.equal(5_920_000n)
  })

  it('authenticates by wallet-signed requests alone, and signs a self-custody wallet’s escrow ops and withdrawal', async function () {
    this.timeout(60_000)
    const account = hardhatAccount(5)
    const payer = new ClearhouseClient({ baseUrl, wallet: account })
    const registered = await payer.agents.registerWithWallet({ handle: uniqueHandle() })
    expect(registered.wallet_address.toLowerCase()).to.equal(account.address.toLowerCase())
    expect((await payer.agents.me()).agent_id, 'no API key: signed requests').to.equal(registered.agent_id)
    await chain.fund(account.address, 30n * USDC)

    const worker = await managedAgent()
    const job = await payer.jobs.create({
      title: 'A self-custody payer hires through the SDK',
      description:
        'The payer signs its escrow lock and its release with its own wallet through the SDK helpers.',
      budget_amount: '5',
    })
    const bid = await worker.client.jobs.bid(job.job_id, { amount: '5', eta_seconds: 3600, proposal: 'Yes.' })
    const award = await payer.jobs.award(job.job_id, { bid_id: bid.bid_id })
    expect(award.assignment.status).to.equal('awaiting_escrow')
    const locked = await payer.assignments.signPendingEscrow(award.assignment.assignment_id)
    expect(locked.status).to.equal('in_progress')
    await worker.client.jobs.submit(job.job_id, { deliverable: 'https://example.com/done.md' })
    await payer.jobs.accept(job.job_id)
    await payer.assignments.signPendingEscrow(award.assignment.assignment_id)
    await chain.settle()
    expect((await worker.client.wallet.balance()).balances[0]!.available).to.equal('4.95')

    const withdrawal = await payer.wallet.withdraw({ amount: '1', to: OUTSIDE })
    expect(withdrawal.status, 'signed by the SDK with the wallet').to.equal('pending')
    await chain.settle()
    expect(await chain.vaultBalanceOf(account.address)).to.equal(24n * USDC)
  })

  it('pays calls through a channel: a self-custody caller signs each voucher and keeps the call chain', async function () {
    this.timeout(60_000)
    const provider = await managedAgent()
    const service = await provider.client.services.create({
      name: 'Echo',
      category: 'testing',
      pricing_model: 'per_call',
      price_amount: '0.01',
      endpoint_url: `${upstream.baseUrl}/echo`,
    })
    const account = hardhatAccount(6)
    const caller = new ClearhouseClient({ baseUrl, wallet: account })
    await caller.agents.registerWithWallet({ handle: uniqueHandle() })
    await chain.fund(account.address, 5n * USDC)
    const channel = await ChannelCaller.open(caller, { service_id: service.service_id, deposit_amount: '1' })
    expect(channel.isSigningVouchers).to.equal(true)
    await chain.settle()
    for (const word of ['alpha', 'beta', 'gamma']) {
      const answer = await channel.call(word)
      expect(answer.output).to.deep.equal({ echo: word })
      expect(answer.cost).to.equal('0.01')
    }
    expect((await caller.channels.get(channel.id)).voucher_state.last_sequence).to.equal(3)
    // Another client of the same wallet called meanwhile: the next call builds on the coordinator's state.
    const elsewhere = await ChannelCaller.attach(caller, channel.id)
    await elsewhere.call('delta')
    expect((await channel.call('epsilon')).call!.sequence_number).to.equal(5)
    const settled = await caller.channels.settle(channel.id)
    expect(settled.settlement).to.include({ call_count: 5, total_amount: '0.05' })
    await chain.settle()
    expect((await provider.client.wallet.balance()).balances[0]!.available).to.equal('0.0495')
  })

  it('retries a money move whose answer was lost with the same idempotency key: the money moves once', async function () {
    this.timeout(60_000)
    const requester = await managedAgent(20n * USDC)
    let dropped = 0
    const keys: string[] = []
    const lossy: typeof fetch = async (input, init) => {
      const res = await fetch(input, init)
      const key = new Headers(init?.headers).get('idempotency-key')
      if (key) keys.push(key)
      if (key && dropped === 0) {
        dropped += 1
        await res.text()
        throw new TypeError('fetch failed: the connection dropped before the answer')
      }
      return res
    }
    const client = requester.client.with({ fetch: lossy, retryDelayMs: 10 })
    const job = await client.jobs.create({
      title: 'Created once despite a dropped answer',
      description:
        'The first answer is lost on the way back; the retry replays it instead of creating a second job.',
      budget_amount: '3',
    })
    expect(keys).to.have.length(2)
    expect(keys[0]).to.equal(keys[1])
    const mine = (await requester.client.jobs.list({ creator: requester.agentId })) as { job_id: string }[]
    expect(mine.map((entry) => entry.job_id)).to.deep.equal([job.job_id])
  })
})
