import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { EMBEDDED_POOL_SIZE, startEmbeddedPostgres, type EmbeddedPostgres } from '../../../server/db/embedded'
import { migrate } from '../../../server/db/migrate'
import { createPool } from '../../../server/db/pool'

/** Which database the server tests run against, chosen once per run. */
export interface TestDatabaseServer {
  kind: 'postgres' | 'pglite'
  /** Connection string of the server's maintenance database. */
  adminUrl: string
  stop(): Promise<void>
}

const LOCAL_POSTGRES = 'postgres://postgres@127.0.0.1:5432/postgres'
// One template per test run, so two runs against the same server (two developers, or a run
// beside CI) never drop each other's template mid-clone. `dropTemplate` removes it at the end.
const TEMPLATE_DB = `clearhouse_test_template_${process.pid}`

let server: TestDatabaseServer | null = null
let templateReady: Promise<void> | null = null

async function answers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 })
  try {
    await client.connect()
    await client.query('SELECT 1')
    return true
  } catch {
    return false
  } finally {
    await client.end().catch(() => undefined)
  }
}

/** DATABASE_URL if set, else Postgres on 127.0.0.1:5432 if it answers, else embedded PGlite. */
export async function testDatabaseServer(): Promise<TestDatabaseServer> {
  if (server) return server
  if (process.env.DATABASE_URL) {
    server = { kind: 'postgres', adminUrl: process.env.DATABASE_URL, stop: async () => undefined }
  } else if (process.env.TEST_DATABASE !== 'pglite' && (await answers(LOCAL_POSTGRES))) {
    server = { kind: 'postgres', adminUrl: LOCAL_POSTGRES, stop: async () => undefined }
  } else {
    const embedded: EmbeddedPostgres = await startEmbeddedPostgres({ port: 0 })
    server = { kind: 'pglite', adminUrl: embedded.connectionString, stop: () => embedded.stop() }
  }
  return server
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url)
  parsed.pathname = `/${database}`
  return parsed.toString()
}

export interface TestDatabase {
  url: string
  pool: pg.Pool
  /** Drops the database (Postgres) or schema (PGlite) and closes the pool. */
  drop(): Promise<void>
}

/**
 * A fresh, migrated database for one test file (or test). On Postgres it is cloned from a template
 * that is migrated once per run, which takes milliseconds; on PGlite the one database is emptied.
 */
export async function createTestDatabase(options: { migrated?: boolean } = {}): Promise<TestDatabase> {
  const migrated = options.migrated ?? true
  const dbServer = await testDatabaseServer()
  const name = `clearhouse_test_${randomBytes(6).toString('hex')}`
  if (dbServer.kind === 'pglite') {
    // PGlite is one database behind one session that the socket server shares between
    // connections, so neither a second database nor a per-connection search_path exists. Test
    // files run one after another, so each starts from an emptied public schema instead.
    const pool = createPool(dbServer.adminUrl, EMBEDDED_POOL_SIZE, { isSharedSession: true })
    await pool.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public')
    if (migrated) await migrate(pool)
    return { url: dbServer.adminUrl, pool, drop: () => pool.end() }
  }

  templateReady ??= (async () => {
    const admin = createPool(dbServer.adminUrl, 1)
    try {
      await admin.query(`DROP DATABASE IF EXISTS ${TEMPLATE_DB} WITH (FORCE)`)
      await admin.query(`CREATE DATABASE ${TEMPLATE_DB}`)
    } finally {
      await admin.end()
    }
    const template = createPool(withDatabase(dbServer.adminUrl, TEMPLATE_DB), 1)
    try {
      await migrate(template)
    } finally {
      await template.end()
    }
  })()
  await templateReady
  const admin = createPool(dbServer.adminUrl, 1)
  try {
    await admin.query(
      migrated ? `CREATE DATABASE ${name} TEMPLATE ${TEMPLATE_DB}` : `CREATE DATABASE ${name}`,
    )
  } finally {
    await admin.end()
  }
  const url = withDatabase(dbServer.adminUrl, name)
  const pool = createPool(url, 20)
  return {
    url,
    pool,
    async drop() {
      // pool.end() resolves before its clients' sockets close, so DROP … WITH (FORCE) can still
      // terminate one; that late error is expected and must not surface as an uncaught error.
      pool.on('error', () => undefined)
      await pool.end()
      const cleanup = createPool(dbServer.adminUrl, 1)
      await cleanup.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      await cleanup.end()
    },
  }
}

/** Drops this run's template database (Postgres only); the root hook calls it after all tests. */
export async function dropTemplate(): Promise<void> {
  if (!server || server.kind !== 'postgres' || !templateReady) return
  const admin = createPool(server.adminUrl, 1)
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${TEMPLATE_DB} WITH (FORCE)`)
  } finally {
    await admin.end()
  }
}
