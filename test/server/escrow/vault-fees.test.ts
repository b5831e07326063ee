import { expect } from 'chai'
import { createTestClient, http } from 'viem'
import type { AssignmentResponse } from '../../../protocol/assignments'
import { clearhouseVaultAbi } from '../../../protocol/vault-abi'
import { DEFAULT_PROTOCOL_FEE_BPS } from '../../../server/chain/vault-fees'
import { registerAgent, type RegisteredTestAgent } from '../helpers/agents'
import { hardhatRpcUrl, walletFor } from '../helpers/chain'
import { coordinatorAccount, createChainTestApp, type ChainTestApp } from '../helpers/chain-app'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { postAward, postBid, postJob } from '../helpers/jobs'

describe("escrow fees come from the vault's configuration", () => {
  let database: TestDatabase
  let chain: ChainTestApp
  let payer: RegisteredTestAgent

  before(async function () {
    this.timeout(120_000)
    database = await createTestDatabase()
    chain = await createChainTestApp(database)
    payer = await registerAgent(chain.app)
    await chain.fund(payer.agent.wallet_address, 100_000_000n)
  })
  after(async () => {
    await chain.stop()
    await database.drop()
  })

  async function awardedLockFeeBps(): Promise<number> {
    const worker = await registerAgent(chain.app)
    const job = await postJob(chain.app, payer.apiKey)
    const bid = await postBid(chain.app, worker.apiKey, job.job_id, { amount: '5' })
    const awarded = await postAward(chain.app, payer.apiKey, job.job_id, bid.bid_id)
    const assignment = (awarded as { assignment: AssignmentResponse }).assignment
    return Number(assignment.chain_ops[0]!.typed_data.message.feeBps)
  }

  async function vaultCall(functionName: 'proposeFee' | 'applyFee', args: readonly unknown[]) {
    const wallet = await walletFor(coordinatorAccount)
    const hash = await wallet.writeContract({
      address: chain.vault,
      abi: clearhouseVaultAbi,
      functionName: functionName as never,
      args: args as never,
      chain: null,
    })
    await chain.client.waitForTransactionReceipt({ hash })
  }

  it('writes the fee the vault charges into each lock, and the new one once the FeeChanged is indexed', async function () {
    this.timeout(120_000)
    expect(await awardedLockFeeBps()).to.equal(DEFAULT_PROTOCOL_FEE_BPS)

    await vaultCall('proposeFee', [250])
    const adminDelay = await chain.client.readContract({
      address: chain.vault,
      abi: clearhouseVaultAbi,
      functionName: 'adminDelay',
    })
    const testClient = createTestClient({ mode: 'hardhat', transport: http(await hardhatRpcUrl()) })
    await testClient.increaseTime({ seconds: Number(adminDelay) + 1 })
    await testClient.mine({ blocks: 1 })
    await vaultCall('applyFee', [])
    await chain.index()

    expect(await awardedLockFeeBps()).to.equal(250)
    const settled = await chain.settle()
    expect(settled.map((result) => result.outcome)).to.include('confirmed')
    expect(await chain.reconciliationDifference()).to.equal(0n)
  })
})
