import { seededRandom } from '../helpers/random'
import { expect } from 'chai'
import request from 'supertest'
import { accountsReconciliationResponse, reconciliationResponse } from '../../../protocol/platform'
import { saveCursor } from '../../../server/chain/indexer/indexer-queries'
import { withTransaction } from '../../../server/db/pool'
import { creditDeposit, debitChainWithdrawal } from '../../../server/ledger/ledger-service'
import { reconcile } from '../../../server/reconciliation/reconciliation-service'
import { bearer, registerAgent, type RegisteredTestAgent } from '../helpers/agents'
import { createTestApp } from '../helpers/app'
import { createChainTestApp, type ChainTestApp } from '../helpers/chain-app'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { postBid, postJob, postSubmit } from '../helpers/jobs'

const USDC = 1_000_000n

describe('GET /v1/platform/reconciliation', () => {
  let database: TestDatabase
  let chain: ChainTestApp

  beforeEach(async function () {
    this.timeout(120_000)
    database = await createTestDatabase()
    chain = await createChainTestApp(database)
  })
  afterEach(async () => {
    await chain.stop()
    await database.drop()
  })

  async function usdcRow() {
    const res = await request(chain.app).get('/v1/platform/reconciliation').expect(200)
    const body = reconciliationResponse.parse(res.body)
    expect(body.tokens).to.have.length(1)
    return body.tokens[0]!
  }

  it("reads zero before the indexer's first round, without reading a token that did not exist yet", async function () {
    this.timeout(120_000)
    const fresh = await createTestDatabase()
    const early = await createChainTestApp(fresh)
    try {
      const report = await reconcile(early.context)
      const usdc = report.tokens.find((line) => line.token_address === early.usdc.toLowerCase())!
      expect(usdc).to.include({ on_chain: '0', ledger: '0', difference: '0' })
      expect(report.block_number).to.equal(early.deployment.deploymentBlock - 1)
    } finally {
      await early.stop()
      await fresh.drop()
    }
  })

  it('reads zero, without reading a token, when a reorg rewound the indexer to the block before the deployment', async () => {
    const base = BigInt(chain.deployment.deploymentBlock) - 1n
    const { hash } = await chain.client.getBlock({ blockNumber: base })
    await saveCursor(database.pool, chain.deployment.chainId, chain.vault.toLowerCase(), {
      blockNumber: base,
      blockHash: hash!,
    })
    const report = await reconcile(chain.context)
    expect(report.block_number).to.equal(Number(base))
    const usdc = report.tokens.find((line) => line.token_address === chain.usdc.toLowerCase())!
    expect(usdc).to.include({ on_chain: '0', ledger: '0', difference: '0' })
  })

  it('reads zero once the indexer has credited an on-chain deposit', async () => {
    const { agent } = await registerAgent(chain.app)
    await chain.fund(agent.wallet_address, 12_500_000n)
    expect(await usdcRow()).to.include({
      token: 'USDC',
      on_chain: '12.5',
      ledger: '12.5',
      in_flight: '0',
      difference: '0',
      is_balanced: true,
    })
  })

  it('compares at the indexed block, so a deposit the indexer has not reached is on neither side', async () => {
    const { agent } = await registerAgent(chain.app)
    await chain.fund(agent.wallet_address, 1n * USDC)
    await chain.depositOnChain(agent.wallet_address, 3n * USDC)
    const before = await usdcRow()
    expect(before).to.include({ on_chain: '1', ledger: '1', difference: '0' })
    await chain.index()
    const after = await usdcRow()
    expect(after).to.include({ on_chain: '4', ledger: '4', difference: '0' })
    expect(
      reconciliationResponse.parse((await request(chain.app).get('/v1/platform/reconciliation')).body)
        .block_number,
    ).to.equal(Number(await chain.client.getBlockNumber({ cacheTime: 0 })))
  })

  it('shows money the ledger owes but the vault does not hold as a difference, and sets the metric', async () => {
    const { agent } = await registerAgent(chain.app)
    await chain.fund(agent.wallet_address, 1n * USDC)
    // A credit with no deposit behind it: exactly the bug reconciliation exists to catch.
    await withTransaction(database.pool, (db) =>
      creditDeposit(db, { agentId: agent.id, token: chain.usdc, amount: 3n * USDC, reference: 'phantom' }),
    )
    expect(await usdcRow()).to.include({ on_chain: '1', ledger: '4', difference: '-3', is_balanced: false })
    const metrics = await request(chain.app).get('/metrics').expect(200)
    expect(metrics.text).to.match(/clearhouse_reconciliation_difference\{token="USDC"\} -3000000/)
  })

  describe('account by account', () => {
    async function accounts(query = '') {
      const res = await request(chain.app).get(`/v1/platform/reconciliation/accounts${query}`).expect(200)
      return accountsReconciliationResponse.parse(res.body).accounts
    }

    it('names the one account whose ledger the vault does not back, and counts it in the metric', async () => {
      const { agent } = await registerAgent(chain.app)
      await chain.fund(agent.wallet_address, 1n * USDC)
      expect(await accounts()).to.deep.equal([])
      await withTransaction(database.pool, (db) =>
        creditDeposit(db, { agentId: agent.id, token: chain.usdc, amount: 3n * USDC, reference: 'phantom' }),
      )
      expect(await accounts()).to.deep.equal([
        {
          account: agent.wallet_address.toLowerCase(),
          holder: 'agent',
          token: 'USDC',
          token_address: chain.usdc.toLowerCase(),
          on_chain: '1',
          ledger: '4',
          difference: '-3',
          difference_base_units: '-3000000',
          is_balanced: false,
        },
      ])
      expect(await usdcRow()).to.include({ accounts_mismatched: 1 })
      const metrics = await request(chain.app).get('/metrics').expect(200)
      expect(metrics.text).to.match(/clearhouse_reconciliation_accounts_mismatched\{token="USDC"\} 1/)
    })

    it('finds two accounts wrong in opposite directions while the totals balance', async () => {
      const first = await registerAgent(chain.app)
      const second = await registerAgent(chain.app)
      await chain.fund(first.agent.wallet_address, 5n * USDC)
      // The ledger moves 2 from one agent to another with nothing on-chain behind it.
      await withTransaction(database.pool, async (db) => {
        await debitChainWithdrawal(db, {
          agentId: first.agent.id,
          token: chain.usdc,
          amount: 2n * USDC,
          reference: 'phantom-out',
        })
        await creditDeposit(db, {
          agentId: second.agent.id,
          token: chain.usdc,
          amount: 2n * USDC,
          reference: 'phantom-in',
        })
      })
      expect(await usdcRow()).to.include({ difference: '0', is_balanced: true, accounts_mismatched: 2 })
      const lines = await accounts()
      expect(lines.map((line) => [line.account, line.difference])).to.have.deep.members([
        [first.agent.wallet_address.toLowerCase(), '2'],
        [second.agent.wallet_address.toLowerCase(), '-2'],
      ])
    })

    it("shows one account's lines with ?account=, balanced or not, and the treasury's fees", async function () {
      this.timeout(120_000)
      const payer = await registerAgent(chain.app)
      const worker = await registerAgent(chain.app)
      await chain.fund(payer.agent.wallet_address, 20n * USDC)
      const job = await postJob(chain.app, payer.apiKey)
      const bid = await postBid(chain.app, worker.apiKey, job.job_id, { amount: '10' })
      await request(chain.app)
        .post(`/v1/jobs/${job.job_id}/award`)
        .set('Authorization', bearer(payer.apiKey))
        .send({ bid_id: bid.bid_id })
        .expect(200)
      await postSubmit(chain.app, worker.apiKey, job.job_id)
      await request(chain.app)
        .post(`/v1/jobs/${job.job_id}/accept`)
        .set('Authorization', bearer(payer.apiKey))
        .send({})
        .expect(200)
      // Booked, not landed: the payer's vault balance still holds the escrow the ledger released.
      expect(await accounts(`?account=${payer.agent.wallet_address}`)).to.deep.include.members([
        {
          account: payer.agent.wallet_address.toLowerCase(),
          holder: 'agent',
          token: 'USDC',
          token_address: chain.usdc.toLowerCase(),
          on_chain: '20',
          ledger: '20',
          difference: '0',
          difference_base_units: '0',
          is_balanced: true,
        },
      ])
      await chain.settle()
      const lines = await accounts('?mismatched=false')
      const treasury = lines.find((line) => line.holder === 'treasury')!
      expect(treasury).to.include({ on_chain: '0.1', ledger: '0.1', is_balanced: true })
      expect(lines.find((line) => line.account === worker.agent.wallet_address.toLowerCase())).to.include({
        on_chain: '9.9',
        ledger: '9.9',
      })
      expect(lines.find((line) => line.holder === 'unclaimed')).to.include({ account: null, on_chain: '0' })
    })

    it('answers 400 naming the parameter for a malformed account, a bad flag or an unknown parameter', async () => {
      for (const query of ['?account=0x123', '?mismatched=yes', '?limit=3']) {
        const res = await request(chain.app).get(`/v1/platform/reconciliation/accounts${query}`)
        expect(res.status, query).to.equal(400)
        expect(res.body.error.code).to.equal('validation_failed')
      }
    })
  })

  it('counts a fast withdrawal as in flight from its debit until the indexer sees it leave the vault', async function () {
    this.timeout(120_000)
    const agent = await registerAgent(chain.app)
    await chain.fund(agent.agent.wallet_address, 5n * USDC)
    await request(chain.app)
      .post('/v1/wallet/withdraw')
      .set('Authorization', bearer(agent.apiKey))
      .send({ amount: '2', to: '0x000000000000000000000000000000000000dEaD' })
      .expect(201)
    expect(await usdcRow()).to.include({ on_chain: '5', ledger: '3', in_flight: '2', difference: '0' })
    // Sent and confirmed but not yet indexed: still in flight at the indexed block.
    await chain.settler.drain()
    expect(await usdcRow()).to.include({ on_chain: '5', ledger: '3', in_flight: '2', difference: '0' })
    await chain.index()
    expect(await usdcRow()).to.include({ on_chain: '3', ledger: '3', in_flight: '0', difference: '0' })
  })

  it('reports no tokens when the coordinator runs without a chain', async () => {
    const { app } = await createTestApp(database)
    const res = await request(app).get('/v1/platform/reconciliation').expect(200)
    expect(res.body).to.include({ block_number: null })
    expect(res.body.tokens).to.deep.equal([])
  })

  it('reads zero after every step of a long random mix of deposits, job payments, withdrawals and settlements', async function () {
    this.timeout(300_000)
    const random = seededRandom(0xc1ea5)
    const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)]!
    const agents: RegisteredTestAgent[] = []
    for (let i = 0; i < 4; i += 1) agents.push(await registerAgent(chain.app))
    const awarded: Array<{ jobId: string; payer: RegisteredTestAgent; worker: RegisteredTestAgent }> = []
    const counts = { deposit: 0, award: 0, accept: 0, withdraw: 0, settle: 0, refused: 0 }

    const availableUnits = async (agent: RegisteredTestAgent): Promise<bigint> => {
      const res = await request(chain.app)
        .get('/v1/wallet/balance')
        .set('Authorization', bearer(agent.apiKey))
        .expect(200)
      const [whole, fraction = ''] = (res.body.balances[0].available as string).split('.')
      return BigInt(whole!) * USDC + BigInt(fraction.padEnd(6, '0'))
    }

    for (let step = 0; step < 60; step += 1) {
      const roll = random()
      if (roll < 0.25 || step < 4) {
        const agent = step < 4 ? agents[step]! : pick(agents)
        const units = BigInt(1 + Math.floor(random() * 40)) * USDC
        // Some deposits wait for a later step's indexing, as they do behind a busy indexer.
        if (step >= 4 && random() < 0.3) await chain.depositOnChain(agent.agent.wallet_address, units)
        else await chain.fund(agent.agent.wallet_address, units)
        counts.deposit += 1
      } else if (roll < 0.5) {
        const [payer, worker] = [pick(agents), pick(agents)]
        if (payer === worker) continue
        const amount = 1 + Math.floor(random() * 15)
        // Creating a job needs 1 USDC available (seed rule); a poorer payer is refused before the award.
        if ((await availableUnits(payer)) < USDC) continue
        const job = await postJob(chain.app, payer.apiKey, { budget_amount: String(amount) })
        const bid = await postBid(chain.app, worker.apiKey, job.job_id, { amount: String(amount) })
        const res = await request(chain.app)
          .post(`/v1/jobs/${job.job_id}/award`)
          .set('Authorization', bearer(payer.apiKey))
          .send({ bid_id: bid.bid_id })
        if (res.status === 200) {
          awarded.push({ jobId: job.job_id, payer, worker })
          counts.award += 1
        } else {
          expect(res.status, JSON.stringify(res.body)).to.equal(409)
          counts.refused += 1
        }
      } else if (roll < 0.7 && awarded.length > 0) {
        const { jobId, payer, worker } = awarded.splice(Math.floor(random() * awarded.length), 1)[0]!
        await postSubmit(chain.app, worker.apiKey, jobId)
        await request(chain.app)
          .post(`/v1/jobs/${jobId}/accept`)
          .set('Authorization', bearer(payer.apiKey))
          .expect(200)
        counts.accept += 1
      } else if (roll < 0.85) {
        const agent = pick(agents)
        const available = await availableUnits(agent)
        if (available === 0n) continue
        const amount = (available * BigInt(1 + Math.floor(random() * 100))) / 100n
        if (amount === 0n) continue
        await request(chain.app)
          .post('/v1/wallet/withdraw')
          .set('Authorization', bearer(agent.apiKey))
          .send({ amount: formatUnits(amount), to: '0x000000000000000000000000000000000000dEaD' })
          .expect(201)
        counts.withdraw += 1
      } else {
        await chain.settle()
        counts.settle += 1
      }
      expect(await chain.reconciliationDifference(), `after step ${step}`).to.equal(0n)
    }

    await chain.settle()
    expect(await chain.reconciliationDifference()).to.equal(0n)
    // Settled, every agent's vault balance on-chain is its available balance in the ledger: escrow
    // still locked sits in the vault's escrow record on-chain and in the escrow account off-chain.
    for (const agent of agents) {
      expect(await chain.vaultBalanceOf(agent.agent.wallet_address)).to.equal(await availableUnits(agent))
    }
    expect(counts.deposit + counts.award + counts.accept + counts.withdraw).to.be.greaterThan(30)
    expect(counts.award).to.be.greaterThan(0)
    expect(counts.withdraw).to.be.greaterThan(0)
    expect(counts.accept).to.be.greaterThan(0)
    expect(counts.settle).to.be.greaterThan(0)
  })
})

function formatUnits(units: bigint): string {
  const fraction = (units % USDC).toString().padStart(6, '0').replace(/0+$/, '')
  return fraction ? `${units / USDC}.${fraction}` : `${units / USDC}`
}
