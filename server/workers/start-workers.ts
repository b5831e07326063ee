import type { Logger } from 'pino'
import { settlerWalletClient } from '../chain/settler/transaction-sender'
import { WORKER_NAMES, type WorkerHealth, type WorkerName } from '../../protocol/health'
import type { AppContext } from '../app-context'
import type { ChainEventHandler } from '../chain/indexer/indexed-event'
import { VaultIndexer } from '../chain/indexer/vault-indexer'
import { chainOpFailureHandlers } from '../chain/chain-event-handlers'
import { Settler } from '../chain/settler/settler'
import type { Config } from '../config'
import type { Metrics } from '../metrics'
import { reconcileAndReport } from '../reconciliation/reconciliation-service'
import { chainNow } from '../chain/clients'
import { reconcileWithdrawals } from '../wallet/withdrawal-refunds-worker'
import { runPeriodically, type PeriodicTask } from './periodic'
import { TimersWorker } from './timers'
import { WebhookSender } from '../webhooks/webhook-sender'

/** Each worker of a coordinator process: whether it runs, and why not. */
export type WorkerPlan = Record<WorkerName, WorkerHealth>

/**
 * Decides which workers this process runs. `disabled` is an operator's choice (API-only replicas);
 * `not_running` is a worker that a configured deployment needs but cannot have, which health
 * reports as `degraded`: a chain without COORDINATOR_PRIVATE_KEY queues ops nobody settles.
 */
export function planWorkers(
  context: Pick<AppContext, 'chain' | 'coordinatorAccount'>,
  config: Pick<Config, 'WORKERS_ENABLED' | 'RPC_URL'>,
): WorkerPlan {
  const every = (state: WorkerHealth) =>
    Object.fromEntries(WORKER_NAMES.map((name) => [name, state])) as WorkerPlan
  if (!config.WORKERS_ENABLED) return every({ status: 'disabled', reason: 'WORKERS_ENABLED=false' })
  const running: WorkerHealth = { status: 'running', reason: null }
  // The timers and webhooks need only the database: deadlines pass and events are sent whether or
  // not a chain is reachable.
  if (!context.chain || !config.RPC_URL) {
    return {
      ...every({ status: 'not_running', reason: 'no chain (RPC_URL and DEPLOYMENT_FILE)' }),
      timers: running,
      webhooks: running,
    }
  }
  if (!context.chain.deployment.contracts.ClearhouseVault) {
    return {
      ...every({ status: 'not_running', reason: 'the deployment has no ClearhouseVault' }),
      timers: running,
      webhooks: running,
    }
  }
  return {
    timers: running,
    webhooks: running,
    indexer: running,
    settler: context.coordinatorAccount
      ? running
      : { status: 'not_running', reason: 'no COORDINATOR_PRIVATE_KEY' },
    withdrawal_refunds: running,
    reconciliation: running,
  }
}

/** One start-up line per worker (`settler: not running (no COORDINATOR_PRIVATE_KEY)`), a warning when one should run and cannot. */
export function logWorkerPlan(logger: Logger, plan: WorkerPlan): void {
  for (const name of WORKER_NAMES) {
    const { status, reason } = plan[name]
    const fields = { worker: name, status, reason }
    if (status === 'running') logger.info(fields, `${name}: running`)
    else if (status === 'disabled') logger.info(fields, `${name}: disabled (${reason})`)
    else logger.warn(fields, `${name}: not running (${reason})`)
  }
}

export interface RunningWorkers {
  /** Null without a chain. */
  indexer: VaultIndexer | null
  settler: Settler | null
  timers: TimersWorker
  stop(): Promise<void>
}

/**
 * Starts the workers of one coordinator process: the timers and the webhook sender (always), and
 * with a chain the indexer, the settler (when this process holds the coordinator key), withdrawal
 * refunds and the reconciliation job. Each may run in every replica: the timers, indexer and
 * settler elect one writer through the database, the webhook sender claims rows, reconciliation
 * only reads.
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
    | 'SETTLER_LEASE_MS'
    | 'RECONCILE_INTERVAL_MS'
    | 'TIMERS_POLL_MS'
    | 'WEBHOOK_POLL_MS'
    | 'WEBHOOK_RETRY_BASE_MS'
    | 'WEBHOOK_MAX_ATTEMPTS'
    | 'WEBHOOK_TIMEOUT_MS'
  >,
  handlers: ChainEventHandler[],
): RunningWorkers {
  // Called only where workers are enabled; the plan is what start-up logged and health reports.
  const plan = planWorkers(context, { ...config, WORKERS_ENABLED: true })
  for (const name of WORKER_NAMES) {
    if (plan[name].status === 'not_running') context.metrics.workerUp.set({ worker: name }, 0)
  }
  const logger = context.logger.child({ component: 'workers' })
  const timers = new TimersWorker(context, config.SETTLER_LEASE_MS)
  const timersTask = runPeriodically(
    'timers',
    config.TIMERS_POLL_MS,
    logger,
    reportingUp(context.metrics, 'timers', () => timers.runOnce()),
  )
  const webhooks = new WebhookSender(context, {
    retryBaseMs: config.WEBHOOK_RETRY_BASE_MS,
    maxAttempts: config.WEBHOOK_MAX_ATTEMPTS,
    timeoutMs: config.WEBHOOK_TIMEOUT_MS,
  })
  const webhooksTask = runPeriodically(
    'webhooks',
    config.WEBHOOK_POLL_MS,
    logger,
    reportingUp(context.metrics, 'webhooks', () => webhooks.runOnce()),
  )
  const stopTimers = async () => {
    await Promise.all([timersTask.stop(), webhooksTask.stop()])
    await timers.resign().catch(() => undefined)
  }
  if (!context.chain || plan.indexer.status !== 'running') {
    return { indexer: null, settler: null, timers, stop: stopTimers }
  }
  const { client, deployment } = context.chain
  const vault = deployment.contracts.ClearhouseVault!

  const indexer = new VaultIndexer({
    pool: context.pool,
    client,
    chainId: deployment.chainId,
    vault,
    deploymentBlock: BigInt(deployment.deploymentBlock),
    confirmations: config.CONFIRMATIONS,
    handlers,
    logger,
    metrics: context.metrics,
  })
  // A worker that stops on a fatal failure says so in health (`not_running`, degraded) until restart.
  const stopsWith = (worker: WorkerName) => ({
    onFatal(error: Error) {
      context.workers = {
        ...context.workers,
        [worker]: { status: 'not_running', reason: `stopped: ${error.message}` },
      }
    },
  })
  const tasks: PeriodicTask[] = [
    runPeriodically(
      'indexer',
      config.INDEXER_POLL_MS,
      logger,
      reportingUp(context.metrics, 'indexer', () => indexer.catchUp(100)),
      stopsWith('indexer'),
    ),
  ]

  let settler: Settler | null = null
  if (context.coordinatorAccount && plan.settler.status === 'running') {
    settler = new Settler({
      pool: context.pool,
      publicClient: client,
      walletClient: settlerWalletClient(config.RPC_URL!, context.coordinatorAccount),
      account: context.coordinatorAccount,
      chainId: deployment.chainId,
      vault,
      maxBatchSize: config.SETTLER_MAX_BATCH_SIZE,
      maxBatchAgeMs: config.SETTLER_MAX_BATCH_AGE_MS,
      maxBatchGas: BigInt(config.SETTLER_MAX_BATCH_GAS),
      failureHandlers: chainOpFailureHandlers(context),
      leaseTtlMs: config.SETTLER_LEASE_MS,
      logger,
      metrics: context.metrics,
    })
    const activeSettler = settler
    tasks.push(
      runPeriodically(
        'settler',
        config.SETTLER_POLL_MS,
        logger,
        reportingUp(context.metrics, 'settler', () => activeSettler.drain(20)),
        stopsWith('settler'),
      ),
    )
  }
  // Fast withdrawals whose op failed are refunded here and only here (reads show them failed
  // without writing), and unsigned ones expire by the same clock as their on-chain deadline.
  tasks.push(
    runPeriodically(
      'withdrawal-refunds',
      config.SETTLER_POLL_MS,
      logger,
      reportingUp(context.metrics, 'withdrawal_refunds', async () =>
        reconcileWithdrawals(context.pool, { nowSeconds: await chainNow(client) }),
      ),
    ),
  )
  tasks.push(
    runPeriodically(
      'reconciliation',
      config.RECONCILE_INTERVAL_MS,
      logger,
      reportingUp(context.metrics, 'reconciliation', () => reconcileAndReport(context)),
    ),
  )

  return {
    indexer,
    settler,
    timers,
    async stop() {
      await Promise.all([...tasks.map((task) => task.stop()), stopTimers()])
      await settler?.resign().catch(() => undefined)
    },
  }
}

/** `round`, setting `clearhouse_worker_up` for `worker` from each outcome. */
function reportingUp(
  metrics: Pick<Metrics, 'workerUp'>,
  worker: WorkerName,
  round: () => Promise<unknown>,
): () => Promise<unknown> {
  return async () => {
    try {
      const result = await round()
      metrics.workerUp.set({ worker }, 1)
      return result
    } catch (error) {
      metrics.workerUp.set({ worker }, 0)
      throw error
    }
  }
}
