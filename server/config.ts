import type { Address, Hex } from 'viem'
import { isIP } from 'node:net'
import { z } from 'zod'
import { ConfigError } from './errors'

const privateKey = z
  .string()
  .regex(/^0x[0-9a-fA-F]{64}$/, 'must be a 0x-prefixed 32-byte hex private key')
  .transform((value) => value as Hex)

const postgresUrl = z.string().refine((value) => {
  try {
    const url = new URL(value)
    return (url.protocol === 'postgres:' || url.protocol === 'postgresql:') && url.hostname !== ''
  } catch {
    return false
  }
}, 'must be a postgres:// or postgresql:// URL with a host')

const httpUrl = z.string().refine((value) => {
  try {
    const url = new URL(value)
    return url.protocol === 'http:' || url.protocol === 'https:'
  } catch {
    return false
  }
}, 'must be an http:// or https:// URL')

const integerString = (min: number, max: number) => z.coerce.number().int().min(min).max(max)

/** A hop count, or addresses, CIDRs and Express's names of proxy ranges, comma-separated. */
function isTrustedProxyList(value: string): boolean {
  const trimmed = value.trim()
  if (/^\d{1,2}$/.test(trimmed)) return true
  const parts = trimmed
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '')
  return parts.length > 0 && parts.every(isTrustedProxy)
}

function isTrustedProxy(part: string): boolean {
  if (['loopback', 'linklocal', 'uniquelocal'].includes(part)) return true
  const [address, prefix, extra] = part.split('/')
  const family = isIP(address ?? '')
  if (family === 0 || extra !== undefined) return false
  if (prefix === undefined) return true
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128)
}

const hexKey32 = z
  .string()
  .regex(/^(0x)?[0-9a-fA-F]{64}$/, 'must be 32 bytes of hex (64 hex digits, optional 0x)')

/** Every environment variable the coordinator reads, with its default. `.env.example` mirrors this. */
export const configSchema = z.object({
  PORT: integerString(0, 65535).default(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  DATABASE_URL: postgresUrl.optional(),
  DATABASE_POOL_SIZE: integerString(1, 200).default(10),
  /** Opening a database connection, or waiting for a free one in a busy pool, gives up after this (0: never). */
  DATABASE_CONNECT_TIMEOUT_MS: integerString(0, 600_000).default(5_000),
  /** A query the database has not answered in this long fails and its connection is dropped (0: never). */
  DATABASE_QUERY_TIMEOUT_MS: integerString(0, 3_600_000).default(15_000),
  /** Postgres `statement_timeout`: the server cancels a longer statement (0: none; not applied to PGlite). */
  DATABASE_STATEMENT_TIMEOUT_MS: integerString(0, 3_600_000).default(10_000),
  /** Postgres `idle_in_transaction_session_timeout`: a session idle this long mid-transaction is ended (0: never). */
  DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: integerString(0, 3_600_000).default(30_000),
  /** `GET /v1/health` waits at most this long for each dependency before reporting it down. */
  HEALTH_TIMEOUT_MS: integerString(50, 60_000).default(2_000),
  /** How long an Idempotency-Key claim lives without a heartbeat before a retry may take it over. */
  IDEMPOTENCY_LEASE_SECONDS: integerString(1, 3_600).default(30),
  RPC_URL: httpUrl.optional(),
  DEPLOYMENT_FILE: z.string().min(1).optional(),
  COORDINATOR_PRIVATE_KEY: privateKey.optional(),
  CONFIRMATIONS: integerString(0, 1000).default(0),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DATA_DIR: z.string().min(1).default('.clearhouse'),
  EMBEDDED_PG_PORT: integerString(0, 65535).default(5433),
  /** AES-256-GCM key for managed wallets' private keys; required outside the embedded dev chain. */
  WALLET_ENCRYPTION_KEY: hexKey32.optional(),
  /** Requests per minute per client IP on registration and authentication routes. */
  AUTH_RATE_LIMIT_PER_MINUTE: integerString(1, 1_000_000).default(60),
  /** Requests per minute per agent that make the coordinator send a transaction (withdrawals, faucet). */
  CHAIN_WRITE_RATE_LIMIT_PER_MINUTE: integerString(1, 1_000_000).default(30),
  INVOKE_RATE_LIMIT_PER_MINUTE: integerString(1, 10_000_000).default(60),
  INVOKE_TIMEOUT_MS: integerString(100, 600_000).default(30_000),
  /**
   * Let services name plain-http endpoints on loopback and the invoke proxy call them: for a
   * provider running on the coordinator's own machine (development, tests). Always on with the
   * embedded dev chain; never needed in production.
   */
  INVOKE_ALLOW_LOOPBACK: z
    .enum(['true', 'false'])
    .default('false')
    .transform((value) => value === 'true'),
  /** How often the indexer polls the chain for new vault logs. */
  INDEXER_POLL_MS: integerString(50, 3_600_000).default(1000),
  /** How often the settler looks for queued chain ops. */
  SETTLER_POLL_MS: integerString(50, 3_600_000).default(1000),
  /** The settler sends a batch as soon as this many ops wait… */
  SETTLER_MAX_BATCH_SIZE: integerString(1, 500).default(100),
  /** …or as soon as the oldest has waited this long. */
  SETTLER_MAX_BATCH_AGE_MS: integerString(0, 3_600_000).default(2000),
  /** Most gas one batch may use; bigger batches are split. At most 7.4M: sent with room to apply it twice (9/4 of it), it stays under the 2^24 cap. */
  SETTLER_MAX_BATCH_GAS: integerString(100_000, 7_400_000).default(7_000_000),
  /**
   * How long the settler's leadership outlives its last renewal: after a crash, settlement waits
   * this long for another replica to lead. Renewed every round and during long rounds.
   */
  SETTLER_LEASE_MS: integerString(1_000, 600_000).default(15_000),
  TIMERS_POLL_MS: integerString(50, 3_600_000).default(5_000),
  /** How often the webhook worker fans new events out and sends the deliveries that are due. */
  WEBHOOK_POLL_MS: integerString(50, 3_600_000).default(1_000),
  /** The wait after a webhook delivery's first failed attempt; it doubles with each further failure (at most 6 h). */
  WEBHOOK_RETRY_BASE_MS: integerString(10, 3_600_000).default(30_000),
  /** Attempts before a webhook delivery is `failed` (a redelivery can still be asked for). */
  WEBHOOK_MAX_ATTEMPTS: integerString(1, 50).default(12),
  /** The longest one webhook attempt may take, the receiver's answer included. */
  WEBHOOK_TIMEOUT_MS: integerString(100, 120_000).default(10_000),
  /** How often the vault balance is reconciled with the ledger. */
  RECONCILE_INTERVAL_MS: integerString(1000, 86_400_000).default(30_000),
  /** Run the indexer, settler and reconciliation in this process (false for API-only replicas). */
  WORKERS_ENABLED: z
    .enum(['true', 'false'])
    .default('true')
    .transform((value) => value === 'true'),
  /** The agent id that judges every competition; without it the coordinator takes no competitions. */
  PLATFORM_JUDGE_AGENT_ID: z.uuid('must be an agent id (a UUID)').optional(),
  /**
   * The agent that resolves escrows whose job names no resolver; without it the coordinator
   * creates (once) and uses its own platform resolver with a managed wallet.
   */
  PLATFORM_RESOLVER_AGENT_ID: z.uuid('must be an agent id (a UUID)').optional(),
  /**
   * Which peers may set X-Forwarded-For (Express `trust proxy`): `false` (none, the default: the
   * client IP is the connecting peer), a hop count, or comma-separated addresses, CIDRs or
   * Express's names (`loopback`, `uniquelocal`) of the proxies in front of this coordinator.
   */
  TRUST_PROXY: z
    .string()
    .default('false')
    .refine(
      (value) => value.trim() === 'false' || isTrustedProxyList(value),
      'must be false, a hop count, or comma-separated proxy addresses, CIDRs or loopback / linklocal / uniquelocal (never true: anyone could then pick their own IP)',
    )
    .transform((value): boolean | number | string[] => {
      const trimmed = value.trim()
      if (trimmed === 'false') return false
      if (/^\d+$/.test(trimmed)) return Number(trimmed)
      return trimmed
        .split(',')
        .map((part) => part.trim())
        .filter((part) => part !== '')
    }),
  /** How far a wallet-signed request's signed timestamp may be from the coordinator's clock. */
  SIGNED_REQUEST_MAX_AGE_SECONDS: integerString(10, 3600).default(300),
  /** How long after asking for it a managed wallet's private key can be exported (time to notice a leaked API key). */
  KEY_EXPORT_DELAY_SECONDS: integerString(0, 30 * 86_400).default(86_400),
  /** Addresses whose signature makes an agent's verifiable claim verified (comma-separated); none by default. */
  VERIFIABLE_CLAIM_ISSUERS: z
    .string()
    .regex(/^(0x[0-9a-fA-F]{40})(\s*,\s*0x[0-9a-fA-F]{40})*$/, 'must be comma-separated 0x addresses')
    .optional()
    .transform((value) =>
      value ? value.split(',').map((address) => address.trim().toLowerCase() as Address) : [],
    ),
})

export type Config = z.infer<typeof configSchema>

/**
 * Parses `env` into a `Config`. A bad value throws a `ConfigError` whose message is one line
 * naming the variable, so start-up can print it without a stack trace.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // An empty variable means "unset", the way shells and .env files usually write it.
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''))
  const parsed = configSchema.safeParse(present)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!
    const variable = String(issue.path[0] ?? 'environment')
    throw new ConfigError(`invalid ${variable}: ${issue.message}`)
  }
  return parsed.data
}
