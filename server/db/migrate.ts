import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import type pg from 'pg'
import { withTransaction } from './pool'

/** Where the numbered, forward-only SQL migrations live. */
export const MIGRATIONS_DIR = path.join(__dirname, 'migrations')

// Any constant works as long as every replica uses the same one; this is "clrhouse" in ASCII.
const MIGRATION_LOCK_KEY = 0x636c72686f757365n

export interface Migration {
  version: number
  name: string
  sql: string
}

/**
 * Reads `NNNN_description.sql` files in version order. Gaps are allowed (modules reserve number
 * ranges), a duplicate number is an error. Versions only ever grow: never insert below the highest.
 */
export async function readMigrations(dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((file) => file.endsWith('.sql')).sort()
  const migrations: Migration[] = []
  for (const file of files) {
    const match = /^(\d{4})_([a-z0-9_]+)\.sql$/.exec(file)
    if (!match) throw new Error(`migration file ${file} is not named NNNN_description.sql`)
    const version = Number(match[1])
    const previous = migrations[migrations.length - 1]
    if (previous && version <= previous.version)
      throw new Error(`migration ${file} duplicates version ${version}`)
    migrations.push({ version, name: match[2]!, sql: await readFile(path.join(dir, file), 'utf8') })
  }
  return migrations
}

/**
 * Applies every migration not yet recorded, each in its own transaction that records itself in
 * `schema_migrations`. A transaction-level advisory lock serialises replicas that start together:
 * the loser waits, then finds the work done.
 */
export async function migrate(pool: pg.Pool, migrations?: Migration[]): Promise<number[]> {
  const pending = migrations ?? (await readMigrations())
  // Even CREATE TABLE IF NOT EXISTS races in the catalog, so the bookkeeping table is made under the lock too.
  await withTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [MIGRATION_LOCK_KEY.toString()])
    await client.query(
      `CREATE TABLE IF NOT EXISTS schema_migrations (
         version integer PRIMARY KEY,
         name text NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now()
       )`,
    )
  })
  const applied: number[] = []
  for (const migration of pending) {
    const didApply = await withTransaction(pool, async (client) => {
      await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [MIGRATION_LOCK_KEY.toString()])
      const { rowCount } = await client.query(
        'INSERT INTO schema_migrations (version, name) VALUES ($1, $2) ON CONFLICT (version) DO NOTHING',
        [migration.version, migration.name],
      )
      if (rowCount === 0) return false
      await client.query(migration.sql)
      return true
    })
    if (didApply) applied.push(migration.version)
  }
  return applied
}
