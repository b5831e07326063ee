import type { Express } from 'express'
import pino from 'pino'
import { createPublicClient, custom, type PublicClient } from 'viem'
import type { Deployment } from '../../../protocol/deployment'
import { ensurePlatformResolver } from '../../../server/agents/agents-service'
import { createApp } from '../../../server/app'
import type { AppContext } from '../../../server/app-context'
import { createMetrics } from '../../../server/metrics'
import type { TestDatabase } from './database'
import { testDatabaseServer } from './database'

/** An app over a test database; `chain` defaults to none. */
/** The token tests use when no chain is deployed: a USDC-like 6-decimal token at a fixed address. */
export const TEST_USDC = {
  symbol: 'USDC',
  address: '0x00000000000000000000000000000000000000cc',
  decimals: 6,
} as const

/** The managed-wallet encryption key of test apps (tests only; never a deployment's key). */
export const TEST_WALLET_ENCRYPTION_KEY = Buffer.alloc(32, 7)

export async function createTestApp(
  database: TestDatabase,
  chain: AppContext['chain'] = null,
  overrides: Partial<AppContext> = {},
): Promise<{ app: Express; context: AppContext }> {
  // As at the coordinator's start: every deployment has a platform resolver (a test may name none).
  const platformResolverAgentId =
    'platformResolverAgentId' in overrides
      ? overrides.platformResolverAgentId
      : await ensurePlatformResolver({ pool: database.pool, walletEncryptionKey: TEST_WALLET_ENCRYPTION_KEY })
  const context: AppContext = {
    version: 'test',
    pool: database.pool,
    databaseKind: (await testDatabaseServer()).kind,
    chain,
    coordinatorAccount: null,
    tokens: chain?.deployment.tokens.length ? chain.deployment.tokens : [TEST_USDC],
    isDevChain: true,
    logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    metrics: createMetrics(),
    walletEncryptionKey: TEST_WALLET_ENCRYPTION_KEY,
    // Tests register many agents from one address; the rate-limit test lowers this itself.
    authRateLimitPerMinute: 100_000,
    chainWriteRateLimitPerMinute: 100_000,
    invokeRateLimitPerMinute: 100_000,
    platformResolverAgentId,
    ...overrides,
  }
  return { app: createApp(context), context }
}

/** A viem client over Hardhat's in-process EVM, the same chain the contract tests use. */
export async function createHardhatChain(): Promise<{ client: PublicClient; deployment: Deployment }> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const hre = require('hardhat') as typeof import('hardhat')
  const client = createPublicClient({ transport: custom(hre.network.provider) }) as PublicClient
  const deployment: Deployment = {
    chainId: await client.getChainId(),
    deployedAt: new Date().toISOString(),
    deploymentBlock: 0,
    contracts: { ClearhouseVault: '0x0000000000000000000000000000000000000001' },
    tokens: [],
  }
  return { client, deployment }
}
