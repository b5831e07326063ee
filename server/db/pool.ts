import { AsyncLocalStorage } from 'node:async_hooks'
import pg from 'pg'
import { isDatabaseUnavailable } from './database-errors'

/** Anything a query function can run on: the pool, or a client inside a transaction. */
export type Queryable = Pick<pg.Pool | pg.PoolClient, 'query'>

/** Bounds on every wait for the database; 0 turns one off. */
export interface DatabaseTimeouts {
  /** Opening a connection, and waiting for a free one when the pool is busy (pg `connectionTimeoutMillis`). */
  connectMs: number
  /** Client side: how long one query may go unanswered, e.g. over a silent network (pg `query_timeout`). */
  queryMs: number
  /** Server side `statement_timeout`: the server cancels a statement that runs longer. */
  statementMs: number
  /** Server side `idle_in_transaction_session_timeout`: ends a session whose client vanished mid-transaction. */
  idleInTransactionMs: number
}

export interface CreatePoolOptions {
  timeouts?: Partial<DatabaseTimeouts>
  /** Told of every error a connection emits on its own (the server went away, the socket broke). */
  onConnectionError?: (error: Error) => void
  /**
   * The connections share one server session (embedded PGlite behind its socket server): a named
   * prepared statement one connection makes would collide with another's, so queries run unnamed.
   */
  isSharedSession?: boolean
}

// A dead peer that never answers is found by TCP keepalive after this idle time plus the kernel's
// probes; the query timeout covers the case of a request waiting on it in the meantime.
const KEEPALIVE_INITIAL_DELAY_MS = 10_000

// NUMERIC and INT8 come back as strings; money code turns them into bigint explicitly, so a
// JavaScript number never holds an amount by accident.
export function createPool(connectionString: string, max = 10, options: CreatePoolOptions = {}): pg.Pool {
  const timeouts = options.timeouts ?? {}
  const pool = new pg.Pool({
    connectionString,
    max,
    idleTimeoutMillis: 10_000,
    keepAlive: true,
    keepAliveInitialDelayMillis: KEEPALIVE_INITIAL_DELAY_MS,
    // pg sends nothing (and waits forever) for a value of 0 or undefined.
    connectionTimeoutMillis: timeouts.connectMs || undefined,
    query_timeout: timeouts.queryMs || undefined,
    // Startup parameters, so no extra round trip per connection.
    statement_timeout: timeouts.statementMs || undefined,
    idle_in_transaction_session_timeout: timeouts.idleInTransactionMs || undefined,
  })
  const onConnectionError = options.onConnectionError ?? (() => undefined)
  // pg emits 'error' on a client whose connection dies; pg-pool listens only while the client is
  // idle, so one that is checked out (mid-transaction) would crash the process with an unhandled
  // 'error' event. Every client gets a listener for its whole life instead; the query in flight, if
  // any, fails with the same error and its caller handles it. The pool's own 'error' event then
  // repeats what this listener already saw.
  pool.on('connect', (client) => client.on('error', onConnectionError))
  pool.on('error', () => undefined)
  if (options.isSharedSession) pool.on('connect', runNamedStatementsUnnamed)
  return pool
}

/**
 * Hot queries are named (`{ name, text, values }`) so Postgres plans them once per connection. On
 * a shared session the name is dropped: the same query, parsed each time.
 */
function runNamedStatementsUnnamed(client: pg.PoolClient): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown
  ;(client as { query: unknown }).query = (config: unknown, ...rest: unknown[]) => {
    if (typeof config === 'object' && config !== null && 'name' in config && 'text' in config) {
      const { name: _name, ...unnamed } = config as pg.QueryConfig
      return query(unnamed, ...rest)
    }
    return query(config, ...rest)
  }
}

/** What a scope (an idempotent request) asks of every read-write transaction run inside it. */
export interface TransactionScope {
  /** Runs on the transaction's connection right before its COMMIT; throwing rolls the work back. */
  beforeCommit(client: pg.PoolClient): Promise<void>
  /** Set when a COMMIT in this scope was lost with its connection: it may or may not have happened. */
  commitOutcomeUnknown: boolean
}

const transactionScopes = new AsyncLocalStorage<TransactionScope>()

/** Runs `fn` so that every `withTransaction` it starts, however deep, is fenced by `scope`. */
export function runInTransactionScope<T>(scope: TransactionScope, fn: () => T): T {
  return transactionScopes.run(scope, fn)
}

/**
 * Runs `work` in one transaction on a dedicated client. It never leaves a connection idle in a
 * transaction: commit or rollback happen before the client returns to the pool. Inside a
 * `runInTransactionScope`, the scope's `beforeCommit` runs in the same transaction just before
 * COMMIT (read-only snapshots commit nothing and are not fenced).
 */
export async function withTransaction<T>(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => Promise<T>,
  begin: 'BEGIN' | 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY' = 'BEGIN',
): Promise<T> {
  const scope = begin === 'BEGIN' ? transactionScopes.getStore() : undefined
  const client = await pool.connect()
  // A connection that failed or went silent must not go back to the pool, where the next borrower
  // would wait on it too: releasing it with an error destroys it.
  let broken: Error | undefined
  try {
    await client.query(begin)
    const result = await work(client)
    await scope?.beforeCommit(client)
    try {
      await client.query('COMMIT')
    } catch (error) {
      // A COMMIT the server refused is rolled back; one whose connection was lost may have been
      // written before the loss, and nobody can tell from here.
      if (isDatabaseUnavailable(error)) {
        if (scope) scope.commitOutcomeUnknown = true
        broken = error as Error
      }
      throw error
    }
    return result
  } catch (error) {
    if (broken === undefined) {
      // Over a dead or silent connection ROLLBACK would only wait out the same timeout; the server
      // rolls the transaction back itself when the session ends.
      if (isDatabaseUnavailable(error)) broken = error as Error
      else await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError))
    }
    throw error
  } finally {
    client.release(broken)
  }
}
