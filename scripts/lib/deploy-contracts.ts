import type { HardhatRuntimeEnvironment } from 'hardhat/types'
import type { Address } from 'viem'

/** Addresses and metadata that `deployments/<chainId>.json` records for one deployment. */
export interface Deployment {
  chainId: number
  deployedAt: string
  deploymentBlock: number
  contracts: Record<string, Address>
  tokens: Array<{ symbol: string; address: Address; decimals: number }>
}

export interface DeployContractsParameters {
  /** Deploys the open-mint MockUSDC; only ever true on a dev chain. */
  withMockUsdc: boolean
  /** Existing allowlisted stablecoins when `withMockUsdc` is false. */
  tokens?: Array<{ symbol: string; address: Address; decimals: number }>
}

/** Deploys the Clearhouse contracts with Hardhat's viem and returns what was deployed. */
export async function deployContracts(
  hre: HardhatRuntimeEnvironment,
  parameters: DeployContractsParameters,
): Promise<Deployment> {
  const publicClient = await hre.viem.getPublicClient()
  const startBlock = Number(await publicClient.getBlockNumber())
  const chainId = await publicClient.getChainId()
  const contracts: Record<string, Address> = {}
  const tokens = [...(parameters.tokens ?? [])]

  if (parameters.withMockUsdc) {
    const usdc = await hre.viem.deployContract('MockUSDC', [])
    contracts.MockUSDC = usdc.address
    tokens.push({ symbol: 'USDC', address: usdc.address, decimals: 6 })
  }

  return {
    chainId,
    deployedAt: new Date().toISOString(),
    deploymentBlock: startBlock,
    contracts,
    tokens,
  }
}
