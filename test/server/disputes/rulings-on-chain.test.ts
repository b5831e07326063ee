import { expect } from 'chai'
import type { LocalAccount } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import request from 'supertest'
import type { DisputeResponse } from '../../../protocol/disputes'
import { BPS } from '../../../protocol/typed-data'
import { DEFAULT_PROTOCOL_FEE_BPS } from '../../../server/chain/vault-fees'
import { DISPUTE_DEPOSIT_BPS } from '../../../server/disputes/disputes-service'
import { ESCROW_RESOLVER_FEE_BPS } from '../../../server/escrow/escrow-ops'
import { issuePlatformResolverKey } from '../../../server/agents/agents-service'
import { toViemTypedData } from '../../../server/escrow/escrow-ops'
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

  /**
   * A job between a fresh funded requester and worker, submitted and disputed by `opener`; its
   * resolver a registered agent (`resolver`, a self-custody one with `selfCustodyResolver`), or the
   * platform's when `platformResolver`.
   */
  async function disputed(
    opener: 'requester' | 'worker',
    options: { selfCustodyResolver?: LocalAccount; platformResolver?: boolean } = {},
  ) {
    const requester = await registerAgent(chain.app)
    const worker = await registerAgent(chain.app)
    let resolver: RegisteredTestAgent
    if (options.platformResolver) {
      const id = chain.context.platformResolverAgentId!
      const apiKey = (await issuePlatformResolverKey(chain.context.pool, id))!
      const profile = (await request(chain.app).get(`/v1/agents/${id}`).expect(200)).body
      resolver = { apiKey, agent: { id, wallet_address: profile.wallet_address } } as RegisteredTestAgent
    } else {
      resolver = await registerAgent(
        chain.app,
        options.selfCustodyResolver ? { account: options.selfCustodyResolver } : {},
      )
    }
    await chain.fund(requester.agent.wallet_address, 50n * USDC)
    await chain.fund(worker.agent.wallet_address, 5n * USDC)
    const job = await postJob(
      chain.app,
      requester.apiKey,
      options.platformResolver ? {} : { dispute_agent_id: resolver.agent.id },
    )
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

  /** The vault's split of an escrow ruled `payeeBps` to its payee, as FeeMath.splitRuling computes it. */
  function splitOf(amount: bigint, payeeBps: number, feeBps: number, resolverFeeBps: number) {
    const resolverCut = (amount * BigInt(resolverFeeBps)) / BigInt(BPS)
    const rest = amount - resolverCut
    const payeeGross = (rest * BigInt(payeeBps)) / BigInt(BPS)
    const platformFee = (payeeGross * BigInt(feeBps)) / BigInt(BPS)
    return { resolverCut, payee: payeeGross - platformFee, payer: rest - payeeGross }
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

  it('requester_wins on the worker’s dispute: the escrow back to the requester less the resolver’s fee, the worker’s deposit to the requester', async function () {
    this.timeout(120_000)
    const { requester, worker, resolver, dispute } = await disputed('worker')
    await rule(resolver, dispute.dispute_id, { ruling: 'requester_wins' })
    const escrow = splitOf(ESCROW, 0, DEFAULT_PROTOCOL_FEE_BPS, ESCROW_RESOLVER_FEE_BPS)
    expect(await available(requester)).to.equal(50n * USDC - ESCROW + escrow.payer + deposit)
    expect(await available(worker)).to.equal(5n * USDC - deposit)
    expect(await available(resolver)).to.equal(escrow.resolverCut)
    expect(await chain.vaultBalanceOf(requester.agent.wallet_address)).to.equal(
      50n * USDC - ESCROW + escrow.payer + deposit,
    )
    expect(await chain.reconciliationDifference()).to.equal(0n)
  })

  it('split 7000: 70 % of what is left after the resolver’s fee to the worker less the platform fee, the rest back, the deposit back to the opener', async function () {
    this.timeout(120_000)
    const { requester, worker, resolver, dispute } = await disputed('requester')
    await rule(resolver, dispute.dispute_id, { ruling: 'split', split_bps: 7000 })
    const escrow = splitOf(ESCROW, 7000, DEFAULT_PROTOCOL_FEE_BPS, ESCROW_RESOLVER_FEE_BPS)
    expect(await available(worker)).to.equal(5n * USDC + escrow.payee)
    expect(await available(requester)).to.equal(50n * USDC - ESCROW + escrow.payer)
    expect(await available(resolver)).to.equal(escrow.resolverCut)
    expect(await chain.vaultBalanceOf(worker.agent.wallet_address)).to.equal(5n * USDC + escrow.payee)
    expect(await chain.reconciliationDifference()).to.equal(0n)
  })

  it('redo: the deposit back to the opener, the disputed escrow still locked, no fee to anyone', async function () {
    this.timeout(120_000)
    const { requester, worker, resolver, dispute } = await disputed('requester')
    const ruled = await rule(resolver, dispute.dispute_id, { ruling: 'redo' })
    expect(ruled.chain_ops.map((op) => op.kind)).to.deep.equal(['escrow_lock', 'escrow_ruling'])
    expect(await available(requester)).to.equal(50n * USDC - ESCROW)
    expect(await available(worker)).to.equal(5n * USDC)
    expect(await available(resolver)).to.equal(0n)
    const balance = await request(chain.app)
      .get('/v1/wallet/balance')
      .set('Authorization', bearer(requester.apiKey))
    expect(balance.body.balances[0].escrowed).to.equal('10')
    expect(await chain.reconciliationDifference()).to.equal(0n)
  })

  it('a job that names no resolver is ruled on-chain by the platform resolver, its fee to the platform resolver', async function () {
    this.timeout(120_000)
    const { worker, resolver, dispute } = await disputed('requester', { platformResolver: true })
    expect(dispute.resolver_agent_id).to.equal(chain.context.platformResolverAgentId)
    const before = await available(resolver)
    await rule(resolver, dispute.dispute_id, { ruling: 'worker_wins' })
    const settled = await request(chain.app)
      .get(`/v1/disputes/${dispute.dispute_id}`)
      .set('Authorization', bearer(resolver.apiKey))
      .expect(200)
    expect(settled.body.chain_ops.map((op: { status: string }) => op.status)).to.deep.equal([
      'confirmed',
      'confirmed',
      'confirmed',
    ])
    const escrow = splitOf(ESCROW, BPS, DEFAULT_PROTOCOL_FEE_BPS, ESCROW_RESOLVER_FEE_BPS)
    expect(await available(worker)).to.equal(5n * USDC + escrow.payee + deposit)
    expect((await available(resolver)) - before).to.equal(escrow.resolverCut)
    expect(await chain.reconciliationDifference()).to.equal(0n)
  })

  it('a self-custody resolver’s ruling waits for its signatures, then settles', async function () {
    this.timeout(120_000)
    const account = privateKeyToAccount(generatePrivateKey())
    const { worker, resolver, dispute } = await disputed('requester', { selfCustodyResolver: account })
    const ruled = await rule(resolver, dispute.dispute_id, { ruling: 'worker_wins' })
    const waiting = ruled.chain_ops.filter((op) => op.kind === 'escrow_ruling')
    expect(waiting.map((op) => op.status)).to.deep.equal(['awaiting_signature', 'awaiting_signature'])
    expect(await available(worker)).to.equal(5n * USDC)
    for (const op of waiting) {
      await request(chain.app)
        .post(`/v1/disputes/${dispute.dispute_id}/escrow-signature`)
        .set('Authorization', bearer(resolver.apiKey))
        .send({
          op_id: op.op_id,
          signature: await account.signTypedData(toViemTypedData(op.typed_data) as never),
        })
        .expect(200)
    }
    await settleAll()
    const escrow = splitOf(ESCROW, BPS, DEFAULT_PROTOCOL_FEE_BPS, ESCROW_RESOLVER_FEE_BPS)
    expect(await available(worker)).to.equal(5n * USDC + escrow.payee + deposit)
    expect(await chain.reconciliationDifference()).to.equal(0n)
  })
})
