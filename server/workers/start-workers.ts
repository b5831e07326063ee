import { createWalletClient, http } from 'viem'
import type { AppContext } from '../app-context'
import type { ChainEventHandler } from '../chain/indexer/indexed-event'
import { VaultIndexer } from '../chain/indexer/vault-indexer'
import { chainOpFailureHandlers } from '../chain/chain-event-handlers'
import { Settler } from '../chain/settler/settler'
import type { Config } from '../config'
import { reconcileAndReport } from '../reconciliation/reconciliation-service'
import { chainNow } from '../chain/clients'
import { reconcileWithdrawals } from '../wallet/withdrawals-service'
import { runPeriodically, type PeriodicTask } from './periodic'

export interface RunningWorkers {
  indexer: VaultIndexer
  settler: Settler | null
  stop(): Promise<void>
}

/**
 * Starts the chain workers of one coordinator process: the indexer, the settler (when this process
 * holds the coordinator key) and the reconciliation job. Each may run in every replica: the
 * indexer and settler elect one writer through the database, reconciliation only reads.
 */
export function startWorkers(
  context: AppContext,
  config: Pick<
    Config,
    | 'RPC_URL'
    | 'CONFIRMATIONS'
    | 'INDEXER_POLL_MS'
    | 'SETTLER_POLL_MS'
    | 'SETTLER_MAX_BATCH_SIZE'
    | 'SETTLER_MAX_BATCH_AGE_MS'
    | 'SETTLER_MAX_BATCH_GAS'
    | 'RECONCILE_INTERVAL_MS'
  >,
  handlers: ChainEventHandler[],
): RunningWorkers | null {
  if (!context.chain || !config.RPC_URL) return null
  const { client, deployment } = context.chain
  const vault = deployment.contracts.ClearhouseVault
  if (!vault) return null
  const logger = context.logger.child({ component: 'workers' })

  const indexer = new VaultIndexer({
    pool: context.pool,
    client,
    chainId: deployment.chainId,
    vault,
    deploymentBlock: BigInt(deployment.deploymentBlock),
    confirmations: config.CONFIRMATIONS,
    handlers,
    logger,
    registry: context.metrics.registry,
  })
  const tasks: PeriodicTask[] = [
    runPeriodically('indexer', config.INDEXER_POLL_MS, logger, () => indexer.catchUp(100)),
  ]

  let settler: Settler | null = null
  if (context.coordinatorAccount) {
    settler = new Settler({
      pool: context.pool,
      publicClient: client,
      walletClient: createWalletClient({
        account: context.coordinatorAccount,
        transport: http(config.RPC_URL),
      }),
      account: context.coordinatorAccount,
      chainId: deployment.chainId,
      vault,
      maxBatchSize: config.SETTLER_MAX_BATCH_SIZE,
      maxBatchAgeMs: config.SETTLER_MAX_BATCH_AGE_MS,
      maxBatchGas: BigInt(config.SETTLER_MAX_BATCH_GAS),
      failureHandlers: chainOpFailureHandlers(context),
      logger,
    })
    const activeSettler = settler
    tasks.push(runPeriodically('settler', config.SETTLER_POLL_MS, logger, () => activeSettler.drain(20)))
  }
  // Fast withdrawals whose op failed are refunded here even if their agent never reads them, and
  // unsigned ones expire by the same clock as their on-chain deadline.
  tasks.push(
    runPeriodically('withdrawal-refunds', config.SETTLER_POLL_MS, logger, async () =>
      reconcileWithdrawals(context.pool, { nowSeconds: await chainNow(client) }),
    ),
  )
  tasks.push(
    runPeriodically('reconciliation', config.RECONCILE_INTERVAL_MS, logger, () =>
      reconcileAndReport(context),
    ),
  )

  return {
    indexer,
    settler,
    async stop() {
      await Promise.all(tasks.map((task) => task.stop()))
      await settler?.resign().catch(() => undefined)
    },
  }
}
