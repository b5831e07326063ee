import { loadConfig } from './config'
import { startCoordinator } from './coordinator'
import { MigrationHistoryError } from './db/migrate'
import { ConfigError } from './errors'

/** `node dist/server/main.js`: the coordinator against configured DATABASE_URL, RPC_URL and DEPLOYMENT_FILE. */
async function main(): Promise<void> {
  const config = loadConfig()
  const coordinator = await startCoordinator({ config })
  coordinator.context.logger.info({ url: coordinator.url }, 'coordinator listening')
  const shutdown = async () => {
    await coordinator.stop()
    process.exit(0)
  }
  process.once('SIGINT', shutdown)
  process.once('SIGTERM', shutdown)
}

main().catch((error: unknown) => {
  // A configuration problem is one line naming the variable, a database whose migrations do not fit
  // this code one line naming the migrations; anything else keeps its stack.
  if (error instanceof ConfigError || error instanceof MigrationHistoryError)
    console.error(`clearhouse: ${error.message}`)
  else console.error(error)
  process.exit(1)
})
