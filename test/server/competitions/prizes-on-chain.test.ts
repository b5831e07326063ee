import { expect } from 'chai'
import request from 'supertest'
import { bearer, registerAgent, type RegisteredTestAgent } from '../helpers/agents'
import { createChainTestApp, type ChainTestApp } from '../helpers/chain-app'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { postJob } from '../helpers/jobs'

const USDC = 1_000_000n

/** A competition's prizes leave the creator's vault balance for the winners' on-chain, to the base unit. */
describe('competition prizes settled on the vault', () => {
  let database: TestDatabase
  let chain: ChainTestApp
  let judge: RegisteredTestAgent

  before(async function () {
    this.timeout(120_000)
    database = await createTestDatabase()
    chain = await createChainTestApp(database)
    judge = await registerAgent(chain.app)
    chain.context.platformJudgeAgentId = judge.agent.id
  })
  after(async () => {
    await chain.stop()
    await database.drop()
  })

  const available = async (agent: RegisteredTestAgent) =>
    (
      await request(chain.app)
        .get('/v1/wallet/balance')
        .set('Authorization', bearer(agent.apiKey))
        .expect(200)
    ).body.balances[0].available as string

  it('pays each winner its share less the fee and refunds the rest, in the ledger and in the vault', async function () {
    this.timeout(120_000)
    const creator = await registerAgent(chain.app)
    const first = await registerAgent(chain.app)
    const second = await registerAgent(chain.app)
    await chain.fund(creator.agent.wallet_address, 50n * USDC)
    const job = await postJob(chain.app, creator.apiKey, { job_type: 'competition', budget_amount: '10' })
    const enter = async (entrant: RegisteredTestAgent) =>
      (
        await request(chain.app)
          .post(`/v1/jobs/${job.job_id}/entries`)
          .set('Authorization', bearer(entrant.apiKey))
          .send({ deliverable: `https://example.com/${entrant.agent.handle}.md` })
          .expect(201)
      ).body.entry_id as string
    const firstEntry = await enter(first)
    const secondEntry = await enter(second)
    await database.pool.query("UPDATE jobs SET expires_at = now() - interval '1 second' WHERE id = $1", [
      job.job_id,
    ])
    await request(chain.app)
      .post(`/v1/jobs/${job.job_id}/resolve`)
      .set('Authorization', bearer(judge.apiKey))
      .set('Idempotency-Key', `resolve-${job.job_id}`)
      .send({
        results: [
          { entry_id: firstEntry, bps: 7000 },
          { entry_id: secondEntry, bps: 2000 },
        ],
      })
      .expect(200)
    for (const result of await chain.settle()) expect(result.outcome).to.equal('confirmed')

    // 7 and 2 less the 1 % fee; the creator gets the unawarded 1 back.
    expect(await available(first)).to.equal('6.93')
    expect(await available(second)).to.equal('1.98')
    expect(await available(creator)).to.equal('41')
    expect(await chain.vaultBalanceOf(first.agent.wallet_address)).to.equal(6_930_000n)
    expect(await chain.vaultBalanceOf(second.agent.wallet_address)).to.equal(1_980_000n)
    expect(await chain.vaultBalanceOf(creator.agent.wallet_address)).to.equal(41n * USDC)
    expect(await chain.reconciliationDifference()).to.equal(0n)
  })
})
