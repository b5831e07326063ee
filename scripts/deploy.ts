/**
 * `npm run deploy -- --network rpc`: deploys the vault to DEPLOY_RPC_URL (else RPC_URL, else
 * 127.0.0.1:8545) from DEPLOYER_PRIVATE_KEY (else the node's unlocked account) and writes
 * DEPLOY_OUTPUT_FILE (default `deployments/<chainId>.json`). On a dev chain (31337) it also deploys
 * the open-mint MockUSDC; elsewhere the allowlisted tokens come from DEPLOY_TOKENS as
 * `SYMBOL:address:decimals,…`.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import hre from 'hardhat'
import { getAddress, type Address } from 'viem'
import { DEPLOYER_KEY_PATTERN } from '../hardhat.config'
import { deployContracts } from './lib/deploy-contracts'

const DEV_CHAIN_ID = 31337

function parseTokens(value: string): Array<{ symbol: string; address: Address; decimals: number }> {
  return value.split(',').map((entry) => {
    const [symbol, address, decimals] = entry.split(':')
    if (!symbol || !address || !decimals)
      throw new Error(`DEPLOY_TOKENS entry "${entry}" is not SYMBOL:address:decimals`)
    return { symbol, address: getAddress(address), decimals: Number(decimals) }
  })
}

async function main(): Promise<void> {
  // Without --network, Hardhat deploys to its in-process chain, which ends with this command.
  if (hre.network.name === 'hardhat')
    throw new Error('no chain to deploy to: pass --network rpc (DEPLOY_RPC_URL) or another network')
  const deployerKey = process.env.DEPLOYER_PRIVATE_KEY
  if (deployerKey && !DEPLOYER_KEY_PATTERN.test(deployerKey))
    throw new Error('invalid DEPLOYER_PRIVATE_KEY: must be a 0x-prefixed 32-byte hex private key')
  const chainId = await (await hre.viem.getPublicClient()).getChainId()
  const isDevChain = chainId === DEV_CHAIN_ID
  if (!isDevChain && !process.env.DEPLOY_TOKENS)
    throw new Error('DEPLOY_TOKENS is required off the dev chain')
  const optionalAddress = (name: string) => (process.env[name] ? getAddress(process.env[name]!) : undefined)
  const deployment = await deployContracts(hre, {
    withMockUsdc: isDevChain,
    tokens: process.env.DEPLOY_TOKENS ? parseTokens(process.env.DEPLOY_TOKENS) : [],
    owner: optionalAddress('DEPLOY_OWNER'),
    coordinator: optionalAddress('DEPLOY_COORDINATOR'),
    treasury: optionalAddress('DEPLOY_TREASURY'),
  })
  const file = path.resolve(process.env.DEPLOY_OUTPUT_FILE || path.join('deployments', `${chainId}.json`))
  await mkdir(path.dirname(file), { recursive: true })
  await writeFile(file, JSON.stringify(deployment, null, 2) + '\n')
  console.log(
    `deployed to chain ${deployment.chainId} from block ${deployment.deploymentBlock}: ${JSON.stringify(deployment.contracts)}\nwrote ${file}`,
  )
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error)
  process.exit(1)
})
