import { TASK_NODE_CREATE_SERVER } from 'hardhat/builtin-tasks/task-names'
import type { JsonRpcServer } from 'hardhat/types'
import { createPublicClient, createWalletClient, http, type PublicClient } from 'viem'
import { deployContracts, type Deployment } from '../../../scripts/lib/deploy-contracts'

// eslint-disable-next-line @typescript-eslint/no-require-imports
const hre = require('hardhat') as typeof import('hardhat')

let rpcUrl: Promise<string> | null = null

/**
 * Hardhat's in-process EVM (the same EDR chain the contract tests use) served over real HTTP
 * JSON-RPC on a free port, as `npm start` serves it: viem then sees revert data exactly as it
 * does from a real node, which an in-process provider does not reproduce.
 */
export function hardhatRpcUrl(): Promise<string> {
  rpcUrl ??= (async () => {
    const server = (await hre.run(TASK_NODE_CREATE_SERVER, {
      hostname: '127.0.0.1',
      port: 0,
      provider: hre.network.provider,
    })) as JsonRpcServer
    const { port } = await server.listen()
    return `http://127.0.0.1:${port}`
  })()
  return rpcUrl
}

/** A viem public client over the in-process chain's HTTP JSON-RPC. */
export async function hardhatPublicClient(): Promise<PublicClient> {
  return createPublicClient({ transport: http(await hardhatRpcUrl()) }) as PublicClient
}

/** Deploys a fresh vault + MockUSDC (and, when asked, the other mock stablecoins) to the in-process chain. */
export async function deployTestVault(options: { withMockStablecoins?: boolean } = {}): Promise<Deployment> {
  return deployContracts(hre, { withMockUsdc: true, withMockStablecoins: options.withMockStablecoins })
}

export async function hardhatWallets() {
  return hre.viem.getWalletClients()
}

export async function mockUsdc(address: `0x${string}`) {
  return hre.viem.getContractAt('MockUSDC', address)
}

export async function vaultContract(address: `0x${string}`) {
  return hre.viem.getContractAt('ClearhouseVault', address)
}

export async function mine(blocks: number): Promise<void> {
  await hre.network.provider.request({ method: 'hardhat_mine', params: [`0x${blocks.toString(16)}`] })
}

export async function snapshot(): Promise<string> {
  return (await hre.network.provider.request({ method: 'evm_snapshot', params: [] })) as string
}

export async function revertTo(id: string): Promise<void> {
  await hre.network.provider.request({ method: 'evm_revert', params: [id] })
}

/** A wallet client for a raw key on the in-process chain. */
export async function walletFor(account: NonNullable<Parameters<typeof createWalletClient>[0]['account']>) {
  return createWalletClient({ account, transport: http(await hardhatRpcUrl()) })
}
