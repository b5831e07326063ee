/**
 * Paid calls through payment channels on this machine, against the same calls unpaid and against
 * Postgres alone. It prints figures (and whether the issue's goals are met: paid ≥ 0.8 × unpaid,
 * paid ≥ the raw one-commit-per-call rate, p99 < 25 ms), not pass/fail, and writes them to
 * bench/calls.json.
 *
 * Run with `npm run bench:calls` (`hardhat run scripts/bench/calls.ts`). The coordinator app runs
 * for real in this process: `createApp` listening on loopback over a fresh `clearhouse_bench_<pid>`
 * database on BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres, dropped at
 * the end) and a vault on Hardhat's in-process chain served over HTTP JSON-RPC. Everything outside
 * the coordinator runs in a forked process (scripts/bench/calls-load.ts), so this process's CPU is
 * the coordinator's: the upstream stub both services call (`{"echo": input}`), the callers (keep-
 * alive HTTP, every voucher signed before timing starts) and the raw Postgres loop.
 *
 * Setup: BENCH_CONCURRENCY (default 64) self-custody callers registered through the API, funded
 * on-chain, each with a channel to a paid per_call service (0.001 USDC, settlement interval 100)
 * whose funding it signs; a free service (price 0) on the same stub. Then, after a warm-up,
 * BENCH_ROUNDS (default 3) rounds of BENCH_CALLS (default 20000) unpaid calls then as many paid,
 * every caller calling at once, one call in flight each; then the raw Postgres rate of recording
 * each call in a transaction of its own (BEGIN; advance the channel row; insert the call row;
 * COMMIT) with one client per caller, on copies of `channels`/`channel_calls`. A figure is the
 * median round by rate, with that round's latencies. The settler and the indexer do not run during
 * the rounds (the in-process chain would take the coordinator's CPU); afterwards every channel is
 * settled, the batches' gas is read from their receipts, and the settled amounts are checked
 * against the calls paid, in the ledger and on the vault.
 *
 * BENCH_POOL_SIZE sets the app's pool (default 10, DATABASE_POOL_SIZE's default). With
 * BENCH_PROFILE=<dir>, one more unpaid and one more paid round run under the V8 profiler and with
 * every SQL statement timed; their .cpuprofile files go to <dir> and the top costs are printed.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import type { Server } from 'node:http'
import { Session } from 'node:inspector'
import os from 'node:os'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import pg from 'pg'
import { createWalletClient, http, maxUint256, type Hex, type PublicClient } from 'viem'
import { generatePrivateKey, mnemonicToAccount, privateKeyToAccount } from 'viem/accounts'
import { formatAmount } from '../../protocol/amounts'
import type { ChannelResponse } from '../../protocol/channels'
import type { TypedDataJson } from '../../protocol/assignments'
import { OpKind } from '../../protocol/typed-data'
import { clearhouseVaultAbi } from '../../protocol/vault-abi'
import type { AppContext } from '../../server/app-context'
import { chainEventHandlers, chainOpFailureHandlers } from '../../server/chain/chain-event-handlers'
import { createChainClient } from '../../server/chain/clients'
import { VaultIndexer } from '../../server/chain/indexer/vault-indexer'
import { Settler, type SettleResult } from '../../server/chain/settler/settler'
import { migrate } from '../../server/db/migrate'
import { toViemTypedData } from '../../server/escrow/escrow-ops'
import { closeOutboundClient } from '../../server/outbound/app-outbound-client'
import { deployContracts } from '../lib/deploy-contracts'
import {
  BENCH_MNEMONIC,
  benchAppContext,
  benchCoordinator,
  benchMachine,
  createBenchDatabase,
  listenBenchApp,
  serveHardhatRpc,
  writeBenchFigures,
} from './bench-setup'
import type { LoadCaller, LoadReply, LoadRequest, PhaseResult } from './calls-load'

// Required, not imported, so running this file directly (ts-node) builds the HRE from
// hardhat.config.ts exactly as `hardhat run` does.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const hre = require('hardhat') as typeof import('hardhat')

/** Hardhat account #8, unlocked on the in-process node: mints and deposits for the callers. */
const funder = mnemonicToAccount(BENCH_MNEMONIC, { addressIndex: 8 })

const PRICE = '0.001'
const SETTLEMENT_INTERVAL = 100
const USDC_DECIMALS = 6
/** The issue's goals. */
const GOALS = { paidOverUnpaid: 0.8, paidOverRawPg: 1.0, p99Ms: 25 }

interface Options {
  /** Calls per timed round, rounded up to a whole number per caller. */
  calls: number
  concurrency: number
  rounds: number
  warmUpCallsPerCaller: number
  poolSize: number
  profileDir: string | null
}

function readOptions(): Options {
  const positive = (env: string, fallback: number): number => {
    const raw = process.env[env]
    if (raw === undefined || raw === '') return fallback
    const value = Number(raw)
    if (!Number.isInteger(value) || value <= 0) throw new Error(`${env} must be a positive integer`)
    return value
  }
  return {
    calls: positive('BENCH_CALLS', 20_000),
    concurrency: positive('BENCH_CONCURRENCY', 64),
    rounds: positive('BENCH_ROUNDS', 3),
    warmUpCallsPerCaller: positive('BENCH_WARMUP_CALLS', 30),
    poolSize: positive('BENCH_POOL_SIZE', 10),
    profileDir: process.env.BENCH_PROFILE ? path.resolve(process.env.BENCH_PROFILE) : null,
  }
}

const round = (value: number, digits = 1) => Number(value.toFixed(digits))

/** The forked load process, asked one thing at a time. */
class LoadProcess {
  private waiting: ((reply: LoadReply) => void) | null = null
  private readonly ready: Promise<LoadReply>

  constructor(private readonly child: ChildProcess) {
    this.ready = new Promise((resolve) => (this.waiting = resolve))
    child.on('message', (reply: LoadReply) => {
      const waiting = this.waiting
      this.waiting = null
      waiting?.(reply)
    })
  }

  static start(): LoadProcess {
    return new LoadProcess(
      fork(path.join(__dirname, 'calls-load.ts'), [], {
        execArgv: ['-r', 'ts-node/register/transpile-only'],
        stdio: 'inherit',
      }),
    )
  }

  async upstreamUrl(): Promise<string> {
    const reply = await this.ready
    if (reply.type !== 'ready') throw new Error(`load process: ${JSON.stringify(reply)}`)
    return reply.upstreamUrl
  }

  async ask<T extends LoadReply['type']>(
    request: LoadRequest,
    expected: T,
  ): Promise<Extract<LoadReply, { type: T }>> {
    const reply = await new Promise<LoadReply>((resolve, reject) => {
      this.waiting = resolve
      this.child.once('exit', (code) => reject(new Error(`load process exited (${code})`)))
      this.child.send(request)
    })
    this.child.removeAllListeners('exit')
    if (reply.type === 'error') throw new Error(`load process: ${reply.message}`)
    if (reply.type !== expected) throw new Error(`load process answered ${reply.type}, not ${expected}`)
    return reply as Extract<LoadReply, { type: T }>
  }

  stop(): void {
    if (this.child.connected) this.child.send({ type: 'exit' } satisfies LoadRequest)
    setTimeout(() => this.child.kill(), 2_000).unref()
  }
}

/** The coordinator's API over HTTP, as a client sees it. */
function apiClient(baseUrl: string) {
  return async <T>(
    method: 'GET' | 'POST',
    route: string,
    options: { apiKey?: string; body?: unknown; expect?: number } = {},
  ): Promise<T> => {
    const response = await fetch(`${baseUrl}${route}`, {
      method,
      headers: {
        'content-type': 'application/json',
        ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}),
      },
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    })
    const text = await response.text()
    if (response.status !== (options.expect ?? 200)) {
      throw new Error(`${method} ${route}: ${response.status} ${text.slice(0, 500)}`)
    }
    return JSON.parse(text) as T
  }
}

/** Runs `work` on `items`, `width` at a time. */
async function inBatches<T, R>(
  items: readonly T[],
  width: number,
  work: (item: T, index: number) => Promise<R>,
) {
  const results: R[] = []
  for (let first = 0; first < items.length; first += width) {
    results.push(
      ...(await Promise.all(items.slice(first, first + width).map((item, i) => work(item, first + i)))),
    )
  }
  return results
}

/** CPU time of every core (ms), to tell the coordinator's, the load's and the rest's apart. */
function machineBusyMs(): number {
  return os
    .cpus()
    .reduce((sum, cpu) => sum + cpu.times.user + cpu.times.nice + cpu.times.sys + cpu.times.irq, 0)
}

/** Cores busy over two idle seconds: the machine's, and this process's share. */
async function idleCores(): Promise<{ machine: number; coordinator: number }> {
  const busy = machineBusyMs()
  const cpu = process.cpuUsage()
  await new Promise((resolve) => setTimeout(resolve, 2_000))
  const used = process.cpuUsage(cpu)
  return {
    machine: round((machineBusyMs() - busy) / 2_000, 2),
    coordinator: round((used.user + used.system) / 1e6 / 2, 2),
  }
}

interface PhaseFigures {
  kind: 'paid' | 'unpaid' | 'raw_pg'
  round: number
  calls: number
  errors: number
  error_samples?: string[]
  seconds: number
  rps: number
  latency_ms: PhaseResult['latencyMs']
  /** Cores in use on average: this process (the coordinator), the load process, everything else (Postgres mostly). */
  cpu_cores: { coordinator: number; load: number; other: number; machine: number }
  /** This process's CPU per call (µs): the coordinator's cost of one call. */
  coordinator_cpu_us_per_call: number
  event_loop_utilization: number
}

/** Runs one phase in the load process, measuring this process's CPU and event loop around it. */
async function measure(
  load: LoadProcess,
  request: LoadRequest,
  kind: PhaseFigures['kind'],
  roundNumber: number,
): Promise<PhaseFigures> {
  const cpu = process.cpuUsage()
  const elu = performance.eventLoopUtilization()
  const busy = machineBusyMs()
  const { result } = await load.ask(request, 'result')
  const coordinatorSeconds = (() => {
    const used = process.cpuUsage(cpu)
    return (used.user + used.system) / 1e6
  })()
  const machineSeconds = (machineBusyMs() - busy) / 1000
  const cores = (seconds: number) => round(seconds / result.seconds, 2)
  return {
    kind,
    round: roundNumber,
    calls: result.ok,
    errors: result.errors,
    ...(result.errors > 0 ? { error_samples: result.errorSamples } : {}),
    seconds: result.seconds,
    rps: result.rps,
    latency_ms: result.latencyMs,
    cpu_cores: {
      coordinator: cores(coordinatorSeconds),
      load: cores(result.loadCpuSeconds),
      other: cores(Math.max(0, machineSeconds - coordinatorSeconds - result.loadCpuSeconds)),
      machine: cores(machineSeconds),
    },
    coordinator_cpu_us_per_call: result.ok > 0 ? Math.round((coordinatorSeconds * 1e6) / result.ok) : 0,
    event_loop_utilization: round(performance.eventLoopUtilization(elu).utilization, 3),
  }
}

/** The median round by rate (the lower middle of an even count). */
function medianRound(rounds: PhaseFigures[]): PhaseFigures {
  const sorted = [...rounds].sort((a, b) => a.rps - b.rps)
  return sorted[Math.floor((sorted.length - 1) / 2)]!
}

// ---- profiling (BENCH_PROFILE): the V8 profiler and every SQL statement timed, for one round each

interface ProfileSummary {
  cpu_profile: string
  /** The profiled round's rate: lower than the measured rounds', the profiler costs CPU. */
  rps_under_profiler?: number
  sampled_ms: number
  /** Self time by function, the largest first. */
  top_functions: Array<{ function: string; ms: number; percent: number }>
  /** Self time by package or project folder. */
  by_module: Array<{ module: string; ms: number; percent: number }>
  sql: { statements_per_call: number; top: Array<{ statement: string; calls: number; mean_ms: number }> }
}

interface CpuProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
}

function moduleOf(url: string): string {
  if (!url) return '(native / V8)'
  const file = url.replace(/^file:\/\//, '')
  const nodeModules = file.lastIndexOf('node_modules/')
  if (nodeModules >= 0) {
    const parts = file.slice(nodeModules + 'node_modules/'.length).split('/')
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!
  }
  if (file.startsWith('node:')) return file
  const relative = path.relative(process.cwd(), file)
  return relative.startsWith('..') ? file : path.dirname(relative)
}

function summarizeProfile(profile: {
  nodes: CpuProfileNode[]
  samples: number[]
  timeDeltas: number[]
}): Pick<ProfileSummary, 'sampled_ms' | 'top_functions' | 'by_module'> {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]))
  const selfUs = new Map<number, number>()
  profile.samples.forEach((id, index) =>
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0)),
  )
  const byFunction = new Map<string, number>()
  const byModule = new Map<string, number>()
  let total = 0
  for (const [id, us] of selfUs) {
    const frame = nodes.get(id)!.callFrame
    const file = frame.url ? path.relative(process.cwd(), frame.url.replace(/^file:\/\//, '')) : ''
    const name = `${frame.functionName || '(anonymous)'}${file ? ` ${file}:${frame.lineNumber + 1}` : ''}`
    byFunction.set(name, (byFunction.get(name) ?? 0) + us)
    const module = moduleOf(frame.url)
    byModule.set(module, (byModule.get(module) ?? 0) + us)
    total += us
  }
  const top = (map: Map<string, number>, count: number) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, count)
      .map(([key, us]) => ({ key, ms: round(us / 1000), percent: round((100 * us) / total) }))
  return {
    sampled_ms: round(total / 1000),
    top_functions: top(byFunction, 25).map(({ key, ms, percent }) => ({ function: key, ms, percent })),
    by_module: top(byModule, 20).map(({ key, ms, percent }) => ({ module: key, ms, percent })),
  }
}

/** Times every statement any pg client of this process runs, until the returned function is called. */
function timeAllStatements(): () => Map<string, { calls: number; ms: number }> {
  const statements = new Map<string, { calls: number; ms: number }>()
  const prototype = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown }
  const original = prototype.query
  prototype.query = function (this: unknown, ...args: unknown[]) {
    const started = performance.now()
    const text = typeof args[0] === 'string' ? args[0] : ((args[0] as { text?: string } | null)?.text ?? '?')
    const key = text.replace(/\s+/g, ' ').trim().slice(0, 70)
    const done = () => {
      const entry = statements.get(key) ?? { calls: 0, ms: 0 }
      entry.calls += 1
      entry.ms += performance.now() - started
      statements.set(key, entry)
    }
    const callback = args[args.length - 1]
    if (typeof callback === 'function') {
      args[args.length - 1] = (...results: unknown[]) => {
        done()
        return (callback as (...results: unknown[]) => unknown)(...results)
      }
      return original.apply(this, args)
    }
    const result = original.apply(this, args)
    if (result instanceof Promise) return result.finally(done)
    done()
    return result
  }
  return () => {
    prototype.query = original
    return statements
  }
}

async function profiled(
  directory: string,
  name: string,
  calls: () => number,
  work: () => Promise<PhaseFigures>,
): Promise<{ figures: PhaseFigures; profile: ProfileSummary }> {
  const session = new Session()
  session.connect()
  const post = <T>(method: string, params?: object) =>
    new Promise<T>((resolve, reject) =>
      session.post(method, params ?? {}, (error, result) => (error ? reject(error) : resolve(result as T))),
    )
  await post('Profiler.enable')
  await post('Profiler.setSamplingInterval', { interval: 200 })
  const stopTiming = timeAllStatements()
  await post('Profiler.start')
  let figures: PhaseFigures
  let statements: Map<string, { calls: number; ms: number }>
  let profile: { nodes: CpuProfileNode[]; samples: number[]; timeDeltas: number[] }
  try {
    figures = await work()
  } finally {
    ;({ profile } = await post<{ profile: typeof profile }>('Profiler.stop'))
    statements = stopTiming()
    session.disconnect()
  }
  mkdirSync(directory, { recursive: true })
  const file = path.join(directory, `calls-${name}.cpuprofile`)
  writeFileSync(file, JSON.stringify(profile))
  const callCount = Math.max(1, calls())
  let statementCount = 0
  for (const entry of statements.values()) statementCount += entry.calls
  return {
    figures,
    profile: {
      cpu_profile: file,
      ...summarizeProfile(profile),
      sql: {
        statements_per_call: round(statementCount / callCount, 2),
        top: [...statements.entries()]
          .sort((a, b) => b[1].ms - a[1].ms)
          .slice(0, 12)
          .map(([statement, { calls, ms }]) => ({ statement, calls, mean_ms: round(ms / calls, 3) })),
      },
    },
  }
}

// ---- the run

async function main(): Promise<void> {
  const options = readOptions()
  const startedAt = performance.now()
  const database = await createBenchDatabase(options.poolSize)
  const { pool } = database
  let rpc: { url: string; close(): Promise<void> } | null = null
  let appServer: Server | null = null
  let context: AppContext | null = null
  const load = LoadProcess.start()
  try {
    await migrate(pool)
    rpc = await serveHardhatRpc(hre)
    const rpcUrl = rpc.url
    const client = createChainClient(rpcUrl)
    const deployment = await deployContracts(hre, { withMockUsdc: true })
    // invokeRateLimitPerMinute: the callers hammer two services far past any production limit.
    context = await benchAppContext(pool, { client, deployment }, { invokeRateLimitPerMinute: 1_000_000_000 })
    const listening = await listenBenchApp(context)
    appServer = listening.server
    const { baseUrl } = listening
    // The load pauses between phases (the raw Postgres loop, the profiler); its sockets stay open.
    appServer.keepAliveTimeout = 120_000
    const figures = await runBench(options, {
      pool,
      client,
      context,
      load,
      baseUrl,
      rpcUrl,
      databaseUrl: database.url,
      chainId: deployment.chainId,
      vault: deployment.contracts.ClearhouseVault!,
      usdc: deployment.contracts.MockUSDC!,
    })
    const machine = {
      ...(await benchMachine(pool)),
      synchronous_commit: (await pool.query('SHOW synchronous_commit')).rows[0].synchronous_commit as string,
    }
    const result = {
      note:
        'figures, not pass/fail; one machine: the coordinator (this process, with the in-process Hardhat ' +
        'chain idle during the rounds), the load process (callers with vouchers signed ahead, the ' +
        'upstream stub, the raw pg loop) and Postgres share its cores. A figure is the median round by ' +
        'rate; its latencies are that round’s. The settler and indexer ran only before and after the rounds.',
      measured_at: new Date().toISOString(),
      machine,
      ...figures,
      total_seconds: round((performance.now() - startedAt) / 1000),
    }
    printTable(result)
    writeBenchFigures('calls', result)
  } finally {
    load.stop()
    if (appServer) {
      appServer.closeAllConnections()
      await new Promise<void>((resolve) => appServer!.close(() => resolve()))
    }
    if (context) closeOutboundClient(context)
    await rpc?.close()
    await database.drop()
  }
}

interface BenchIo {
  pool: pg.Pool
  client: PublicClient
  context: AppContext
  load: LoadProcess
  baseUrl: string
  rpcUrl: string
  databaseUrl: string
  chainId: number
  vault: Hex
  usdc: Hex
}

async function runBench(options: Options, io: BenchIo) {
  const { pool, client, context, load, baseUrl, chainId, vault, usdc } = io
  const api = apiClient(baseUrl)
  const callsPerCaller = Math.ceil(options.calls / options.concurrency)
  const priceUnits = 10n ** BigInt(USDC_DECIMALS) / 1000n
  const profileRounds = options.profileDir ? 1 : 0
  const paidCallsPerCaller = options.warmUpCallsPerCaller + (options.rounds + profileRounds) * callsPerCaller
  // Twice what the run pays, in whole USDC: no voucher comes near the deposit.
  const depositUnits = ((2n * BigInt(paidCallsPerCaller) * priceUnits) / 10n ** 6n + 1n) * 10n ** 6n
  const logger = context.logger
  const indexer = new VaultIndexer({
    pool,
    client,
    chainId,
    vault,
    deploymentBlock: BigInt(context.chain!.deployment.deploymentBlock),
    confirmations: 0,
    handlers: chainEventHandlers(context),
    logger,
  })
  const settler = new Settler({
    pool,
    publicClient: client,
    walletClient: createWalletClient({ account: benchCoordinator, transport: http(io.rpcUrl) }),
    account: benchCoordinator,
    chainId,
    vault,
    maxBatchSize: 100,
    maxBatchAgeMs: 0,
    failureHandlers: chainOpFailureHandlers(context),
    logger,
  })
  /** Settles and indexes until a round sends nothing (indexing can queue more). */
  const settleAll = async (): Promise<SettleResult[]> => {
    const results: SettleResult[] = []
    for (let pass = 0; pass < 20; pass += 1) {
      const drained = await settler.drain()
      await indexer.catchUp()
      results.push(...drained)
      if (drained.length === 0) break
    }
    const failed = results.filter((result) => result.outcome === 'op-failed')
    if (failed.length > 0) throw new Error(`settlement ops failed: ${JSON.stringify(failed)}`)
    return results
  }

  // ---- setup: a provider with a paid and a free service on the stub, callers with funded channels
  const setupStarted = performance.now()
  const upstreamUrl = await load.upstreamUrl()
  const provider = await api<{ api_key: string; agent_id: string }>('POST', '/v1/agents/register', {
    body: {},
    expect: 201,
  })
  const service = (fields: Record<string, unknown>) =>
    api<{ service_id: string }>('POST', '/v1/agents/me/services', {
      apiKey: provider.api_key,
      expect: 201,
      body: {
        category: 'testing',
        pricing_model: 'per_call',
        endpoint_url: `${upstreamUrl}/echo`,
        ...fields,
      },
    })
  const paidService = await service({
    name: 'Echo (paid)',
    price_amount: PRICE,
    settlement_interval: SETTLEMENT_INTERVAL,
  })
  const freeService = await service({ name: 'Echo (free)', price_amount: '0' })

  const privateKeys = Array.from({ length: options.concurrency }, () => generatePrivateKey())
  const callers = await inBatches(privateKeys, 16, async (privateKey) => {
    const account = privateKeyToAccount(privateKey)
    const { challenge } = await api<{ challenge: string }>('POST', '/v1/agents/challenge', {
      body: { wallet_address: account.address },
      expect: 201,
    })
    const registered = await api<{ api_key: string; agent_id: string }>('POST', '/v1/agents/register', {
      body: {
        wallet_address: account.address,
        challenge,
        signature: await account.signMessage({ message: challenge }),
      },
      expect: 201,
    })
    return { account, privateKey, apiKey: registered.api_key }
  })

  // Each caller's deposit, on-chain from an outside wallet, credited by the indexer.
  const usdcContract = await hre.viem.getContractAt('MockUSDC', usdc)
  const vaultContract = await hre.viem.getContractAt('ClearhouseVault', vault)
  await usdcContract.write.mint([funder.address, depositUnits * BigInt(callers.length)], {
    account: funder.address,
  })
  await usdcContract.write.approve([vault, maxUint256], { account: funder.address })
  for (const caller of callers) {
    await vaultContract.write.depositFor([usdc, depositUnits, caller.account.address], {
      account: funder.address,
    })
  }
  await indexer.catchUp()

  const channels = await inBatches(callers, 16, async (caller) => {
    const opened = await api<ChannelResponse>('POST', '/v1/channels', {
      apiKey: caller.apiKey,
      expect: 201,
      body: { service_id: paidService.service_id, deposit_amount: formatAmount(depositUnits, USDC_DECIMALS) },
    })
    const signature = await caller.account.signTypedData(
      toViemTypedData(opened.funding_to_sign! as TypedDataJson) as Parameters<
        typeof caller.account.signTypedData
      >[0],
    )
    return api<ChannelResponse>('POST', `/v1/channels/${opened.channel_id}/funding-signature`, {
      apiKey: caller.apiKey,
      body: { signature },
    })
  })
  await settleAll()
  for (const channel of channels) {
    const onChain = await client.readContract({
      address: vault,
      abi: clearhouseVaultAbi,
      functionName: 'channel',
      args: [channel.vault_channel_id as Hex],
    })
    if (onChain.deposit !== depositUnits || channel.status !== 'active') {
      throw new Error(
        `channel ${channel.channel_id} is ${channel.status} with ${onChain.deposit} on the vault`,
      )
    }
  }
  const loadCallers: LoadCaller[] = callers.map((caller, index) => {
    const channel = channels[index]!
    return {
      apiKey: caller.apiKey,
      privateKey: caller.privateKey,
      channelId: channel.channel_id,
      vaultChannelId: channel.vault_channel_id as Hex,
      domain: channel.domain as unknown as LoadCaller['domain'],
      lastSequence: channel.voucher_state.last_sequence,
      cumulativeAmount: channel.voucher_state.cumulative_amount_base_units,
      callChain: channel.voucher_state.call_chain as Hex,
    }
  })
  const prepared = await load.ask(
    {
      type: 'prepare',
      baseUrl,
      paidServiceId: paidService.service_id,
      freeServiceId: freeService.service_id,
      priceUnits: priceUnits.toString(),
      decimals: USDC_DECIMALS,
      callers: loadCallers,
      vouchersPerCaller: paidCallsPerCaller,
    },
    'prepared',
  )
  const setupSeconds = (performance.now() - setupStarted) / 1000

  // ---- the rounds: warm-up, then unpaid and paid in turn, after a look at what else runs here
  const background = await idleCores()
  if (background.machine > 0.2) {
    console.warn(
      `warning: ${background.machine} cores busy before the rounds (this process ${background.coordinator}): ` +
        'something else runs on this machine, and every figure below shares its cores with it',
    )
  }
  const { rows: batchRows } = await pool.query(
    'SELECT coalesce(max(b.batch_number), 0)::int AS n FROM settlement_batches AS b WHERE b.chain_id = $1',
    [chainId],
  )
  const lastBatchBeforeCalls = batchRows[0].n as number
  let paidOk = 0
  let unpaidOk = 0
  const phase = async (kind: 'paid' | 'unpaid', perCaller: number, roundNumber: number) => {
    const figures = await measure(load, { type: 'run', kind, callsPerCaller: perCaller }, kind, roundNumber)
    if (kind === 'paid') paidOk += figures.calls
    else unpaidOk += figures.calls
    console.log(
      `${kind.padEnd(6)} round ${roundNumber}: ${figures.calls} calls, ${figures.errors} errors, ` +
        `${figures.rps} calls/s, p50 ${figures.latency_ms.p50} ms, p99 ${figures.latency_ms.p99} ms, ` +
        `cores ${JSON.stringify(figures.cpu_cores)}`,
    )
    if (figures.errors > 0) console.log(`  errors: ${JSON.stringify(figures.error_samples)}`)
    return figures
  }
  const warmUp = [
    await phase('unpaid', options.warmUpCallsPerCaller, 0),
    await phase('paid', options.warmUpCallsPerCaller, 0),
  ]
  const unpaidRounds: PhaseFigures[] = []
  const paidRounds: PhaseFigures[] = []
  for (let roundNumber = 1; roundNumber <= options.rounds; roundNumber += 1) {
    unpaidRounds.push(await phase('unpaid', callsPerCaller, roundNumber))
    paidRounds.push(await phase('paid', callsPerCaller, roundNumber))
  }
  const profiles: Record<string, ProfileSummary> = {}
  if (options.profileDir) {
    for (const kind of ['unpaid', 'paid'] as const) {
      const { figures, profile } = await profiled(
        options.profileDir,
        kind,
        () => callsPerCaller * options.concurrency,
        () => phase(kind, callsPerCaller, options.rounds + 1),
      )
      profiles[kind] = { ...profile, rps_under_profiler: figures.rps }
    }
  }

  // ---- raw Postgres: the same record, one transaction per call, one client per caller
  await pool.query('CREATE TABLE bench_raw_channels (LIKE channels INCLUDING ALL)')
  await pool.query(
    'INSERT INTO bench_raw_channels SELECT * FROM channels AS c WHERE c.id = ANY($1::uuid[])',
    [channels.map((channel) => channel.channel_id)],
  )
  await pool.query('CREATE TABLE bench_raw_channel_calls (LIKE channel_calls INCLUDING ALL)')
  await pool.query(
    'ALTER TABLE bench_raw_channel_calls ADD FOREIGN KEY (channel_id) REFERENCES bench_raw_channels (id)',
  )
  const rawRounds: PhaseFigures[] = []
  for (let roundNumber = 1; roundNumber <= options.rounds; roundNumber += 1) {
    const figures = await measure(
      load,
      {
        type: 'raw-pg',
        databaseUrl: io.databaseUrl,
        channelIds: channels.map((channel) => channel.channel_id),
        priceUnits: priceUnits.toString(),
        callsPerClient: callsPerCaller,
        warmUp: roundNumber === 1 ? 10 : 0,
      },
      'raw_pg',
      roundNumber,
    )
    console.log(
      `raw pg round ${roundNumber}: ${figures.calls} commits, ${figures.errors} errors, ${figures.rps} calls/s, ` +
        `p50 ${figures.latency_ms.p50} ms, p99 ${figures.latency_ms.p99} ms, cores ${JSON.stringify(figures.cpu_cores)}`,
    )
    rawRounds.push(figures)
  }
  await pool.query('DROP TABLE bench_raw_channel_calls, bench_raw_channels')

  // ---- settlement: every channel's rest queued, then batches until nothing is left
  const settleStarted = performance.now()
  await inBatches(callers, 16, (caller, index) =>
    api('POST', `/v1/channels/${channels[index]!.channel_id}/settle`, { apiKey: caller.apiKey }),
  )
  const settleResults = await settleAll()
  const settleSeconds = (performance.now() - settleStarted) / 1000
  const settlement = await settlementFigures({
    pool,
    client,
    chainId,
    vault,
    usdc,
    channels,
    lastBatchBeforeCalls,
    paidOk,
    priceUnits,
  })

  const paid = medianRound(paidRounds)
  const unpaid = medianRound(unpaidRounds)
  const rawPg = medianRound(rawRounds)
  const ratios = {
    paid_over_unpaid: round(paid.rps / unpaid.rps, 3),
    paid_over_raw_pg: round(paid.rps / rawPg.rps, 3),
  }
  return {
    paid_rps: paid.rps,
    unpaid_rps: unpaid.rps,
    raw_pg_rps: rawPg.rps,
    paid_p50_ms: paid.latency_ms.p50,
    paid_p99_ms: paid.latency_ms.p99,
    unpaid_p50_ms: unpaid.latency_ms.p50,
    unpaid_p99_ms: unpaid.latency_ms.p99,
    raw_pg_p50_ms: rawPg.latency_ms.p50,
    raw_pg_p99_ms: rawPg.latency_ms.p99,
    gas_per_call: settlement.gas_per_call,
    ratios,
    goals: {
      paid_over_unpaid_at_least: GOALS.paidOverUnpaid,
      paid_over_raw_pg_at_least: GOALS.paidOverRawPg,
      paid_p99_ms_below: GOALS.p99Ms,
      is_paid_over_unpaid_met: ratios.paid_over_unpaid >= GOALS.paidOverUnpaid,
      is_paid_over_raw_pg_met: ratios.paid_over_raw_pg >= GOALS.paidOverRawPg,
      is_p99_met: paid.latency_ms.p99 < GOALS.p99Ms,
    },
    aggregation: `median of ${options.rounds} rounds by calls/s; latencies of that round`,
    best: {
      paid_rps: Math.max(...paidRounds.map((figures) => figures.rps)),
      unpaid_rps: Math.max(...unpaidRounds.map((figures) => figures.rps)),
      raw_pg_rps: Math.max(...rawRounds.map((figures) => figures.rps)),
    },
    options: {
      calls_per_round: callsPerCaller * options.concurrency,
      concurrency: options.concurrency,
      calls_per_caller_per_round: callsPerCaller,
      rounds: options.rounds,
      warm_up_calls_per_caller: options.warmUpCallsPerCaller,
      app_pool_size: options.poolSize,
      price_per_call: PRICE,
      settlement_interval: SETTLEMENT_INTERVAL,
      deposit_per_channel: formatAmount(depositUnits, USDC_DECIMALS),
      upstream: 'node:http stub answering {"echo": input} in the load process',
      vouchers: 'signed ahead in the load process (native libsecp256k1), not timed',
    },
    background_cores_before_rounds: background,
    setup: {
      seconds: round(setupSeconds, 2),
      voucher_signing_seconds: round(prepared.seconds, 2),
      vouchers_signed: prepared.vouchers,
    },
    rounds: { warm_up: warmUp, unpaid: unpaidRounds, paid: paidRounds, raw_pg: rawRounds },
    calls_total: { paid: paidOk, unpaid: unpaidOk },
    settlement: {
      ...settlement,
      seconds: round(settleSeconds, 2),
      settler_rounds: settleResults.length,
    },
    ...(options.profileDir ? { profiles } : {}),
  }
}

/**
 * Reads the batches the calls produced (every batch after `lastBatchBeforeCalls`), their gas from
 * their receipts, and checks the settled amounts against the calls paid: in the coordinator's
 * records, on each channel in the vault, and in the provider's vault balance.
 */
async function settlementFigures(parameters: {
  pool: pg.Pool
  client: PublicClient
  chainId: number
  vault: Hex
  usdc: Hex
  channels: ChannelResponse[]
  lastBatchBeforeCalls: number
  paidOk: number
  priceUnits: bigint
}) {
  const { pool, client, chainId, vault, usdc, channels, lastBatchBeforeCalls, paidOk, priceUnits } =
    parameters
  const channelIds = channels.map((channel) => channel.channel_id)
  const { rows: batches } = await pool.query(
    `SELECT b.batch_number::int AS batch_number, b.tx_hash, b.op_count, b.status,
            count(*) FILTER (WHERE o.kind = $3)::int AS settle_ops,
            coalesce(sum(s.to_sequence - s.from_sequence + 1) FILTER (WHERE o.kind = $3), 0)::int AS calls
       FROM settlement_batches AS b
       JOIN chain_ops AS o ON o.chain_id = b.chain_id AND o.batch_number = b.batch_number
       LEFT JOIN channel_settlements AS s ON s.chain_op_id = o.id
      WHERE b.chain_id = $1 AND b.batch_number > $2
      GROUP BY b.batch_number, b.tx_hash, b.op_count, b.status
      ORDER BY b.batch_number`,
    [chainId, lastBatchBeforeCalls, OpKind.ChannelSettle],
  )
  let gasTotal = 0n
  let callsSettled = 0
  let settleOps = 0
  const gasPerBatch: number[] = []
  for (const batch of batches) {
    if (batch.status !== 'confirmed') throw new Error(`batch ${batch.batch_number} is ${batch.status}`)
    if (batch.settle_ops === 0) continue
    const receipt = await client.getTransactionReceipt({ hash: batch.tx_hash as Hex })
    gasTotal += receipt.gasUsed
    gasPerBatch.push(Number(receipt.gasUsed))
    callsSettled += batch.calls as number
    settleOps += batch.settle_ops as number
  }

  const { rows: statusRows } = await pool.query(
    `SELECT s.status, count(*)::int AS n, coalesce(sum(s.amount), 0)::text AS amount, coalesce(sum(s.fee), 0)::text AS fee
       FROM channel_settlements AS s WHERE s.channel_id = ANY($1::uuid[]) GROUP BY s.status`,
    [channelIds],
  )
  const settled = statusRows.find((row) => row.status === 'settled')
  const settledAmount = BigInt(settled?.amount ?? '0')
  const settledFee = BigInt(settled?.fee ?? '0')
  const { rows: channelRows } = await pool.query(
    `SELECT count(*) FILTER (WHERE c.settled_sequence <> c.last_sequence)::int AS unsettled_channels,
            sum(c.settled_amount)::text AS settled_amount,
            (SELECT count(*)::int FROM channel_calls AS k WHERE k.channel_id = ANY($1::uuid[])) AS calls
       FROM channels AS c WHERE c.id = ANY($1::uuid[])`,
    [channelIds],
  )
  let onChainSettled = 0n
  for (const channel of channels) {
    const view = await client.readContract({
      address: vault,
      abi: clearhouseVaultAbi,
      functionName: 'channel',
      args: [channel.vault_channel_id as Hex],
    })
    onChainSettled += view.settled
  }
  const providerBalance = await client.readContract({
    address: vault,
    abi: clearhouseVaultAbi,
    functionName: 'balanceOf',
    args: [channels[0]!.config.provider as Hex, usdc],
  })
  const expected = BigInt(paidOk) * priceUnits
  const checks = {
    every_settlement_settled: statusRows.every((row) => row.status === 'settled'),
    every_channel_settled_to_its_last_call: channelRows[0].unsettled_channels === 0,
    calls_recorded_equal_calls_paid: channelRows[0].calls === paidOk,
    settled_in_records_equals_calls_times_price: settledAmount === expected,
    channels_settled_amount_equals_calls_times_price: BigInt(channelRows[0].settled_amount) === expected,
    vault_channels_settled_equals_calls_times_price: onChainSettled === expected,
    provider_vault_balance_equals_settled_less_fee: providerBalance === settledAmount - settledFee,
    settled_calls_in_batches_equal_calls_paid: callsSettled === paidOk,
  }
  const isExact = Object.values(checks).every(Boolean)
  console.log(
    `\nsettlement: ${paidOk} paid calls × ${priceUnits} base units = ${expected}; settled ${settledAmount} ` +
      `(records), ${onChainSettled} (vault channels); provider got ${providerBalance} after ${settledFee} fee: ` +
      (isExact ? 'exact' : `NOT EXACT ${JSON.stringify(checks)}`),
  )
  if (!isExact) throw new Error(`settlement does not match the calls paid: ${JSON.stringify(checks)}`)
  return {
    batches: gasPerBatch.length,
    settle_ops: settleOps,
    calls_settled: callsSettled,
    gas_total: Number(gasTotal),
    gas_per_batch: gasPerBatch,
    gas_per_settle_op: settleOps > 0 ? Math.round(Number(gasTotal) / settleOps) : null,
    gas_per_call: callsSettled > 0 ? round(Number(gasTotal) / callsSettled, 1) : null,
    paid_calls: paidOk,
    expected_base_units: expected.toString(),
    settled_base_units: settledAmount.toString(),
    vault_channels_settled_base_units: onChainSettled.toString(),
    fee_base_units: settledFee.toString(),
    provider_vault_balance_base_units: providerBalance.toString(),
    settlement_statuses: Object.fromEntries(statusRows.map((row) => [row.status, row.n])),
    checks,
    is_exact: isExact,
  }
}

function printTable(result: {
  machine: { cpu: string; cores: number; node: string; postgres: string }
  paid_rps: number
  unpaid_rps: number
  raw_pg_rps: number
  paid_p50_ms: number
  paid_p99_ms: number
  unpaid_p50_ms: number
  unpaid_p99_ms: number
  raw_pg_p50_ms: number
  raw_pg_p99_ms: number
  gas_per_call: number | null
  ratios: { paid_over_unpaid: number; paid_over_raw_pg: number }
  goals: { is_paid_over_unpaid_met: boolean; is_paid_over_raw_pg_met: boolean; is_p99_met: boolean }
  aggregation: string
  best: { paid_rps: number; unpaid_rps: number; raw_pg_rps: number }
  options: { calls_per_round: number; concurrency: number }
  settlement: { gas_per_settle_op: number | null; batches: number; calls_settled: number; is_exact: boolean }
  profiles?: Record<string, ProfileSummary>
  total_seconds: number
}): void {
  const mark = (isMet: boolean) => (isMet ? 'met' : 'MISSED')
  const rows: Array<[string, string]> = [
    ['paid calls/s (best)', `${result.paid_rps} (${result.best.paid_rps})`],
    ['unpaid calls/s (best)', `${result.unpaid_rps} (${result.best.unpaid_rps})`],
    ['raw pg one-commit-per-call/s (best)', `${result.raw_pg_rps} (${result.best.raw_pg_rps})`],
    ['paid p50 / p99', `${result.paid_p50_ms} / ${result.paid_p99_ms} ms`],
    ['unpaid p50 / p99', `${result.unpaid_p50_ms} / ${result.unpaid_p99_ms} ms`],
    ['raw pg p50 / p99', `${result.raw_pg_p50_ms} / ${result.raw_pg_p99_ms} ms`],
    [
      'paid / unpaid (goal ≥ 0.8)',
      `${result.ratios.paid_over_unpaid} ${mark(result.goals.is_paid_over_unpaid_met)}`,
    ],
    [
      'paid / raw pg (goal ≥ 1.0)',
      `${result.ratios.paid_over_raw_pg} ${mark(result.goals.is_paid_over_raw_pg_met)}`,
    ],
    ['paid p99 (goal < 25 ms)', `${result.paid_p99_ms} ms ${mark(result.goals.is_p99_met)}`],
    ['gas per call (per settle op)', `${result.gas_per_call} (${result.settlement.gas_per_settle_op})`],
    [
      'settlement batches / calls settled',
      `${result.settlement.batches} / ${result.settlement.calls_settled}`,
    ],
    ['settled = paid calls × price', String(result.settlement.is_exact)],
    ['total run time', `${result.total_seconds} s`],
  ]
  const width = Math.max(...rows.map(([label]) => label.length))
  const valueWidth = Math.max(...rows.map(([, value]) => value.length))
  console.log(
    `\nClearhouse paid calls on ${result.machine.cpu} (${result.machine.cores} cores), Node ${result.machine.node}, ` +
      `Postgres ${result.machine.postgres}: ${result.options.concurrency} callers, ` +
      `${result.options.calls_per_round} calls a round, ${result.aggregation}\n`,
  )
  console.log(`| ${'figure'.padEnd(width)} | ${'value'.padEnd(valueWidth)} |`)
  console.log(`|${'-'.repeat(width + 2)}|${'-'.repeat(valueWidth + 2)}|`)
  for (const [label, value] of rows) console.log(`| ${label.padEnd(width)} | ${value.padEnd(valueWidth)} |`)
  for (const [kind, profile] of Object.entries(result.profiles ?? {})) {
    console.log(`\nprofile, ${kind} (${profile.cpu_profile}): ${profile.sampled_ms} ms sampled`)
    for (const entry of profile.by_module.slice(0, 12))
      console.log(`  ${String(entry.percent).padStart(5)}%  ${entry.module}`)
    console.log('  top functions:')
    for (const entry of profile.top_functions.slice(0, 15))
      console.log(`  ${String(entry.percent).padStart(5)}%  ${entry.function}`)
    console.log(`  SQL statements per call: ${profile.sql.statements_per_call}`)
    for (const entry of profile.sql.top.slice(0, 8))
      console.log(`  ${String(entry.calls).padStart(7)} × ${entry.mean_ms} ms  ${entry.statement}`)
  }
}

main().catch((error) => {
  console.error(error)
  process.exitCode = 1
})
