import { mkdir } from 'node:fs/promises'
import { PGlite } from '@electric-sql/pglite'
import { PGLiteSocketServer } from '@electric-sql/pglite-socket'

/**
 * Pool size to use against embedded PGlite. Its socket server queues protocol messages, not
 * whole extended-protocol exchanges, so two connections sending parameterised queries at once
 * can interleave and lose each other's unnamed prepared statement. PGlite runs one query at a
 * time anyway, so one connection costs no throughput; work simply queues in the pool.
 */
export const EMBEDDED_POOL_SIZE = 1

export interface EmbeddedPostgres {
  connectionString: string
  stop(): Promise<void>
}

/**
 * Starts PGlite on `dataDir` and serves it over the Postgres wire protocol on 127.0.0.1, so the
 * same `pg` code runs against it. PGlite runs one transaction at a time; the socket server
 * multiplexes the pool's connections onto it, which needs `maxConnections` above one.
 */
export async function startEmbeddedPostgres(options: {
  dataDir?: string
  port: number
}): Promise<EmbeddedPostgres> {
  if (options.dataDir) await mkdir(options.dataDir, { recursive: true })
  const db = await PGlite.create(options.dataDir)
  const server = new PGLiteSocketServer({ db, port: options.port, host: '127.0.0.1', maxConnections: 100 })
  await server.start()
  const port = Number(server.getServerConn().split(':').pop())
  return {
    connectionString: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async stop() {
      await server.stop()
      await db.close()
    },
  }
}
