import { expect } from 'chai'
import request from 'supertest'
import { createTestClient, http, type TestClient } from 'viem'
import type { LocalAccount } from 'viem/accounts'
import type { AssignmentResponse } from '../../protocol/assignments'
import { accountsReconciliationResponse } from '../../protocol/platform'
import { clearhouseVaultAbi } from '../../protocol/vault-abi'
import { toViemTypedData } from '../../server/escrow/escrow-ops'
import type { TypedDataJson } from '../../protocol/assignments'
import { bearer, registerAgent, type RegisteredTestAgent } from '../server/helpers/agents'
import { hardhatRpcUrl, revertTo, snapshot, walletFor } from '../server/helpers/chain'
import { createChainTestApp, hardhatAccount, type ChainTestApp } from '../server/helpers/chain-app'
import { createTestDatabase, type TestDatabase } from '../server/helpers/database'
import { postBid, postJob } from '../server/helpers/jobs'

const USDC = 1_000_000n

/**
 * A deposit the ledger credited, spent on an escrow lock, then taken away by a reorg: the lock
 * fails on-chain. Found by an operator's review: the ledger kept the escrow, accept paid the worker
 * off-chain while the release could never land, and reconciliation read zero while two accounts
 * were wrong. Now the failed lock is reversed once, nothing that stood on it is paid, and every
 * account's ledger equals its vault balance, which reconciliation checks one by one.
 */
describe('a reorg removes a deposit an escrow lock spent', () => {
  let database: TestDatabase
  let chain: ChainTestApp
  let testClient: TestClient

  before(async function () {
    this.timeout(120_000)
    database = await createTestDatabase()
    chain = await createChainTestApp(database)
    testClient = createTestClient({ mode: 'hardhat', transport: http(await hardhatRpcUrl()) })
  })
  after(async () => {
    await chain.stop()
    await database.drop()
  })

  async function balance(agent: RegisteredTestAgent) {
    const res = await request(chain.app)
      .get('/v1/wallet/balance')
      .set('Authorization', bearer(agent.apiKey))
      .expect(200)
    const row = res.body.balances[0] as Record<string, string>
    return { available: row.available, escrowed: row.escrowed, unsettled: row.unsettled, debt: row.debt }
  }

  async function assignmentOf(agent: RegisteredTestAgent, assignmentId: string): Promise<AssignmentResponse> {
    const res = await request(chain.app)
      .get(`/v1/assignments/${assignmentId}`)
      .set('Authorization', bearer(agent.apiKey))
      .expect(200)
    return res.body as AssignmentResponse
  }

  async function jobStatus(agent: RegisteredTestAgent, jobId: string): Promise<string> {
    const res = await request(chain.app)
      .get(`/v1/jobs/${jobId}`)
      .set('Authorization', bearer(agent.apiKey))
      .expect(200)
    return res.body.status as string
  }

  /** Every account agrees with the vault, through the public route and the helper's own checks. */
  async function expectEveryAccountReconciled(step: string): Promise<void> {
    expect(await chain.reconciliationDifference(), `totals ${step}`).to.equal(0n)
    const res = await request(chain.app).get('/v1/platform/reconciliation/accounts').expect(200)
    expect(
      accountsReconciliationResponse.parse(res.body).accounts,
      `mismatched accounts ${step}`,
    ).to.deep.equal([])
    const totals = await request(chain.app).get('/v1/platform/reconciliation').expect(200)
    expect(totals.body.tokens[0].accounts_mismatched, step).to.equal(0)
  }

  /** The requester funds 30 on-chain (after `before`), posts a job and awards the worker's bid of 15. */
  async function awardOnReorgableDeposit(requester: RegisteredTestAgent, worker: RegisteredTestAgent) {
    const before = await snapshot()
    await chain.fund(requester.agent.wallet_address, 30n * USDC)
    const job = await postJob(chain.app, requester.apiKey, { budget_amount: '20.00' })
    const bid = await postBid(chain.app, worker.apiKey, job.job_id, { amount: '15' })
    const awarded = await request(chain.app)
      .post(`/v1/jobs/${job.job_id}/award`)
      .set('Authorization', bearer(requester.apiKey))
      .send({ bid_id: bid.bid_id })
      .expect(200)
    return { before, job, assignment: awarded.body.assignment as AssignmentResponse }
  }

  /** The reorg: the chain goes back to `before` and grows past it without the deposit. */
  async function reorganiseAway(before: string): Promise<void> {
    await revertTo(before)
    await testClient.mine({ blocks: 3 })
    await chain.index()
  }

  it('fails the lock, returns the escrow, cancels the award, and pays the worker nothing; every account reconciles', async function () {
    this.timeout(180_000)
    const requester = await registerAgent(chain.app)
    const worker = await registerAgent(chain.app)
    const { before, job, assignment } = await awardOnReorgableDeposit(requester, worker)
    expect(await balance(requester)).to.include({ available: '15', escrowed: '15' })

    await reorganiseAway(before)
    expect(await balance(requester), 'the reorg took the deposit the lock spent').to.include({
      available: '0',
      escrowed: '15',
      debt: '15',
    })
    await expectEveryAccountReconciled('after the reorg, with the lock still queued')

    const results = await chain.settle()
    expect(results.map((result) => result.outcome)).to.include('op-failed')
    expect(await balance(requester), 'the escrow came back and repaid the debt').to.include({
      available: '0',
      escrowed: '0',
      debt: '0',
    })
    const cancelled = await assignmentOf(requester, assignment.assignment_id)
    expect(cancelled.status).to.equal('cancelled')
    expect(cancelled.chain_ops[0]).to.include({ kind: 'escrow_lock', status: 'failed' })
    expect(cancelled.chain_ops[0]!.failure_reason).to.match(/^VaultInsufficientBalance\(/)
    expect(await jobStatus(requester, job.job_id), 'the slot is open to award again').to.equal('open')
    await expectEveryAccountReconciled('after the failed lock')

    // The deposit lands again (the reorged transaction is mined anew); the award stays cancelled.
    await chain.fund(requester.agent.wallet_address, 30n * USDC)
    const submit = await request(chain.app)
      .post(`/v1/jobs/${job.job_id}/submit`)
      .set('Authorization', bearer(worker.apiKey))
      .send({ deliverable: 'https://example.com/report.md' })
    expect(submit.status, JSON.stringify(submit.body)).to.equal(409)
    const accept = await request(chain.app)
      .post(`/v1/jobs/${job.job_id}/accept`)
      .set('Authorization', bearer(requester.apiKey))
      .send({ assignment_id: assignment.assignment_id })
    expect(accept.status, JSON.stringify(accept.body)).to.equal(409)
    const withdraw = await request(chain.app)
      .post('/v1/wallet/withdraw')
      .set('Authorization', bearer(worker.apiKey))
      .send({ amount: '14.85', to: '0x000000000000000000000000000000000000dEaD' })
    expect(withdraw.status, 'the worker has nothing to withdraw').to.equal(409)

    expect(await balance(requester)).to.include({ available: '30', escrowed: '0', debt: '0' })
    expect(await balance(worker)).to.include({ available: '0', unsettled: '0' })
    expect(await chain.vaultBalanceOf(requester.agent.wallet_address)).to.equal(30n * USDC)
    expect(await chain.vaultBalanceOf(worker.agent.wallet_address)).to.equal(0n)
    await expectEveryAccountReconciled('at the end')
  })

  it('takes back a release booked before the lock failed: the worker is never paid off-chain for money the vault never held', async function () {
    this.timeout(180_000)
    const requester = await registerAgent(chain.app)
    const worker = await registerAgent(chain.app)
    const { before, job, assignment } = await awardOnReorgableDeposit(requester, worker)
    await request(chain.app)
      .post(`/v1/jobs/${job.job_id}/submit`)
      .set('Authorization', bearer(worker.apiKey))
      .send({ deliverable: 'https://example.com/report.md' })
      .expect(200)
    await request(chain.app)
      .post(`/v1/jobs/${job.job_id}/accept`)
      .set('Authorization', bearer(requester.apiKey))
      .send({ assignment_id: assignment.assignment_id })
      .expect(200)
    expect(await balance(worker), 'booked, not spendable').to.include({ available: '0', unsettled: '14.85' })

    await reorganiseAway(before)
    await chain.settle()
    expect(await balance(worker), 'the booked release is gone').to.include({ available: '0', unsettled: '0' })
    expect(await balance(requester)).to.include({ available: '0', escrowed: '0', debt: '0' })
    const after = await assignmentOf(requester, assignment.assignment_id)
    expect(after.status).to.equal('cancelled')
    expect(after.chain_ops.map((op) => [op.kind, op.status])).to.deep.equal([
      ['escrow_lock', 'failed'],
      ['escrow_release', 'failed'],
    ])
    expect(after.chain_ops[1]!.failure_reason).to.match(/^escrow lock failed: VaultInsufficientBalance/)

    await chain.fund(requester.agent.wallet_address, 30n * USDC)
    // Nothing queued the release behind the failed lock, so settling again pays nobody.
    await chain.settle()
    expect(await chain.vaultBalanceOf(worker.agent.wallet_address)).to.equal(0n)
    expect(await balance(requester)).to.include({ available: '30' })
    await expectEveryAccountReconciled('at the end')
  })

  /**
   * A self-custody payer with a ripe exit of its whole balance has its lock signed and settled; the
   * payer's exit, paying a higher tip, lands in the same block before the batch. Returns the
   * assignment and a snapshot taken before the batch was sent.
   */
  async function frontRunLock(ownerIndex: number) {
    const owner = hardhatAccount(ownerIndex)
    const requester = await registerAgent(chain.app, { account: owner })
    const worker = await registerAgent(chain.app)
    await chain.fund(owner.address, 30n * USDC)
    await requestExit(owner, 30n * USDC)
    const job = await postJob(chain.app, requester.apiKey, { budget_amount: '20.00' })
    const bid = await postBid(chain.app, worker.apiKey, job.job_id, { amount: '15' })
    const awarded = await request(chain.app)
      .post(`/v1/jobs/${job.job_id}/award`)
      .set('Authorization', bearer(requester.apiKey))
      .send({ bid_id: bid.bid_id })
      .expect(200)
    const assignment = awarded.body.assignment as AssignmentResponse
    const lockOp = assignment.chain_ops[0]!
    await request(chain.app)
      .post(`/v1/assignments/${assignment.assignment_id}/escrow-signature`)
      .set('Authorization', bearer(requester.apiKey))
      .send({
        kind: 'escrow_lock',
        signature: await owner.signTypedData(toViemTypedData(lockOp.typed_data as TypedDataJson) as never),
      })
      .expect(200)
    const beforeBatch = await snapshot()

    const result = await chain.frontRunNextBatch(owner, {
      functionName: 'executeWithdrawal',
      args: [owner.address, chain.usdc],
    })
    expect(result.outcome, 'the batch lands with the lock skipped').to.equal('confirmed')
    await chain.index()
    return { requester, assignment, beforeBatch }
  }

  it('attack: a self-custody payer front-runs the batch carrying its escrow lock to exit its balance -> the lock is skipped, reversed once, and the award cancelled', async function () {
    this.timeout(180_000)
    const { requester, assignment } = await frontRunLock(17)
    // Indexing the same logs again reverses nothing twice.
    await chain.index()

    expect(await balance(requester)).to.include({ available: '0', escrowed: '0', debt: '0' })
    const after = await assignmentOf(requester, assignment.assignment_id)
    expect(after.status).to.equal('cancelled')
    expect(after.chain_ops[0]).to.include({ status: 'failed' })
    await expectEveryAccountReconciled('after the skipped lock')
  })

  it('puts a skipped lock back when a reorg drops its OpSkipped log, and the batch sent again locks it', async function () {
    this.timeout(180_000)
    const { requester, assignment, beforeBatch } = await frontRunLock(18)
    expect((await assignmentOf(requester, assignment.assignment_id)).status).to.equal('cancelled')

    // The block with the batch and the exit is reorganised away; the exit is not mined again.
    await revertTo(beforeBatch)
    await testClient.mine({ blocks: 3 })
    await chain.index()
    const restored = await assignmentOf(requester, assignment.assignment_id)
    expect(restored.status, 'the award stands again').to.equal('in_progress')
    expect(restored.chain_ops[0]!.status).to.not.equal('failed')
    expect(await balance(requester)).to.include({ available: '15', escrowed: '15', debt: '0' })
    await expectEveryAccountReconciled('after the reorg restored the lock')

    await chain.settle()
    const locked = await assignmentOf(requester, assignment.assignment_id)
    expect(locked.chain_ops[0]).to.include({ status: 'confirmed' })
    expect(await chain.vaultBalanceOf(requester.agent.wallet_address)).to.equal(15n * USDC)
    await expectEveryAccountReconciled('after the lock landed')
  })

  /** Requests a slow exit of `units` for `account` and waits out the vault's delay. */
  async function requestExit(account: LocalAccount, units: bigint): Promise<void> {
    const wallet = await walletFor(account)
    const hash = await wallet.writeContract({
      address: chain.vault,
      abi: clearhouseVaultAbi,
      functionName: 'requestWithdrawal',
      args: [chain.usdc, units, account.address],
      chain: null,
    })
    await chain.client.waitForTransactionReceipt({ hash })
    const delay = await chain.client.readContract({
      address: chain.vault,
      abi: clearhouseVaultAbi,
      functionName: 'withdrawalDelay',
    })
    await testClient.increaseTime({ seconds: Number(delay) + 1 })
    await testClient.mine({ blocks: 1 })
  }
})
