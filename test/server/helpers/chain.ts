import { createPublicClient, createWalletClient, custom, type PublicClient } from 'viem'
import { deployContracts, type Deployment } from '../../../scripts/lib/deploy-contracts'

// eslint-disable-next-line @typescript-eslint/no-require-imports
const hre = require('hardhat') as typeof import('hardhat')

/** Hardhat's in-process EVM (the same EDR chain the contract tests use), read through viem. */
export function hardhatPublicClient(): PublicClient {
  return createPublicClient({ transport: custom(hre.network.provider) }) as PublicClient
}

/** Deploys a fresh vault + MockUSDC to the in-process chain. */
export async function deployTestVault(): Promise<Deployment> {
  return deployContracts(hre, { withMockUsdc: true })
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
export function walletFor(account: Parameters<typeof createWalletClient>[0]['account']) {
  return createWalletClient({ account, transport: custom(hre.network.provider) })
}
