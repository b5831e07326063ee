import { expect } from 'chai'
import request from 'supertest'
import { createTestClient, http, type LocalAccount, type TestClient } from 'viem'
import type { AssignmentResponse, TypedDataJson } from '../../../protocol/assignments'
import type { EscrowLockTerms } from '../../../protocol/escrow-sets'
import { NO_SIGNATURE } from '../../../protocol/typed-data'
import { clearhouseVaultAbi } from '../../../protocol/vault-abi'
import { toViemTypedData } from '../../../server/escrow/escrow-ops'
import { locateEscrow } from '../../../server/escrow/escrow-sets-service'
import { selectEntrySumsByToken } from '../../../server/ledger/ledger-queries'
import { bearer, registerAgent, type RegisteredTestAgent } from '../helpers/agents'
import { hardhatRpcUrl, walletFor } from '../helpers/chain'
import { createChainTestApp, hardhatAccount, type ChainTestApp } from '../helpers/chain-app'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { postBid, postJob, postSubmit } from '../helpers/jobs'

const USDC = 1_000_000n

/**
 * An escrow the coordinator locked can be settled on the vault without it: the payee refunds, the
 * resolver rules, the payer releases or reclaims after expiry, each with its own key. The indexer
 * books whatever the vault did, so the ledger follows the chain (and reconciles to zero) however
 * the escrow ended, and a worker's booked pay is never spendable before the vault pays it.
 */
describe('escrow outcomes on the vault, with or without the coordinator', () => {
  let database: TestDatabase
  let chain: ChainTestApp
  let testClient: TestClient
  let nextAccount = 30

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

  /** A fresh self-custody agent (a key of Hardhat's mnemonic no other test uses, given gas) and that key. */
  async function selfCustodyAgent(): Promise<{ agent: RegisteredTestAgent; account: LocalAccount }> {
    const account = hardhatAccount(nextAccount++)
    await testClient.setBalance({ address: account.address, value: 10n ** 18n })
    return { agent: await registerAgent(chain.app, { account }), account }
  }

  async function balance(agent: RegisteredTestAgent) {
    const res = await request(chain.app)
      .get('/v1/wallet/balance')
      .set('Authorization', bearer(agent.apiKey))
      .expect(200)
    return res.body.balances[0] as Record<string, string>
  }

  async function expectLedgerFollowsTheChain(step: string): Promise<void> {
    expect(await chain.reconciliationDifference(), `reconciliation ${step}`).to.equal(0n)
    for (const [token, total] of await selectEntrySumsByToken(database.pool)) {
      expect(total, `ledger entries of ${token} ${step}`).to.equal(0n)
    }
  }

  async function signOp(
    payer: { agent: RegisteredTestAgent; account: LocalAccount },
    assignment: AssignmentResponse,
    op: AssignmentResponse['chain_ops'][number],
  ): Promise<void> {
    await request(chain.app)
      .post(`/v1/assignments/${assignment.assignment_id}/escrow-signature`)
      .set('Authorization', bearer(payer.agent.apiKey))
      .send({
        kind: op.kind,
        signature: await payer.account.signTypedData(toViemTypedData(op.typed_data as TypedDataJson)),
      })
      .expect(200)
  }

  /**
   * A self-custody payer funded with 50 USDC awards 10 to a self-custody worker (with `resolver`
   * as the job's resolver, if given) and signs the lock, which the settler puts on the vault.
   */
  async function lockedJob(resolver?: RegisteredTestAgent) {
    const payer = await selfCustodyAgent()
    const worker = await selfCustodyAgent()
    await chain.fund(payer.account.address, 50n * USDC)
    const job = await postJob(
      chain.app,
      payer.agent.apiKey,
      resolver ? { dispute_agent_id: resolver.agent.id } : {},
    )
    const bid = await postBid(chain.app, worker.agent.apiKey, job.job_id, { amount: '10' })
    const awarded = await request(chain.app)
      .post(`/v1/jobs/${job.job_id}/award`)
      .set('Authorization', bearer(payer.agent.apiKey))
      .send({ bid_id: bid.bid_id })
      .expect(200)
    const assignment = awarded.body.assignment as AssignmentResponse
    await signOp(payer, assignment, assignment.chain_ops[0]!)
    await chain.settle()
    const located = await locateEscrow(database.pool, chain.deployment.chainId, assignment.escrow_id!)
    expect(located, 'the lock landed and was indexed').to.not.equal(null)
    const terms = toViemTypedData(assignment.chain_ops[0]!.typed_data as TypedDataJson)
      .message as unknown as EscrowLockTerms
    return { payer, worker, job, assignment, terms, located: located! }
  }

  async function send(account: LocalAccount, functionName: string, args: readonly unknown[]) {
    const wallet = await walletFor(account)
    const hash = await wallet.writeContract({
      address: chain.vault,
      abi: clearhouseVaultAbi,
      functionName: functionName as never,
      args: args as never,
      chain: null,
    })
    const receipt = await chain.client.waitForTransactionReceipt({ hash })
    expect(receipt.status, `${functionName} on the vault`).to.equal('success')
  }

  it("books the worker's pay as unsettled at the signed release and makes it available when the release lands", async function () {
    this.timeout(120_000)
    const { payer, worker, job, assignment } = await lockedJob()
    await postSubmit(chain.app, worker.agent.apiKey, job.job_id)
    const accepted = await request(chain.app)
      .post(`/v1/jobs/${job.job_id}/accept`)
      .set('Authorization', bearer(payer.agent.apiKey))
      .expect(200)
    expect(await balance(worker.agent)).to.include({ available: '0', unsettled: '0' })
    const release = (accepted.body.assignments[0].chain_ops as AssignmentResponse['chain_ops']).find(
      (op) => op.kind === 'escrow_release',
    )!
    await signOp(payer, assignment, release)
    expect(await balance(worker.agent)).to.include({ available: '0', unsettled: '9.9', on_chain: '0' })
    await expectLedgerFollowsTheChain('with the release booked but not landed')
    const report = await request(chain.app).get('/v1/platform/reconciliation').expect(200)
    expect(report.body.tokens[0]).to.include({ is_balanced: true, unsettled: '9.9' })

    await chain.settle()
    expect(await balance(worker.agent)).to.include({ available: '9.9', unsettled: '0', on_chain: '9.9' })
    await expectLedgerFollowsTheChain('once the release landed')
  })

  it('attack: the payee refunds the escrow on the vault behind the coordinator -> the ledger returns it to the payer', async function () {
    this.timeout(120_000)
    const { payer, worker, terms, located } = await lockedJob()
    expect(await balance(payer.agent)).to.include({ available: '40', escrowed: '10' })
    await send(worker.account, 'refundEscrow', [terms, located.position, NO_SIGNATURE, located.proof])
    await chain.index()
    expect(await balance(payer.agent)).to.include({ available: '50', escrowed: '0', on_chain: '50' })
    expect(await balance(worker.agent)).to.include({ available: '0', unsettled: '0' })
    await expectLedgerFollowsTheChain('after the refund')
  })

  it('attack: the payer reclaims after expiry while the booked release never landed -> the worker is not paid out of thin air, the release is taken back', async function () {
    this.timeout(120_000)
    const { payer, worker, job, assignment, terms, located } = await lockedJob()
    await postSubmit(chain.app, worker.agent.apiKey, job.job_id)
    const accepted = await request(chain.app)
      .post(`/v1/jobs/${job.job_id}/accept`)
      .set('Authorization', bearer(payer.agent.apiKey))
      .expect(200)
    const release = (accepted.body.assignments[0].chain_ops as AssignmentResponse['chain_ops']).find(
      (op) => op.kind === 'escrow_release',
    )!
    await signOp(payer, assignment, release)
    expect(await balance(worker.agent)).to.include({ available: '0', unsettled: '9.9' })

    // The coordinator is slow; the escrow expires and the payer takes it back on the vault first.
    const now = (await chain.client.getBlock()).timestamp
    await testClient.increaseTime({ seconds: Number(terms.expiry - now) + 1 })
    await testClient.mine({ blocks: 1 })
    await send(payer.account, 'reclaimExpiredEscrow', [terms, located.position, located.proof])
    await chain.settle()
    expect(await balance(worker.agent)).to.include({ available: '0', unsettled: '0', on_chain: '0' })
    expect(await balance(payer.agent)).to.include({ available: '50', escrowed: '0', on_chain: '50' })
    const { rows } = await database.pool.query(
      'SELECT status, failure_reason FROM chain_ops WHERE reference = $1',
      [`escrow-release:${assignment.assignment_id}`],
    )
    expect(rows[0]).to.include({ status: 'failed' })
    expect(rows[0].failure_reason).to.match(/^JobEscrowClosed/)
    await expectLedgerFollowsTheChain('after the reclaim')
  })

  it('books a ruling the resolver made on the vault directly: each party, the fee and the resolver fee', async function () {
    this.timeout(120_000)
    const resolver = await selfCustodyAgent()
    const { payer, worker, terms, located } = await lockedJob(resolver.agent)
    expect(terms.resolver.toLowerCase()).to.equal(resolver.account.address.toLowerCase())
    await send(resolver.account, 'ruleEscrow', [terms, located.position, 5_000, NO_SIGNATURE, located.proof])
    await chain.index()
    // 10 USDC: resolver fee 2 % = 0.2; of 9.8, half to each side; the payee's half pays 1 %.
    expect(await balance(resolver.agent)).to.include({ available: '0.2', on_chain: '0.2' })
    expect(await balance(worker.agent)).to.include({ available: '4.851', on_chain: '4.851' })
    expect(await balance(payer.agent)).to.include({ available: '44.9', escrowed: '0', on_chain: '44.9' })
    await expectLedgerFollowsTheChain('after the ruling')
  })

  it('books a release the payer made on the vault directly, before any acceptance, as paid', async function () {
    this.timeout(120_000)
    const { payer, worker, terms, located } = await lockedJob()
    await send(payer.account, 'releaseEscrow', [terms, located.position, NO_SIGNATURE, located.proof])
    await chain.index()
    expect(await balance(worker.agent)).to.include({ available: '9.9', unsettled: '0', on_chain: '9.9' })
    expect(await balance(payer.agent)).to.include({ available: '40', escrowed: '0', on_chain: '40' })
    await expectLedgerFollowsTheChain('after the direct release')
  })

  it('undoes a booked outcome when a reorg drops it, and books it again when it returns', async function () {
    this.timeout(120_000)
    const { payer, worker, terms, located } = await lockedJob()
    const before = (await testClient.snapshot()) as `0x${string}`
    await send(worker.account, 'refundEscrow', [terms, located.position, NO_SIGNATURE, located.proof])
    await chain.index()
    expect(await balance(payer.agent)).to.include({ available: '50', escrowed: '0' })
    await testClient.revert({ id: before })
    await testClient.mine({ blocks: 2 })
    await chain.index()
    expect(await balance(payer.agent)).to.include({ available: '40', escrowed: '10' })
    await expectLedgerFollowsTheChain('after the reorg')
    await send(worker.account, 'refundEscrow', [terms, located.position, NO_SIGNATURE, located.proof])
    await chain.index()
    expect(await balance(payer.agent)).to.include({ available: '50', escrowed: '0' })
    await expectLedgerFollowsTheChain('after the refund landed again')
  })
})
