import { expect } from 'chai'
import request from 'supertest'
import { createTestClient, http, zeroAddress, type Hex } from 'viem'
import type { SessionResponse } from '../../../protocol/sessions'
import { BPS } from '../../../protocol/typed-data'
import { escrowDomain, newEscrowTerms, recordEscrowPartialRelease } from '../../../server/escrow/escrow-ops'
import { insertEscrowTerms } from '../../../server/escrow/escrow-ops-queries'
import { TimersWorker } from '../../../server/workers/timers'
import { hardhatRpcUrl } from '../helpers/chain'
import { bearer, registerAgent, type RegisteredTestAgent } from '../helpers/agents'
import { createChainTestApp, type ChainTestApp } from '../helpers/chain-app'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { registerStubService, startUpstreamStub, type UpstreamStub } from '../helpers/upstream'

const USDC = 1_000_000n

/**
 * Sessions (seed 000) on the vault: the budget is locked from the client, the settlement is one
 * EscrowPartialRelease, and the ledger and the vault agree to the base unit once the batch lands.
 */
describe('sessions settled on the vault', () => {
  let database: TestDatabase
  let chain: ChainTestApp
  let upstream: UpstreamStub
  let agent: RegisteredTestAgent
  let client: RegisteredTestAgent
  let serviceId: string
  let feeBps: bigint

  before(async function () {
    this.timeout(120_000)
    database = await createTestDatabase()
    chain = await createChainTestApp(database)
    upstream = await startUpstreamStub()
    agent = await registerAgent(chain.app)
    client = await registerAgent(chain.app)
    await chain.fund(client.agent.wallet_address as Hex, 200n * USDC)
    serviceId = await registerStubService(chain.app, agent.apiKey, upstream, { path: '/echo', price: '1' })
    feeBps = await chain.feeBps()
  })
  after(async () => {
    await upstream.close()
    await chain.stop()
    await database.drop()
  })

  const hire = (body: Record<string, unknown>) =>
    request(chain.app).post('/v1/sessions').set('Authorization', bearer(client.apiKey)).send(body)
  const settle = (sessionId: string, body: Record<string, unknown> = {}) =>
    request(chain.app)
      .post(`/v1/sessions/${sessionId}/settle`)
      .set('Authorization', bearer(client.apiKey))
      .send(body)
  const balanceOf = async (who: RegisteredTestAgent) =>
    (await request(chain.app).get('/v1/wallet/balance').set('Authorization', bearer(who.apiKey)).expect(200))
      .body.balances[0] as { available: string; escrow?: string; unsettled: string }

  it('a session settled at 14 of a 20 budget pays 14 less the fee and returns 6, in the ledger and the vault', async function () {
    this.timeout(120_000)
    const clientVaultBefore = await chain.vaultBalanceOf(client.agent.wallet_address as Hex)
    const agentVaultBefore = await chain.vaultBalanceOf(agent.agent.wallet_address as Hex)

    const hired = await hire({
      service_id: serviceId,
      message: 'Refactor the auth module to JWT',
      budget: 20,
    })
    expect(hired.status, JSON.stringify(hired.body)).to.equal(201)
    expect(hired.body.status).to.equal('session_created')
    expect(hired.body.message).to.be.a('string')
    const sessionId = hired.body.session_id as string

    const next = await request(chain.app)
      .post(`/v1/sessions/${sessionId}/continue`)
      .set('Authorization', bearer(client.apiKey))
      .send({ message: 'Use RS256' })
      .expect(200)
    expect(next.body).to.include({ session_id: sessionId, status: 'active' })

    const settled = await settle(sessionId, { amount: '14' })
    expect(settled.status, JSON.stringify(settled.body)).to.equal(200)
    const fee = (14n * USDC * feeBps) / BigInt(BPS)
    expect(settled.body).to.deep.equal({
      session_id: sessionId,
      status: 'settled',
      amount_released: '14',
      amount_refunded: '6',
      fee: (Number(fee) / 1e6).toString(),
      token: 'USDC',
      currency: 'USDC',
    })
    expect(await chain.reconciliationDifference(), 'before the batches land').to.equal(0n)

    await chain.settle()

    expect(await chain.vaultBalanceOf(client.agent.wallet_address as Hex)).to.equal(
      clientVaultBefore - 14n * USDC,
    )
    expect(await chain.vaultBalanceOf(agent.agent.wallet_address as Hex)).to.equal(
      agentVaultBefore + 14n * USDC - fee,
    )
    const session = (
      await request(chain.app)
        .get(`/v1/sessions/${sessionId}`)
        .set('Authorization', bearer(agent.apiKey))
        .expect(200)
    ).body as SessionResponse
    expect(session.escrow_ops.map((op) => [op.kind, op.status])).to.deep.equal([
      ['escrow_lock', 'confirmed'],
      ['escrow_partial_release', 'confirmed'],
    ])
    expect(session.messages.map((m) => m.author)).to.deep.equal(['client', 'agent', 'client', 'agent'])
    const agentBalance = await balanceOf(agent)
    expect(agentBalance).to.include({
      available: (Number(14n * USDC - fee) / 1e6).toString(),
      unsettled: '0',
    })
    expect(await chain.reconciliationDifference()).to.equal(0n)
  })

  it("a session's lock allows its partial release and says so on-chain; the coordinator refuses one on an escrow locked without it (a job's)", async function () {
    this.timeout(60_000)
    const hired = await hire({ service_id: serviceId, message: 'Flag', budget: '1' }).expect(201)
    await chain.settle()
    const session = (
      await request(chain.app)
        .get(`/v1/sessions/${hired.body.session_id}`)
        .set('Authorization', bearer(client.apiKey))
        .expect(200)
    ).body as SessionResponse
    const flags = async (escrowId: string) => {
      const { rows } = await database.pool.query(
        `SELECT t.partial_release AS terms, e.partial_release AS mirror FROM escrow_terms AS t
           LEFT JOIN vault_escrows AS e ON e.chain_id = t.chain_id AND e.escrow_id = t.escrow_id
          WHERE t.escrow_id = $1`,
        [escrowId],
      )
      return rows[0] as { terms: boolean; mirror: boolean | null }
    }
    // The payer signed the flag in the lock, and the payee reads it back from EscrowLocked.
    expect(await flags(session.escrow_id)).to.deep.equal({ terms: true, mirror: true })

    // A job's escrow between the same two agents: its lock does not allow a partial release, and
    // the coordinator, which holds the managed client's key, will not sign one (nor would the vault take it).
    const { terms, escrowId } = await newEscrowTerms(database.pool, chain.context, {
      payer: client.agent.wallet_address,
      payee: agent.agent.wallet_address,
      token: chain.usdc,
      amount: 1n * USDC,
      resolver: zeroAddress,
      feeBps: Number(feeBps),
      resolverFeeBps: 0,
      expiry: 2n ** 40n,
      partialRelease: false,
    })
    const domain = escrowDomain(chain.context)
    await insertEscrowTerms(database.pool, {
      chainId: domain.chainId,
      escrowId,
      vaultAddress: domain.verifyingContract,
      terms,
    })
    const payer = {
      id: client.agent.id,
      walletAddress: client.agent.wallet_address,
      isManagedWallet: client.agent.is_managed_wallet,
    }
    const refused = await recordEscrowPartialRelease(database.pool, chain.context, {
      subject: { sessionId: session.session_id },
      escrowId,
      payer,
      amount: 0n,
    }).then(
      () => null,
      (error: Error) => error.message,
    )
    expect(refused).to.match(/not locked for a partial release/)
    const { rows } = await database.pool.query('SELECT 1 FROM escrow_ops WHERE escrow_id = $1', [escrowId])
    expect(rows).to.have.length(0)
  })

  it('settle is final: a second settle is 409 session_not_active', async function () {
    this.timeout(60_000)
    const hired = await hire({ service_id: serviceId, message: 'Task', budget: '1' }).expect(201)
    await settle(hired.body.session_id).expect(200)
    const again = await settle(hired.body.session_id)
    expect(again.status).to.equal(409)
    expect(again.body.error.code).to.equal('session_not_active')
  })

  it('two concurrent settles of one session: one wins, the other is 409, and one partial release is recorded', async function () {
    this.timeout(60_000)
    for (let round = 0; round < 3; round += 1) {
      const hired = await hire({ service_id: serviceId, message: 'Race', budget: '2' }).expect(201)
      const sessionId = hired.body.session_id as string
      const [a, b] = await Promise.all([
        settle(sessionId, { amount: '1' }),
        settle(sessionId, { amount: '2' }),
      ])
      expect([a.status, b.status].sort()).to.deep.equal([200, 409])
      const session = (
        await request(chain.app)
          .get(`/v1/sessions/${sessionId}`)
          .set('Authorization', bearer(client.apiKey))
          .expect(200)
      ).body as SessionResponse
      expect(session.escrow_ops.filter((op) => op.kind === 'escrow_partial_release')).to.have.length(1)
      expect(session.amount_released).to.equal(a.status === 200 ? '1' : '2')
    }
  })

  it('refuses an amount over the budget with 400 naming amount, and leaves the session active', async function () {
    const hired = await hire({ service_id: serviceId, message: 'Task', budget: '1' }).expect(201)
    const res = await settle(hired.body.session_id, { amount: '1.000001' })
    expect(res.status).to.equal(400)
    expect(JSON.stringify(res.body.error.details)).to.contain('amount')
    const session = await request(chain.app)
      .get(`/v1/sessions/${hired.body.session_id}`)
      .set('Authorization', bearer(client.apiKey))
      .expect(200)
    expect(session.body.status).to.equal('active')
  })

  it('refuses malformed input: no message, a negative budget, too many decimals, no service', async function () {
    for (const body of [
      { service_id: serviceId, budget: '1' },
      { service_id: serviceId, message: 'x', budget: '-1' },
      { service_id: serviceId, message: 'x', budget: '1.0000001' },
      { message: 'x', budget: '1' },
    ]) {
      const res = await hire(body)
      expect(res.status, JSON.stringify(body)).to.equal(400)
    }
  })

  it('a failed session refunds the whole budget to the client on the vault', async function () {
    this.timeout(120_000)
    const clientVaultBefore = await chain.vaultBalanceOf(client.agent.wallet_address as Hex)
    const hired = await hire({ service_id: serviceId, message: 'Impossible task', budget: '3' }).expect(201)
    const failed = await request(chain.app)
      .post(`/v1/sessions/${hired.body.session_id}/fail`)
      .set('Authorization', bearer(agent.apiKey))
      .send({ reason: 'cannot do it' })
      .expect(200)
    expect(failed.body.status).to.equal('failed')
    await settle(hired.body.session_id).expect(409)
    await chain.settle()
    // Every earlier session's ops landed in the same batches; this one moved nothing net.
    const session = (
      await request(chain.app)
        .get(`/v1/sessions/${hired.body.session_id}`)
        .set('Authorization', bearer(client.apiKey))
        .expect(200)
    ).body as SessionResponse
    expect(session.escrow_ops.map((op) => [op.kind, op.status])).to.deep.equal([
      ['escrow_lock', 'confirmed'],
      ['escrow_refund', 'confirmed'],
    ])
    expect(clientVaultBefore).to.be.a('bigint')
    expect(await chain.reconciliationDifference()).to.equal(0n)
  })

  it('a service without an endpoint: the first message waits, the agent replies through the API, continue awaits', async function () {
    this.timeout(60_000)
    const plain = await request(chain.app)
      .post('/v1/agents/me/services')
      .set('Authorization', bearer(agent.apiKey))
      .send({ name: 'Human-in-the-loop', category: 'testing', pricing_model: 'per_call', price_amount: '1' })
    expect(plain.status, JSON.stringify(plain.body)).to.equal(201)
    const hired = await hire({ service_id: plain.body.service_id, message: 'Hello', budget: '1' }).expect(201)
    expect(hired.body).to.include({ status: 'session_created', message: null })
    const sessionId = hired.body.session_id as string
    await request(chain.app)
      .post(`/v1/sessions/${sessionId}/reply`)
      .set('Authorization', bearer(agent.apiKey))
      .send({ message: 'Hi, what constraints?' })
      .expect(200)
    const next = await request(chain.app)
      .post(`/v1/sessions/${sessionId}/continue`)
      .set('Authorization', bearer(client.apiKey))
      .send({ message: 'None' })
      .expect(200)
    expect(next.body).to.deep.equal({ session_id: sessionId, status: 'awaiting_reply', message: null })
  })

  // Last: it moves the shared chain's clock past every open session's expiry.
  it('a session never settled becomes expired with its escrow, and the timers return the whole budget to the client', async function () {
    this.timeout(120_000)
    const timers = new TimersWorker(chain.context, 10_000)
    const hired = await hire({ service_id: serviceId, message: 'Left open', budget: '3' }).expect(201)
    const sessionId = hired.body.session_id as string
    await chain.settle()
    const clientVaultLocked = await chain.vaultBalanceOf(client.agent.wallet_address as Hex)
    const clientLocked = await balanceOf(client)
    const read = async () =>
      (
        await request(chain.app)
          .get(`/v1/sessions/${sessionId}`)
          .set('Authorization', bearer(client.apiKey))
          .expect(200)
      ).body as SessionResponse
    expect(await timers.runOnce(), 'not before the expiry').to.include({ sessionsExpired: 0 })
    expect((await read()).status).to.equal('active')

    const expiry = BigInt(Date.parse((await read()).escrow_expires_at) / 1000)
    const testClient = createTestClient({ mode: 'hardhat', transport: http(await hardhatRpcUrl()) })
    const now = (await chain.client.getBlock()).timestamp
    await testClient.increaseTime({ seconds: Number(expiry - now) + 1 })
    await testClient.mine({ blocks: 1 })

    const round = await timers.runOnce()
    expect(round.outcome === 'ran' && round.sessionsExpired).to.be.at.least(1)
    expect(round.outcome === 'ran' && round.escrowsReclaimed).to.be.at.least(1)
    const expired = await read()
    expect(expired.status).to.equal('expired')
    expect(await timers.runOnce(), 'a session expires once').to.include({ sessionsExpired: 0 })
    const late = await settle(sessionId)
    expect(late.status).to.equal(409)
    expect(late.body.error).to.include({ code: 'session_not_active' })
    expect(late.body.error.details).to.deep.equal({ status: 'expired' })

    // Every session this file left open expired in that round (this one's 3 among them); each
    // budget is back with the client, on the vault and in the ledger.
    const { rows } = await database.pool.query(
      `SELECT coalesce(sum(budget), 0)::text AS total, bool_or(id = $1) AS mine FROM sessions WHERE status = 'expired'`,
      [sessionId],
    )
    const expiredBudgets = BigInt(rows[0].total)
    expect(rows[0].mine).to.equal(true)
    await chain.settle()
    expect(await chain.vaultBalanceOf(client.agent.wallet_address as Hex)).to.equal(
      clientVaultLocked + expiredBudgets,
    )
    expect(Number((await balanceOf(client)).available)).to.equal(
      Number(clientLocked.available) + Number(expiredBudgets) / 1e6,
    )
    const mirror = await database.pool.query(
      'SELECT closed_tx_hash FROM vault_escrows WHERE escrow_id = $1',
      [expired.escrow_id],
    )
    expect(mirror.rows[0].closed_tx_hash, 'the escrow was reclaimed on the vault').to.be.a('string')
    expect((await read()).escrow_ops.map((op) => [op.kind, op.status])).to.deep.equal([
      ['escrow_lock', 'confirmed'],
    ])
    expect(await chain.reconciliationDifference()).to.equal(0n)
  })
})
