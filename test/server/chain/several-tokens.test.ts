import { expect } from 'chai'
import request from 'supertest'
import { erc20Abi, parseUnits, type Address } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { clearhouseVaultAbi } from '../../../protocol/vault-abi'
import { reconcile } from '../../../server/reconciliation/reconciliation-service'
import { bearer, registerAgent, type RegisteredTestAgent } from '../helpers/agents'
import { mine, revertTo, snapshot, walletFor } from '../helpers/chain'
import { coordinatorAccount, createChainTestApp, type ChainTestApp } from '../helpers/chain-app'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { postAward, postBid, postJob } from '../helpers/jobs'

/**
 * Issue 17, "several tokens for real": the vault allowlists USDC, a second 6-decimal stablecoin
 * (EURC) and an 18-decimal DAI-like one. Deposits, job escrow, release and withdrawal run on-chain
 * in each, and reconciliation reads zero for each. A token the owner takes off the allowlist stops
 * new money (jobs, escrows, channel fundings, deposits) with 409 `token_not_allowed` once its log is
 * indexed, never exits; putting it back, or a reorg that drops the change, reopens it.
 */
describe('several tokens on-chain: USDC, EURC (6 decimals) and DAI (18 decimals)', () => {
  let database: TestDatabase
  let chain: ChainTestApp

  before(async function () {
    this.timeout(120_000)
    database = await createTestDatabase()
    chain = await createChainTestApp(database, { withMockStablecoins: true })
    // The faucet waits for the indexer to credit its deposit, as the coordinator's worker does.
    chain.indexer.start(50)
  })
  after(async () => {
    await chain?.indexer.stop()
    await chain?.stop()
    await database?.drop()
  })

  function tokenAddress(symbol: string): Address {
    return chain.deployment.tokens.find((token) => token.symbol === symbol)!.address
  }

  /** What `owner` holds of the token outside the vault, on-chain. */
  function walletBalanceOf(symbol: string, owner: Address): Promise<bigint> {
    return chain.client.readContract({
      address: tokenAddress(symbol),
      abi: erc20Abi,
      functionName: 'balanceOf',
      args: [owner],
    })
  }

  async function faucet(agent: RegisteredTestAgent, amount: string, token: string) {
    return request(chain.app)
      .post('/v1/dev/faucet')
      .set('Authorization', bearer(agent.apiKey))
      .send({ amount, token })
  }

  async function balanceOf(agent: RegisteredTestAgent, symbol: string) {
    const res = await request(chain.app)
      .get('/v1/wallet/balance')
      .set('Authorization', bearer(agent.apiKey))
      .expect(200)
    return (res.body.balances as Array<Record<string, string>>).find((entry) => entry.token === symbol)!
  }

  async function setAllowed(symbol: string, allowed: boolean): Promise<void> {
    const owner = await walletFor(coordinatorAccount)
    const hash = await owner.writeContract({
      address: chain.vault,
      abi: clearhouseVaultAbi,
      functionName: 'setTokenAllowed',
      args: [tokenAddress(symbol), allowed],
      chain: null,
    })
    await chain.client.waitForTransactionReceipt({ hash })
    await chain.index()
  }

  async function expectReconciled(): Promise<void> {
    await chain.settle()
    await chain.index()
    const report = await reconcile(chain.context)
    for (const symbol of ['USDC', 'EURC', 'DAI']) {
      const line = report.tokens.find((entry) => entry.token === symbol)
      expect(line, symbol).to.include({ difference: '0', is_balanced: true })
    }
  }

  for (const [symbol, decimals] of [
    ['USDC', 6],
    ['EURC', 6],
    ['DAI', 18],
  ] as const) {
    it(`deposits, escrows a job, releases it and withdraws on-chain in ${symbol} (${decimals} decimals)`, async function () {
      this.timeout(120_000)
      const requester = await registerAgent(chain.app)
      const worker = await registerAgent(chain.app)
      const deposited = await faucet(requester, '100.5', symbol)
      expect(deposited.status, JSON.stringify(deposited.body)).to.equal(200)
      expect(deposited.body).to.include({ status: 'success', amount: '100.5' })
      expect(await balanceOf(requester, symbol)).to.include({
        available: '100.5',
        decimals,
        on_chain: '100.5',
      })

      const job = await postJob(chain.app, requester.apiKey, { budget_token: symbol, budget_amount: '10' })
      expect(job).to.include({ budget_token: symbol })
      const bid = await postBid(chain.app, worker.apiKey, job.job_id, { amount: '10' })
      await postAward(chain.app, requester.apiKey, job.job_id, bid.bid_id)
      await chain.settle()
      expect(await balanceOf(requester, symbol)).to.include({ available: '90.5', escrowed: '10' })
      await request(chain.app)
        .post(`/v1/jobs/${job.job_id}/submit`)
        .set('Authorization', bearer(worker.apiKey))
        .send({ deliverable: 'https://example.com/report.md' })
        .expect(200)
      await request(chain.app)
        .post(`/v1/jobs/${job.job_id}/accept`)
        .set('Authorization', bearer(requester.apiKey))
        .send({})
        .expect(200)
      await chain.settle()
      await chain.index()
      // 10 less the vault's 1 % fee, in the token's own decimals.
      expect(await balanceOf(worker, symbol)).to.include({ available: '9.9', on_chain: '9.9' })

      const to = privateKeyToAccount(generatePrivateKey()).address
      const withdrawn = await request(chain.app)
        .post('/v1/wallet/withdraw')
        .set('Authorization', bearer(worker.apiKey))
        .send({ amount: '4.25', token: symbol, to })
        .expect(201)
      expect(withdrawn.body).to.include({ token: symbol })
      await chain.settle()
      await chain.index()
      expect(await walletBalanceOf(symbol, to)).to.equal(parseUnits('4.25', decimals))
      expect(await balanceOf(worker, symbol)).to.include({ available: '5.65', withdrawing: '0' })
      await expectReconciled()
    })
  }

  it('stops new money in a token the owner takes off the allowlist, keeps its exits open, and follows it back on', async function () {
    this.timeout(120_000)
    const requester = await registerAgent(chain.app)
    const worker = await registerAgent(chain.app)
    expect((await faucet(requester, '50', 'EURC')).status).to.equal(200)
    const before = await postJob(chain.app, requester.apiKey, { budget_token: 'EURC', budget_amount: '5' })
    const bid = await postBid(chain.app, worker.apiKey, before.job_id, { amount: '5' })

    await setAllowed('EURC', false)
    expect(
      await chain.client.readContract({
        address: chain.vault,
        abi: clearhouseVaultAbi,
        functionName: 'isTokenAllowed',
        args: [tokenAddress('EURC')],
      }),
    ).to.equal(false)

    const newJob = await request(chain.app)
      .post('/v1/jobs')
      .set('Authorization', bearer(requester.apiKey))
      .send({
        title: 'Translate the pricing page',
        description: 'Translate the pricing page into Spanish, keeping the tables and the links intact.',
        budget_token: 'EURC',
        budget_amount: '5',
      })
    const depositAddress = await request(chain.app)
      .get('/v1/wallet/deposit_address')
      .set('Authorization', bearer(requester.apiKey))
      .expect(200)
    expect(
      (depositAddress.body.tokens as Array<{ symbol: string; allowed: boolean }>).map((token) => [
        token.symbol,
        token.allowed,
      ]),
    ).to.deep.equal([
      ['USDC', true],
      ['EURC', false],
      ['DAI', true],
    ])
    expect(newJob.status).to.equal(409)
    expect(newJob.body.error).to.include({ code: 'token_not_allowed' })
    expect(newJob.body.error.details).to.include({ token: 'EURC' })

    const award = await request(chain.app)
      .post(`/v1/jobs/${before.job_id}/award`)
      .set('Authorization', bearer(requester.apiKey))
      .send({ bid_id: bid.bid_id })
    expect(award.status).to.equal(409)
    expect(award.body.error.code).to.equal('token_not_allowed')
    expect(await balanceOf(requester, 'EURC'), 'nothing moved into escrow').to.include({
      available: '50',
      escrowed: '0',
    })

    const deposit = await faucet(requester, '1', 'EURC')
    expect(deposit.status).to.equal(409)
    expect(deposit.body.error.code).to.equal('token_not_allowed')
    // Other tokens are untouched.
    expect((await faucet(requester, '1', 'DAI')).status).to.equal(200)

    // Exits stay open: the EURC already in the vault goes out.
    const to = privateKeyToAccount(generatePrivateKey()).address
    await request(chain.app)
      .post('/v1/wallet/withdraw')
      .set('Authorization', bearer(requester.apiKey))
      .send({ amount: '20', token: 'EURC', to })
      .expect(201)
    await chain.settle()
    await chain.index()
    expect(await walletBalanceOf('EURC', to)).to.equal(parseUnits('20', 6))
    expect(await balanceOf(requester, 'EURC')).to.include({ available: '30', withdrawing: '0' })

    await setAllowed('EURC', true)
    await postAward(chain.app, requester.apiKey, before.job_id, bid.bid_id)
    await postJob(chain.app, requester.apiKey, { budget_token: 'EURC', budget_amount: '5' })
    await expectReconciled()
  })

  it('reopens a token when a reorg drops the log that took it off the allowlist', async function () {
    this.timeout(120_000)
    const requester = await registerAgent(chain.app)
    expect((await faucet(requester, '10', 'DAI')).status).to.equal(200)
    await chain.indexer.stop()
    const beforeRemoval = await snapshot()
    await setAllowed('DAI', false)
    const refused = await request(chain.app)
      .post('/v1/jobs')
      .set('Authorization', bearer(requester.apiKey))
      .send({
        title: 'Proofread the DAI release notes',
        description: 'Proofread the release notes for typos and unclear sentences before they go out.',
        budget_token: 'DAI',
        budget_amount: '1',
      })
    expect(refused.status).to.equal(409)

    // The block with the owner's change is reorganised away and the chain grows past it.
    await revertTo(beforeRemoval)
    await mine(3)
    await chain.index()
    await postJob(chain.app, requester.apiKey, { budget_token: 'DAI', budget_amount: '1' })
    chain.indexer.start(50)
  })
})
