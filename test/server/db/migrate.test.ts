import { expect } from 'chai'
import { migrate, readMigrations } from '../../../server/db/migrate'
import { createTestDatabase } from '../helpers/database'

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
})
