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
 * The database's record of applied migrations does not fit this code's migrations, so applying
 * any of them could build a schema no version of the code expects: `migrate` applies nothing.
 */
export class MigrationHistoryError extends Error {
  override name = 'MigrationHistoryError'
}

/** A migration this code has but the database has not applied is numbered below the highest it has applied. */
export class MigrationOrderError extends MigrationHistoryError {
  override name = 'MigrationOrderError'
  constructor(
    readonly unapplied: readonly number[],
    readonly highestApplied: number,
  ) {
    const highest = formatVersion(highestApplied)
    super(
      `the database has applied migration ${highest} but not ${listVersions(unapplied)} below it: ` +
        `a migration was added below the highest applied one; renumber it above ${highest}`,
    )
  }
}

/** The database has applied a migration this code does not have: a newer (or another) version migrated it. */
export class DatabaseNewerThanCodeError extends MigrationHistoryError {
  override name = 'DatabaseNewerThanCodeError'
  constructor(
    readonly unknown: readonly number[],
    readonly newestInCode: number | null,
  ) {
    super(
      `the database has applied ${listVersions(unknown)}, which this code does not have ` +
        `(its newest is ${newestInCode === null ? 'none' : formatVersion(newestInCode)}): ` +
        `it was migrated by a newer version of the code; run that version or a later one`,
    )
  }
}

/**
 * Reads `NNNN_description.sql` files in version order. Gaps are allowed (modules reserve number
 * ranges), a duplicate number is an error. Versions only ever grow: never insert below the highest
 * (`migrate` refuses one below the highest the database applied).
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
 * the loser waits, then finds the work done. Before applying anything it checks the recorded
 * history against `migrations` (this code's, by default every file in MIGRATIONS_DIR) and throws a
 * `MigrationHistoryError` if the database applied one this code lacks, or lacks one numbered below
 * the highest it applied.
 */
export async function migrate(pool: pg.Pool, migrations?: Migration[]): Promise<number[]> {
  const known = migrations ?? (await readMigrations())
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
    const { rows } = await client.query<{ version: number }>(
      'SELECT version FROM schema_migrations ORDER BY version',
    )
    checkMigrationHistory(
      rows.map((row) => row.version),
      known.map((migration) => migration.version),
    )
  })
  const applied: number[] = []
  for (const migration of known) {
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

/**
 * Throws if `appliedVersions` (the database's record) and `knownVersions` (this code's migrations)
 * cannot be reconciled by applying the missing ones in order.
 */
function checkMigrationHistory(appliedVersions: readonly number[], knownVersions: readonly number[]): void {
  const known = new Set(knownVersions)
  const unknown = appliedVersions.filter((version) => !known.has(version))
  if (unknown.length > 0) {
    throw new DatabaseNewerThanCodeError(unknown, knownVersions.length ? Math.max(...knownVersions) : null)
  }
  if (appliedVersions.length === 0) return
  const highestApplied = Math.max(...appliedVersions)
  const applied = new Set(appliedVersions)
  const unappliedBelow = knownVersions.filter((version) => !applied.has(version) && version < highestApplied)
  if (unappliedBelow.length > 0) throw new MigrationOrderError(unappliedBelow, highestApplied)
}

/** A version as its file spells it: `42` is `0042`. */
function formatVersion(version: number): string {
  return String(version).padStart(4, '0')
}

/** `migration 0041` or `migrations 0040, 0041`. */
function listVersions(versions: readonly number[]): string {
  const list = versions.map(formatVersion).join(', ')
  return versions.length === 1 ? `migration ${list}` : `migrations ${list}`
}
