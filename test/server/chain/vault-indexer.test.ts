import { expect } from 'chai'
import pino from 'pino'
import prettier from 'prettier'
import { renderVaultAbiModule } from '../../../scripts/export-abi'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import type { Queryable } from '../../../server/db/pool'
import type {
  ChainEventHandler,
  IndexedEvent,
  UnconfirmedWindow,
} from '../../../server/chain/indexer/indexed-event'
import { VaultIndexer, type VaultIndexerParameters } from '../../../server/chain/indexer/vault-indexer'
import { createMetrics } from '../../../server/metrics'
import type { Deployment } from '../../../scripts/lib/deploy-contracts'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import {
  deployTestVault,
  hardhatPublicClient,
  hardhatWallets,
  mine,
  mockUsdc,
  revertTo,
  snapshot,
  vaultContract,
} from '../helpers/chain'

/** Records deposits in a table of its own, inside the indexer's transaction. */
function recordingHandler(): ChainEventHandler {
  return {
    eventName: 'Deposited',
    async apply(db: Queryable, event: IndexedEvent) {
      await db.query('INSERT INTO test_deposits (tx_hash, log_index, amount) VALUES ($1, $2, $3)', [
        event.txHash,
        event.logIndex,
        event.args.amount,
      ])
    },
    async undo(db: Queryable, event: IndexedEvent) {
      await db.query('DELETE FROM test_deposits WHERE tx_hash = $1 AND log_index = $2', [
        event.txHash,
        event.logIndex,
      ])
    },
  }
}

describe('VaultIndexer', () => {
  let database: TestDatabase
  let deployment: Deployment

  beforeEach(async () => {
    database = await createTestDatabase()
    await database.pool.query(
      'CREATE TABLE test_deposits (tx_hash text, log_index int, amount numeric(78,0))',
    )
    deployment = await deployTestVault()
  })
  afterEach(async () => {
    await database.drop()
  })

  async function indexer(overrides: Partial<VaultIndexerParameters> = {}): Promise<VaultIndexer> {
    return new VaultIndexer({
      pool: database.pool,
      client: await hardhatPublicClient(),
      chainId: deployment.chainId,
      vault: deployment.contracts.ClearhouseVault!,
      deploymentBlock: BigInt(deployment.deploymentBlock),
      confirmations: 0,
      handlers: [recordingHandler()],
      logger: pino({ level: 'silent' }),
      ...overrides,
    })
  }

  async function deposit(amount: bigint): Promise<void> {
    const [, depositor] = await hardhatWallets()
    const usdc = await mockUsdc(deployment.contracts.MockUSDC!)
    const vault = await vaultContract(deployment.contracts.ClearhouseVault!)
    await usdc.write.mint([depositor.account.address, amount], { account: depositor.account })
    await usdc.write.approve([vault.address, amount], { account: depositor.account })
    await vault.write.deposit([usdc.address, amount], { account: depositor.account })
  }

  async function depositedAmounts(): Promise<string[]> {
    const { rows } = await database.pool.query('SELECT amount FROM test_deposits ORDER BY amount')
    return rows.map((row) => row.amount)
  }

  it('stores each vault log once and applies its handler once, however often it syncs', async () => {
    await deposit(5_000_000n)
    const subject = await indexer()
    await subject.catchUp()
    await subject.catchUp()
    const { rows } = await database.pool.query(
      "SELECT event_name, args FROM chain_events WHERE event_name = 'Deposited'",
    )
    expect(rows).to.have.length(1)
    expect(rows[0].args.amount).to.equal('5000000')
    expect(await depositedAmounts()).to.deep.equal(['5000000'])
  })

  it('waits for the configured confirmations before indexing a log', async () => {
    const subject = await indexer({ confirmations: 3 })
    await subject.catchUp()
    await deposit(7n)
    await subject.catchUp()
    expect(await depositedAmounts()).to.deep.equal([])
    await mine(3)
    await subject.catchUp()
    expect(await depositedAmounts()).to.deep.equal(['7'])
  })

  it('rewinds a reorg to the common ancestor and undoes what the dropped blocks applied', async () => {
    const subject = await indexer()
    await subject.catchUp()
    const beforeDeposit = await snapshot()
    await deposit(11n)
    await subject.catchUp()
    expect(await depositedAmounts()).to.deep.equal(['11'])

    await revertTo(beforeDeposit)
    await mine(4)
    const result = await subject.syncOnce()
    expect(result.rewoundTo !== null, 'a rewind happened').to.equal(true)
    await subject.catchUp()
    expect(await depositedAmounts()).to.deep.equal([])
    const { rows } = await database.pool.query(
      "SELECT count(*)::int AS n FROM chain_events WHERE event_name = 'Deposited'",
    )
    expect(rows[0].n).to.equal(0)

    await deposit(13n)
    await subject.catchUp()
    expect(await depositedAmounts()).to.deep.equal(['13'])
  })

  it('backfills everything since deployment in bounded ranges after downtime', async () => {
    for (const amount of [1n, 2n, 3n, 4n]) {
      await deposit(amount)
      await mine(3)
    }
    const subject = await indexer({ maxBlockRange: 2n })
    await subject.catchUp()
    expect(await depositedAmounts()).to.deep.equal(['1', '2', '3', '4'])
  })

  it('reads the next range of a backfill while it writes the current one', async () => {
    for (const amount of [71n, 72n, 73n]) {
      await deposit(amount)
      await mine(2)
    }
    await mine(10)
    const client = await hardhatPublicClient()
    const requested: bigint[] = []
    const watched = {
      ...client,
      getLogs: (args: Parameters<typeof client.getLogs>[0]) => {
        requested.push(args!.fromBlock as bigint)
        return client.getLogs(args)
      },
    } as typeof client
    const readAheadWhenApplied: boolean[] = []
    const handler: ChainEventHandler = {
      ...recordingHandler(),
      async apply(db, event) {
        readAheadWhenApplied.push(requested.some((from) => from > event.blockNumber))
        await recordingHandler().apply(db, event)
      },
    }
    const subject = await indexer({ client: watched, maxBlockRange: 4n, handlers: [handler] })
    await subject.catchUp()
    expect(await depositedAmounts()).to.deep.equal(['71', '72', '73'])
    expect(readAheadWhenApplied, 'the next range was asked for before each log was applied').to.deep.equal([
      true,
      true,
      true,
    ])
    expect(new Set(requested.map(String)).size, 'each range read once').to.equal(requested.length)
  })

  it('keeps nothing of a range read ahead whose blocks a reorg replaced: the new chain is what stays', async () => {
    await deposit(81n)
    const subject = await indexer({ maxBlockRange: 3n })
    await subject.catchUp()
    await mine(3)
    const fork = await snapshot()
    await deposit(82n)
    // This round writes the three mined blocks and reads the next three, 82's deposit among them...
    await subject.syncOnce()
    // ...which a reorg then replaces with 83's.
    await revertTo(fork)
    await deposit(83n)
    await mine(6)
    await subject.catchUp()
    expect(await depositedAmounts()).to.deep.equal(['81', '83'])
    const { rows } = await database.pool.query(
      "SELECT args->>'amount' AS amount FROM chain_events WHERE event_name = 'Deposited' ORDER BY block_number",
    )
    expect(rows.map((row) => row.amount)).to.deep.equal(['81', '83'])
  })

  it('lets two replicas sync together without applying any log twice', async () => {
    for (const amount of [21n, 22n, 23n]) await deposit(amount)
    const [first, second] = [await indexer({ maxBlockRange: 3n }), await indexer({ maxBlockRange: 3n })]
    await Promise.all([first.catchUp(), second.catchUp(), first.catchUp()])
    await Promise.all([first.catchUp(), second.catchUp()])
    expect(await depositedAmounts()).to.deep.equal(['21', '22', '23'])
  })

  describe('runs of one event', () => {
    /** The recording handler with an `applyMany` that notes the amounts of each run it is given. */
    function batchingHandler(): ChainEventHandler & { runs: string[][] } {
      const base = recordingHandler()
      const runs: string[][] = []
      return {
        ...base,
        runs,
        async applyMany(db, events) {
          runs.push(events.map((event) => event.args.amount as string))
          for (const event of events) await base.apply(db, event)
        },
      }
    }

    it('hands consecutive logs of one event to applyMany in chain order when every handler of it has one', async () => {
      for (const amount of [51n, 52n, 53n]) await deposit(amount)
      const [first, second] = [batchingHandler(), batchingHandler()]
      await (await indexer({ handlers: [first, second] })).catchUp()
      expect(first.runs).to.deep.equal([['51', '52', '53']])
      expect(second.runs).to.deep.equal([['51', '52', '53']])
      expect(await depositedAmounts()).to.deep.equal(['51', '51', '52', '52', '53', '53'])
    })

    it('applies log by log, every handler in turn, when one handler of the event has no applyMany', async () => {
      for (const amount of [61n, 62n]) await deposit(amount)
      const batching = batchingHandler()
      const order: string[] = []
      const plain: ChainEventHandler = {
        ...recordingHandler(),
        async apply(_db, event) {
          order.push(`plain:${event.args.amount as string}`)
        },
      }
      const tracing: ChainEventHandler = {
        ...batching,
        async apply(db, event) {
          order.push(`batching:${event.args.amount as string}`)
          await batching.apply(db, event)
        },
      }
      await (await indexer({ handlers: [tracing, plain] })).catchUp()
      expect(batching.runs).to.deep.equal([])
      expect(order).to.deep.equal(['batching:61', 'plain:61', 'batching:62', 'plain:62'])
    })
  })

  describe('observeUnconfirmed', () => {
    /** The recording handler, also noting each preview of unconfirmed deposits it is shown. */
    function previewingHandler(): ChainEventHandler & {
      previews: { amounts: string[]; window: UnconfirmedWindow }[]
    } {
      const previews: { amounts: string[]; window: UnconfirmedWindow }[] = []
      return {
        ...recordingHandler(),
        previews,
        async observeUnconfirmed(db: Queryable, events: IndexedEvent[], window: UnconfirmedWindow) {
          // Proves the preview runs inside a transaction of the indexer's, under its advisory lock.
          const { rows } = await db.query(
            "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()",
          )
          expect(rows[0].n, 'holds the indexer lock').to.be.greaterThan(0)
          previews.push({ amounts: events.map((event) => String(event.args.amount)), window })
        },
      }
    }

    it('shows the logs past the safe head each round, then applies them once confirmed', async () => {
      const handler = previewingHandler()
      const subject = await indexer({ confirmations: 2, handlers: [handler] })
      await subject.catchUp()
      await deposit(31n)
      const client = await hardhatPublicClient()
      const head = await client.getBlockNumber({ cacheTime: 0 })
      await subject.catchUp()
      const result = await subject.syncOnce()
      expect(result).to.include({ range: null, unconfirmedEvents: 1, lostRace: false })
      expect(handler.previews.at(-1)!.amounts).to.deep.equal(['31'])
      expect(handler.previews.at(-1)!.window).to.deep.include({ chainId: deployment.chainId, toBlock: head })
      expect(
        handler.previews.at(-1)!.window.fromBlock <= head - 1n,
        'the window starts past the cursor',
      ).to.equal(true)
      expect(await depositedAmounts()).to.deep.equal([])

      await mine(2)
      await subject.catchUp()
      expect(await depositedAmounts()).to.deep.equal(['31'])
      expect(handler.previews.at(-1)!.amounts, 'applied logs leave the preview').to.deep.equal([])
    })

    it('shows an empty window after a reorg drops an unconfirmed log, even on a shorter chain', async () => {
      const handler = previewingHandler()
      const subject = await indexer({ confirmations: 3, handlers: [handler] })
      await subject.catchUp()
      const beforeDeposit = await snapshot()
      await deposit(37n)
      await subject.catchUp()
      expect(handler.previews.at(-1)!.amounts).to.deep.equal(['37'])

      await revertTo(beforeDeposit)
      await subject.catchUp()
      expect(handler.previews.at(-1)!.amounts).to.deep.equal([])
      await mine(5)
      await subject.catchUp()
      expect(handler.previews.at(-1)!.amounts).to.deep.equal([])
      expect(await depositedAmounts()).to.deep.equal([])
    })

    it('is never called with zero confirmations, nor while the indexer is behind the safe head', async () => {
      const handler = previewingHandler()
      await deposit(41n)
      await (await indexer({ handlers: [handler] })).catchUp()
      expect(handler.previews).to.deep.equal([])

      await mine(3)
      const behind = await indexer({ confirmations: 1, maxBlockRange: 1n, handlers: [handler] })
      const first = await behind.syncOnce()
      expect(first.range, 'a confirmed range was read').to.not.equal(null)
      expect(handler.previews).to.deep.equal([])
    })
  })

  it('reports its lag behind the head as a metric', async () => {
    const metrics = createMetrics()
    const subject = await indexer({ metrics, confirmations: 2 })
    await subject.catchUp()
    const metric = await metrics.registry.getSingleMetric('clearhouse_indexer_lag_blocks')!.get()
    expect(metric.values[0]!.value).to.equal(2)
  })
})

describe('protocol/vault-abi.ts', () => {
  it('matches the compiled ClearhouseVault (run `npm run abi` after changing the contract)', async () => {
    const root = path.resolve(__dirname, '../../..')
    const options = (await prettier.resolveConfig(path.join(root, 'protocol/vault-abi.ts'))) ?? {}
    const expected = await prettier.format(await renderVaultAbiModule(), { ...options, parser: 'typescript' })
    expect(await readFile(path.join(root, 'protocol/vault-abi.ts'), 'utf8')).to.equal(expected)
  })
})
