import { expect } from 'chai'
import pino from 'pino'
import { Registry } from 'prom-client'
import prettier from 'prettier'
import { renderVaultAbiModule } from '../../../scripts/export-abi'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import type { Queryable } from '../../../server/db/pool'
import type { ChainEventHandler, IndexedEvent } from '../../../server/chain/indexer/indexed-event'
import { VaultIndexer, type VaultIndexerParameters } from '../../../server/chain/indexer/vault-indexer'
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

  it('lets two replicas sync together without applying any log twice', async () => {
    for (const amount of [21n, 22n, 23n]) await deposit(amount)
    const [first, second] = [await indexer({ maxBlockRange: 3n }), await indexer({ maxBlockRange: 3n })]
    await Promise.all([first.catchUp(), second.catchUp(), first.catchUp()])
    await Promise.all([first.catchUp(), second.catchUp()])
    expect(await depositedAmounts()).to.deep.equal(['21', '22', '23'])
  })

  it('reports its lag behind the head as a metric', async () => {
    const registry = new Registry()
    const subject = await indexer({ registry, confirmations: 2 })
    await subject.catchUp()
    const metric = await registry.getSingleMetric('clearhouse_indexer_lag_blocks')!.get()
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
