import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { expect } from 'chai'
import { createPublicClient, http, toHex, type PublicClient } from 'viem'
import { mnemonicToAccount, privateKeyToAccount } from 'viem/accounts'
import { myAgentResponse, registerAgentResponse } from '../../protocol/agents'
import { deploymentSchema, type Deployment } from '../../protocol/deployment'
import { healthResponse } from '../../protocol/health'
import { reconciliationResponse } from '../../protocol/platform'
import { clearhouseVaultAbi } from '../../protocol/vault-abi'
import { createTestDatabase, testDatabaseServer, type TestDatabase } from '../server/helpers/database'
import { freePort, rpc, spawnGroup, waitFor, type GroupProcess } from './helpers/processes'

const ROOT = path.resolve(__dirname, '../..')
const run = promisify(execFile)

// Hardhat's public dev mnemonic, as `hardhat node` funds it: never a real key.
const DEV_MNEMONIC = 'test test test test test test test test test test test junk'
const devKey = (index: number) =>
  toHex(mnemonicToAccount(DEV_MNEMONIC, { addressIndex: index }).getHdKey().privateKey!)
/** Deploys from the environment's key, which is not the node's first (default) account. */
const DEPLOYER_KEY = devKey(1)
const COORDINATOR_KEY = devKey(0)

/** Runs an npm script as an operator would, failing with its output when it fails. */
async function npm(args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<string> {
  try {
    const { stdout } = await run('npm', args, { cwd: ROOT, env, timeout: timeoutMs, maxBuffer: 16 << 20 })
    return stdout
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string }
    throw new Error(`npm ${args.join(' ')} failed:\n${stdout ?? ''}\n${stderr ?? ''}`)
  }
}

/** The parent's environment without any deploy or coordinator setting that would leak into the run. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env }
  for (const name of Object.keys(env)) if (/^(DEPLOY|DEPLOYER)_/.test(name)) delete env[name]
  for (const name of ['RPC_URL', 'DEPLOYMENT_FILE', 'DATABASE_URL', 'PORT', 'HOST']) delete env[name]
  return env
}

/**
 * Issue 11, findings 1 and 2: the documented configured start from a clean build, with real
 * processes only. `npm run build` into an emptied dist, a standalone `hardhat node` on a free
 * (non-default) port, `npm run deploy -- --network rpc` aimed at it by the environment alone, then
 * `node dist/server/main.js` against a fresh Postgres database and that chain.
 */
describe('built coordinator against a standalone node (README: configured start)', () => {
  let workDir: string
  let chainNode: GroupProcess | undefined
  let coordinator: GroupProcess | undefined
  let database: TestDatabase | undefined
  let chainPort: number
  let rpcUrl: string
  let apiUrl: string
  let deployment: Deployment
  let deployOutput: string
  let client: PublicClient

  before(async function () {
    this.timeout(240_000)
    workDir = await mkdtemp(path.join(tmpdir(), 'clearhouse-faults-'))
    await rm(path.join(ROOT, 'dist'), { recursive: true, force: true })
    await npm(['run', 'build'], cleanEnv(), 180_000)

    chainPort = await freePort()
    rpcUrl = `http://127.0.0.1:${chainPort}`
    chainNode = spawnGroup(
      'npx',
      ['hardhat', 'node', '--hostname', '127.0.0.1', '--port', String(chainPort)],
      {
        cwd: ROOT,
        env: cleanEnv(),
      },
    )
    await waitFor('hardhat node answers eth_chainId', () => rpc<string>(rpcUrl, 'eth_chainId'), {
      timeoutMs: 60_000,
      process: chainNode,
    })
    client = createPublicClient({ transport: http(rpcUrl) }) as PublicClient

    const deploymentFile = path.join(workDir, 'deployment.json')
    deployOutput = await npm(
      ['run', 'deploy', '--', '--network', 'rpc'],
      {
        ...cleanEnv(),
        // As the README's configured start: RPC_URL, which the coordinator reads too, names the node.
        RPC_URL: rpcUrl,
        DEPLOYER_PRIVATE_KEY: DEPLOYER_KEY,
        DEPLOY_COORDINATOR: privateKeyToAccount(COORDINATOR_KEY).address,
        DEPLOY_OUTPUT_FILE: deploymentFile,
      },
      120_000,
    )
    deployment = deploymentSchema.parse(JSON.parse(await readFile(deploymentFile, 'utf8')))

    // The built server migrates the empty database itself, from the SQL copied into dist.
    database = await createTestDatabase({ migrated: false })
    const isPglite = (await testDatabaseServer()).kind === 'pglite'
    const apiPort = await freePort()
    apiUrl = `http://127.0.0.1:${apiPort}`
    // Started from another directory: nothing in dist may depend on the working directory.
    coordinator = spawnGroup(process.execPath, [path.join(ROOT, 'dist/server/main.js')], {
      cwd: workDir,
      env: {
        ...cleanEnv(),
        DATABASE_URL: database.url,
        ...(isPglite ? { DATABASE_POOL_SIZE: '1' } : {}),
        RPC_URL: rpcUrl,
        DEPLOYMENT_FILE: deploymentFile,
        COORDINATOR_PRIVATE_KEY: COORDINATOR_KEY,
        WALLET_ENCRYPTION_KEY: `0x${randomBytes(32).toString('hex')}`,
        PORT: String(apiPort),
        HOST: '127.0.0.1',
        LOG_LEVEL: 'warn',
        // The first indexed range then ends below the vault's block: the case where a
        // deploymentBlock before the token made reconciliation read a contract with no code.
        CONFIRMATIONS: '2',
        INDEXER_POLL_MS: '100',
        RECONCILE_INTERVAL_MS: '1000',
      },
    })
    await waitFor(
      'node dist/server/main.js answers /v1/health',
      async () => ((await fetch(`${apiUrl}/v1/health`)).ok ? true : undefined),
      { timeoutMs: 60_000, process: coordinator },
    )
  })

  after(async function () {
    this.timeout(60_000)
    await coordinator?.stop()
    await chainNode?.stop()
    await database?.drop()
    if (workDir) await rm(workDir, { recursive: true, force: true })
  })

  it('answers /v1/health 200 ok with the package version, the chain id and the deployed contracts', async () => {
    const res = await fetch(`${apiUrl}/v1/health`)
    expect(res.status).to.equal(200)
    const health = healthResponse.parse(await res.json())
    const { version } = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as {
      version: string
    }
    expect(health).to.include({ status: 'ok', version, chain_id: 31337, database: 'postgres' })
    expect(health.contracts).to.deep.equal(deployment.contracts)
    expect(Object.keys(health.contracts)).to.have.members(['MockUSDC', 'ClearhouseVault'])
  })

  it('registers an agent with a managed wallet and reads it back with its API key', async () => {
    const registered = await fetch(`${apiUrl}/v1/agents/register`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ handle: 'faults_built_agent' }),
    })
    expect(registered.status).to.equal(201)
    const agent = registerAgentResponse.parse(await registered.json())
    expect(agent.is_managed_wallet).to.equal(true)

    const me = await fetch(`${apiUrl}/v1/agents/me`, {
      headers: { Authorization: `Bearer ${agent.api_key}` },
    })
    expect(me.status).to.equal(200)
    expect(myAgentResponse.parse(await me.json())).to.include({
      agent_id: agent.agent_id,
      handle: 'faults_built_agent',
    })
  })

  it('deploys with --network rpc to a node on a non-default port, from DEPLOYER_PRIVATE_KEY', async () => {
    expect(chainPort).to.not.equal(8545)
    // What this file runs is what the README tells an operator to run.
    const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8')
    const section = readme.slice(readme.indexOf('## Configured start'), readme.indexOf('## HTTP API'))
    for (const command of [
      'npm run deploy -- --network rpc',
      'rm -rf dist && npm run build',
      'node dist/server/main.js',
    ])
      expect(section).to.contain(command)
    expect(deployOutput).to.contain(`deployed to chain 31337`)
    expect(deployment.chainId).to.equal(31337)
    const vault = deployment.contracts.ClearhouseVault!
    const read = (functionName: 'owner' | 'coordinator') =>
      client.readContract({ address: vault, abi: clearhouseVaultAbi, functionName })
    expect(await read('owner')).to.equal(privateKeyToAccount(DEPLOYER_KEY).address)
    expect(await read('coordinator')).to.equal(privateKeyToAccount(COORDINATOR_KEY).address)
  })

  it("records as deploymentBlock the token's own block: its code exists there and not one block before", async () => {
    const usdc = deployment.contracts.MockUSDC!
    const block = BigInt(deployment.deploymentBlock)
    expect(await client.getCode({ address: usdc, blockNumber: block })).to.match(/^0x[0-9a-f]{2,}$/i)
    expect(await client.getCode({ address: usdc, blockNumber: block - 1n })).to.equal(undefined)
  })

  it('reconciles from the first indexer round on, at the block the indexer reached', async function () {
    this.timeout(30_000)
    // A non-zero lag gauge means the indexer has finished a round (nothing confirmed yet).
    await waitFor(
      'the indexer runs a round',
      async () => {
        const metrics = await (await fetch(`${apiUrl}/metrics`)).text()
        return /^clearhouse_indexer_lag_blocks [1-9]/m.test(metrics) ? true : undefined
      },
      { timeoutMs: 20_000, process: coordinator },
    )
    const early = await fetch(`${apiUrl}/v1/platform/reconciliation`)
    expect(early.status, await early.clone().text()).to.equal(200)

    // One more block puts the token's block two deep: the indexer reaches it and the vault's
    // balance is read there.
    await rpc(rpcUrl, 'evm_mine')
    const report = await waitFor(
      'reconciliation at the deployment block',
      async () => {
        const res = await fetch(`${apiUrl}/v1/platform/reconciliation`)
        const body = reconciliationResponse.parse(await res.json())
        return body.block_number === deployment.deploymentBlock ? body : undefined
      },
      { timeoutMs: 20_000, process: coordinator },
    )
    expect(report.tokens).to.have.length(1)
    expect(report.tokens[0]).to.include({ token: 'USDC', on_chain: '0', difference: '0', is_balanced: true })
  })

  it("refuses to start with a COORDINATOR_PRIVATE_KEY that is not the vault's coordinator: exit 1, one line", async function () {
    this.timeout(60_000)
    const wrongKey = devKey(5)
    const started = await run(process.execPath, [path.join(ROOT, 'dist/server/main.js')], {
      cwd: workDir,
      env: {
        ...cleanEnv(),
        DATABASE_URL: database!.url,
        RPC_URL: rpcUrl,
        DEPLOYMENT_FILE: path.join(workDir, 'deployment.json'),
        COORDINATOR_PRIVATE_KEY: wrongKey,
        WALLET_ENCRYPTION_KEY: `0x${randomBytes(32).toString('hex')}`,
        PORT: String(await freePort()),
        LOG_LEVEL: 'silent',
      },
      timeout: 50_000,
    }).then(
      () => null,
      (error: { code?: number; stderr?: string }) => error,
    )
    expect(started, 'the process must not start').to.not.equal(null)
    expect(started!.code).to.equal(1)
    expect(started!.stderr!.trim()).to.equal(
      `clearhouse: invalid COORDINATOR_PRIVATE_KEY: its address ${privateKeyToAccount(wrongKey).address} is not the vault's coordinator ${privateKeyToAccount(COORDINATOR_KEY).address}`,
    )
  })

  it("deploys to DEPLOY_RPC_URL over RPC_URL, from the node's own account without DEPLOYER_PRIVATE_KEY", async function () {
    this.timeout(120_000)
    const file = path.join(workDir, 'second-deployment.json')
    await npm(
      ['run', 'deploy', '--', '--network', 'rpc'],
      {
        ...cleanEnv(),
        DEPLOY_RPC_URL: rpcUrl,
        RPC_URL: `http://127.0.0.1:${await freePort()}`,
        DEPLOY_OUTPUT_FILE: file,
      },
      120_000,
    )
    const second = deploymentSchema.parse(JSON.parse(await readFile(file, 'utf8')))
    expect(second.contracts.ClearhouseVault).to.not.equal(deployment.contracts.ClearhouseVault)
    const [nodeAccount] = await rpc<string[]>(rpcUrl, 'eth_accounts')
    const owner = await client.readContract({
      address: second.contracts.ClearhouseVault!,
      abi: clearhouseVaultAbi,
      functionName: 'owner',
    })
    expect(owner.toLowerCase()).to.equal(nodeAccount!.toLowerCase())
  })
})
