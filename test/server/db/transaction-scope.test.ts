import { expect } from 'chai'
import type pg from 'pg'
import { isDatabaseUnavailable } from '../../../server/db/database-errors'
import { runInTransactionScope, withTransaction, type TransactionScope } from '../../../server/db/pool'
import { createTestDatabase, testDatabaseServer, type TestDatabase } from '../helpers/database'

describe('withTransaction inside a transaction scope', () => {
  let database: TestDatabase

  before(async () => {
    database = await createTestDatabase({ migrated: false })
    await database.pool.query('CREATE TABLE scope_probe (note text NOT NULL)')
  })
  after(async () => {
    await database.drop()
  })
  beforeEach(async () => {
    await database.pool.query('DELETE FROM scope_probe')
  })

  function recordingScope(fence: (client: pg.PoolClient) => Promise<void> = async () => undefined) {
    const calls: string[] = []
    const scope: TransactionScope = {
      commitOutcomeUnknown: false,
      async beforeCommit(client) {
        // Inside the transaction: it sees the work not yet committed.
        const { rows } = await client.query('SELECT count(*)::int AS n FROM scope_probe')
        calls.push(`before commit, ${rows[0].n} rows`)
        await fence(client)
      },
    }
    return { scope, calls }
  }

  async function rejection(promise: Promise<unknown>): Promise<unknown> {
    return promise.then(
      () => {
        throw new Error('expected a rejection')
      },
      (reason: unknown) => reason,
    )
  }

  async function notes(): Promise<string[]> {
    const { rows } = await database.pool.query('SELECT note FROM scope_probe ORDER BY note')
    return rows.map((row) => row.note)
  }

  it('runs the fence inside every read-write transaction of the scope, however deep, just before COMMIT', async () => {
    const { scope, calls } = recordingScope()
    await runInTransactionScope(scope, async () => {
      await withTransaction(database.pool, (client) => client.query(`INSERT INTO scope_probe VALUES ('a')`))
      await new Promise((resolve) => setTimeout(resolve, 5))
      await withTransaction(database.pool, (client) => client.query(`INSERT INTO scope_probe VALUES ('b')`))
    })
    expect(calls).to.deep.equal(['before commit, 1 rows', 'before commit, 2 rows'])
    expect(await notes()).to.deep.equal(['a', 'b'])
  })

  it('does not fence read-only snapshots, nor transactions outside the scope', async () => {
    const { scope, calls } = recordingScope()
    await runInTransactionScope(scope, () =>
      withTransaction(
        database.pool,
        (client) => client.query('SELECT 1'),
        'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY',
      ),
    )
    await withTransaction(database.pool, (client) => client.query(`INSERT INTO scope_probe VALUES ('c')`))
    expect(calls).to.deep.equal([])
  })

  it('rolls the work back when the fence throws', async () => {
    const { scope } = recordingScope(async () => {
      throw new Error('the claim was taken over')
    })
    const attempt = runInTransactionScope(scope, () =>
      withTransaction(database.pool, (client) => client.query(`INSERT INTO scope_probe VALUES ('d')`)),
    )
    expect((await rejection(attempt)) as Error).to.have.property('message', 'the claim was taken over')
    expect(await notes()).to.deep.equal([])
    expect(scope.commitOutcomeUnknown).to.equal(false)
  })

  describe('when the connection dies', () => {
    before(async function () {
      // PGlite has one session and no pg_terminate_backend.
      if ((await testDatabaseServer()).kind !== 'postgres') this.skip()
    })

    it('fails with a database-unavailable error mid-transaction instead of crashing the process', async () => {
      const attempt = withTransaction(database.pool, async (client) => {
        await client.query(`INSERT INTO scope_probe VALUES ('e')`)
        await database.pool.query('SELECT pg_terminate_backend($1)', [
          (client as unknown as { processID: number }).processID,
        ])
        await new Promise((resolve) => setTimeout(resolve, 50))
        await client.query('SELECT 1')
      })
      const error = await rejection(attempt)
      expect(isDatabaseUnavailable(error), String(error)).to.equal(true)
      expect(await notes()).to.deep.equal([])
      // The pool gave up the dead connection and still works.
      expect((await database.pool.query('SELECT 1 AS one')).rows[0].one).to.equal(1)
    })

    it('marks the commit outcome unknown when the connection is lost at COMMIT', async () => {
      const { scope } = recordingScope(async (client) => {
        // Terminated after the fence, before COMMIT reaches the server.
        await database.pool.query('SELECT pg_terminate_backend($1)', [
          (client as unknown as { processID: number }).processID,
        ])
        await new Promise((resolve) => setTimeout(resolve, 50))
      })
      const attempt = runInTransactionScope(scope, () =>
        withTransaction(database.pool, (client) => client.query(`INSERT INTO scope_probe VALUES ('f')`)),
      )
      expect(isDatabaseUnavailable(await rejection(attempt))).to.equal(true)
      expect(scope.commitOutcomeUnknown).to.equal(true)
    })
  })
})
