/**
 * Throughput of the chain bridge on this machine: the settler (queued ops → signed `settleBatch`
 * transactions), the indexer (vault logs → `chain_events` and the deposit handlers' ledger work) and
 * reconciliation. It prints figures, not pass/fail, and writes them to bench/bridge.json.
 *
 * Run with `npm run bench:bridge` (`hardhat run scripts/bench/bridge.ts`). Sizes come from
 * BENCH_OPS (settler ops, default 1000), BENCH_DEPOSITS (default 10,000), BENCH_DEPOSITS_PER_BLOCK
 * (default 100) and BENCH_RECONCILE_RUNS (default 20); `hardhat run` rejects flags it does not know, so
 * `--ops N` / `--deposits N` work only when the file is run directly (`npx ts-node --transpile-only
 * scripts/bench/bridge.ts --ops 500`). The database is a fresh `clearhouse_bench_<pid>` on
 * BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres), dropped at the end.
 *
 * The chain is Hardhat's in-process EDR served over real HTTP JSON-RPC, so the settler, indexer and
 * reconciliation talk to it through the same viem HTTP transport production uses; the chain runs in
 * this process, so its CPU and memory count in every figure here (RSS especially).
 *
 * When a batch of `maxBatchSize` (BENCH_BATCH_SIZE, default 100) cannot be sent, the error is
 * reported and the rest is settled with BENCH_FALLBACK_BATCH_SIZE (default 50): Hardhat's default
 * hardfork (Osaka) caps a transaction at 2^24 gas (EIP-7825), and its eth_estimateGas tries three
 * times the gas a transaction uses, so anything using more than ~5.6M gas (about 60 escrow locks)
 * fails to estimate though it would fit.
 */
import { randomBytes } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import pg from 'pg'
import pino, { type Logger } from 'pino'
import {
  BaseError,
  createPublicClient,
  createWalletClient,
  encodeAbiParameters,
  encodeFunctionData,
  http,
  keccak256,
  maxUint256,
  toHex,
  type PublicClient,
  type Transport,
  type Address,
} from 'viem'
import { mnemonicToAccount, privateKeyToAccount } from 'viem/accounts'
import {
  clearhouseDomain,
  clearhouseTypes,
  OpKind,
  opDataAbi,
  toCompactSignature,
} from '../../protocol/typed-data'
import { registerAgent } from '../../server/agents/agents-service'
import type { AppContext } from '../../server/app-context'
import { chainEventHandlers } from '../../server/chain/chain-event-handlers'
import { readIndexedCursor, VaultIndexer } from '../../server/chain/indexer/vault-indexer'
import {
  dissolveBatch,
  enqueueChainOp,
  findInFlightBatch,
} from '../../server/chain/settler/chain-ops-queries'
import { CHAIN_POLLING_INTERVAL_MS } from '../../server/chain/clients'
import { Settler } from '../../server/chain/settler/settler'
import { migrate } from '../../server/db/migrate'
import { withTransaction } from '../../server/db/pool'
import { createMetrics } from '../../server/metrics'
import { reconcile } from '../../server/reconciliation/reconciliation-service'
import { deployContracts } from '../lib/deploy-contracts'
import {
  BENCH_MNEMONIC,
  benchCoordinator,
  benchMachine,
  createBenchDatabase,
  serveHardhatRpc,
  writeBenchFigures,
} from './bench-setup'

// Required, not imported, so running this file directly (ts-node) builds the HRE from
// hardhat.config.ts exactly as `hardhat run` does.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const hre = require('hardhat') as typeof import('hardhat')

const MNEMONIC = BENCH_MNEMONIC
/** Hardhat account #0 deploys the vault and is its coordinator, as on the embedded dev chain. */
const coordinator = benchCoordinator
const payer = mnemonicToAccount(MNEMONIC, { addressIndex: 4 })
const payee = mnemonicToAccount(MNEMONIC, { addressIndex: 5 })
/** Hardhat account #8, unlocked on the in-process node: mints and deposits for everyone. */
const funder = mnemonicToAccount(MNEMONIC, { addressIndex: 8 })
const ZERO_ADDRESS = '0x0000000000000000000000000000000000000000'
const ESCROW_AMOUNT = 1_000_000n
/** Deposits go round-robin to this many vault accounts; half belong to registered agents. */
const DEPOSIT_ACCOUNTS = 200
// A depositFor costs well under this; a fixed limit skips one eth_estimateGas per setup transaction.
const DEPOSIT_GAS = 200_000

interface Options {
  ops: number
  /** The settler's `maxBatchSize`; the fallback is tried when a batch of this size cannot be sent. */
  batchSize: number
  fallbackBatchSize: number
  deposits: number
  depositsPerBlock: number
  reconcileRuns: number
}

function readOptions(): Options {
  const flag = (name: string): string | undefined => {
    const argv = process.argv
    const index = argv.findIndex((arg) => arg === `--${name}` || arg.startsWith(`--${name}=`))
    if (index < 0) return undefined
    return argv[index]!.includes('=') ? argv[index]!.split('=')[1] : argv[index + 1]
  }
  const positive = (name: string, env: string, fallback: number): number => {
    const raw = flag(name) ?? process.env[env]
    if (raw === undefined) return fallback
    const value = Number(raw)
    if (!Number.isInteger(value) || value <= 0)
      throw new Error(`--${name} / ${env} must be a positive integer`)
    return value
  }
  return {
    ops: positive('ops', 'BENCH_OPS', 1000),
    batchSize: positive('batch-size', 'BENCH_BATCH_SIZE', 100),
    fallbackBatchSize: positive('fallback-batch-size', 'BENCH_FALLBACK_BATCH_SIZE', 50),
    deposits: positive('deposits', 'BENCH_DEPOSITS', 10_000),
    depositsPerBlock: positive('deposits-per-block', 'BENCH_DEPOSITS_PER_BLOCK', 100),
    reconcileRuns: positive('reconcile-runs', 'BENCH_RECONCILE_RUNS', 20),
  }
}

/** JSON-RPC calls and SQL statements with their time, so a slow phase shows where it waits. */
interface Counters {
  rpc: Map<string, { calls: number; ms: number }>
  sql: { statements: number; ms: number }
  /** Statements by their first words, so the costly ones can be told apart. */
  sqlByStatement: Map<string, { calls: number; ms: number }>
  /**
   * The chain's share of the settler's time: from each `eth_sendRawTransaction` to the receipt
   * that answers for it (executing the batch, and on a chain with block times waiting for its block).
   */
  chain: { ms: number; sentAt: number | null }
}

function resetCounters(counters: Counters): void {
  counters.rpc.clear()
  counters.sql = { statements: 0, ms: 0 }
  counters.sqlByStatement.clear()
  counters.chain = { ms: 0, sentAt: null }
}

function rpcSummary(counters: Counters): Record<string, { calls: number; ms: number }> {
  return Object.fromEntries(
    [...counters.rpc.entries()]
      .sort((a, b) => b[1].ms - a[1].ms)
      .map(([method, { calls, ms }]) => [method, { calls, ms: round(ms) }]),
  )
}

function sqlSummary(counters: Counters) {
  const top = [...counters.sqlByStatement.entries()]
    .sort((a, b) => b[1].ms - a[1].ms)
    .slice(0, 12)
    .map(([statement, { calls, ms }]) => ({ statement, calls, ms: round(ms) }))
  return { statements: counters.sql.statements, ms: round(counters.sql.ms), top }
}

function statementKey(text: unknown): string {
  const raw = typeof text === 'string' ? text : ((text as { text?: string } | null)?.text ?? '?')
  return raw.replace(/\s+/g, ' ').trim().slice(0, 80)
}

/** Wraps a viem transport to time each JSON-RPC call (retries included) by method. */
function timedTransport(transport: Transport, counters: Counters): Transport {
  return (parameters) => {
    const inner = transport(parameters)
    const request = async (args: { method: string }, options?: unknown) => {
      const started = performance.now()
      if (args.method === 'eth_sendRawTransaction') counters.chain.sentAt = started
      try {
        const result = await (inner.request as (args: unknown, options?: unknown) => Promise<unknown>)(
          args,
          options,
        )
        if (args.method === 'eth_getTransactionReceipt' && result && counters.chain.sentAt !== null) {
          counters.chain.ms += performance.now() - counters.chain.sentAt
          counters.chain.sentAt = null
        }
        return result
      } finally {
        const entry = counters.rpc.get(args.method) ?? { calls: 0, ms: 0 }
        entry.calls += 1
        entry.ms += performance.now() - started
        counters.rpc.set(args.method, entry)
      }
    }
    return { ...inner, request: request as typeof inner.request }
  }
}

/**
 * Times every statement on every pooled connection: transactions call `client.query` with a
 * promise, `pool.query` calls it with a callback, so both forms are wrapped. The time includes
 * waiting for this process's event loop, which the in-process chain shares.
 */
function timeQueries(pool: pg.Pool, counters: Counters): void {
  pool.on('connect', (client) => {
    const query = client.query.bind(client) as (...args: unknown[]) => unknown
    Object.assign(client, {
      query: (...args: unknown[]) => {
        const started = performance.now()
        const key = statementKey(args[0])
        const done = () => {
          const elapsed = performance.now() - started
          counters.sql.statements += 1
          counters.sql.ms += elapsed
          const entry = counters.sqlByStatement.get(key) ?? { calls: 0, ms: 0 }
          entry.calls += 1
          entry.ms += elapsed
          counters.sqlByStatement.set(key, entry)
        }
        const callback = args[args.length - 1]
        if (typeof callback === 'function') {
          args[args.length - 1] = (...results: unknown[]) => {
            done()
            return (callback as (...results: unknown[]) => unknown)(...results)
          }
          return query(...args)
        }
        const result = query(...args)
        if (result instanceof Promise) return result.finally(done)
        done()
        return result
      },
    })
  })
}

/** Samples RSS while a phase runs; `process.resourceUsage().maxRSS` only knows the whole run. */
function trackPeakRss(): { stop(): { rss: number; heap: number } } {
  const peak = { rss: 0, heap: 0 }
  // The JS heap beside RSS tells Node's memory from the native EDR chain's.
  const sample = () => {
    const usage = process.memoryUsage()
    peak.rss = Math.max(peak.rss, usage.rss)
    peak.heap = Math.max(peak.heap, usage.heapUsed)
  }
  sample()
  const timer = setInterval(sample, 10)
  // A phase that throws must not keep the process alive.
  timer.unref()
  return {
    stop() {
      clearInterval(timer)
      sample()
      return { ...peak }
    },
  }
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
}

const round = (value: number, digits = 1) => Number(value.toFixed(digits))
const mib = (bytes: number) => round(bytes / 1024 / 1024)

async function main(): Promise<void> {
  const options = readOptions()
  const startedAt = performance.now()
  const database = await createBenchDatabase(10)
  const { pool } = database
  const counters: Counters = {
    rpc: new Map(),
    sql: { statements: 0, ms: 0 },
    sqlByStatement: new Map(),
    chain: { ms: 0, sentAt: null },
  }
  timeQueries(pool, counters)
  let rpc: { url: string; close(): Promise<void> } | null = null
  try {
    await migrate(pool)
    rpc = await serveHardhatRpc(hre)
    const rpcUrl = rpc.url
    // The transport of server/chain/clients.ts `createChainClient`, timed.
    const transport = timedTransport(http(rpcUrl, { timeout: 10_000, retryCount: 1 }), counters)
    const client = createPublicClient({
      transport,
      pollingInterval: CHAIN_POLLING_INTERVAL_MS,
    }) as PublicClient
    const figures = await runBench(options, { pool, client, transport, counters })
    const machine = await benchMachine(pool)
    const result = {
      note:
        'figures, not pass/fail; chain = Hardhat in-process EDR over HTTP JSON-RPC in the same process, ' +
        'automine; Postgres as given; rss includes the in-process chain',
      measured_at: new Date().toISOString(),
      machine,
      options,
      ...figures,
      total_seconds: round((performance.now() - startedAt) / 1000),
      process_max_rss_mib: mib(process.resourceUsage().maxRSS * 1024),
    }
    printTable(result)
    writeBenchFigures('bridge', result)
  } finally {
    await rpc?.close()
    await database.drop()
  }
}

async function runBench(
  options: Options,
  io: { pool: pg.Pool; client: PublicClient; transport: Transport; counters: Counters },
) {
  const { pool, client, transport, counters } = io
  const deployment = await deployContracts(hre, { withMockUsdc: true })
  const vault = deployment.contracts.ClearhouseVault!
  const usdc = deployment.contracts.MockUSDC!
  const chainId = deployment.chainId
  const logger = pino({ level: process.env.BENCH_LOG_LEVEL ?? 'silent' })
  const context: AppContext = {
    version: 'bench',
    pool,
    databaseKind: 'postgres',
    chain: { client, deployment },
    coordinatorAccount: coordinator,
    tokens: deployment.tokens,
    isDevChain: true,
    logger,
    metrics: createMetrics(),
    walletEncryptionKey: randomBytes(32),
    authRateLimitPerMinute: 100_000,
    chainWriteRateLimitPerMinute: 100_000,
  }
  const usdcContract = await hre.viem.getContractAt('MockUSDC', usdc)
  const vaultContract = await hre.viem.getContractAt('ClearhouseVault', vault)
  const provider = hre.network.provider

  // ---- setup: agents, then deposits mined `depositsPerBlock` to a block (not timed as a figure)
  const setupStarted = performance.now()
  const registered: Address[] = []
  for (let i = 0; i < DEPOSIT_ACCOUNTS / 2; i += 1) {
    const agent = await registerAgent(context, {})
    registered.push(agent.walletAddress)
  }
  // The other half has no agent yet: their deposits take the unclaimed path.
  const unregistered = Array.from(
    { length: DEPOSIT_ACCOUNTS / 2 },
    (_, i) => privateKeyToAccount(keccak256(toHex(`bench:depositor:${i}`))).address,
  )
  const accounts = registered.flatMap((address, i) => [address, unregistered[i]!])

  // Three runs of `ops` locks: the baseline on node estimates, the gas model, the gas model with blocks every second.
  const escrowTotal = ESCROW_AMOUNT * BigInt(options.ops) * 3n
  const depositAmount = (i: number) => 1_000_000n + BigInt(i)
  let depositTotal = escrowTotal
  for (let i = 0; i < options.deposits + HEAD_DEPOSITS_PER_S * HEAD_SECONDS; i += 1)
    depositTotal += depositAmount(i)
  await usdcContract.write.mint([funder.address, depositTotal], { account: funder.address })
  await usdcContract.write.approve([vault, maxUint256], { account: funder.address })
  // The settler's escrow locks spend the payer's vault balance.
  await vaultContract.write.depositFor([usdc, escrowTotal, payer.address], { account: funder.address })

  const send = (account: Address, amount: bigint) =>
    provider.request({
      method: 'eth_sendTransaction',
      params: [
        {
          from: funder.address,
          to: vault,
          gas: toHex(DEPOSIT_GAS),
          data: encodeFunctionData({
            abi: vaultContract.abi,
            functionName: 'depositFor',
            args: [usdc, amount, account],
          }),
        },
      ],
    })
  const nonceOf = async () =>
    Number(await provider.request({ method: 'eth_getTransactionCount', params: [funder.address, 'latest'] }))
  const expectedNonce = (await nonceOf()) + options.deposits
  await provider.request({ method: 'evm_setAutomine', params: [false] })
  try {
    for (let first = 0; first < options.deposits; first += options.depositsPerBlock) {
      const last = Math.min(options.deposits, first + options.depositsPerBlock)
      for (let i = first; i < last; i += 1) await send(accounts[i % accounts.length]!, depositAmount(i))
      await provider.request({ method: 'evm_mine', params: [] })
    }
    // A block holds only what fits its gas limit; mine until the pool is empty.
    while ((await nonceOf()) < expectedNonce) await provider.request({ method: 'evm_mine', params: [] })
  } finally {
    await provider.request({ method: 'evm_setAutomine', params: [true] })
  }
  const depositSetupSeconds = (performance.now() - setupStarted) / 1000
  const headAfterDeposits = await client.getBlockNumber({ cacheTime: 0 })

  // ---- indexer: catch up from the deployment block with the real handlers; it runs before the
  // settler so this figure is the deposit path alone (the settler's blocks are timed after it)
  const indexer = new VaultIndexer({
    pool,
    client,
    chainId,
    vault,
    deploymentBlock: BigInt(deployment.deploymentBlock),
    confirmations: 0,
    maxBlockRange: BACKFILL_BLOCK_RANGE,
    handlers: chainEventHandlers(context),
    logger,
  })
  const indexed = await timeCatchUp(indexer, pool, counters, chainId)

  // ---- indexer at the head: a steady HEAD_DEPOSITS_PER_S deposits a second for HEAD_SECONDS,
  // a block a second, the indexer polling as the coordinator's worker does; the lag is sampled
  // every 100 ms as blocks between the chain's head and the indexer's cursor.
  const headLag = await measureHeadLag({
    indexer,
    client,
    pool,
    chainId,
    vault,
    mine: () => provider.request({ method: 'evm_mine', params: [] }),
    setAutomine: (on) => provider.request({ method: 'evm_setAutomine', params: [on] }),
    deposit: (i) => send(accounts[i % accounts.length]!, depositAmount(options.deposits + i)),
  })
  const depositRows = await pool.query(
    'SELECT d.status, count(*)::int AS n FROM deposits AS d GROUP BY d.status ORDER BY d.status',
  )

  // ---- settler: N payer-signed escrow locks, batches of at most `batchSize` (split by gas), no age wait
  const domain = clearhouseDomain(chainId, vault)
  const expiry = BigInt(Math.floor(Date.now() / 1000) + 86_400 * 30)
  // One payer's consecutive nonces, as the coordinator hands them out; `first` continues a series.
  const queueLocks = async (count: number, first: number) => {
    for (let i = first; i < first + count; i += 1) {
      const reference = `bench:escrow-lock:${i}`
      const terms = {
        payer: payer.address,
        payee: payee.address,
        token: usdc,
        amount: ESCROW_AMOUNT,
        resolver: ZERO_ADDRESS,
        feeBps: 100,
        resolverFeeBps: 0,
        expiry,
        nonce: BigInt(i),
        partialRelease: false,
      } as const
      const signature = await payer.signTypedData({
        domain,
        types: { EscrowLock: clearhouseTypes.EscrowLock },
        primaryType: 'EscrowLock',
        message: terms,
      })
      await enqueueChainOp(pool, {
        chainId,
        kind: OpKind.EscrowLock,
        data: encodeAbiParameters(opDataAbi[OpKind.EscrowLock], [terms, toCompactSignature(signature)]),
        reference,
      })
    }
  }

  // The baseline first: the same number of locks settled on the node's gas estimates, as before
  // issue 17, so both figures come from one run on one machine.
  const settleParameters = { pool, client, transport, counters, chainId, vault, logger }
  await queueLocks(options.ops, 0)
  const baseline = await settleQueue({
    ...settleParameters,
    batchSize: options.batchSize,
    useGasModel: false,
  })
  const queueStarted = performance.now()
  await queueLocks(options.ops, options.ops)
  const queueSeconds = (performance.now() - queueStarted) / 1000
  const attempts = [await settleQueue({ ...settleParameters, batchSize: options.batchSize })]
  // A chain with block times (Hardhat mining a block every second instead of one per transaction):
  // the settler's own time against the wait for each batch's block.
  await queueLocks(options.ops, 2 * options.ops)
  await provider.request({ method: 'evm_setAutomine', params: [false] })
  await provider.request({ method: 'evm_setIntervalMining', params: [1_000] })
  const withBlockTimes = await settleQueue({ ...settleParameters, batchSize: options.batchSize }).finally(
    async () => {
      await provider.request({ method: 'evm_setIntervalMining', params: [0] })
      await provider.request({ method: 'evm_setAutomine', params: [true] })
    },
  )
  if (attempts[0]!.error && options.fallbackBatchSize !== options.batchSize) {
    // The settler splits batches too big to send by itself; an error it cannot work around leaves
    // its batch in flight, so the bench dissolves it to still measure a smaller size.
    const stuck = await findInFlightBatch(pool, chainId)
    if (stuck) await withTransaction(pool, (db) => dissolveBatch(db, chainId, stuck.batchNumber, []))
    attempts.push(await settleQueue({ ...settleParameters, batchSize: options.fallbackBatchSize }))
  }
  const opStatuses = await pool.query(
    'SELECT o.status, count(*)::int AS n FROM chain_ops AS o GROUP BY o.status ORDER BY o.status',
  )

  // ---- indexer again, over the settler's blocks (EscrowLocked and BatchSettled have no handlers)
  const indexedSettlement = await timeCatchUp(indexer, pool, counters, chainId)

  // ---- reconciliation, after all of the above
  const reconcileMs: number[] = []
  let balanced = true
  for (let run = 0; run < options.reconcileRuns; run += 1) {
    const started = performance.now()
    const report = await reconcile(context)
    reconcileMs.push(performance.now() - started)
    balanced &&= report.tokens.every((token) => token.is_balanced)
  }
  const sortedReconcile = [...reconcileMs].sort((a, b) => a - b)

  return {
    settler: {
      ops_queued: options.ops,
      queue_seconds: round(queueSeconds, 3),
      op_statuses: Object.fromEntries(opStatuses.rows.map((row) => [row.status, row.n])),
      attempts,
      baseline_node_estimates: baseline,
      model_with_1s_blocks: withBlockTimes,
    },
    settler_overhead_share: attempts[attempts.length - 1]!.overhead_share,
    settler_overhead_share_baseline: baseline.overhead_share,
    settler_overhead_share_1s_blocks: withBlockTimes.overhead_share,
    indexer: {
      deposits_sent: options.deposits,
      deposits_per_block: options.depositsPerBlock,
      block_range: Number(BACKFILL_BLOCK_RANGE),
      deposit_accounts: { registered_agents: DEPOSIT_ACCOUNTS / 2, no_agent: DEPOSIT_ACCOUNTS / 2 },
      blocks: Number(headAfterDeposits) - deployment.deploymentBlock + 1,
      setup_seconds: round(depositSetupSeconds, 3),
      deposit_statuses: Object.fromEntries(depositRows.rows.map((row) => [row.status, row.n])),
      ...indexed,
    },
    indexer_settlement_blocks: indexedSettlement,
    indexer_backfill_events_per_s: indexed.events_per_second,
    indexer_head: headLag,
    indexer_head_lag_blocks: headLag.max_lag_blocks,
    reconcile: {
      runs: options.reconcileRuns,
      mean_ms: round(reconcileMs.reduce((sum, ms) => sum + ms, 0) / reconcileMs.length, 2),
      p50_ms: round(quantile(sortedReconcile, 0.5), 2),
      min_ms: round(sortedReconcile[0]!, 2),
      max_ms: round(sortedReconcile[sortedReconcile.length - 1]!, 2),
      first_ms: round(reconcileMs[0]!, 2),
      balanced,
    },
  }
}

/**
 * Drains the queued ops with one `maxBatchSize` and no age wait, timing each round, and reads the
 * gas of the batches it confirmed from their receipts. Stops at the first error and returns it.
 */
async function settleQueue(parameters: {
  pool: pg.Pool
  client: PublicClient
  transport: Transport
  counters: Counters
  chainId: number
  vault: Address
  logger: Logger
  batchSize: number
  /** False: the node's estimate for every batch (the settler before its gas model). */
  useGasModel?: boolean
}) {
  const { pool, client, transport, counters, chainId, vault, logger, batchSize } = parameters
  const settler = new Settler({
    pool,
    publicClient: client,
    walletClient: createWalletClient({ account: coordinator, transport }),
    account: coordinator,
    chainId,
    vault,
    maxBatchSize: batchSize,
    maxBatchAgeMs: 0,
    useGasModel: parameters.useGasModel,
    logger,
  })
  const { rows } = await pool.query(
    `SELECT coalesce(max(b.batch_number), 0)::int AS n FROM settlement_batches AS b
      WHERE b.chain_id = $1 AND b.status = 'confirmed'`,
    [chainId],
  )
  const confirmedBefore = rows[0].n as number
  resetCounters(counters)
  const rss = trackPeakRss()
  const roundMs: number[] = []
  const outcomes = new Map<string, number>()
  let error: string | null = null
  const started = performance.now()
  try {
    for (;;) {
      const roundStarted = performance.now()
      const result = await settler.settleOnce()
      outcomes.set(result.outcome, (outcomes.get(result.outcome) ?? 0) + 1)
      if (result.outcome === 'idle' || result.outcome === 'not-leader' || result.outcome === 'waiting') break
      roundMs.push(performance.now() - roundStarted)
    }
  } catch (caught) {
    error = describeError(caught)
  }
  const seconds = (performance.now() - started) / 1000
  const peakRss = rss.stop()
  const rpc = rpcSummary(counters)
  const sql = sqlSummary(counters)
  await settler.resign()

  const batches = await pool.query(
    `SELECT b.op_count, b.tx_hash FROM settlement_batches AS b
      WHERE b.chain_id = $1 AND b.status = 'confirmed' AND b.batch_number > $2 ORDER BY b.batch_number`,
    [chainId, confirmedBefore],
  )
  const gasPerBatch: number[] = []
  let confirmedOps = 0
  for (const row of batches.rows) {
    const receipt = await client.getTransactionReceipt({ hash: row.tx_hash })
    gasPerBatch.push(Number(receipt.gasUsed))
    confirmedOps += Number(row.op_count)
  }
  const totalGas = gasPerBatch.reduce((sum, gas) => sum + gas, 0)
  const sortedRounds = [...roundMs].sort((a, b) => a - b)
  const fullBatch = batches.rows.findIndex((row) => Number(row.op_count) === batchSize)
  // The chain's time: from sending each batch to its receipt (an automining node executes it in
  // eth_sendRawTransaction; with block times, the wait for its block). Everything else is the
  // settler's own: reads, signing, the simulation, SQL.
  const chainMs = counters.chain.ms
  return {
    use_gas_model: parameters.useGasModel ?? true,
    overhead_share: round(1 - chainMs / (seconds * 1000), 3),
    max_batch_size: batchSize,
    error,
    outcomes: Object.fromEntries(outcomes),
    batches: batches.rows.length,
    ops_confirmed: confirmedOps,
    wall_seconds: round(seconds, 3),
    ops_per_second: round(confirmedOps / seconds),
    batch_ms: {
      mean: round(roundMs.reduce((sum, ms) => sum + ms, 0) / Math.max(1, roundMs.length)),
      p50: round(roundMs.length ? quantile(sortedRounds, 0.5) : 0),
      max: round(sortedRounds[sortedRounds.length - 1] ?? 0),
    },
    gas_per_batch: {
      mean: Math.round(totalGas / Math.max(1, gasPerBatch.length)),
      full_batch: fullBatch < 0 ? null : gasPerBatch[fullBatch]!,
      min: gasPerBatch.length ? Math.min(...gasPerBatch) : null,
      max: gasPerBatch.length ? Math.max(...gasPerBatch) : null,
    },
    gas_per_op: Math.round(totalGas / Math.max(1, confirmedOps)),
    gas_total: totalGas,
    peak_rss_mib: mib(peakRss.rss),
    peak_heap_used_mib: mib(peakRss.heap),
    rpc_calls: rpc,
    sql_statements: sql,
  }
}

/**
 * Blocks per `getLogs` in the backfill: 2,000 logs at 100 deposits a block, under the 10,000-log
 * cap of hosted RPC providers, and several ranges, so reading one overlaps writing the last.
 */
const BACKFILL_BLOCK_RANGE = 20n

/** Deposits a second and seconds of the head-lag phase. */
const HEAD_DEPOSITS_PER_S = 100
const HEAD_SECONDS = 10

/**
 * Runs the indexer as the worker does (polling every 200 ms) while `deposit` sends
 * HEAD_DEPOSITS_PER_S a second and a block is mined every second, and samples the lag (head minus
 * the indexer's cursor, in blocks) every 100 ms; the first second is warm-up.
 */
async function measureHeadLag(parameters: {
  indexer: VaultIndexer
  client: PublicClient
  pool: pg.Pool
  chainId: number
  vault: Address
  mine(): Promise<unknown>
  setAutomine(on: boolean): Promise<unknown>
  deposit(index: number): Promise<unknown>
}) {
  const { indexer, client, pool, chainId, vault } = parameters
  const samples: number[] = []
  await parameters.setAutomine(false)
  indexer.start(200)
  let sent = 0
  try {
    const started = performance.now()
    let nextBlockAt = started + 1000
    while (performance.now() - started < HEAD_SECONDS * 1000) {
      const tickStarted = performance.now()
      for (let i = 0; i < HEAD_DEPOSITS_PER_S / 10; i += 1) await parameters.deposit(sent++)
      if (performance.now() >= nextBlockAt) {
        await parameters.mine()
        nextBlockAt += 1000
      }
      const head = await client.getBlockNumber({ cacheTime: 0 })
      const cursor = await readIndexedCursor(pool, chainId, vault)
      if (performance.now() - started > 1000) samples.push(Number(head - (cursor?.blockNumber ?? 0n)))
      await new Promise((resolve) =>
        setTimeout(resolve, Math.max(0, 100 - (performance.now() - tickStarted))),
      )
    }
    await parameters.mine()
  } finally {
    await indexer.stop()
    await parameters.setAutomine(true)
  }
  await indexer.catchUp()
  const sorted = [...samples].sort((a, b) => a - b)
  return {
    deposits_per_s: HEAD_DEPOSITS_PER_S,
    seconds: HEAD_SECONDS,
    deposits_sent: sent,
    samples: samples.length,
    max_lag_blocks: sorted[sorted.length - 1] ?? null,
    p95_lag_blocks: sorted.length ? quantile(sorted, 0.95) : null,
  }
}

/** viem's short message and the node's details, without the calldata dump of the full message. */
function describeError(error: unknown): string {
  if (error instanceof BaseError) {
    return [error.shortMessage.split('\n')[0], error.details].filter(Boolean).join(': ')
  }
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error)
}

/** Times one `catchUp` to the head and counts what it indexed, by event name, from `chain_events`. */
async function timeCatchUp(indexer: VaultIndexer, pool: pg.Pool, counters: Counters, chainId: number) {
  const before = await eventCounts(pool, chainId)
  resetCounters(counters)
  const rss = trackPeakRss()
  const started = performance.now()
  await indexer.catchUp()
  const seconds = (performance.now() - started) / 1000
  const peakRss = rss.stop()
  const rpc = rpcSummary(counters)
  const sql = sqlSummary(counters)
  const after = await eventCounts(pool, chainId)
  const events = Object.fromEntries(
    Object.entries(after)
      .map(([name, n]): [string, number] => [name, n - (before[name] ?? 0)])
      .filter(([, n]) => n > 0),
  )
  const total = Object.values(events).reduce((sum, n) => sum + n, 0)
  return {
    events_indexed: total,
    events_by_name: events,
    wall_seconds: round(seconds, 3),
    events_per_second: round(total / seconds),
    peak_rss_mib: mib(peakRss.rss),
    peak_heap_used_mib: mib(peakRss.heap),
    rpc_calls: rpc,
    sql_statements: sql,
    sql_per_event: round(sql.statements / Math.max(1, total), 4),
    rpc_ms: round(Object.values(rpc).reduce((sum, call) => sum + call.ms, 0)),
  }
}

async function eventCounts(pool: pg.Pool, chainId: number): Promise<Record<string, number>> {
  const { rows } = await pool.query(
    `SELECT e.event_name, count(*)::int AS n FROM chain_events AS e
      WHERE e.chain_id = $1 GROUP BY e.event_name`,
    [chainId],
  )
  return Object.fromEntries(rows.map((row) => [row.event_name as string, row.n as number]))
}

type BenchResult = Awaited<ReturnType<typeof runBench>> & {
  options: Options
  machine: { node: string; cpu: string; cores: number; postgres: string }
  total_seconds: number
  process_max_rss_mib: number
}

function printTable(result: BenchResult): void {
  const { settler, indexer, indexer_settlement_blocks: settlement, reconcile: rec } = result
  const rows: Array<[string, string]> = [
    ['settler: sign and queue ops', `${settler.ops_queued} in ${settler.queue_seconds} s`],
  ]
  const runs = [
    { attempt: settler.baseline_node_estimates, label: ' (node estimates)' },
    ...settler.attempts.map((attempt) => ({ attempt, label: '' })),
    { attempt: settler.model_with_1s_blocks, label: ' (1 s blocks)' },
  ]
  for (const { attempt, label } of runs) {
    const at = `settler @${attempt.max_batch_size}${label}`
    if (attempt.error) {
      rows.push(
        [`${at}: FAILED after ${attempt.batches} batches`, attempt.error],
        [`${at}: time to fail, peak RSS`, `${attempt.wall_seconds} s, ${attempt.peak_rss_mib} MiB`],
      )
    }
    if (attempt.ops_confirmed === 0) continue
    rows.push(
      [`${at}: ops confirmed / queued`, `${attempt.ops_confirmed} / ${settler.ops_queued}`],
      [`${at}: batches`, String(attempt.batches)],
      [`${at}: wall time`, `${attempt.wall_seconds} s`],
      [`${at}: throughput`, `${attempt.ops_per_second} ops/s`],
      [
        `${at}: per batch (mean / p50 / max)`,
        `${attempt.batch_ms.mean} / ${attempt.batch_ms.p50} / ${attempt.batch_ms.max} ms`,
      ],
      [`${at}: gas per batch (mean)`, String(attempt.gas_per_batch.mean)],
      [`${at}: gas per op`, String(attempt.gas_per_op)],
      [`${at}: time in eth_estimateGas`, `${attempt.rpc_calls.eth_estimateGas?.ms ?? 0} ms`],
      [`${at}: settler's own share of the wall time`, String(attempt.overhead_share)],
      [`${at}: peak RSS (JS heap)`, `${attempt.peak_rss_mib} MiB (${attempt.peak_heap_used_mib} MiB)`],
    )
  }
  rows.push(
    [
      'indexer: deposits (blocks, per block)',
      `${indexer.deposits_sent} (${indexer.blocks}, ${indexer.deposits_per_block})`,
    ],
    ['indexer: events indexed from deployment', String(indexer.events_indexed)],
    ['indexer: wall time', `${indexer.wall_seconds} s`],
    ['indexer: throughput', `${indexer.events_per_second} events/s`],
    ['indexer: SQL statements per event', String(indexer.sql_per_event)],
    ['indexer: time in SQL / in RPC', `${indexer.sql_statements.ms} / ${indexer.rpc_ms} ms`],
    ['indexer: peak RSS (JS heap)', `${indexer.peak_rss_mib} MiB (${indexer.peak_heap_used_mib} MiB)`],
    [
      `indexer at the head: lag under ${result.indexer_head.deposits_per_s} deposits/s (max / p95)`,
      `${result.indexer_head.max_lag_blocks} / ${result.indexer_head.p95_lag_blocks} blocks (${result.indexer_head.deposits_sent} deposits, ${result.indexer_head.samples} samples)`,
    ],
    ['indexer, settler blocks: events / wall', `${settlement.events_indexed} / ${settlement.wall_seconds} s`],
    ['indexer, settler blocks: throughput', `${settlement.events_per_second} events/s`],
    [
      `reconcile: mean of ${rec.runs} (p50, min, max)`,
      `${rec.mean_ms} ms (${rec.p50_ms}, ${rec.min_ms}, ${rec.max_ms})`,
    ],
    ['reconcile: balanced', String(rec.balanced)],
    ['process max RSS', `${result.process_max_rss_mib} MiB`],
    ['total run time', `${result.total_seconds} s`],
  )
  const width = Math.max(...rows.map(([label]) => label.length))
  const valueWidth = Math.max(...rows.map(([, value]) => value.length))
  console.log(
    `\nClearhouse chain bridge on ${result.machine.cpu} (${result.machine.cores} cores), ` +
      `Node ${result.machine.node}, Postgres ${result.machine.postgres}\n`,
  )
  console.log(`| ${'figure'.padEnd(width)} | ${'value'.padEnd(valueWidth)} |`)
  console.log(`|${'-'.repeat(width + 2)}|${'-'.repeat(valueWidth + 2)}|`)
  for (const [label, value] of rows) console.log(`| ${label.padEnd(width)} | ${value.padEnd(valueWidth)} |`)
  for (const attempt of settler.attempts) {
    console.log(`\nRPC calls, settler @${attempt.max_batch_size}:`, JSON.stringify(attempt.rpc_calls))
  }
  console.log('RPC calls, indexer:', JSON.stringify(indexer.rpc_calls))
}

main().catch((error) => {
  console.error(error)
  process.exitCode = 1
})
