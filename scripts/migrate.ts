import { loadConfig } from '../server/config'
import { createPool } from '../server/db/pool'
import { migrate } from '../server/db/migrate'
import { ConfigError } from '../server/errors'

/** `npm run migrate`: applies pending migrations to DATABASE_URL. */
async function main(): Promise<void> {
  const config = loadConfig()
  if (!config.DATABASE_URL) throw new ConfigError('invalid DATABASE_URL: required by npm run migrate')
  const pool = createPool(config.DATABASE_URL, 2)
  try {
    const applied = await migrate(pool)
    console.log(applied.length ? `applied migrations ${applied.join(', ')}` : 'database is up to date')
  } finally {
    await pool.end()
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? `${error.name}: ${error.message}` : String(error))
  process.exit(1)
})
