import { expect } from 'chai'
import request from 'supertest'
import type { AssignmentResponse } from '../../../protocol/assignments'
import type { TypedDataJson } from '../../../protocol/assignments'
import { toViemTypedData } from '../../../server/escrow/escrow-ops'
import { locateEscrow } from '../../../server/escrow/escrow-sets-service'
import { clearhouseVaultAbi } from '../../../protocol/vault-abi'
import { bearer, registerAgent, type RegisteredTestAgent } from '../helpers/agents'
import { createChainTestApp, hardhatAccount, type ChainTestApp } from '../helpers/chain-app'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { postBid, postJob, postSubmit } from '../helpers/jobs'

const selfCustody = hardhatAccount(9)

/**
 * The whole requester/worker flow on real money: the payer's deposit is made on-chain and credited
 * by the indexer, the escrow lock and release are settled on the vault by the settler, and the
 * vault and the ledger agree to the base unit at every step.
 */
describe('job flow on the vault: on-chain deposit, escrow settled on-chain, reconciliation zero', () => {
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

  async function balances(
    agent: RegisteredTestAgent,
  ): Promise<{ available: string; escrowed: string; unsettled: string }> {
    const res = await request(chain.app)
      .get('/v1/wallet/balance')
      .set('Authorization', bearer(agent.apiKey))
      .expect(200)
    return res.body.balances[0]
  }

  async function settle(): Promise<void> {
    const results = await chain.settle()
    for (const result of results)
      expect(
        result.outcome,
        JSON.stringify(result, (_k, v) => (typeof v === 'bigint' ? String(v) : v)),
      ).to.equal('confirmed')
  }

  async function runFlow(
    payer: RegisteredTestAgent,
    sign?: (op: AssignmentResponse['chain_ops'][number]) => Promise<string>,
  ) {
    const app = chain.app
    const worker = await registerAgent(app)
    const job = await postJob(app, payer.apiKey)
    const bid = await postBid(app, worker.apiKey, job.job_id, { amount: '10' })
    const awarded = await request(app)
      .post(`/v1/jobs/${job.job_id}/award`)
      .set('Authorization', bearer(payer.apiKey))
      .send({ bid_id: bid.bid_id })
      .expect(200)
    const assignment = awarded.body.assignment as AssignmentResponse
    expect(await balances(payer)).to.include({ available: '40', escrowed: '10' })
    expect(await chain.reconciliationDifference()).to.equal(0n)
    const signOp = async (op: AssignmentResponse['chain_ops'][number]) => {
      await request(app)
        .post(`/v1/assignments/${assignment.assignment_id}/escrow-signature`)
        .set('Authorization', bearer(payer.apiKey))
        .send({ kind: op.kind, signature: await sign!(op) })
        .expect(200)
    }
    // A self-custody payer signs the lock before any work starts.
    if (sign) await signOp(assignment.chain_ops[0]!)
    await postSubmit(app, worker.apiKey, job.job_id)
    const accepted = await request(app)
      .post(`/v1/jobs/${job.job_id}/accept`)
      .set('Authorization', bearer(payer.apiKey))
      .expect(200)
    const ops = accepted.body.assignments[0].chain_ops as AssignmentResponse['chain_ops']
    if (sign) await signOp(ops.find((op) => op.kind === 'escrow_release')!)
    // The release names the escrow's place in the vault, so it waits, signed, for the lock to land;
    // the worker's pay is booked, unsettled, until the release itself lands.
    const after = await request(app)
      .get(`/v1/assignments/${assignment.assignment_id}`)
      .set('Authorization', bearer(payer.apiKey))
      .expect(200)
    expect(
      after.body.chain_ops.map((op: { kind: string; status: string }) => `${op.kind}:${op.status}`),
    ).to.deep.equal(['escrow_lock:pending', 'escrow_release:signed'])
    expect(await balances(worker)).to.include({ available: '0', unsettled: '9.9' })
    return { worker, assignment }
  }

  async function expectPaidOnChain(
    worker: RegisteredTestAgent,
    assignment: AssignmentResponse,
    payer: RegisteredTestAgent,
  ): Promise<void> {
    expect(await chain.vaultBalanceOf(worker.agent.wallet_address)).to.equal(9_900_000n)
    expect(await chain.vaultBalanceOf(payer.agent.wallet_address)).to.equal(40_000_000n)
    const located = await locateEscrow(chain.context.pool, chain.deployment.chainId, assignment.escrow_id!)
    expect(located, 'the escrow lock was indexed').to.not.equal(null)
    const isClosed = await chain.client.readContract({
      address: chain.vault,
      abi: clearhouseVaultAbi,
      functionName: 'isEscrowClosed',
      args: [located!.position.setId, located!.position.index],
    })
    expect(isClosed, 'the escrow is paid out on the vault').to.equal(true)
    const view = await request(chain.app)
      .get(`/v1/assignments/${assignment.assignment_id}`)
      .set('Authorization', bearer(payer.apiKey))
      .expect(200)
    expect(view.body.chain_ops.map((op: { status: string }) => op.status)).to.deep.equal([
      'confirmed',
      'confirmed',
    ])
    expect(await balances(payer)).to.include({ available: '40', escrowed: '0' })
    expect(await balances(worker)).to.include({ available: '9.9', escrowed: '0', unsettled: '0' })
    expect(await chain.reconciliationDifference()).to.equal(0n)
  }

  it("credits a managed payer's on-chain deposit, settles its coordinator-signed escrow on the vault, and reconciles to zero", async function () {
    this.timeout(120_000)
    const payer = await registerAgent(chain.app)
    await chain.fund(payer.agent.wallet_address, 50_000_000n)
    expect(await balances(payer)).to.include({ available: '50', escrowed: '0' })
    expect(await chain.reconciliationDifference()).to.equal(0n)
    const { worker, assignment } = await runFlow(payer)
    await settle()
    await expectPaidOnChain(worker, assignment, payer)
  })

  it("settles a self-custody payer's own signatures on the vault after its own on-chain deposit", async function () {
    this.timeout(120_000)
    const payer = await registerAgent(chain.app, { account: selfCustody })
    await chain.depositOnChain(selfCustody.address, 50_000_000n, selfCustody)
    await chain.index()
    expect(await balances(payer)).to.include({ available: '50' })
    const { worker, assignment } = await runFlow(payer, (op) =>
      selfCustody.signTypedData(toViemTypedData(op.typed_data as TypedDataJson)),
    )
    await settle()
    await expectPaidOnChain(worker, assignment, payer)
  })
})
