import { expect } from 'chai'
import type pg from 'pg'
import pino from 'pino'
import type { PublicClient, WalletClient } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import type { AppContext } from '../../server/app-context'
import { Settler } from '../../server/chain/settler/settler'
import { loadConfig } from '../../server/config'
import { migrate } from '../../server/db/migrate'
import { createPool } from '../../server/db/pool'
import { createMetrics } from '../../server/metrics'
import { startWorkers } from '../../server/workers/start-workers'
import { TEST_WALLET_ENCRYPTION_KEY } from '../server/helpers/app'
import { startDisposablePostgres, type DisposablePostgres } from './helpers/disposable-postgres'
import { waitFor } from './helpers/http-client'

const VAULT = '0x00000000000000000000000000000000000000aa'
const silent = pino({ level: 'silent' })
/** The settlers' key, which the test chain names as the vault's coordinator. */
const COORDINATOR = privateKeyToAccount(generatePrivateKey())

/**
 * The chain as the settler sees it when nothing is queued: after `delayMs` (a slow node, a long
 * round) `coordinator()` answers the settlers' key and `lastBatchNumber()` 0. Anything else it is
 * asked fails, like an unreachable node.
 */
function slowChain(delayMs: number): PublicClient {
  return new Proxy({} as PublicClient, {
    get(_target, property) {
      if (property === 'readContract') {
        return async ({ functionName }: { functionName: string }) => {
          await new Promise((resolve) => setTimeout(resolve, delayMs))
          return functionName === 'coordinator' ? COORDINATOR.address : 0n
        }
      }
      if (property === 'then') return undefined
      return async () => {
        throw new Error(`the test chain does not answer ${String(property)}`)
      }
    },
  })
}

/**
 * Issue 11, finding 9: settlement paused for about 60 s after any crash, while the dead leader's
 * lease ran out. The lease is now SETTLER_LEASE_MS (15 s by default) and kept alive while a round
 * runs, so a short lease never costs a live leader its lead.
 */
describe('faults: the settler lease after a crash and during long rounds', () => {
  let cluster: DisposablePostgres
  let pool: pg.Pool

  before(async function () {
    this.timeout(60_000)
    cluster = await startDisposablePostgres()
    await cluster.createDatabase('clearhouse')
    pool = createPool(cluster.url('clearhouse'), 5)
    await migrate(pool)
  })
  after(async () => {
    await pool?.end()
    await cluster?.destroy()
  })
  afterEach(async () => {
    await pool.query('DELETE FROM worker_leases')
  })

  function settler(publicClient: PublicClient, leaseTtlMs?: number): Settler {
    return new Settler({
      pool,
      publicClient,
      walletClient: {} as WalletClient,
      account: COORDINATOR,
      chainId: 31337,
      vault: VAULT,
      logger: silent,
      ...(leaseTtlMs === undefined ? {} : { leaseTtlMs }),
    })
  }

  async function leaseSecondsLeft(): Promise<number> {
    const { rows } = await pool.query(
      `SELECT extract(epoch FROM l.expires_at - now())::float AS left FROM worker_leases AS l WHERE l.worker = 'settler'`,
    )
    return rows[0]?.left ?? 0
  }

  it('defaults SETTLER_LEASE_MS to 15 s: a crashed leader holds settlement up for 15 s, not 60', async () => {
    expect(loadConfig({}).SETTLER_LEASE_MS).to.equal(15_000)
    const crashed = settler(slowChain(0))
    expect((await crashed.settleOnce()).outcome).to.equal('idle')
    // It dies here without resigning: the next leader waits for what is left of its lease.
    const left = await leaseSecondsLeft()
    expect(left).to.be.within(10, 15)
  })

  it('startWorkers gives the settler the configured SETTLER_LEASE_MS', async function () {
    this.timeout(20_000)
    const context: AppContext = {
      version: 'test',
      pool,
      databaseKind: 'postgres',
      chain: {
        client: slowChain(0),
        deployment: {
          chainId: 31337,
          deployedAt: new Date().toISOString(),
          deploymentBlock: 0,
          contracts: { ClearhouseVault: VAULT },
          tokens: [],
        },
      },
      coordinatorAccount: COORDINATOR,
      tokens: [],
      isDevChain: false,
      logger: silent,
      metrics: createMetrics(),
      walletEncryptionKey: TEST_WALLET_ENCRYPTION_KEY,
      authRateLimitPerMinute: 60,
      chainWriteRateLimitPerMinute: 30,
    }
    const workers = startWorkers(
      context,
      loadConfig({
        RPC_URL: 'http://127.0.0.1:1',
        SETTLER_LEASE_MS: '4000',
        RECONCILE_INTERVAL_MS: '3600000',
      }),
      [],
    )!
    try {
      await waitFor(async () => (await leaseSecondsLeft()) > 0, 10_000, 'the settler to take its lease')
      expect(await leaseSecondsLeft()).to.be.within(2, 4)
    } finally {
      await workers.stop()
    }
  })

  it('a live leader keeps its lease through a round longer than the lease; a rival never leads meanwhile', async function () {
    this.timeout(20_000)
    const leader = settler(slowChain(2_000), 600)
    const rival = settler(slowChain(0), 600)
    let finished = false
    const round = leader.settleOnce().finally(() => (finished = true))
    const rivalOutcomes: string[] = []
    while (!finished) {
      await new Promise((resolve) => setTimeout(resolve, 100))
      if (!finished) rivalOutcomes.push((await rival.settleOnce()).outcome)
    }
    expect((await round).outcome).to.equal('idle')
    expect(rivalOutcomes.length).to.be.greaterThan(10)
    expect(new Set(rivalOutcomes)).to.deep.equal(new Set(['not-leader']))
  })
})
