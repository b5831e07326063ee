import { expect } from 'chai'
import request from 'supertest'
import type { Hex } from 'viem'
import { formatAmount } from '../../../protocol/amounts'
import type { MicroJobResponse } from '../../../protocol/micro-jobs'
import { BPS } from '../../../protocol/typed-data'
import { bearer, registerAgent, type RegisteredTestAgent } from '../helpers/agents'
import { createChainTestApp, type ChainTestApp } from '../helpers/chain-app'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { registerStubService, startUpstreamStub, type UpstreamStub } from '../helpers/upstream'

const USDC = 1_000_000n
const PRICE_UNITS = 10_000n

/**
 * A micro-job's escrow lands on the vault exactly: the caller's signed lock and release settle in
 * the coordinator's batches, the provider and the platform get the price, a failed call never
 * reaches the chain, and the ledger and the vault agree to the base unit.
 */
describe('micro-jobs settled on the vault', () => {
  let database: TestDatabase
  let chain: ChainTestApp
  let upstream: UpstreamStub
  let provider: RegisteredTestAgent
  let caller: RegisteredTestAgent

  before(async function () {
    this.timeout(120_000)
    database = await createTestDatabase()
    chain = await createChainTestApp(database)
    upstream = await startUpstreamStub()
    provider = await registerAgent(chain.app)
    caller = await registerAgent(chain.app)
    await chain.fund(caller.agent.wallet_address as Hex, 1n * USDC)
  })
  after(async () => {
    await upstream.close()
    await chain.stop()
    await database.drop()
  })

  const registerService = (path: string) =>
    registerStubService(chain.app, provider.apiKey, upstream, { path, price: formatAmount(PRICE_UNITS, 6) })

  it('settles ten answered calls on the vault and none of a failing one; reconciliation zero', async function () {
    this.timeout(120_000)
    const echo = await registerService('/echo')
    const failing = await registerService('/fail')
    const feeBps = await chain.feeBps()
    const callerBefore = await chain.vaultBalanceOf(caller.agent.wallet_address as Hex)
    const providerBefore = await chain.vaultBalanceOf(provider.agent.wallet_address as Hex)

    const jobIds: string[] = []
    for (let n = 0; n < 10; n += 1) {
      const res = await request(chain.app)
        .post(`/v1/services/${echo}/invoke`)
        .set('Authorization', bearer(caller.apiKey))
        .send({ input: { n } })
      expect(res.status, JSON.stringify(res.body)).to.equal(200)
      jobIds.push(res.body.job_id)
    }
    await request(chain.app)
      .post(`/v1/services/${failing}/invoke`)
      .set('Authorization', bearer(caller.apiKey))
      .send({ input: 'boom' })
      .expect(502)
    expect(await chain.reconciliationDifference(), 'before the batches land').to.equal(0n)

    await chain.settle()

    const total = 10n * PRICE_UNITS
    const fee = 10n * ((PRICE_UNITS * feeBps) / BigInt(BPS))
    expect(await chain.vaultBalanceOf(caller.agent.wallet_address as Hex)).to.equal(callerBefore - total)
    expect(await chain.vaultBalanceOf(provider.agent.wallet_address as Hex)).to.equal(
      providerBefore + total - fee,
    )
    for (const jobId of jobIds) {
      const job = (
        await request(chain.app)
          .get(`/v1/micro-jobs/${jobId}`)
          .set('Authorization', bearer(provider.apiKey))
          .expect(200)
      ).body as MicroJobResponse
      expect(job.escrow_ops.map((op) => [op.kind, op.status])).to.deep.equal([
        ['escrow_lock', 'confirmed'],
        ['escrow_release', 'confirmed'],
      ])
    }
    const providerBalance = await request(chain.app)
      .get('/v1/wallet/balance')
      .set('Authorization', bearer(provider.apiKey))
      .expect(200)
    expect(providerBalance.body.balances[0]).to.include({
      available: formatAmount(total - fee, 6),
      unsettled: '0',
    })
    expect(await chain.reconciliationDifference()).to.equal(0n)
  })
})
