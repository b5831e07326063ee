import { mkdirSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { TASK_NODE_CREATE_SERVER } from 'hardhat/builtin-tasks/task-names'
import type { HardhatRuntimeEnvironment, JsonRpcServer } from 'hardhat/types'
import { randomBytes } from 'node:crypto'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import pg from 'pg'
import pino from 'pino'
import { toHex, type PublicClient } from 'viem'
import { mnemonicToAccount, privateKeyToAccount } from 'viem/accounts'
import type { Deployment } from '../../protocol/deployment'
import { ensurePlatformResolver } from '../../server/agents/agents-service'
import { createApp } from '../../server/app'
import type { AppContext } from '../../server/app-context'
import { createPool } from '../../server/db/pool'
import { createMetrics } from '../../server/metrics'

// What every benchmark run sets up the same way: a database of its own, Hardhat's chain served
// over JSON-RPC, the coordinator's context and app, the machine it ran on, and where its figures go.

/** Hardhat's public dev mnemonic: its accounts are the benchmarks' coordinator, payers and funders. */
export const BENCH_MNEMONIC = 'test test test test test test test test test test test junk'

/** Hardhat account #0 deploys the vault and is its coordinator, as on the embedded dev chain. */
export const benchCoordinator = privateKeyToAccount(
  toHex(mnemonicToAccount(BENCH_MNEMONIC, { addressIndex: 0 }).getHdKey().privateKey!),
)

/**
 * A coordinator context over `pool` and the deployed chain, as the composition root builds it,
 * with the rate limits out of the benchmark's way and a platform resolver; `isDevChain` lets the
 * invoke proxy call a stub on loopback and the faucet fund agents.
 */
export async function benchAppContext(
  pool: pg.Pool,
  chain: { client: PublicClient; deployment: Deployment },
  overrides: Partial<AppContext> = {},
): Promise<AppContext> {
  const walletEncryptionKey = randomBytes(32)
  return {
    version: 'bench',
    pool,
    databaseKind: 'postgres',
    chain,
    coordinatorAccount: benchCoordinator,
    tokens: chain.deployment.tokens,
    isDevChain: true,
    logger: pino({ level: process.env.BENCH_LOG_LEVEL ?? 'silent' }),
    metrics: createMetrics(),
    walletEncryptionKey,
    authRateLimitPerMinute: 1_000_000,
    chainWriteRateLimitPerMinute: 1_000_000,
    platformResolverAgentId: await ensurePlatformResolver({ pool, walletEncryptionKey }),
    ...overrides,
  }
}

/** The context's app listening on a free loopback port, and its base URL. */
export async function listenBenchApp(context: AppContext): Promise<{ server: Server; baseUrl: string }> {
  const server = await new Promise<Server>((resolve, reject) => {
    const listening = createApp(context).listen(0, '127.0.0.1', () => resolve(listening))
    listening.once('error', reject)
  })
  return { server, baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }
}

/**
 * A fresh `clearhouse_bench_<pid>` database on BENCH_POSTGRES_URL (default the local Postgres)
 * with a pool of `poolSize`; `drop()` ends the pool and drops the database.
 */
export async function createBenchDatabase(
  poolSize: number,
): Promise<{ url: string; pool: pg.Pool; drop(): Promise<void> }> {
  const adminUrl = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
  const databaseName = `clearhouse_bench_${process.pid}`
  const admin = new pg.Client({ connectionString: adminUrl })
  await admin.connect()
  await admin.query(`DROP DATABASE IF EXISTS ${databaseName}`)
  await admin.query(`CREATE DATABASE ${databaseName}`)
  const databaseUrl = new URL(adminUrl)
  databaseUrl.pathname = `/${databaseName}`
  const pool = createPool(databaseUrl.toString(), poolSize)
  return {
    url: databaseUrl.toString(),
    pool,
    async drop() {
      await pool.end()
      await admin.query(`DROP DATABASE IF EXISTS ${databaseName} WITH (FORCE)`)
      await admin.end()
    },
  }
}

/** The in-process Hardhat chain served as HTTP JSON-RPC on a free loopback port. */
export async function serveHardhatRpc(
  hre: HardhatRuntimeEnvironment,
): Promise<{ url: string; close(): Promise<void> }> {
  const server = (await hre.run(TASK_NODE_CREATE_SERVER, {
    hostname: '127.0.0.1',
    port: 0,
    provider: hre.network.provider,
  })) as JsonRpcServer
  const { port } = await server.listen()
  return { url: `http://127.0.0.1:${port}`, close: () => server.close() }
}

/** The machine a run measured on. */
export interface BenchMachine {
  node: string
  cpu: string
  cores: number
  memory_gib: number
  postgres: string
}

/** The machine a run measured: Node, CPU, cores, memory and the Postgres it used. */
export async function benchMachine(pool: pg.Pool): Promise<BenchMachine> {
  return {
    node: process.version,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memory_gib: Number((os.totalmem() / 1024 ** 3).toFixed(1)),
    postgres: (await pool.query('SHOW server_version')).rows[0].server_version as string,
  }
}

/** Writes a run's figures to bench/<name>.json and says where. */
export function writeBenchFigures(name: string, result: unknown): void {
  const out = path.join(__dirname, '..', '..', 'bench', `${name}.json`)
  mkdirSync(path.dirname(out), { recursive: true })
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`)
  console.log(`\nwrote ${path.relative(process.cwd(), out)}`)
}
