import { expect } from 'chai'
import pino from 'pino'
import {
  encodeAbiParameters,
  encodeErrorResult,
  keccak256,
  parseEventLogs,
  toHex,
  createPublicClient,
  custom,
  type PrivateKeyAccount,
  type PublicClient,
} from 'viem'
import { mnemonicToAccount } from 'viem/accounts'
import {
  clearhouseDomain,
  clearhouseTypes,
  OpKind,
  opDataAbi,
  toCompactSignature,
} from '../../../protocol/typed-data'
import { clearhouseVaultAbi } from '../../../protocol/vault-abi'
import { batchSettledHandler, opSkippedHandler } from '../../../server/chain/settler/batch-settled-handler'
import { enqueueChainOp, findChainOp, insertBatch } from '../../../server/chain/settler/chain-ops-queries'
import { computeOpsRoot } from '../../../protocol/settlements'
import { Settler, type SettlerRoundHooks } from '../../../server/chain/settler/settler'
import type { Deployment } from '../../../scripts/lib/deploy-contracts'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { crashAfterSend, SimulatedCrash } from '../helpers/settler-crash'
import {
  deployTestVault,
  hardhatPublicClient,
  hardhatRpcUrl,
  mine,
  mockUsdc,
  revertTo,
  snapshot,
  vaultContract,
  walletFor,
} from '../helpers/chain'

const MNEMONIC = 'test test test test test test test test test test test junk'
const coordinator = mnemonicToAccount(MNEMONIC, { addressIndex: 0 })
const payer = mnemonicToAccount(MNEMONIC, { addressIndex: 4 })
const payee = mnemonicToAccount(MNEMONIC, { addressIndex: 5 })
const ZERO_ADDRESS = '0x0000000000000000000000000000000000000000'

describe('Settler', () => {
  let database: TestDatabase
  let deployment: Deployment
  let vaultAddress: `0x${string}`
  let usdcAddress: `0x${string}`

  beforeEach(async () => {
    database = await createTestDatabase()
    deployment = await deployTestVault()
    vaultAddress = deployment.contracts.ClearhouseVault!
    usdcAddress = deployment.contracts.MockUSDC!
    const usdc = await mockUsdc(usdcAddress)
    const vault = await vaultContract(vaultAddress)
    await usdc.write.mint([payer.address, 1_000_000_000n])
    const payerWallet = await walletFor(payer)
    await payerWallet.writeContract({
      address: usdcAddress,
      abi: usdc.abi,
      functionName: 'approve',
      args: [vaultAddress, 1_000_000_000n],
      chain: null,
    })
    await payerWallet.writeContract({
      address: vaultAddress,
      abi: vault.abi,
      functionName: 'deposit',
      args: [usdcAddress, 1_000_000_000n],
      chain: null,
    })
  })
  afterEach(async () => {
    await database.drop()
  })

  async function settler(
    overrides: {
      maxBatchSize?: number
      maxBatchGas?: bigint
      roundHooks?: SettlerRoundHooks
      useGasModel?: boolean
      modelGas?: (ops: readonly { kind: OpKind }[]) => bigint
      publicClient?: PublicClient
    } = {},
  ): Promise<Settler> {
    return new Settler({
      pool: database.pool,
      publicClient: overrides.publicClient ?? (await hardhatPublicClient()),
      useGasModel: overrides.useGasModel,
      modelGas: overrides.modelGas,
      walletClient: await walletFor(coordinator),
      account: coordinator,
      chainId: deployment.chainId,
      vault: vaultAddress,
      maxBatchSize: overrides.maxBatchSize ?? 100,
      maxBatchGas: overrides.maxBatchGas,
      maxBatchAgeMs: 0,
      logger: pino({ level: 'silent' }),
      roundHooks: overrides.roundHooks,
    })
  }

  /** The lock terms of the escrow named `label`: its own payer nonce, derived from the label. */
  function escrowTerms(label: string, amount: bigint) {
    return {
      payer: payer.address,
      payee: payee.address,
      token: usdcAddress,
      amount,
      resolver: ZERO_ADDRESS,
      feeBps: 100,
      resolverFeeBps: 0,
      // Far ahead of any clock: other files move the shared chain's clock forward.
      expiry: 2n ** 40n,
      nonce: BigInt(keccak256(toHex(label))),
      partialRelease: false,
    } as const
  }

  /** A payer-signed escrow lock, encoded as the op the settler sends. */
  async function escrowLockOp(
    label: string,
    amount: bigint,
    signer: PrivateKeyAccount | typeof payer = payer,
  ): Promise<`0x${string}`> {
    const terms = escrowTerms(label, amount)
    const signature = await signer.signTypedData({
      domain: clearhouseDomain(deployment.chainId, vaultAddress),
      types: { EscrowLock: clearhouseTypes.EscrowLock },
      primaryType: 'EscrowLock',
      message: terms,
    })
    return encodeAbiParameters(opDataAbi[OpKind.EscrowLock], [terms, toCompactSignature(signature)])
  }

  async function enqueueLock(label: string, amount: bigint, signer?: typeof payer): Promise<void> {
    await enqueueChainOp(database.pool, {
      chainId: deployment.chainId,
      kind: OpKind.EscrowLock,
      data: await escrowLockOp(label, amount, signer),
      reference: label,
    })
  }

  async function lastBatchNumber(): Promise<bigint> {
    return BigInt(
      await (
        await hardhatPublicClient()
      ).readContract({
        address: vaultAddress,
        abi: clearhouseVaultAbi,
        functionName: 'lastBatchNumber',
      }),
    )
  }

  /** The amount the vault locked in the escrow named `label` (from its `EscrowLocked` log), or 0. */
  async function escrowAmount(label: string): Promise<bigint> {
    const logs = await (
      await hardhatPublicClient()
    ).getContractEvents({
      address: vaultAddress,
      abi: clearhouseVaultAbi,
      eventName: 'EscrowLocked',
      fromBlock: 0n,
    })
    // Each label has its own payer nonce, which the log carries.
    const locked = logs.find((log) => log.args.nonce === escrowTerms(label, 0n).nonce)
    return locked?.args.amount ?? 0n
  }

  it('settles queued ops in one signed batch whose event root recomputes from the ops', async () => {
    await enqueueLock('job-1', 10_000_000n)
    await enqueueLock('job-2', 20_000_000n)
    const [result] = await (await settler()).drain()
    expect(result).to.include({ outcome: 'confirmed', opCount: 2, recovered: false })
    expect(await lastBatchNumber()).to.equal(1n)
    expect(await escrowAmount('job-1')).to.equal(10_000_000n)
    expect(await escrowAmount('job-2')).to.equal(20_000_000n)

    const receipt = await (
      await hardhatPublicClient()
    ).getTransactionReceipt({
      hash: (result as { txHash: `0x${string}` }).txHash,
    })
    const [settled] = parseEventLogs({
      abi: clearhouseVaultAbi,
      logs: receipt.logs,
      eventName: 'BatchSettled',
    })
    const { rows } = await database.pool.query('SELECT kind, data FROM chain_ops ORDER BY id')
    const ops = rows.map((row) => ({ kind: row.kind as OpKind, data: row.data as `0x${string}` }))
    expect(settled!.args.opsRoot).to.equal(computeOpsRoot(ops))
    expect((await findChainOp(database.pool, 'job-1'))!.status).to.equal('confirmed')
  })

  it('queues an op once however often the same reference is enqueued', async () => {
    await enqueueLock('job-1', 5n)
    await enqueueLock('job-1', 5n)
    const [result] = await (await settler()).drain()
    expect(result).to.include({ outcome: 'confirmed', opCount: 1 })
  })

  it('isolates a bad op, marks it failed with its reason, and settles the rest', async () => {
    await enqueueLock('good-1', 1_000_000n)
    await enqueueLock('forged', 1_000_000n, payee)
    await enqueueLock('good-2', 2_000_000n)
    const results = await (await settler()).drain()
    expect(results.map((r) => r.outcome)).to.deep.equal(['op-failed', 'confirmed'])
    const forged = await findChainOp(database.pool, 'forged')
    expect(forged!.status).to.equal('failed')
    expect(forged!.failureReason).to.match(/^JobEscrowInvalidSignature|Invalid|Signature/)
    expect(await escrowAmount('good-1')).to.equal(1_000_000n)
    expect(await escrowAmount('good-2')).to.equal(2_000_000n)
    expect(await escrowAmount('forged')).to.equal(0n)
    expect(await lastBatchNumber()).to.equal(1n)
  })

  it('after a crash between sending and recording, recognises the landed batch instead of resending it', async () => {
    await enqueueLock('job-1', 3_000_000n)
    const crashing = await settler({ roundHooks: crashAfterSend })
    let crashed = false
    await crashing.settleOnce().catch((error) => (crashed = error instanceof SimulatedCrash))
    expect(crashed).to.equal(true)
    await crashing.resign()

    const nonceBefore = await (
      await hardhatPublicClient()
    ).getTransactionCount({ address: coordinator.address })
    const [result] = await (await settler()).drain()
    expect(result).to.include({ outcome: 'confirmed', recovered: true, batchNumber: 1n })
    expect(
      await (await hardhatPublicClient()).getTransactionCount({ address: coordinator.address }),
    ).to.equal(nonceBefore)
    expect(await lastBatchNumber()).to.equal(1n)
    expect(await escrowAmount('job-1')).to.equal(3_000_000n)
    expect((await findChainOp(database.pool, 'job-1'))!.status).to.equal('confirmed')
  })

  it('sends a settled batch again, unchanged, after a reorg drops it from the chain', async () => {
    const beforeSettlement = await snapshot()
    await enqueueLock('job-1', 4_000_000n)
    const active = await settler()
    const [first] = await active.drain()
    expect(first).to.include({ outcome: 'confirmed', batchNumber: 1n })
    const signed = await database.pool.query('SELECT coordinator_signature FROM settlement_batches')

    await revertTo(beforeSettlement)
    await mine(3)
    expect(await lastBatchNumber()).to.equal(0n)
    expect(await escrowAmount('job-1')).to.equal(0n)

    await enqueueLock('job-2', 1_000_000n)
    const results = await active.drain()
    expect(results.map((r) => r.outcome === 'confirmed' && r.batchNumber)).to.deep.equal([1n, 2n])
    expect(results[0]).to.include({ recovered: true })
    expect(await lastBatchNumber()).to.equal(2n)
    expect(await escrowAmount('job-1')).to.equal(4_000_000n)
    expect(await escrowAmount('job-2')).to.equal(1_000_000n)
    const resent = await database.pool.query(
      'SELECT coordinator_signature FROM settlement_batches WHERE batch_number = 1',
    )
    expect(resent.rows[0].coordinator_signature).to.equal(signed.rows[0].coordinator_signature)
    expect((await findChainOp(database.pool, 'job-1'))!.status).to.equal('confirmed')
  })

  /** A client over the in-process chain that counts each JSON-RPC method it is asked. */
  async function countingClient(): Promise<{ client: PublicClient; calls: Map<string, number> }> {
    const calls = new Map<string, number>()
    const url = await hardhatRpcUrl()
    const client = createPublicClient({
      transport: custom({
        async request({ method, params }: { method: string; params?: unknown }) {
          calls.set(method, (calls.get(method) ?? 0) + 1)
          const res = await fetch(url, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: params ?? [] }),
          })
          const body = (await res.json()) as {
            result?: unknown
            error?: { code: number; message: string; data?: unknown }
          }
          if (body.error) throw Object.assign(new Error(body.error.message), body.error)
          return body.result
        },
      }),
    }) as PublicClient
    return { client, calls }
  }

  it('sizes batches to the gas budget by the gas model and asks the node for no estimate', async () => {
    for (let i = 0; i < 6; i += 1) await enqueueLock(`job-${i}`, 1_000n)
    const { client, calls } = await countingClient()
    const results = await (await settler({ maxBatchGas: 250_000n, publicClient: client })).drain()
    expect(results.map((r) => r.outcome)).to.deep.equal(['confirmed', 'confirmed', 'confirmed'])
    expect(results.map((r) => (r.outcome === 'confirmed' ? r.opCount : 0))).to.deep.equal([2, 2, 2])
    for (const result of results) {
      if (result.outcome !== 'confirmed') continue
      expect(result.gas!.source).to.equal('model')
      expect(result.gas!.used <= result.gas!.budget, 'the model bounds what the batch used').to.equal(true)
      expect(result.gas!.budget <= 250_000n).to.equal(true)
    }
    expect(calls.get('eth_estimateGas') ?? 0).to.equal(0)
    expect(calls.get('eth_call'), 'each batch is still simulated').to.be.greaterThan(0)
    for (let i = 0; i < 6; i += 1) expect(await escrowAmount(`job-${i}`)).to.equal(1_000n)
  })

  it('asks the node once a batch the gas model priced short fails to land, and sends it again', async () => {
    await enqueueLock('job-short', 1_000n)
    await enqueueLock('job-after', 1_000n)
    const { client, calls } = await countingClient()
    // A model far below what a lock costs: the node refuses its batch, or it runs out of gas.
    const short = await settler({ modelGas: () => 40_000n, publicClient: client, maxBatchSize: 1 })
    const first = await short.settleOnce().catch((error: Error) => ({ outcome: error.name }))
    expect(first.outcome).to.be.oneOf(['waiting', 'ContractFunctionExecutionError'])
    expect(calls.get('eth_estimateGas') ?? 0).to.equal(0)
    expect(await lastBatchNumber()).to.equal(0n)
    const results = await short.drain()
    expect(results.map((r) => r.outcome)).to.deep.equal(['confirmed', 'confirmed'])
    for (const result of results) {
      if (result.outcome === 'confirmed') expect(result.gas!.source).to.equal('node')
    }
    expect(calls.get('eth_estimateGas')).to.equal(2)
    expect(await escrowAmount('job-short')).to.equal(1_000n)
    expect(await escrowAmount('job-after')).to.equal(1_000n)
  })

  it('on the node’s estimates, splits a batch estimated above its gas budget and sends every op in smaller batches', async () => {
    for (let i = 0; i < 6; i += 1) await enqueueLock(`job-${i}`, 1_000n)
    const results = await (await settler({ maxBatchGas: 250_000n, useGasModel: false })).drain()
    expect(results[0]).to.include({ outcome: 'split', opCount: 6, nextBatchSize: 3 })
    const confirmed = results.filter((r) => r.outcome === 'confirmed')
    expect(confirmed.map((r) => r.opCount)).to.deep.equal([3, 3])
    const client = await hardhatPublicClient()
    for (const result of confirmed) {
      const receipt = await client.getTransactionReceipt({ hash: result.txHash! })
      expect(receipt.gasUsed < 250_000n).to.equal(true)
    }
    expect(await lastBatchNumber()).to.equal(2n)
    for (let i = 0; i < 6; i += 1) expect(await escrowAmount(`job-${i}`)).to.equal(1_000n)
  })

  it('settles 100 queued escrow locks under the chain’s per-transaction gas cap with the default settings', async function () {
    this.timeout(120_000)
    for (let i = 0; i < 100; i += 1) await enqueueLock(`bulk-${i}`, 1_000n)
    const results = await (await settler()).drain()
    const confirmed = results.filter((r) => r.outcome === 'confirmed')
    expect(confirmed.reduce((sum, r) => sum + r.opCount, 0)).to.equal(100)
    const { rows } = await database.pool.query(
      "SELECT count(*)::int AS n FROM chain_ops WHERE status = 'confirmed'",
    )
    expect(rows[0].n).to.equal(100)
    expect(await escrowAmount('bulk-99')).to.equal(1_000n)
  })

  it('confirms a recorded batch from its BatchSettled log only when the ops root matches', async () => {
    await enqueueLock('job-1', 1_000n)
    await insertBatch(database.pool, deployment.chainId, {
      batchNumber: 1n,
      opsRoot: keccak256(toHex('recorded ops')),
      coordinatorSignature: '0x00',
      opIds: [(await findChainOp(database.pool, 'job-1'))!.id],
    })
    const handler = batchSettledHandler(pino({ level: 'silent' }))
    const log = (opsRoot: `0x${string}`, txHash: `0x${string}`) => ({
      chainId: deployment.chainId,
      txHash,
      logIndex: 0,
      blockNumber: 7n,
      blockHash: keccak256(toHex('block')),
      contract: vaultAddress,
      eventName: 'BatchSettled',
      args: { batchNumber: '1', opsRoot, opCount: '0' },
    })
    const status = async () =>
      (await database.pool.query('SELECT status, settled_tx_hash FROM settlement_batches')).rows[0]
    await handler.apply(database.pool, log(keccak256(toHex('other ops')), keccak256(toHex('tx-a'))))
    expect(await status()).to.include({ status: 'prepared', settled_tx_hash: null })
    const landed = log(keccak256(toHex('recorded ops')), keccak256(toHex('tx-b')))
    await handler.apply(database.pool, landed)
    expect(await status()).to.include({ status: 'confirmed', settled_tx_hash: landed.txHash })
    expect((await findChainOp(database.pool, 'job-1'))!.status).to.equal('confirmed')
    await handler.undo(database.pool, landed)
    expect(await status()).to.include({ settled_tx_hash: null })
  })

  it('marks the op an OpSkipped log names failed with its decoded reason, keeping its batch, and undoes it on a reorg', async () => {
    for (const label of ['job-1', 'job-2', 'job-3']) await enqueueLock(label, 1_000n)
    const opIds = await Promise.all(
      ['job-1', 'job-2', 'job-3'].map(async (label) => (await findChainOp(database.pool, label))!.id),
    )
    await insertBatch(database.pool, deployment.chainId, {
      batchNumber: 1n,
      opsRoot: keccak256(toHex('ops')),
      coordinatorSignature: '0x00',
      opIds,
    })
    const handler = opSkippedHandler(pino({ level: 'silent' }))
    const reason = encodeErrorResult({
      abi: clearhouseVaultAbi,
      errorName: 'VaultNonceUsed',
      args: [payer.address, 5n],
    })
    const log = {
      chainId: deployment.chainId,
      txHash: keccak256(toHex('tx')),
      logIndex: 0,
      blockNumber: 7n,
      blockHash: keccak256(toHex('block')),
      contract: vaultAddress,
      eventName: 'OpSkipped',
      args: { batchNumber: '1', index: '1', reason },
    }
    await handler.apply(database.pool, log)
    const skipped = await findChainOp(database.pool, 'job-2')
    expect(skipped).to.include({ status: 'failed', batchNumber: 1n })
    expect(skipped!.failureReason).to.equal(`VaultNonceUsed(${payer.address}, 5)`)
    expect((await findChainOp(database.pool, 'job-1'))!.status).to.equal('batched')
    expect((await findChainOp(database.pool, 'job-3'))!.status).to.equal('batched')

    await handler.undo(database.pool, log)
    expect(await findChainOp(database.pool, 'job-2')).to.include({ status: 'batched', failureReason: null })
  })

  it('lets only one of two settlers on one database send, so no batch is sent twice', async () => {
    for (let i = 0; i < 6; i += 1) await enqueueLock(`job-${i}`, 1_000n)
    const [first, second] = [await settler({ maxBatchSize: 2 }), await settler({ maxBatchSize: 2 })]
    const nonceBefore = await (
      await hardhatPublicClient()
    ).getTransactionCount({ address: coordinator.address })
    const [a, b] = await Promise.all([first.drain(), second.drain()])
    const confirmed = [...a, ...b].filter((r) => r.outcome === 'confirmed')
    expect(confirmed).to.have.length(3)
    expect(await lastBatchNumber()).to.equal(3n)
    expect(
      await (await hardhatPublicClient()).getTransactionCount({ address: coordinator.address }),
    ).to.equal(nonceBefore + 3)
  })
})
