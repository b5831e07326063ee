import { execFile } from 'node:child_process'
import { chown, mkdtemp, readdir, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'

const run = promisify(execFile)

/** A Postgres cluster of its own that a fault test may restart, stop or crash at will. */
export interface DisposablePostgres {
  port: number
  /** `postgres://postgres@127.0.0.1:<port>/<database>`. */
  url(database?: string): string
  /** Creates an empty database on the cluster. */
  createDatabase(name: string): Promise<void>
  /** Runs one statement as the superuser on `database` (its own short connection). */
  query(sql: string, database?: string): Promise<pg.QueryResult>
  start(): Promise<void>
  /** `fast` ends every session with 57P01; `immediate` is a crash (no checkpoint). */
  stop(mode?: 'fast' | 'immediate'): Promise<void>
  restart(mode?: 'fast' | 'immediate'): Promise<void>
  isRunning(): boolean
  /** Stops the cluster if it runs and deletes its directory. */
  destroy(): Promise<void>
}

/** The newest Postgres server binaries on this machine (Debian's /usr/lib/postgresql/<v>/bin), or PG_BIN. */
async function postgresBin(): Promise<string> {
  if (process.env.PG_BIN) return process.env.PG_BIN
  const versions = (await readdir('/usr/lib/postgresql').catch(() => [] as string[]))
    .filter((name) => /^\d+$/.test(name))
    .sort((a, b) => Number(b) - Number(a))
  if (!versions[0]) throw new Error('no Postgres server binaries in /usr/lib/postgresql; set PG_BIN')
  return path.join('/usr/lib/postgresql', versions[0], 'bin')
}

/** A TCP port nobody listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

/**
 * initdb into a temporary directory and pg_ctl start on a free port, its unix socket in the same
 * directory. Postgres refuses to run as root, so as root every binary runs as `postgres`.
 * `client_connection_check_interval` makes a backend notice a vanished client during a long
 * statement, the way TCP keepalive eventually would, so a killed coordinator's work is rolled back
 * promptly.
 */
export async function startDisposablePostgres(): Promise<DisposablePostgres> {
  const bin = await postgresBin()
  const dir = await mkdtemp(path.join(os.tmpdir(), 'clearhouse-pg-'))
  const dataDir = path.join(dir, 'data')
  const isRoot = process.getuid?.() === 0
  const asPostgres = async (command: string, args: string[]) => {
    const file = path.join(bin, command)
    return isRoot ? run('runuser', ['-u', 'postgres', '--', file, ...args]) : run(file, args)
  }
  if (isRoot) {
    const { stdout } = await run('id', ['-u', 'postgres'])
    const { stdout: gid } = await run('id', ['-g', 'postgres'])
    await chown(dir, Number(stdout.trim()), Number(gid.trim()))
  }
  await asPostgres('initdb', ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8'])
  const port = await freePort()
  const options = [
    `-p ${port}`,
    `-k ${dir}`,
    '-c listen_addresses=127.0.0.1',
    '-c fsync=off',
    '-c full_page_writes=off',
    '-c synchronous_commit=off',
    '-c max_connections=100',
    '-c client_connection_check_interval=200',
  ].join(' ')
  let running = false
  const start = async () => {
    await asPostgres('pg_ctl', ['-D', dataDir, '-o', options, '-l', path.join(dir, 'log'), '-w', 'start'])
    running = true
  }
  const stop = async (mode: 'fast' | 'immediate' = 'fast') => {
    await asPostgres('pg_ctl', ['-D', dataDir, '-m', mode, '-w', 'stop'])
    running = false
  }
  const url = (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`
  const query = async (sql: string, database = 'postgres') => {
    const client = new pg.Client({ connectionString: url(database), connectionTimeoutMillis: 5000 })
    client.on('error', () => undefined)
    await client.connect()
    try {
      return await client.query(sql)
    } finally {
      await client.end().catch(() => undefined)
    }
  }
  await start()
  return {
    port,
    url,
    query,
    async createDatabase(name) {
      await query(`CREATE DATABASE ${name}`)
    },
    start,
    stop,
    async restart(mode = 'fast') {
      await stop(mode)
      await start()
    },
    isRunning: () => running,
    async destroy() {
      if (running) await stop('immediate').catch(() => undefined)
      await rm(dir, { recursive: true, force: true })
    },
  }
}
