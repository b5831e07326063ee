import type { HardhatRuntimeEnvironment } from 'hardhat/types'
import type { Address } from 'viem'
import type { Deployment } from '../../protocol/deployment'

export type { Deployment }

export interface DeployContractsParameters {
  /** Deploys the open-mint MockUSDC; only ever true on a dev chain. */
  withMockUsdc: boolean
  /**
   * Also deploys the other open-mint dev stablecoins (`MOCK_STABLECOINS`: a second 6-decimal one and
   * an 18-decimal DAI-like one), allowlisted after USDC; only ever true on a dev chain.
   */
  withMockStablecoins?: boolean
  /** Existing allowlisted stablecoins when `withMockUsdc` is false. */
  tokens?: Array<{ symbol: string; address: Address; decimals: number }>
  /** The vault admin (Ownable2Step). Default: the deploying account. */
  owner?: Address
  /** The key that signs settlement batches and co-signs fast withdrawals. Default: the deploying account. */
  coordinator?: Address
  /** The account credited with protocol fees. Default: the deploying account. */
  treasury?: Address
  /** Protocol fee in basis points, at most 1000. Default: 100 (1%). */
  feeBps?: number
  /** Seconds from `requestWithdrawal` to `executeWithdrawal`. Default: 86400 (24 h). */
  withdrawalDelay?: number
  /** Seconds from `requestChannelClose` to `finalizeChannelClose`. Default: 86400 (24 h). */
  challengePeriod?: number
  /** Seconds from proposing to applying a coordinator or fee change. Default: 172800 (48 h). */
  adminDelay?: number
}

/** The dev chain's stablecoins beside MockUSDC: their deployment names, symbols and decimals. */
export const MOCK_STABLECOINS = [
  { contractName: 'MockEURC', name: 'Euro Coin (mock)', symbol: 'EURC', decimals: 6 },
  { contractName: 'MockDAI', name: 'Dai Stablecoin (mock)', symbol: 'DAI', decimals: 18 },
] as const

/** Defaults of the vault settings a deployment may leave out. */
export const VAULT_DEFAULTS = {
  feeBps: 100,
  withdrawalDelay: 86_400,
  challengePeriod: 86_400,
  adminDelay: 172_800,
} as const

/**
 * Deploys the Clearhouse contracts with Hardhat's viem and returns what was deployed: MockUSDC
 * and the other mock stablecoins (dev chains only), then `ClearhouseVault` with every token of the
 * deployment on its allowlist.
 */
export async function deployContracts(
  hre: HardhatRuntimeEnvironment,
  parameters: DeployContractsParameters,
): Promise<Deployment> {
  const publicClient = await hre.viem.getPublicClient()
  const chainId = await publicClient.getChainId()
  const contracts: Record<string, Address> = {}
  const tokens = [...(parameters.tokens ?? [])]
  const deploy = async (name: string, args: unknown[]) => {
    const { contract, deploymentTransaction } = await hre.viem.sendDeploymentTransaction(name, args)
    const receipt = await publicClient.waitForTransactionReceipt({ hash: deploymentTransaction.hash })
    if (receipt.status !== 'success')
      throw new Error(`deploying ${name} reverted (${receipt.transactionHash})`)
    return { address: contract.address, blockNumber: receipt.blockNumber }
  }
  // The deployment starts at its first contract's block, read from the receipt: the head before
  // deploying precedes a token deployed here, and readers of `deploymentBlock` (the indexer's first
  // range, reconciliation's balanceOf) would then call a contract that has no code yet.
  let firstBlock: bigint | undefined

  if (parameters.withMockUsdc) {
    const usdc = await deploy('MockUSDC', [])
    firstBlock = usdc.blockNumber
    contracts.MockUSDC = usdc.address
    tokens.push({ symbol: 'USDC', address: usdc.address, decimals: 6 })
  }
  if (parameters.withMockStablecoins) {
    for (const coin of MOCK_STABLECOINS) {
      const deployed = await deploy('MockStablecoin', [coin.name, coin.symbol, coin.decimals])
      firstBlock ??= deployed.blockNumber
      contracts[coin.contractName] = deployed.address
      tokens.push({ symbol: coin.symbol, address: deployed.address, decimals: coin.decimals })
    }
  }

  const [deployer] = await hre.viem.getWalletClients()
  const vault = await deploy('ClearhouseVault', [
    {
      owner: parameters.owner ?? deployer.account.address,
      coordinator: parameters.coordinator ?? deployer.account.address,
      treasury: parameters.treasury ?? deployer.account.address,
      feeBps: parameters.feeBps ?? VAULT_DEFAULTS.feeBps,
      withdrawalDelay: BigInt(parameters.withdrawalDelay ?? VAULT_DEFAULTS.withdrawalDelay),
      challengePeriod: BigInt(parameters.challengePeriod ?? VAULT_DEFAULTS.challengePeriod),
      adminDelay: BigInt(parameters.adminDelay ?? VAULT_DEFAULTS.adminDelay),
      tokens: tokens.map((t) => t.address),
    },
  ])
  contracts.ClearhouseVault = vault.address

  return {
    chainId,
    deployedAt: new Date().toISOString(),
    deploymentBlock: Number(firstBlock ?? vault.blockNumber),
    contracts,
    tokens,
  }
}
