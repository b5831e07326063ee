import { expect } from 'chai'
import request from 'supertest'
import { encodeAbiParameters } from 'viem'
import { mnemonicToAccount } from 'viem/accounts'
import { reconciliationResponse } from '../../../protocol/platform'
import { OpKind, opDataAbi, NO_SIGNATURE } from '../../../protocol/typed-data'
import { enqueueChainOp } from '../../../server/chain/settler/chain-ops-queries'
import { withTransaction } from '../../../server/db/pool'
import { creditDeposit } from '../../../server/ledger/ledger-service'
import type { Deployment } from '../../../scripts/lib/deploy-contracts'
import { createTestApp } from '../helpers/app'
import { registerAgent } from '../helpers/agents'
import { deployTestVault, hardhatPublicClient, mockUsdc, vaultContract, walletFor } from '../helpers/chain'
import { createTestDatabase, type TestDatabase } from '../helpers/database'

const depositor = mnemonicToAccount('test test test test test test test test test test test junk', {
  addressIndex: 6,
})

describe('GET /v1/platform/reconciliation', () => {
  let database: TestDatabase
  let deployment: Deployment

  beforeEach(async () => {
    database = await createTestDatabase()
    deployment = await deployTestVault()
  })
  afterEach(async () => {
    await database.drop()
  })

  async function appWithChain() {
    return createTestApp(database, { client: await hardhatPublicClient(), deployment })
  }

  async function depositOnChain(amount: bigint): Promise<void> {
    const usdc = await mockUsdc(deployment.contracts.MockUSDC!)
    const vault = await vaultContract(deployment.contracts.ClearhouseVault!)
    await usdc.write.mint([depositor.address, amount])
    const wallet = await walletFor(depositor)
    await wallet.writeContract({
      address: usdc.address,
      abi: usdc.abi,
      functionName: 'approve',
      args: [vault.address, amount],
      chain: null,
    })
    await wallet.writeContract({
      address: vault.address,
      abi: vault.abi,
      functionName: 'deposit',
      args: [usdc.address, amount],
      chain: null,
    })
  }

  it('reads zero when the ledger owes exactly what the vault holds', async () => {
    const { app } = await appWithChain()
    const { agent } = await registerAgent(app)
    await depositOnChain(12_500_000n)
    await withTransaction(database.pool, (db) =>
      creditDeposit(db, {
        agentId: agent.id,
        token: deployment.contracts.MockUSDC!,
        amount: 12_500_000n,
        reference: 'dep-1',
      }),
    )
    const res = await request(app).get('/v1/platform/reconciliation').expect(200)
    const body = reconciliationResponse.parse(res.body)
    expect(body.tokens).to.have.length(1)
    expect(body.tokens[0]).to.include({
      token: 'USDC',
      on_chain: '12.5',
      ledger: '12.5',
      difference: '0',
      is_balanced: true,
    })
  })

  it('shows a deposit the ledger has not credited as a positive difference, and sets the metric', async () => {
    const { app } = await appWithChain()
    await depositOnChain(3_000_000n)
    const res = await request(app).get('/v1/platform/reconciliation').expect(200)
    expect(res.body.tokens[0]).to.include({ on_chain: '3', ledger: '0', difference: '3', is_balanced: false })
    const metrics = await request(app).get('/metrics').expect(200)
    expect(metrics.text).to.match(/clearhouse_reconciliation_difference\{token="USDC"\} 3000000/)
  })

  it('counts a queued fast withdrawal as in flight until it settles', async () => {
    const { app } = await appWithChain()
    await depositOnChain(5_000_000n)
    const withdrawal = {
      account: depositor.address,
      token: deployment.contracts.MockUSDC!,
      amount: 2_000_000n,
      to: depositor.address,
      nonce: 1n,
      deadline: 2n ** 40n,
    }
    await enqueueChainOp(database.pool, {
      chainId: deployment.chainId,
      kind: OpKind.Withdrawal,
      data: encodeAbiParameters(opDataAbi[OpKind.Withdrawal], [withdrawal, NO_SIGNATURE]),
      reference: 'withdrawal-1',
    })
    const res = await request(app).get('/v1/platform/reconciliation').expect(200)
    // Nothing credited in the ledger: 5 on-chain = 0 owed + 2 in flight + 3 unexplained.
    expect(res.body.tokens[0]).to.include({ on_chain: '5', in_flight: '2', difference: '3' })
  })

  it('reports no tokens when the coordinator runs without a chain', async () => {
    const { app } = await createTestApp(database)
    const res = await request(app).get('/v1/platform/reconciliation').expect(200)
    expect(res.body).to.include({ block_number: null })
    expect(res.body.tokens).to.deep.equal([])
  })
})
