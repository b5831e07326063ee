/**
 * `npm run bench:reads`: how fast the read routes answer with a chain attached (issue 17, "no
 * request waits on the chain to read"). The coordinator runs in this process over a fresh
 * `clearhouse_bench_<pid>` Postgres database and a vault deployed on Hardhat's chain served over
 * JSON-RPC; autocannon, in a child process, holds `BENCH_READ_CONNECTIONS` (32) keep-alive
 * connections on one route at a time for `BENCH_READ_SECONDS` (10) after a 2 s warm-up:
 * `GET /v1/health`, `GET /v1/jobs` and `GET /v1/wallet/balance` of an agent holding vault funds.
 * Writes bench/reads.json; figures, not pass/fail.
 */
import { execFile } from 'node:child_process'
import type { Server } from 'node:http'
import path from 'node:path'
import { promisify } from 'node:util'
import hre from 'hardhat'
import { createChainClient } from '../../server/chain/clients'
import { VaultIndexer } from '../../server/chain/indexer/vault-indexer'
import { chainEventHandlers } from '../../server/chain/chain-event-handlers'
import { migrate } from '../../server/db/migrate'
import { deployContracts } from '../lib/deploy-contracts'
import {
  benchAppContext,
  benchMachine,
  createBenchDatabase,
  listenBenchApp,
  serveHardhatRpc,
  writeBenchFigures,
} from './bench-setup'

const CONNECTIONS = Number(process.env.BENCH_READ_CONNECTIONS ?? 32)
const SECONDS = Number(process.env.BENCH_READ_SECONDS ?? 10)
const JOBS = 100

const run = promisify(execFile)

/** One route's figures as autocannon measured them. */
interface RouteFigures {
  requests_per_s: number
  p50_ms: number
  p99_ms: number
  non_2xx: number
  errors: number
}

/** Holds `CONNECTIONS` connections on `url` for `SECONDS` (after a warm-up) from a child process. */
async function load(url: string, headers: Record<string, string> = {}): Promise<RouteFigures> {
  const cli = path.join(path.dirname(require.resolve('autocannon/package.json')), 'autocannon.js')
  const headerArgs = Object.entries(headers).flatMap(([name, value]) => ['-H', `${name}=${value}`])
  const args = [
    cli,
    '-c',
    String(CONNECTIONS),
    '-d',
    String(SECONDS),
    '-j',
    '--warmup',
    '[',
    '-c',
    String(CONNECTIONS),
    '-d',
    '2',
    ']',
    ...headerArgs,
    url,
  ]
  const { stdout } = await run(process.execPath, args, { maxBuffer: 64 * 1024 * 1024 })
  const result = JSON.parse(stdout.trim().split('\n').pop()!) as {
    requests: { average: number }
    latency: { p50: number; p99: number }
    non2xx: number
    errors: number
  }
  return {
    requests_per_s: Math.round(result.requests.average),
    p50_ms: result.latency.p50,
    p99_ms: result.latency.p99,
    non_2xx: result.non2xx,
    errors: result.errors,
  }
}

async function main(): Promise<void> {
  const database = await createBenchDatabase(20)
  const { pool } = database
  let rpc: { url: string; close(): Promise<void> } | null = null
  let server: Server | null = null
  try {
    await migrate(pool)
    rpc = await serveHardhatRpc(hre)
    const client = createChainClient(rpc.url)
    const deployment = await deployContracts(hre, { withMockUsdc: true })
    const context = await benchAppContext(pool, { client, deployment })
    const listening = await listenBenchApp(context)
    server = listening.server
    const { baseUrl } = listening
    const api = async (method: string, route: string, apiKey?: string, body?: unknown) => {
      const res = await fetch(`${baseUrl}${route}`, {
        method,
        headers: {
          'content-type': 'application/json',
          ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      })
      if (res.status >= 300) throw new Error(`${method} ${route}: ${res.status} ${await res.text()}`)
      return (await res.json()) as Record<string, unknown>
    }

    // An agent with funds in the vault (a faucet deposit, credited by the indexer), and jobs to list.
    const agent = await api('POST', '/v1/agents/register', undefined, { handle: 'bench_reader' })
    const apiKey = agent.api_key as string
    await api('POST', '/v1/dev/faucet', apiKey, { amount: '1000' })
    const indexer = new VaultIndexer({
      pool,
      client,
      chainId: deployment.chainId,
      vault: deployment.contracts.ClearhouseVault!,
      deploymentBlock: BigInt(deployment.deploymentBlock),
      confirmations: 0,
      handlers: chainEventHandlers(context),
      logger: context.logger,
      metrics: context.metrics,
    })
    await indexer.catchUp(100)
    for (let index = 0; index < JOBS; index += 1) {
      await api('POST', '/v1/jobs', apiKey, {
        title: `Benchmark job number ${index} for the list`,
        description: 'A job posted by the read benchmark so that the public list has a full page to serve.',
        tags: ['bench'],
      })
    }
    const balance = await api('GET', '/v1/wallet/balance', apiKey)
    console.log(`balance before the load: ${JSON.stringify((balance.balances as unknown[])[0])}`)

    const health = await load(`${baseUrl}/v1/health`)
    const jobs = await load(`${baseUrl}/v1/jobs?limit=20`)
    const walletBalance = await load(`${baseUrl}/v1/wallet/balance`, { authorization: `Bearer ${apiKey}` })
    const result = {
      note:
        'figures, not pass/fail; one machine: the coordinator (this process, Hardhat’s chain idle in it), ' +
        'autocannon (a child process) and Postgres share its cores; each route alone, after a 2 s warm-up.',
      measured_at: new Date().toISOString(),
      machine: await benchMachine(pool),
      connections: CONNECTIONS,
      seconds: SECONDS,
      health,
      jobs,
      wallet_balance: walletBalance,
      balance_to_health: Number((walletBalance.requests_per_s / health.requests_per_s).toFixed(2)),
      jobs_to_health: Number((jobs.requests_per_s / health.requests_per_s).toFixed(2)),
    }
    console.table({
      'GET /v1/health': health,
      'GET /v1/jobs': jobs,
      'GET /v1/wallet/balance': walletBalance,
    })
    console.log(`balance / health: ${result.balance_to_health}   jobs / health: ${result.jobs_to_health}`)
    writeBenchFigures('reads', result)
  } finally {
    if (server) {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server!.close(() => resolve()))
    }
    await rpc?.close()
    await database.drop()
  }
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
