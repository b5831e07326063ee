import type pg from 'pg'
import type { Logger } from 'pino'
import type { PrivateKeyAccount, PublicClient, Address } from 'viem'
import type { Deployment } from '../protocol/deployment'
import type { HealthResponse } from '../protocol/health'
import type { EventHub } from './events/event-bus'
import type { Metrics } from './metrics'

/** Whether services may use plain-http loopback endpoints (see `allowLoopbackEndpoints`). */
export function allowsLoopbackEndpoints(
  context: Pick<AppContext, 'allowLoopbackEndpoints' | 'isDevChain'>,
): boolean {
  return context.allowLoopbackEndpoints ?? context.isDevChain
}

/** The longest the invoke proxy waits for a provider when not configured (INVOKE_TIMEOUT_MS). */
export const DEFAULT_INVOKE_TIMEOUT_MS = 30_000

/** The longest the invoke proxy waits for a provider (INVOKE_TIMEOUT_MS). */
export function invokeTimeoutOf(context: Pick<AppContext, 'invokeTimeoutMs'>): number {
  return context.invokeTimeoutMs ?? DEFAULT_INVOKE_TIMEOUT_MS
}

/** What the HTTP app and workers share: built once by the composition root and passed down. */
export interface AppContext {
  version: string
  pool: pg.Pool
  databaseKind: 'postgres' | 'pglite'
  chain: { client: PublicClient; deployment: Deployment } | null
  /** The coordinator key (COORDINATOR_PRIVATE_KEY): signs settlement batches, pays their gas. */
  coordinatorAccount: PrivateKeyAccount | null
  /** The agent that judges every competition (PLATFORM_JUDGE_AGENT_ID); without one, no competitions. */
  platformJudgeAgentId?: string | null
  /**
   * The resolver every escrow names when its job names none (PLATFORM_RESOLVER_AGENT_ID, or the
   * platform resolver the coordinator creates); without one, such a job cannot be awarded.
   */
  platformResolverAgentId?: string | null
  /** Allowlisted stablecoins, by symbol and address; from the deployment, or given by tests. */
  tokens: Deployment['tokens']
  /** The embedded dev chain (`npm start`): dev-only routes such as the faucet exist only then. */
  isDevChain: boolean
  logger: Logger
  metrics: Metrics
  /** 32-byte AES-256-GCM key that encrypts managed wallets' private keys (WALLET_ENCRYPTION_KEY). */
  walletEncryptionKey: Buffer
  /** Requests per minute per client IP on registration and authentication routes. */
  authRateLimitPerMinute: number
  /** Requests per minute per agent that make the coordinator send a transaction. */
  chainWriteRateLimitPerMinute: number
  /** Calls per minute per caller per service through the invoke proxy (INVOKE_RATE_LIMIT_PER_MINUTE); 60 if unset. */
  invokeRateLimitPerMinute?: number
  /** The longest the invoke proxy waits for a provider (INVOKE_TIMEOUT_MS); 30 s if unset. */
  invokeTimeoutMs?: number
  /**
   * Services may name plain-http loopback endpoints and the proxy calls them (INVOKE_ALLOW_LOOPBACK,
   * or the embedded dev chain); otherwise https to public addresses only. Unset: as `isDevChain`.
   */
  allowLoopbackEndpoints?: boolean
  /** Express `trust proxy` (TRUST_PROXY): which peers may set the client IP with X-Forwarded-For. */
  trustProxy?: boolean | number | string[]
  /** How far a wallet-signed request's signed timestamp may be from now (SIGNED_REQUEST_MAX_AGE_SECONDS). */
  signedRequestMaxAgeSeconds?: number
  /** Delay between asking to export a managed wallet's key and getting it (KEY_EXPORT_DELAY_SECONDS). */
  keyExportDelaySeconds?: number
  /** Addresses whose signature makes a verifiable claim verified (VERIFIABLE_CLAIM_ISSUERS). */
  verifiableClaimIssuers?: readonly Address[]
  /** How long an Idempotency-Key claim lives without a heartbeat (IDEMPOTENCY_LEASE_SECONDS); 30 if unset. */
  idempotencyLeaseSeconds?: number
  /** How long `/v1/health` waits for each dependency (HEALTH_TIMEOUT_MS). */
  healthTimeoutMs?: number
  /** This coordinator's reader of the event bus (the WebSocket and the public feed follow it); absent in tools and most tests. */
  events?: EventHub
  /** Which workers this process runs, and why not, as decided at start-up; health reports it. */
  workers?: HealthResponse['workers']
}
