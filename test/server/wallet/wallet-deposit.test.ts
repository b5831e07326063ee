import { expect } from 'chai'
import request from 'supertest'
import { erc20Abi } from 'viem'
import { bearer, registerAgent } from '../helpers/agents'
import { createChainTestApp, hardhatAccount, type ChainTestApp } from '../helpers/chain-app'
import { mockUsdc } from '../helpers/chain'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { expectFieldError } from '../helpers/jobs'

const USDC = 1_000_000n

/** Issue 18: `POST /v1/wallet/deposit` (seed 004), tokens a managed wallet holds on-chain into the vault. */
describe('POST /v1/wallet/deposit', () => {
  let database: TestDatabase
  let chain: ChainTestApp

  before(async function () {
    this.timeout(120_000)
    database = await createTestDatabase()
    chain = await createChainTestApp(database)
    chain.indexer.start(50)
  })
  after(async () => {
    await chain.indexer.stop()
    await chain.stop()
    await database.drop()
  })

  const onChain = (wallet: `0x${string}`) =>
    chain.client.readContract({
      address: chain.usdc,
      abi: erc20Abi,
      functionName: 'balanceOf',
      args: [wallet],
    })
  const deposit = (apiKey: string, body: Record<string, unknown>) =>
    request(chain.app).post('/v1/wallet/deposit').set('Authorization', bearer(apiKey)).send(body)

  it("moves a managed wallet's own tokens into the vault with a permit the coordinator signs, credited exactly", async function () {
    this.timeout(120_000)
    const agent = await registerAgent(chain.app)
    const wallet = agent.agent.wallet_address as `0x${string}`
    await (await mockUsdc(chain.usdc)).write.mint([wallet, 10n * USDC])

    const res = await deposit(agent.apiKey, { amount: 3.25 }).expect(200)
    expect(res.body).to.include({ status: 'success', amount: '3.25', available: '3.25' })
    expect(await onChain(wallet)).to.equal(10n * USDC - 3_250_000n)
    expect(await chain.vaultBalanceOf(wallet)).to.equal(3_250_000n)
    const seen = await request(chain.app)
      .get(`/v1/wallet/deposits/${res.body.deposit_id}`)
      .set('Authorization', bearer(agent.apiKey))
      .expect(200)
    expect(seen.body).to.include({ status: 'success', tx_hash: res.body.tx_hash })
    expect(await chain.reconciliationDifference()).to.equal(0n)

    const over = await deposit(agent.apiKey, { amount: '7' }).expect(409)
    expect(over.body.error.code).to.equal('insufficient_wallet_balance')
    expect(over.body.error.details).to.include({ on_chain: '6.75', required: '7' })
    expect(await onChain(wallet)).to.equal(6_750_000n)
  })

  it('never moves more than the wallet holds when two deposits race for it', async function () {
    this.timeout(120_000)
    const agent = await registerAgent(chain.app)
    const wallet = agent.agent.wallet_address as `0x${string}`
    await (await mockUsdc(chain.usdc)).write.mint([wallet, 5n * USDC])
    const answers = await Promise.all([
      deposit(agent.apiKey, { amount: '4' }),
      deposit(agent.apiKey, { amount: '4' }),
    ])
    const statuses = answers.map((answer) => answer.status).sort()
    expect(statuses[0], JSON.stringify(answers.map((answer) => answer.body))).to.equal(200)
    expect(statuses[1]).to.equal(409)
    expect(await onChain(wallet)).to.equal(1n * USDC)
    await chain.index()
    expect(await chain.vaultBalanceOf(wallet)).to.equal(4n * USDC)
    expect(await chain.reconciliationDifference()).to.equal(0n)
  })

  it('tells a self-custody wallet to deposit itself (409 wallet_not_managed naming the vault), moving nothing', async function () {
    this.timeout(120_000)
    const owner = hardhatAccount(16)
    const agent = await registerAgent(chain.app, { account: owner })
    const res = await deposit(agent.apiKey, { amount: '1' }).expect(409)
    expect(res.body.error.code).to.equal('wallet_not_managed')
    expect(res.body.error.message).to.contain('/v1/wallet/deposit_address')
    expect(res.body.error.details.vault_address.toLowerCase()).to.equal(chain.vault.toLowerCase())
  })

  it('answers 401 without credentials and 400 naming amount or token for malformed ones', async () => {
    const agent = await registerAgent(chain.app)
    await request(chain.app).post('/v1/wallet/deposit').send({ amount: '1' }).expect(401)
    for (const body of [{}, { amount: '-1' }, { amount: '0' }, { amount: '0.0000001' }, { amount: 'lots' }]) {
      expectFieldError(await deposit(agent.apiKey, body), 'amount')
    }
    const token = await deposit(agent.apiKey, { amount: '1', token: 'NEAR' }).expect(400)
    expect(token.body.error.code).to.equal('unknown_token')
  })
})
