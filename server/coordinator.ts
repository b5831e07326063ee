import type { Server } from 'node:http'
import path from 'node:path'
import type pg from 'pg'
import { closeOutboundClient } from './outbound/app-outbound-client'
import { privateKeyToAccount, type PrivateKeyAccount } from 'viem/accounts'
import type { Deployment } from '../protocol/deployment'
import { createApp } from './app'
import { EventHub } from './events/event-bus'

import { attachEventSocket } from './events/event-socket'
import { ensurePlatformResolver, findAgentById } from './agents/agents-service'
import type { AppContext } from './app-context'
import { createChainClient } from './chain/clients'
import { readDeploymentFile } from './chain/deployment-file'
import { checkCoordinatorKey } from './chain/settler/coordinator-key'
import type { Config } from './config'
import { EMBEDDED_POOL_SIZE, startEmbeddedPostgres, type EmbeddedPostgres } from './db/embedded'
import { describeDatabaseError } from './db/database-errors'
import { migrate } from './db/migrate'
import { createPool } from './db/pool'
import { ConfigError } from './errors'
import { createMetrics } from './metrics'
import { logWorkerPlan, planWorkers, startWorkers, type RunningWorkers } from './workers/start-workers'
import { chainEventHandlers } from './chain/chain-event-handlers'
import { createLogger } from './logger'
import { readPackageVersion } from './package-version'
import { resolveWalletEncryptionKey } from './wallet/managed-wallets'

/** How often the embedded stack reads its outbox (it has no LISTEN/NOTIFY). */
const EMBEDDED_EVENT_POLL_MS = 250

export interface RunningCoordinator {
  url: string
  context: AppContext
  workers: RunningWorkers | null
  stop(): Promise<void>
}

export interface StartCoordinatorParameters {
  config: Config
  /** A deployment already in memory (the embedded stack); otherwise DEPLOYMENT_FILE is read. */
  deployment?: Deployment
  /** Wipe the embedded database first (the dev stack does, since its chain is new every run). */
  fresh?: boolean
  /** Set only by the embedded dev stack; enables dev-only routes. */
  isDevChain?: boolean
}

/** The composition root: config → database → chain → app. Every failure of configuration is a `ConfigError`. */
export async function startCoordinator(parameters: StartCoordinatorParameters): Promise<RunningCoordinator> {
  const { config } = parameters
  const logger = createLogger(config.LOG_LEVEL)
  const version = readPackageVersion()
  let coordinatorAccount: PrivateKeyAccount | null = null
  if (config.COORDINATOR_PRIVATE_KEY) {
    try {
      coordinatorAccount = privateKeyToAccount(config.COORDINATOR_PRIVATE_KEY)
    } catch {
      throw new ConfigError('invalid COORDINATOR_PRIVATE_KEY: not a valid secp256k1 private key')
    }
  }
  const walletEncryptionKey = resolveWalletEncryptionKey(
    config.WALLET_ENCRYPTION_KEY,
    parameters.isDevChain ?? false,
  )

  let embedded: EmbeddedPostgres | null = null
  let connectionString = config.DATABASE_URL
  if (!connectionString) {
    const dataDir = path.resolve(config.DATA_DIR, 'pgdata')
    if (parameters.fresh) {
      const { rm } = await import('node:fs/promises')
      await rm(dataDir, { recursive: true, force: true })
    }
    embedded = await startEmbeddedPostgres({ dataDir, port: config.EMBEDDED_PG_PORT })
    connectionString = embedded.connectionString
  }
  const isEmbedded = embedded !== null
  // PGlite accepts server-side timeouts but cannot enforce them (no timers in WebAssembly), and
  // its connections share one session, so a setting would leak between them; an in-process
  // database cannot go silent either, so only the wait for a connection is bounded there.
  const timeouts = {
    connectMs: config.DATABASE_CONNECT_TIMEOUT_MS,
    queryMs: isEmbedded ? 0 : config.DATABASE_QUERY_TIMEOUT_MS,
    statementMs: isEmbedded ? 0 : config.DATABASE_STATEMENT_TIMEOUT_MS,
    idleInTransactionMs: isEmbedded ? 0 : config.DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS,
  }
  const onConnectionError = (error: Error) =>
    logger.warn({ cause: describeDatabaseError(error) }, 'database connection failed')
  const poolSize = isEmbedded ? EMBEDDED_POOL_SIZE : config.DATABASE_POOL_SIZE
  const pool = createPool(connectionString, poolSize, {
    timeouts,
    onConnectionError,
    isSharedSession: isEmbedded,
  })

  const closeDatabase = async () => {
    await pool.end().catch(() => undefined)
    await embedded?.stop()
  }
  // Migrations may rewrite large tables and wait on another replica's migration lock, so they run
  // on a connection of their own with only the connect timeout; the pool is not touched until they
  // are done (PGlite must not see two connections at once).
  const migrationPool = createPool(connectionString, 1, {
    timeouts: { connectMs: config.DATABASE_CONNECT_TIMEOUT_MS },
    onConnectionError,
  })
  try {
    await migrationPool.query('SELECT 1')
  } catch (error) {
    await migrationPool.end().catch(() => undefined)
    await closeDatabase()
    throw new ConfigError(`invalid DATABASE_URL: cannot connect (${describeConnectError(error)})`)
  }
  try {
    const applied = await migrate(migrationPool)
    if (applied.length) logger.info({ applied }, 'applied migrations')
  } catch (error) {
    await closeDatabase()
    throw error
  } finally {
    await migrationPool.end().catch(() => undefined)
  }
  try {
    // The pool's connections carry the timeouts as startup parameters, which a pooler may refuse.
    await pool.query('SELECT 1')
  } catch (error) {
    await closeDatabase()
    throw new ConfigError(`invalid DATABASE_URL: cannot connect (${describeConnectError(error)})`)
  }

  let chain: AppContext['chain'] = null
  const deployment =
    parameters.deployment ??
    (config.DEPLOYMENT_FILE ? await readDeploymentFile(config.DEPLOYMENT_FILE) : undefined)
  if (config.RPC_URL && deployment) {
    chain = { client: createChainClient(config.RPC_URL), deployment }
    const vault = deployment.contracts.ClearhouseVault
    if (coordinatorAccount && vault) {
      try {
        const checked = await checkCoordinatorKey(chain.client, vault, coordinatorAccount.address)
        if (!checked)
          logger.warn('chain did not answer: COORDINATOR_PRIVATE_KEY is checked before each batch instead')
      } catch (error) {
        await closeDatabase()
        throw error
      }
    }
  } else if (config.RPC_URL || deployment) {
    await closeDatabase()
    throw new ConfigError(
      `invalid ${config.RPC_URL ? 'DEPLOYMENT_FILE' : 'RPC_URL'}: RPC_URL and DEPLOYMENT_FILE go together`,
    )
  }

  let platformResolverAgentId: string
  try {
    platformResolverAgentId = await resolvePlatformResolver(pool as pg.Pool, walletEncryptionKey, config)
  } catch (error) {
    await closeDatabase()
    throw error
  }
  logger.info({ agent_id: platformResolverAgentId }, 'platform resolver')

  const context: AppContext = {
    version,
    pool: pool as pg.Pool,
    databaseKind: embedded ? 'pglite' : 'postgres',
    chain,
    coordinatorAccount,
    tokens: chain?.deployment.tokens ?? [],
    isDevChain: parameters.isDevChain ?? false,
    logger,
    metrics: createMetrics(),
    walletEncryptionKey,
    authRateLimitPerMinute: config.AUTH_RATE_LIMIT_PER_MINUTE,
    chainWriteRateLimitPerMinute: config.CHAIN_WRITE_RATE_LIMIT_PER_MINUTE,
    invokeRateLimitPerMinute: config.INVOKE_RATE_LIMIT_PER_MINUTE,
    invokeTimeoutMs: config.INVOKE_TIMEOUT_MS,
    allowLoopbackEndpoints: config.INVOKE_ALLOW_LOOPBACK || (parameters.isDevChain ?? false),
    platformJudgeAgentId: config.PLATFORM_JUDGE_AGENT_ID?.toLowerCase() ?? null,
    platformResolverAgentId,
    trustProxy: config.TRUST_PROXY,
    signedRequestMaxAgeSeconds: config.SIGNED_REQUEST_MAX_AGE_SECONDS,
    keyExportDelaySeconds: config.KEY_EXPORT_DELAY_SECONDS,
    verifiableClaimIssuers: config.VERIFIABLE_CLAIM_ISSUERS,
    idempotencyLeaseSeconds: config.IDEMPOTENCY_LEASE_SECONDS,
    healthTimeoutMs: config.HEALTH_TIMEOUT_MS,
  }
  // Said once at start-up and kept for health: a worker that cannot run is never silent.
  const workerPlan = planWorkers(context, config)
  context.workers = workerPlan
  logWorkerPlan(logger, workerPlan)
  const workers = config.WORKERS_ENABLED ? startWorkers(context, config, chainEventHandlers(context)) : null
  // Every replica, workers or not, delivers the event bus to the WebSockets and feed streams
  // connected to it. The embedded database has no LISTEN/NOTIFY across connections (and one
  // pooled connection): the one process that writes there also reads, a quarter second behind.
  const events = new EventHub(
    context.pool,
    logger,
    isEmbedded ? { listen: false, pollMs: EMBEDDED_EVENT_POLL_MS } : {},
  )
  await events.start()
  context.events = events
  const app = createApp(context)
  const server = await new Promise<Server>((resolve, reject) => {
    const listening = app.listen(config.PORT, config.HOST, () => resolve(listening))
    listening.once('error', reject)
  }).catch(async (error: NodeJS.ErrnoException) => {
    await events.stop()
    await closeDatabase()
    throw new ConfigError(`invalid PORT: cannot listen on ${config.HOST}:${config.PORT} (${error.code})`)
  })
  const closeEventSocket = attachEventSocket(server, context, events)
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : config.PORT

  return {
    url: `http://${config.HOST}:${port}`,
    context,
    workers,
    async stop() {
      await closeEventSocket()
      await events.stop()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      closeOutboundClient(context)
      await workers?.stop()
      await closeDatabase()
    },
  }
}

/** PLATFORM_RESOLVER_AGENT_ID, which must name an agent, or the coordinator's own platform resolver. */
async function resolvePlatformResolver(
  pool: pg.Pool,
  walletEncryptionKey: Buffer,
  config: Pick<Config, 'PLATFORM_RESOLVER_AGENT_ID'>,
): Promise<string> {
  const configured = config.PLATFORM_RESOLVER_AGENT_ID?.toLowerCase()
  if (!configured) return ensurePlatformResolver({ pool, walletEncryptionKey })
  if (!(await findAgentById(pool, configured))) {
    throw new ConfigError(`invalid PLATFORM_RESOLVER_AGENT_ID: no agent has id ${configured}`)
  }
  return configured
}

function describeConnectError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code
  const message = error instanceof Error ? error.message.split('\n')[0] : String(error)
  return code ?? message ?? 'unknown error'
}
