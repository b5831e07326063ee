import type { Express } from 'express'
import pino from 'pino'
import { createTestClient, http, toHex, type PublicClient } from 'viem'
import { mnemonicToAccount, privateKeyToAccount, type HDAccount, type LocalAccount } from 'viem/accounts'
import { clearhouseVaultAbi } from '../../../protocol/vault-abi'
import type { Deployment } from '../../../protocol/deployment'
import type { AppContext } from '../../../server/app-context'
import { chainEventHandlers, chainOpFailureHandlers } from '../../../server/chain/chain-event-handlers'
import { VaultIndexer } from '../../../server/chain/indexer/vault-indexer'
import { Settler, type SettleResult } from '../../../server/chain/settler/settler'
import { reconcile, reconcileAccounts } from '../../../server/reconciliation/reconciliation-service'
import { selectMirroredBalances } from '../../../server/reconciliation/vault-mirror-queries'
import { reconcileWithdrawals } from '../../../server/wallet/withdrawal-refunds-worker'
import { createTestApp } from './app'
import {
  deployTestVault,
  hardhatPublicClient,
  hardhatRpcUrl,
  mockUsdc,
  vaultContract,
  walletFor,
} from './chain'
import type { TestDatabase } from './database'

export const TEST_MNEMONIC = 'test test test test test test test test test test test junk'
/** Hardhat account #0: deploys the vault and is its coordinator, as on the embedded chain. */
export const coordinatorAccount = privateKeyToAccount(
  toHex(mnemonicToAccount(TEST_MNEMONIC, { addressIndex: 0 }).getHdKey().privateKey!),
)
/** Hardhat account #8: an outside wallet (an exchange, a treasury) that deposits for others. */
export const funderAccount = mnemonicToAccount(TEST_MNEMONIC, { addressIndex: 8 })

/** Hardhat's mnemonic account `index`; tests pick distinct indexes for self-custody wallets. */
export function hardhatAccount(index: number): HDAccount {
  return mnemonicToAccount(TEST_MNEMONIC, { addressIndex: index })
}

export interface ChainTestApp {
  app: Express
  context: AppContext
  deployment: Deployment
  client: PublicClient
  vault: `0x${string}`
  usdc: `0x${string}`
  indexer: VaultIndexer
  settler: Settler
  /** Runs the indexer to the safe head, as the coordinator's worker does every poll. */
  index(): Promise<void>
  /**
   * Drains the settler (every queued op, whatever its age), then indexes what it sent, until
   * nothing is left to send (a release queued by indexing its lock's set goes out too).
   */
  settle(): Promise<SettleResult[]>
  /** Mints `units` of USDC to `from` and deposits them into the vault for `account` on-chain. */
  depositOnChain(account: `0x${string}`, units: bigint, from?: HDAccount): Promise<`0x${string}`>
  /** `depositOnChain`, then indexes it, so the agent holding `account` is credited. */
  fund(account: `0x${string}`, units: bigint): Promise<void>
  /** The vault's per-account balance on-chain. */
  vaultBalanceOf(account: `0x${string}`): Promise<bigint>
  /** The vault's current protocol fee in basis points. */
  feeBps(): Promise<bigint>
  /**
   * A front-run of the next batch: the settler simulates and sends it; before its block, `owner`
   * calls `functionName(args)` on the vault with a higher tip, and both land in one block, the
   * owner's first. Returns the settler's result.
   */
  frontRunNextBatch(
    owner: LocalAccount,
    call: { functionName: 'executeWithdrawal'; args: readonly [`0x${string}`, `0x${string}`] },
  ): Promise<SettleResult>
  /**
   * Refunds failed withdrawals, then compares the vault with the ledger; returns the USDC
   * difference of the totals. Throws when any single account disagrees with the ledger, or when
   * the indexer's mirror of an account's vault balance differs from the vault's own `balanceOf`.
   */
  reconciliationDifference(): Promise<bigint>
  stop(): Promise<void>
}

/**
 * A coordinator app over a fresh vault on Hardhat's chain with the real indexer (deposit and
 * withdrawal handlers) and settler, driven step by step by the test instead of by timers, so a
 * test decides exactly when the chain and the ledger meet.
 */
export async function createChainTestApp(
  database: TestDatabase,
  options: {
    confirmations?: number
    maxBatchSize?: number
    contextOverrides?: Partial<AppContext>
    /** Also deploys and allowlists the 6-decimal EURC and 18-decimal DAI mocks beside USDC. */
    withMockStablecoins?: boolean
  } = {},
): Promise<ChainTestApp> {
  const deployment = await deployTestVault({ withMockStablecoins: options.withMockStablecoins })
  const client = await hardhatPublicClient()
  const vault = deployment.contracts.ClearhouseVault!
  const usdc = deployment.contracts.MockUSDC!
  const { app, context } = await createTestApp(
    database,
    { client, deployment },
    { coordinatorAccount, ...options.contextOverrides },
  )
  const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' })
  const indexer = new VaultIndexer({
    pool: database.pool,
    client,
    chainId: deployment.chainId,
    vault,
    deploymentBlock: BigInt(deployment.deploymentBlock),
    confirmations: options.confirmations ?? 0,
    handlers: chainEventHandlers(context),
    logger,
  })
  const settler = new Settler({
    pool: database.pool,
    publicClient: client,
    walletClient: await walletFor(coordinatorAccount),
    account: coordinatorAccount,
    chainId: deployment.chainId,
    vault,
    maxBatchSize: options.maxBatchSize ?? 100,
    maxBatchAgeMs: 0,
    failureHandlers: chainOpFailureHandlers(context),
    logger,
  })

  const index = () => indexer.catchUp()
  const depositOnChain = async (account: `0x${string}`, units: bigint, from: HDAccount = funderAccount) => {
    const token = await mockUsdc(usdc)
    const vaultContractInstance = await vaultContract(vault)
    const wallet = await walletFor(from)
    await token.write.mint([from.address, units])
    const approve = await wallet.writeContract({
      address: usdc,
      abi: token.abi,
      functionName: 'approve',
      args: [vault, units],
      chain: null,
    })
    await client.waitForTransactionReceipt({ hash: approve })
    const hash = await wallet.writeContract({
      address: vault,
      abi: vaultContractInstance.abi,
      functionName: 'depositFor',
      args: [usdc, units, account],
      chain: null,
    })
    await client.waitForTransactionReceipt({ hash })
    return hash
  }

  /** The indexer's mirror of every account's vault balance against `balanceOf` at the indexed block. */
  const expectMirrorMatchesVault = async (blockNumber: number | null) => {
    if (blockNumber === null) return
    const mirrored = await selectMirroredBalances(database.pool, deployment.chainId, usdc)
    for (const [account, balance] of mirrored) {
      const onChain = await client.readContract({
        address: vault,
        abi: clearhouseVaultAbi,
        functionName: 'balanceOf',
        args: [account, usdc],
        blockNumber: BigInt(blockNumber),
      })
      if (onChain !== balance) {
        throw new Error(
          `the vault mirror has ${balance} for ${account}, the vault ${onChain} at block ${blockNumber}`,
        )
      }
    }
  }

  return {
    app,
    context,
    deployment,
    client,
    vault,
    usdc,
    indexer,
    settler,
    index,
    async settle() {
      // Indexing a settled lock can queue the ops that waited for its escrow's position (a
      // release), so settle and index until a round queues nothing new.
      const results: SettleResult[] = []
      for (let round = 0; round < 10; round += 1) {
        const drained = await settler.drain()
        await index()
        results.push(...drained)
        // Every batch the server tests settle checks the settler's gas model: it must bound what
        // the batch used, or the settler would send batches that can run out of gas.
        for (const result of drained) {
          if (
            result.outcome === 'confirmed' &&
            result.gas?.source === 'model' &&
            result.gas.used > result.gas.budget
          ) {
            throw new Error(
              `batch ${result.batchNumber} used ${result.gas.used} gas, more than the model's ${result.gas.budget}`,
            )
          }
        }
        if (drained.length === 0) break
      }
      return results
    },
    depositOnChain,
    async fund(account, units) {
      await depositOnChain(account, units)
      await index()
    },
    async frontRunNextBatch(owner, call) {
      const testClient = createTestClient({ mode: 'hardhat', transport: http(await hardhatRpcUrl()) })
      const coordinator = context.coordinatorAccount!.address
      const pendingCount = () => client.getTransactionCount({ address: coordinator, blockTag: 'pending' })
      const sentBefore = await pendingCount()
      await testClient.setAutomine(false)
      try {
        const settling = settler.settleOnce()
        while ((await pendingCount()) === sentBefore) await new Promise((resolve) => setTimeout(resolve, 20))
        const wallet = await walletFor(owner)
        await wallet.writeContract({
          address: vault,
          abi: clearhouseVaultAbi,
          ...call,
          chain: null,
          maxPriorityFeePerGas: 10n ** 11n,
          maxFeePerGas: 10n ** 12n,
        })
        await testClient.mine({ blocks: 1 })
        await testClient.setAutomine(true)
        return await settling
      } finally {
        await testClient.setAutomine(true)
      }
    },
    async feeBps() {
      return BigInt(
        await client.readContract({ address: vault, abi: clearhouseVaultAbi, functionName: 'feeBps' }),
      )
    },
    async vaultBalanceOf(account) {
      return client.readContract({
        address: vault,
        abi: clearhouseVaultAbi,
        functionName: 'balanceOf',
        args: [account, usdc],
      })
    },
    async reconciliationDifference() {
      await reconcileWithdrawals(database.pool)
      const report = await reconcile(context)
      const token = report.tokens.find((entry) => entry.token_address === usdc.toLowerCase())
      const accounts = await reconcileAccounts(context, { mismatchedOnly: true })
      if (accounts.accounts.length > 0) {
        throw new Error(`accounts disagree with the ledger: ${JSON.stringify(accounts.accounts)}`)
      }
      await expectMirrorMatchesVault(report.block_number)
      return BigInt(token!.difference_base_units)
    },
    async stop() {
      await settler.resign().catch(() => undefined)
    },
  }
}
