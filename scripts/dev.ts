/**
 * `npm start`: the whole system on one machine with no configuration. An in-process Hardhat (EDR)
 * chain served on 127.0.0.1:8545, the contracts and the mock stablecoins deployed to it, three funded demo
 * wallets that deposit into the vault for real, embedded PGlite in .clearhouse/ (unless DATABASE_URL
 * is set) and the coordinator with its indexer and settler.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import hre from 'hardhat'
import { TASK_NODE_CREATE_SERVER } from 'hardhat/builtin-tasks/task-names'
import type { JsonRpcServer } from 'hardhat/types'
import { createWalletClient, custom, erc20Abi, parseEther, toHex, type Hex } from 'viem'
import { clearhouseVaultAbi } from '../protocol/vault-abi'
import { mnemonicToAccount, privateKeyToAccount } from 'viem/accounts'
import { loadConfig } from '../server/config'
import { findAgentById, issuePlatformResolverKey } from '../server/agents/agents-service'
import { startCoordinator } from '../server/coordinator'
import { MigrationHistoryError } from '../server/db/migrate'
import { ConfigError } from '../server/errors'
import { deployContracts } from './lib/deploy-contracts'

const RPC_HOST = '127.0.0.1'
const RPC_PORT = Number(process.env.EMBEDDED_RPC_PORT ?? 8545)

// Hardhat's default development mnemonic: account #0 is the coordinator, #1–#3 the demo wallets.
// Public knowledge: anything these keys hold on a real chain is stolen at once. Dev chain only.
const DEV_MNEMONIC = 'test test test test test test test test test test test junk'
function devKey(index: number): Hex {
  return toHex(mnemonicToAccount(DEV_MNEMONIC, { addressIndex: index }).getHdKey().privateKey!)
}
const COORDINATOR_DEV_KEY = devKey(0)
const DEMO_WALLET_KEYS = [devKey(1), devKey(2), devKey(3)]
const DEMO_USDC = 10_000n * 10n ** 6n
/** What each demo wallet deposits into the vault at start, so the indexer has real deposits to credit. */
const DEMO_DEPOSIT = 1_000n * 10n ** 6n

async function main(): Promise<void> {
  // The embedded chain lives in memory and starts empty every run, so an embedded database kept
  // from an earlier run would describe money that no longer exists: start it fresh too.
  const fresh = true
  await hre.run('compile', { quiet: true })

  const rpcServer = (await hre.run(TASK_NODE_CREATE_SERVER, {
    hostname: RPC_HOST,
    port: RPC_PORT,
    provider: hre.network.provider,
  })) as JsonRpcServer
  await rpcServer.listen()
  const rpcUrl = `http://${RPC_HOST}:${RPC_PORT}`

  const coordinatorAddress = privateKeyToAccount(COORDINATOR_DEV_KEY).address
  const deployment = await deployContracts(hre, {
    withMockUsdc: true,
    withMockStablecoins: true,
    coordinator: coordinatorAddress,
  })
  const deploymentFile = path.resolve('deployments', `${deployment.chainId}.json`)
  await mkdir(path.dirname(deploymentFile), { recursive: true })
  await writeFile(deploymentFile, JSON.stringify(deployment, null, 2) + '\n')

  const usdc = await hre.viem.getContractAt('MockUSDC', deployment.contracts.MockUSDC!)
  const demoWallets = DEMO_WALLET_KEYS.map((key) => ({ key, address: privateKeyToAccount(key).address }))
  const vault = deployment.contracts.ClearhouseVault!
  for (const wallet of demoWallets) {
    await usdc.write.mint([wallet.address, DEMO_USDC])
    await hre.network.provider.request({
      method: 'hardhat_setBalance',
      params: [wallet.address, `0x${parseEther('100').toString(16)}`],
    })
    // A real deposit from the wallet's own key: the indexer credits it to whichever agent
    // registers this wallet (held as unclaimed until then).
    const client = createWalletClient({
      account: privateKeyToAccount(wallet.key),
      transport: custom(hre.network.provider),
    })
    await client.writeContract({
      address: usdc.address,
      abi: erc20Abi,
      functionName: 'approve',
      args: [vault, DEMO_DEPOSIT],
      chain: null,
    })
    await client.writeContract({
      address: vault,
      abi: clearhouseVaultAbi,
      functionName: 'deposit',
      args: [usdc.address, DEMO_DEPOSIT],
      chain: null,
    })
  }

  const config = loadConfig({
    ...process.env,
    RPC_URL: rpcUrl,
    COORDINATOR_PRIVATE_KEY: process.env.COORDINATOR_PRIVATE_KEY ?? COORDINATOR_DEV_KEY,
  })
  if (config.DATABASE_URL) {
    console.warn(
      'clearhouse: DATABASE_URL is set with the in-memory dev chain; data from an earlier run refers to a chain that is gone (the indexer rewinds it as a reorg)',
    )
  }
  const coordinator = await startCoordinator({ config, deployment, fresh, isDevChain: true })
  const resolverId = coordinator.context.platformResolverAgentId!
  const resolver = await findAgentById(coordinator.context.pool, resolverId)
  // A fresh key at every start: the dev operator rules on the platform resolver's disputes with it.
  const resolverKey = await issuePlatformResolverKey(coordinator.context.pool, resolverId)

  const lines = [
    '',
    'Clearhouse is running (embedded dev stack)',
    `  API          ${coordinator.url}/v1  (health: ${coordinator.url}/v1/health, OpenAPI: ${coordinator.url}/v1/openapi.json)`,
    `  Metrics      ${coordinator.url}/metrics`,
    `  Chain RPC    ${rpcUrl}  (chain id ${deployment.chainId})`,
    `  Database     ${coordinator.context.databaseKind === 'pglite' ? `PGlite in ${path.resolve(config.DATA_DIR, 'pgdata')}` : 'DATABASE_URL'}`,
    `  Vault        ${deployment.contracts.ClearhouseVault}`,
    `  Tokens       ${deployment.tokens.map((token) => `${token.symbol} ${token.address} (${token.decimals} decimals)`).join(', ')}`,
    `  Deployment   ${deploymentFile}`,
    `  Resolver     agent ${resolverId} (${resolver?.handle}, managed wallet ${resolver?.walletAddress}): rules escrows whose job names no dispute_agent_id`,
    ...(resolverKey ? [`               its API key (DEV ONLY, new at every start): ${resolverKey}`] : []),
    '',
    'Demo wallets (DEV ONLY: these keys are public, never use them on a real chain):',
    ...demoWallets.map((w, i) => `  #${i + 1} ${w.address}  key ${w.key}  100 ETH, 9000 USDC in the wallet`),
    '  Each also deposited 1000 USDC into the vault: register an agent with that wallet to be credited.',
    '',
    'Ctrl-C stops everything.',
  ]
  console.log(lines.join('\n'))

  let stopping = false
  const shutdown = async () => {
    if (stopping) return
    stopping = true
    console.log('stopping…')
    await coordinator.stop()
    await rpcServer.close()
    process.exit(0)
  }
  process.on('SIGINT', shutdown)
  process.on('SIGTERM', shutdown)
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof MigrationHistoryError)
    console.error(`clearhouse: ${error.message}`)
  else console.error(error)
  process.exit(1)
})
