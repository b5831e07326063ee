import { expect } from 'chai'
import {
  DatabaseNewerThanCodeError,
  migrate,
  MigrationOrderError,
  readMigrations,
  type Migration,
} from '../../../server/db/migrate'
import { createTestDatabase } from '../helpers/database'

/** A migration that creates table `t<version>`, so a test can see whether it ran. */
function tableMigration(version: number): Migration {
  return { version, name: `table_${version}`, sql: `CREATE TABLE t${version} (id int)` }
}

describe('migrate', () => {
  it('applies every migration once and records each in schema_migrations', async () => {
    const database = await createTestDatabase({ migrated: false })
    try {
      const all = await readMigrations()
      expect(await migrate(database.pool)).to.deep.equal(all.map((m) => m.version))
      expect(await migrate(database.pool)).to.deep.equal([])
      const { rows } = await database.pool.query('SELECT version FROM schema_migrations ORDER BY version')
      expect(rows.map((r) => r.version)).to.deep.equal(all.map((m) => m.version))
    } finally {
      await database.drop()
    }
  })

  it('lets two replicas start together without applying a migration twice', async () => {
    const database = await createTestDatabase({ migrated: false })
    try {
      const [first, second] = await Promise.all([migrate(database.pool), migrate(database.pool)])
      const all = (await readMigrations()).map((m) => m.version)
      expect([...first, ...second].sort((a, b) => a - b)).to.deep.equal(all)
    } finally {
      await database.drop()
    }
  })

  it('rolls back a failing migration together with its schema_migrations row', async () => {
    const database = await createTestDatabase({ migrated: false })
    try {
      const broken = [
        { version: 1, name: 'broken', sql: 'CREATE TABLE t (id int); SELECT no_such_function();' },
      ]
      let failed = false
      await migrate(database.pool, broken).catch(() => (failed = true))
      expect(failed).to.equal(true)
      const { rows } = await database.pool.query('SELECT count(*)::int AS n FROM schema_migrations')
      expect(rows[0].n).to.equal(0)
    } finally {
      await database.drop()
    }
  })

  it('refuses a migration numbered below the highest applied, naming both, and applies nothing', async () => {
    const database = await createTestDatabase({ migrated: false })
    try {
      await migrate(database.pool, [tableMigration(1), tableMigration(3)])
      const error = await migrate(database.pool, [1, 2, 3, 4].map(tableMigration)).catch((e: unknown) => e)
      expect(error).to.be.instanceOf(MigrationOrderError)
      expect((error as MigrationOrderError).message)
        .to.include('0002')
        .and.include('0003')
      expect(error).to.include({ highestApplied: 3 })
      expect((error as MigrationOrderError).unapplied).to.deep.equal([2])
      const { rows } = await database.pool.query('SELECT version FROM schema_migrations ORDER BY version')
      expect(rows.map((r) => r.version)).to.deep.equal([1, 3])
      const tables = await database.pool.query(
        `SELECT to_regclass('t2') IS NULL AS no_t2, to_regclass('t4') IS NULL AS no_t4`,
      )
      expect(tables.rows[0]).to.deep.equal({ no_t2: true, no_t4: true })
    } finally {
      await database.drop()
    }
  })

  it('refuses a database that applied a migration this code does not have, naming it', async () => {
    const database = await createTestDatabase({ migrated: false })
    try {
      await migrate(database.pool, [tableMigration(1), tableMigration(2)])
      const error = await migrate(database.pool, [tableMigration(1)]).catch((e: unknown) => e)
      expect(error).to.be.instanceOf(DatabaseNewerThanCodeError)
      expect((error as DatabaseNewerThanCodeError).message)
        .to.include('0002')
        .and.include('0001')
      expect((error as DatabaseNewerThanCodeError).unknown).to.deep.equal([2])
    } finally {
      await database.drop()
    }
  })

  it('applies a new migration numbered above the highest applied, leaving gaps below it', async () => {
    const database = await createTestDatabase({ migrated: false })
    try {
      await migrate(database.pool, [tableMigration(1), tableMigration(5)])
      expect(await migrate(database.pool, [1, 5, 7].map(tableMigration))).to.deep.equal([7])
    } finally {
      await database.drop()
    }
  })
})
