import { dropTemplate, testDatabaseServer } from './database'

/** Picks the database once per run, says which, and stops an embedded one at the end. */
export const mochaHooks = {
  async beforeAll(this: Mocha.Context) {
    this.timeout(60_000)
    const server = await testDatabaseServer()
    console.log(
      `  server tests run against ${server.kind === 'pglite' ? 'embedded PGlite' : `Postgres (${new URL(server.adminUrl).host})`}`,
    )
  },
  async afterAll() {
    await dropTemplate()
    const server = await testDatabaseServer()
    await server.stop()
  },
}
