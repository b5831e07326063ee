import { expect } from 'chai'
import request from 'supertest'
import { createTestClient, http } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import type { EscrowLockTerms } from '../../../protocol/escrow-sets'
import { clearhouseVaultAbi } from '../../../protocol/vault-abi'
import { toViemTypedData } from '../../../server/escrow/escrow-ops'
import { locateEscrow } from '../../../server/escrow/escrow-sets-service'
import { hardhatRpcUrl, walletFor } from '../helpers/chain'
import { issuePlatformResolverKey } from '../../../server/agents/agents-service'
import { TimersWorker } from '../../../server/workers/timers'
import { bearer, registerAgent, type RegisteredTestAgent } from '../helpers/agents'
import { createChainTestApp, hardhatAccount, type ChainTestApp } from '../helpers/chain-app'
import { shiftDatabaseClock } from '../helpers/clock'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { postAward, postBid, postJob, postSubmit } from '../helpers/jobs'

const USDC = 1_000_000n

/** The timers' outcomes carried out on the vault: no assignment leaves money stranded. */
describe('assignment timers on the vault', () => {
  let database: TestDatabase
  let chain: ChainTestApp
  let timers: TimersWorker

  before(async function () {
    this.timeout(120_000)
    database = await createTestDatabase()
    chain = await createChainTestApp(database)
    timers = new TimersWorker(chain.context, 10_000)
  })
  after(async () => {
    await chain.stop()
    await database.drop()
  })

  async function available(agent: { apiKey: string }): Promise<string> {
    const res = await request(chain.app)
      .get('/v1/wallet/balance')
      .set('Authorization', bearer(agent.apiKey))
      .expect(200)
    return res.body.balances[0].available
  }

  async function settleAll(): Promise<void> {
    for (const result of await chain.settle()) expect(result.outcome).to.equal('confirmed')
  }

  async function awarded(options: { etaSeconds?: number } = {}) {
    const requester = await registerAgent(chain.app)
    const worker: RegisteredTestAgent = await registerAgent(chain.app)
    await chain.fund(requester.agent.wallet_address, 50n * USDC)
    const job = await postJob(chain.app, requester.apiKey, { deadline_seconds: 604800 })
    const bid = await postBid(chain.app, worker.apiKey, job.job_id, {
      amount: '10',
      eta_seconds: options.etaSeconds ?? 3600,
    })
    await postAward(chain.app, requester.apiKey, job.job_id, bid.bid_id)
    await settleAll()
    return { requester, worker, job }
  }

  /**
   * An escrow of 10 from a fresh requester whose self-custody worker let it go overdue, on a job
   * whose resolver is not the platform's: the timers cancel it and leave the escrow to its expiry.
   * Returns the cancelling round too.
   */
  async function overdueEscrowLeftToExpiry() {
    const requester = await registerAgent(chain.app)
    const worker = await registerAgent(chain.app, { account: privateKeyToAccount(generatePrivateKey()) })
    const resolver = await registerAgent(chain.app)
    await chain.fund(requester.agent.wallet_address, 50n * USDC)
    const job = await postJob(chain.app, requester.apiKey, {
      deadline_seconds: 604800,
      dispute_agent_id: resolver.agent.id,
    })
    const bid = await postBid(chain.app, worker.apiKey, job.job_id, { amount: '10', eta_seconds: 3600 })
    const { assignment } = await postAward(chain.app, requester.apiKey, job.job_id, bid.bid_id)
    await settleAll()
    await shiftDatabaseClock(database.pool, 3600 + 24 * 3600 + 1)
    const cancelling = await timers.runOnce()
    await shiftDatabaseClock(database.pool, 0)
    const terms = toViemTypedData(assignment.chain_ops[0]!.typed_data).message as unknown as EscrowLockTerms
    return { requester, assignment, terms, cancelling }
  }

  /** Moves the chain's clock past the escrow's expiry. */
  async function passExpiry(terms: EscrowLockTerms): Promise<void> {
    const testClient = createTestClient({ mode: 'hardhat', transport: http(await hardhatRpcUrl()) })
    const now = (await chain.client.getBlock()).timestamp
    await testClient.increaseTime({ seconds: Number(terms.expiry - now) + 1 })
    await testClient.mine({ blocks: 1 })
  }

  it('refunds an overdue assignment’s escrow on the vault through the worker’s managed key', async function () {
    this.timeout(120_000)
    const { requester } = await awarded({ etaSeconds: 3600 })
    expect(await available(requester)).to.equal('40')
    await shiftDatabaseClock(database.pool, 3600 + 24 * 3600 + 1)
    expect(await timers.runOnce()).to.include({ overdueCancelled: 1 })
    await settleAll()
    expect(await available(requester)).to.equal('50')
    expect(await chain.vaultBalanceOf(requester.agent.wallet_address)).to.equal(50n * USDC)
    expect(await chain.reconciliationDifference()).to.equal(0n)
    await shiftDatabaseClock(database.pool, 0)
  })

  it('leaves a self-custody worker’s overdue escrow to its expiry; reclaimed on the vault while nothing indexes, it is booked when the indexer runs again', async function () {
    this.timeout(120_000)
    const { requester, assignment, terms, cancelling } = await overdueEscrowLeftToExpiry()
    expect(cancelling).to.include({ overdueCancelled: 1 })
    const read = await request(chain.app)
      .get(`/v1/assignments/${assignment.assignment_id}`)
      .set('Authorization', bearer(requester.apiKey))
      .expect(200)
    expect(read.body.status).to.equal('cancelled')
    expect(read.body.chain_ops.map((op: { kind: string }) => op.kind)).to.deep.equal(['escrow_lock'])
    expect(await available(requester)).to.equal('40')

    // Nothing indexes now (the coordinator is down); the escrow expires and anyone reclaims it.
    const located = (await locateEscrow(database.pool, chain.deployment.chainId, assignment.escrow_id!))!
    await passExpiry(terms)
    const wallet = await walletFor(hardhatAccount(7))
    const hash = await wallet.writeContract({
      address: chain.vault,
      abi: clearhouseVaultAbi,
      functionName: 'reclaimExpiredEscrow',
      args: [terms, located.position, located.proof] as never,
      chain: null,
    })
    await chain.client.waitForTransactionReceipt({ hash })
    expect(await chain.vaultBalanceOf(requester.agent.wallet_address)).to.equal(50n * USDC)
    expect(await available(requester), 'not booked while nothing indexes').to.equal('40')

    await chain.index()
    expect(await available(requester)).to.equal('50')
    expect(await chain.reconciliationDifference()).to.equal(0n)
  })

  it('reclaims an expired escrow for its payer: an overdue self-custody worker’s, once it expires', async function () {
    this.timeout(120_000)
    const { requester, terms, cancelling } = await overdueEscrowLeftToExpiry()
    expect(cancelling).to.include({ overdueCancelled: 1, escrowsReclaimed: 0 })

    await passExpiry(terms)
    const round = await timers.runOnce()
    expect(round.outcome === 'ran' && round.escrowsReclaimed).to.equal(1)
    await settleAll()
    expect(await available(requester)).to.equal('50')
    expect(await chain.vaultBalanceOf(requester.agent.wallet_address)).to.equal(50n * USDC)
    expect(await timers.runOnce(), 'a closed escrow is not reclaimed again').to.include({
      escrowsReclaimed: 0,
    })
    expect(await chain.reconciliationDifference()).to.equal(0n)
  })

  it('disputes unreviewed work for the worker; the platform resolver’s ruling pays it on the vault', async function () {
    this.timeout(120_000)
    const { requester, worker, job } = await awarded()
    await postSubmit(chain.app, worker.apiKey, job.job_id)
    await shiftDatabaseClock(database.pool, 24 * 3600 + 1)
    expect(await timers.runOnce()).to.include({ reviewDisputes: 1 })
    await shiftDatabaseClock(database.pool, 0)
    const [dispute] = (
      await request(chain.app)
        .get(`/v1/jobs/${job.job_id}/disputes`)
        .set('Authorization', bearer(requester.apiKey))
        .expect(200)
    ).body
    expect(dispute.resolver_agent_id).to.equal(chain.context.platformResolverAgentId)
    const resolverKey = await issuePlatformResolverKey(chain.context.pool, dispute.resolver_agent_id)
    await request(chain.app)
      .post(`/v1/disputes/${dispute.dispute_id}/rule`)
      .set('Authorization', bearer(resolverKey!))
      .send({ ruling: 'worker_wins', reasoning: 'The requester never reviewed the work' })
      .expect(200)
    await settleAll()
    // 10 less the resolver's 2 % (0.2), then 1 % of 9.8: 9.702.
    expect(await available(worker)).to.equal('9.702')
    expect(await available(requester)).to.equal('40')
    expect(await chain.reconciliationDifference()).to.equal(0n)
  })
})
