import { expect } from 'chai'
import type { Express } from 'express'
import request from 'supertest'
import type { FeeCalculation } from '../../../protocol/fees'
import { DEFAULT_PROTOCOL_FEE_BPS } from '../../../server/chain/vault-fees'
import { ESCROW_RESOLVER_FEE_BPS } from '../../../server/escrow/escrow-ops'
import { bearer, registerAgent, type RegisteredTestAgent } from '../helpers/agents'
import { createTestApp } from '../helpers/app'
import { createChainTestApp, type ChainTestApp } from '../helpers/chain-app'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { expectFieldError, postAccept, postAward, postBid, postJob, postSubmit } from '../helpers/jobs'

const USDC = 1_000_000n

/** FeeMath.fee as the contract computes it: rounded down. */
const feeMath = (amount: bigint, bps: number) => (amount * BigInt(bps)) / 10_000n

describe('POST /v1/fees/calculate (seed 002)', () => {
  let database: TestDatabase
  let app: Express
  let caller: RegisteredTestAgent

  before(async () => {
    database = await createTestDatabase()
    ;({ app } = await createTestApp(database))
    caller = await registerAgent(app)
  })
  after(async () => {
    await database.drop()
  })

  const calculate = (body: object, apiKey: string | null = caller.apiKey) => {
    const req = request(app).post('/v1/fees/calculate')
    return (apiKey ? req.set('Authorization', bearer(apiKey)) : req).send(body)
  }

  it("splits a job's $10 into the vault's fee and the provider's net, in token units and base units", async () => {
    const res = await calculate({ amount: '10', token: 'USDC', kind: 'job' }).expect(200)
    const fee = feeMath(10n * USDC, DEFAULT_PROTOCOL_FEE_BPS)
    expect(res.body).to.deep.equal({
      amount: '10',
      token: 'USDC',
      kind: 'job',
      fee_bps: DEFAULT_PROTOCOL_FEE_BPS,
      resolver_fee_bps: ESCROW_RESOLVER_FEE_BPS,
      fee: '0.1',
      resolver_fee: '0',
      net: '9.9',
      is_free: false,
      base_units: {
        amount: (10n * USDC).toString(),
        fee: fee.toString(),
        resolver_fee: '0',
        net: (10n * USDC - fee).toString(),
      },
    } satisfies FeeCalculation)
  })

  it('rounds the fee down to the base unit, as FeeMath does, so net + fee is the amount', async () => {
    const res = await calculate({ amount: '0.000199', kind: 'service_call' }).expect(200)
    // 199 * 100 / 10000 = 1.99 → 1.
    expect(res.body.base_units).to.deep.equal({ amount: '199', fee: '1', resolver_fee: '0', net: '198' })
    const tiny = await calculate({ amount: '0.000099' }).expect(200)
    expect(tiny.body).to.include({ fee: '0', net: '0.000099', kind: 'job' })
  })

  it('takes the resolver fee off the top of a disputed amount, then the protocol fee on the rest', async () => {
    const res = await calculate({ amount: '10', kind: 'dispute' }).expect(200)
    const amount = 10n * USDC
    const resolverFee = feeMath(amount, ESCROW_RESOLVER_FEE_BPS)
    const fee = feeMath(amount - resolverFee, DEFAULT_PROTOCOL_FEE_BPS)
    expect(res.body.base_units).to.deep.equal({
      amount: amount.toString(),
      fee: fee.toString(),
      resolver_fee: resolverFee.toString(),
      net: (amount - resolverFee - fee).toString(),
    })
    expect(res.body).to.include({ resolver_fee: '0.2', fee: '0.098', net: '9.702' })
  })

  it('charges free ($0) work nothing', async () => {
    for (const kind of ['job', 'service_call', 'dispute']) {
      const res = await calculate({ amount: '0', kind }).expect(200)
      expect(res.body).to.include({ amount: '0', fee: '0', resolver_fee: '0', net: '0', is_free: true })
    }
  })

  it('reads a JSON number amount through its shortest decimal form', async () => {
    const res = await calculate({ amount: 4.5 }).expect(200)
    expect(res.body).to.include({ amount: '4.5', fee: '0.045', net: '4.455' })
  })

  it('refuses malformed input with 400 naming the field, never 500', async () => {
    expectFieldError(await calculate({ amount: '1.0000001' }), 'amount')
    expectFieldError(await calculate({ amount: '-1' }), 'amount')
    expectFieldError(await calculate({ amount: 'ten' }), 'amount')
    expectFieldError(await calculate({}), 'amount')
    expectFieldError(await calculate({ amount: '1', kind: 'tip' }), 'kind')
    const token = await calculate({ amount: '1', token: 'DOGE' }).expect(400)
    expect(token.body.error.code).to.equal('unknown_token')
  })

  it('is for authenticated agents, like the rest of seed 002 financial API', async () => {
    const res = await calculate({ amount: '1' }, null).expect(401)
    expect(res.body.error.code).to.equal('unauthorized')
  })
})

describe('POST /v1/fees/calculate against the vault', () => {
  let database: TestDatabase
  let chain: ChainTestApp

  before(async function () {
    this.timeout(120_000)
    database = await createTestDatabase()
    chain = await createChainTestApp(database)
  })
  after(async () => {
    await chain.stop()
    await database.drop()
  })

  it('names exactly what the vault credits the worker when an escrow is released', async function () {
    this.timeout(120_000)
    const requester = await registerAgent(chain.app)
    const worker = await registerAgent(chain.app)
    await chain.fund(requester.agent.wallet_address, 50n * USDC)
    // An amount whose fee does not divide evenly: the rounding must be the vault's.
    const amount = '7.654321'
    const quoted = (
      await request(chain.app)
        .post('/v1/fees/calculate')
        .set('Authorization', bearer(worker.apiKey))
        .send({ amount, kind: 'job' })
        .expect(200)
    ).body as FeeCalculation
    const job = await postJob(chain.app, requester.apiKey)
    const bid = await postBid(chain.app, worker.apiKey, job.job_id, { amount })
    await postAward(chain.app, requester.apiKey, job.job_id, bid.bid_id)
    await postSubmit(chain.app, worker.apiKey, job.job_id)
    await postAccept(chain.app, requester.apiKey, job.job_id)
    await chain.settle()
    expect(await chain.vaultBalanceOf(worker.agent.wallet_address)).to.equal(BigInt(quoted.base_units.net))
    expect(BigInt(quoted.base_units.fee)).to.equal(feeMath(7_654_321n, quoted.fee_bps))
    expect(BigInt(quoted.base_units.net) + BigInt(quoted.base_units.fee)).to.equal(7_654_321n)
    expect(await chain.reconciliationDifference()).to.equal(0n)
  })
})
