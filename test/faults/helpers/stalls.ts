import pg from 'pg'

/**
 * Holds `LOCK TABLE assignments IN SHARE MODE` on its own connection, so every award blocks
 * inside its transaction (awards of one requester queue on its balance row, the first on the
 * lock) until `release()`. That puts requests deterministically in flight mid-transaction.
 */
export async function holdAwardsMidTransaction(url: string): Promise<{ release(): Promise<void> }> {
  const client = new pg.Client({ connectionString: url })
  // The cluster may be restarted under it: its end is expected.
  client.on('error', () => undefined)
  await client.connect()
  await client.query('BEGIN')
  await client.query('LOCK TABLE assignments IN SHARE MODE')
  return {
    async release() {
      await client.query('ROLLBACK').catch(() => undefined)
      await client.end().catch(() => undefined)
    },
  }
}

/** How many sessions of `database` wait on a lock, or sleep in `pg_sleep`. */
export async function countWaiting(
  query: (sql: string) => Promise<pg.QueryResult>,
  database: string,
  what: 'Lock' | 'PgSleep',
): Promise<number> {
  const column = what === 'Lock' ? 'wait_event_type' : 'wait_event'
  const { rows } = await query(
    `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = '${database}' AND ${column} = '${what}'`,
  )
  return rows[0].n as number
}
