import { mkdirSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { TASK_NODE_CREATE_SERVER } from 'hardhat/builtin-tasks/task-names'
import type { HardhatRuntimeEnvironment, JsonRpcServer } from 'hardhat/types'
import pg from 'pg'
import { createPool } from '../../server/db/pool'

// What every benchmark run sets up the same way: a database of its own, Hardhat's chain served
// over JSON-RPC, the machine it ran on, and where its figures go.

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
