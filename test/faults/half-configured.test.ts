import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { expect } from 'chai'
import { toHex } from 'viem'
import { mnemonicToAccount, privateKeyToAccount } from 'viem/accounts'
import { deployTestVault, hardhatRpcUrl } from '../server/helpers/chain'
import { coordinatorAccount, TEST_MNEMONIC } from '../server/helpers/chain-app'
import { faultEnvironment, logLines, spawnCoordinator, type CoordinatorProcess } from './helpers/coordinator'
import { freePort, startDisposablePostgres, type DisposablePostgres } from './helpers/disposable-postgres'
import { api } from './helpers/http-client'

/** Hardhat's account #0 key, the coordinator `deployTestVault` names. */
function coordinatorKey(): string {
  const key = toHex(mnemonicToAccount(TEST_MNEMONIC, { addressIndex: 0 }).getHdKey().privateKey!)
  if (privateKeyToAccount(key).address !== coordinatorAccount.address)
    throw new Error('not the coordinator key')
  return key
}

interface WorkerState {
  status: 'running' | 'disabled' | 'not_running'
  reason: string | null
}

/**
 * Issue 11, finding 8: a configured coordinator without its key started, said `ok` and let ops
 * wait forever without a word. `server/main.ts` runs as an operator runs it, against a real chain
 * (Hardhat over HTTP) and a deployment file; start-up says which workers run and why not, and
 * health says the same.
 */
describe('faults: a half-configured coordinator says what does not run', () => {
  let cluster: DisposablePostgres
  let dir: string
  let env: Record<string, string>
  let coordinator: CoordinatorProcess | null = null

  before(async function () {
    this.timeout(120_000)
    cluster = await startDisposablePostgres()
    await cluster.createDatabase('clearhouse')
    dir = await mkdtemp(path.join(os.tmpdir(), 'clearhouse-half-'))
    const deploymentFile = path.join(dir, 'deployment.json')
    await writeFile(deploymentFile, JSON.stringify(await deployTestVault()))
    env = faultEnvironment(cluster.url('clearhouse'), {
      LOG_LEVEL: 'info',
      RPC_URL: await hardhatRpcUrl(),
      DEPLOYMENT_FILE: deploymentFile,
      WORKERS_ENABLED: 'true',
    })
  })
  afterEach(async () => {
    if (coordinator && coordinator.child.exitCode === null) {
      coordinator.child.kill('SIGTERM')
      await coordinator.exited
    }
    coordinator = null
  })
  after(async () => {
    await cluster?.destroy()
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  async function start(extra: Record<string, string>) {
    coordinator = await spawnCoordinator({ ...env, PORT: String(await freePort()), ...extra })
    const health = await api(coordinator.url, 'GET', '/v1/health', { timeoutMs: 10_000 })
    const lines = logLines(coordinator.output())
    return { health, lines, workers: health.body.workers as Record<string, WorkerState> }
  }

  it('without COORDINATOR_PRIVATE_KEY: logs "settler: not running" at start-up and health is degraded, naming it', async function () {
    this.timeout(60_000)
    const { health, lines, workers } = await start({})
    const messages = lines.map((line) => line.msg)
    expect(messages).to.include('settler: not running (no COORDINATOR_PRIVATE_KEY)')
    expect(messages).to.include('indexer: running')
    expect(health.status).to.equal(503)
    expect(health.body.status).to.equal('degraded')
    expect(workers.settler).to.deep.equal({ status: 'not_running', reason: 'no COORDINATOR_PRIVATE_KEY' })
    expect(workers.indexer!.status).to.equal('running')
    const dependencies = health.body.dependencies as Record<string, { status: string }>
    expect(dependencies.database!.status).to.equal('ok')
    expect(dependencies.chain!.status).to.equal('ok')
  })

  it('with the key: every worker runs, each says so at start-up, and health is ok', async function () {
    this.timeout(60_000)
    // The test vault's coordinator (Hardhat's account #0): any other key refuses to start.
    const { health, lines, workers } = await start({ COORDINATOR_PRIVATE_KEY: coordinatorKey() })
    expect(lines.map((line) => line.msg)).to.include.members([
      'indexer: running',
      'settler: running',
      'withdrawal_refunds: running',
      'reconciliation: running',
    ])
    expect(health.status, JSON.stringify(health.body)).to.equal(200)
    expect(health.body.status).to.equal('ok')
    for (const state of Object.values(workers)) expect(state.status).to.equal('running')
  })

  it('an API-only replica (WORKERS_ENABLED=false) says its workers are disabled, which is healthy', async function () {
    this.timeout(60_000)
    const { health, lines, workers } = await start({ WORKERS_ENABLED: 'false' })
    expect(lines.map((line) => line.msg)).to.include('settler: disabled (WORKERS_ENABLED=false)')
    expect(health.status, JSON.stringify(health.body)).to.equal(200)
    for (const state of Object.values(workers)) {
      expect(state).to.deep.equal({ status: 'disabled', reason: 'WORKERS_ENABLED=false' })
    }
  })
})
