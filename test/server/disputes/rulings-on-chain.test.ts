import { expect } from 'chai'
import request from 'supertest'
import type { DisputeResponse } from '../../../protocol/disputes'
import { BPS } from '../../../protocol/typed-data'
import { DEFAULT_PROTOCOL_FEE_BPS } from '../../../server/chain/vault-fees'
import { DISPUTE_DEPOSIT_BPS } from '../../../server/disputes/disputes-service'
import { ESCROW_RESOLVER_FEE_BPS } from '../../../server/escrow/escrow-ops'
import { bearer, registerAgent, type RegisteredTestAgent } from '../helpers/agents'
import { createChainTestApp, type ChainTestApp } from '../helpers/chain-app'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { postAward, postBid, postJob, postSubmit } from '../helpers/jobs'

const USDC = 1_000_000n
const ESCROW = 10n * USDC

/**
 * Every ruling moves exactly the right base units, in the ledger and in the vault: the disputed
 * escrow to worker, requester, resolver and platform, the deposit to its owner, all after the
 * resolver's EscrowRuling ops settle and their EscrowRuled logs are indexed.
 */
describe('disputes ruled on the vault', () => {
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

  async function available(agent: RegisteredTestAgent): Promise<bigint> {
    const res = await request(chain.app)
      .get('/v1/wallet/balance')
      .set('Authorization', bearer(agent.apiKey))
      .expect(200)
    return BigInt(Math.round(Number(res.body.balances[0].available) * 1e6))
  }

  async function settleAll(): Promise<void> {
    for (const result of await chain.settle()) expect(result.outcome).to.equal('confirmed')
  }

  /** A job between a fresh funded requester and worker, its resolver a registered agent, submitted and disputed by `opener`. */
  async function disputed(opener: 'requester' | 'worker') {
    const requester = await registerAgent(chain.app)
    const worker = await registerAgent(chain.app)
    const resolver = await registerAgent(chain.app)
    await chain.fund(requester.agent.wallet_address, 50n * USDC)
    await chain.fund(worker.agent.wallet_address, 5n * USDC)
    const job = await postJob(chain.app, requester.apiKey, { dispute_agent_id: resolver.agent.id })
    const bid = await postBid(chain.app, worker.apiKey, job.job_id, { amount: '10' })
    await postAward(chain.app, requester.apiKey, job.job_id, bid.bid_id)
    await settleAll()
    await postSubmit(chain.app, worker.apiKey, job.job_id)
    const openerKey = opener === 'requester' ? requester.apiKey : worker.apiKey
    const opened = await request(chain.app)
      .post(`/v1/jobs/${job.job_id}/dispute`)
      .set('Authorization', bearer(openerKey))
      .send({ reason: 'The report has no severity ratings' })
      .expect(201)
    await settleAll()
    const read = await request(chain.app)
      .get(`/v1/disputes/${opened.body.dispute_id}`)
      .set('Authorization', bearer(openerKey))
      .expect(200)
    return { requester, worker, resolver, job, dispute: read.body as DisputeResponse }
  }

  async function rule(resolver: RegisteredTestAgent, disputeId: string, body: Record<string, unknown>) {
    const res = await request(chain.app)
      .post(`/v1/disputes/${disputeId}/rule`)
      .set('Authorization', bearer(resolver.apiKey))
      .send(body)
      .expect(200)
    await settleAll()
    return res.body as DisputeResponse
  }

  const deposit = (ESCROW * BigInt(DISPUTE_DEPOSIT_BPS)) / BigInt(BPS)
  const resolverFee = (ESCROW * BigInt(ESCROW_RESOLVER_FEE_BPS)) / BigInt(BPS)

  it('takes the deposit into a vault escrow of its own when a dispute opens', async function () {
    this.timeout(120_000)
    const { requester, dispute } = await disputed('requester')
    expect(dispute).to.include({
      status: 'open',
      deposit_amount: '0.5',
      opened_by_agent_id: requester.agent.id,
    })
    expect(dispute.chain_ops.map((op) => [op.kind, op.status])).to.deep.equal([['escrow_lock', 'confirmed']])
    expect(await available(requester)).to.equal(50n * USDC - ESCROW - deposit)
    expect(await chain.reconciliationDifference()).to.equal(0n)
  })

  it('worker_wins: the escrow less fees to the worker, the resolver its fee, the requester’s deposit to the worker', async function () {
    this.timeout(120_000)
    const { requester, worker, resolver, dispute } = await disputed('requester')
    const ruled = await rule(resolver, dispute.dispute_id, {
      ruling: 'worker_wins',
      reasoning: 'Ratings are in the appendix',
    })
    expect(ruled).to.include({ status: 'resolved', ruling: 'worker_wins' })
    const afterResolverFee = ESCROW - resolverFee
    const platformFee = (afterResolverFee * BigInt(DEFAULT_PROTOCOL_FEE_BPS)) / BigInt(BPS)
    expect(await available(worker)).to.equal(5n * USDC + afterResolverFee - platformFee + deposit)
    expect(await available(requester)).to.equal(50n * USDC - ESCROW - deposit)
    expect(await available(resolver)).to.equal(resolverFee)
    expect(await chain.reconciliationDifference()).to.equal(0n)
  })
})
