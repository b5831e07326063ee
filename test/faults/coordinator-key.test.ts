import { expect } from 'chai'
import pino from 'pino'
import request from 'supertest'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { clearhouseDomain, clearhouseTypes } from '../../protocol/typed-data'
import { clearhouseVaultAbi } from '../../protocol/vault-abi'
import type { AssignmentResponse } from '../../protocol/assignments'
import {
  findInFlightBatch,
  insertBatch,
  selectPendingOps,
} from '../../server/chain/settler/chain-ops-queries'
import { computeOpsRoot } from '../../protocol/settlements'
import { CoordinatorKeyMismatchError, Settler } from '../../server/chain/settler/settler'
import { loadConfig } from '../../server/config'
import { startCoordinator } from '../../server/coordinator'
import { withTransaction } from '../../server/db/pool'
import { ConfigError } from '../../server/errors'
import { bearer, registerAgent } from '../server/helpers/agents'
import { hardhatRpcUrl, walletFor } from '../server/helpers/chain'
import { createChainTestApp, type ChainTestApp } from '../server/helpers/chain-app'
import { createTestDatabase, type TestDatabase } from '../server/helpers/database'
import { postBid, postJob } from '../server/helpers/jobs'

const USDC = 1_000_000n

/**
 * Found by an operator: one start with a wrong COORDINATOR_PRIVATE_KEY signed a batch the vault
 * refuses, and the settler re-sent it with its stored signature forever, even after a restart
 * with the right key. Now a wrong key refuses to start, a settler never signs with one, and a
 * batch that can never land is signed again by the coordinator.
 */
describe('the coordinator key', () => {
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

  it('refuses to start with a COORDINATOR_PRIVATE_KEY that is not the vault\u2019s coordinator, in one line naming both', async function () {
    this.timeout(60_000)
    const wrongKey = generatePrivateKey()
    const config = loadConfig({
      DATABASE_URL: database.url,
      RPC_URL: await hardhatRpcUrl(),
      COORDINATOR_PRIVATE_KEY: wrongKey,
      WALLET_ENCRYPTION_KEY: '07'.repeat(32),
      PORT: '0',
      LOG_LEVEL: 'silent',
      WORKERS_ENABLED: 'false',
    })
    const started = startCoordinator({ config, deployment: chain.deployment })
    const error = await started.then(
      () => null,
      (failure: unknown) => failure,
    )
    expect(error).to.be.instanceOf(ConfigError)
    const message = (error as Error).message
    expect(message).to.equal(
      `invalid COORDINATOR_PRIVATE_KEY: its address ${privateKeyToAccount(wrongKey).address} is not the vault's coordinator ${chain.context.coordinatorAccount!.address}`,
    )
    expect(message).to.not.include('\n')
  })

  it('starts with the right key', async function () {
    this.timeout(60_000)
    const config = loadConfig({
      DATABASE_URL: database.url,
      RPC_URL: await hardhatRpcUrl(),
      // Hardhat's account #0, the test vault's coordinator.
      COORDINATOR_PRIVATE_KEY: '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80',
      WALLET_ENCRYPTION_KEY: '07'.repeat(32),
      PORT: '0',
      LOG_LEVEL: 'silent',
      WORKERS_ENABLED: 'false',
    })
    const coordinator = await startCoordinator({ config, deployment: chain.deployment })
    await coordinator.stop()
  })

  it('a settler holding another key signs nothing and says whose key the vault wants', async function () {
    const wrong = privateKeyToAccount(generatePrivateKey())
    const settler = new Settler({
      pool: database.pool,
      publicClient: chain.client,
      walletClient: await walletFor(wrong),
      account: wrong,
      chainId: chain.deployment.chainId,
      vault: chain.vault,
      maxBatchAgeMs: 0,
      logger: pino({ level: 'silent' }),
    })
    await queueLock()
    const failure = await settler.settleOnce().then(
      () => null,
      (error: unknown) => error,
    )
    expect(failure).to.be.instanceOf(CoordinatorKeyMismatchError)
    expect(await findInFlightBatch(database.pool, chain.deployment.chainId), 'no batch prepared').to.equal(
      null,
    )
    await settler.resign()
    await chain.settle()
  })

  it('signs again, and lands, a batch stored with a signature the vault refuses (no database edit)', async function () {
    this.timeout(60_000)
    const { payer, assignmentId } = await queueLock()
    // What a start with the wrong key left behind: the batch recorded with that key's signature.
    const wrong = privateKeyToAccount(generatePrivateKey())
    const chainId = chain.deployment.chainId
    await withTransaction(database.pool, async (db) => {
      const ops = await selectPendingOps(db, chainId, 100)
      const opsRoot = computeOpsRoot(ops)
      const batchNumber =
        BigInt(
          await chain.client.readContract({
            address: chain.vault,
            abi: clearhouseVaultAbi,
            functionName: 'lastBatchNumber',
          }),
        ) + 1n
      const coordinatorSignature = await wrong.signTypedData({
        domain: clearhouseDomain(chainId, chain.vault),
        types: { Batch: clearhouseTypes.Batch },
        primaryType: 'Batch',
        message: { batchNumber, opsRoot },
      })
      await insertBatch(db, chainId, {
        batchNumber,
        opsRoot,
        coordinatorSignature,
        opIds: ops.map((op) => op.id),
      })
    })

    const results = await chain.settle()
    expect(results[0]).to.include({ outcome: 'confirmed' })
    const assignment = await request(chain.app)
      .get(`/v1/assignments/${assignmentId}`)
      .set('Authorization', bearer(payer.apiKey))
      .expect(200)
    expect((assignment.body as AssignmentResponse).chain_ops[0]).to.include({ status: 'confirmed' })
    expect(await chain.reconciliationDifference()).to.equal(0n)
  })

  /** A managed payer's award: one escrow lock queued for the settler. */
  async function queueLock() {
    const payer = await registerAgent(chain.app)
    const worker = await registerAgent(chain.app)
    await chain.fund(payer.agent.wallet_address, 20n * USDC)
    const job = await postJob(chain.app, payer.apiKey)
    const bid = await postBid(chain.app, worker.apiKey, job.job_id, { amount: '5' })
    const awarded = await request(chain.app)
      .post(`/v1/jobs/${job.job_id}/award`)
      .set('Authorization', bearer(payer.apiKey))
      .send({ bid_id: bid.bid_id })
      .expect(200)
    return { payer, assignmentId: (awarded.body.assignment as AssignmentResponse).assignment_id }
  }
})
