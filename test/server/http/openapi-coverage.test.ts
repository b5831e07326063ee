import { expect } from 'chai'
import type { Express } from 'express'
import request from 'supertest'
import { PAGE_PATHS } from '../../../server/pages/pages-router'
import { createTestApp } from '../helpers/app'
import { createTestDatabase, type TestDatabase } from '../helpers/database'

interface RouterLayer {
  route?: { path: string; methods: Record<string, boolean> }
  handle?: { stack?: RouterLayer[] }
  /** Where a router is mounted: `/v1` for the API's, `/` for the public pages'. */
  rawPath?: string
}

/** `METHOD /path` with every parameter written `{}`, so `:idOrHandle` and `{id_or_handle}` compare equal. */
function operation(method: string, path: string): string {
  return `${method.toUpperCase()} ${path.replace(/:[A-Za-z_]+|\{[A-Za-z_]+\}/g, '{}')}`
}

/** Every route Express serves: the app's own, and those of the routers it mounts (under `/v1`, or at the root). */
function servedOperations(app: Express): string[] {
  const stack = (app as unknown as { router: { stack: RouterLayer[] } }).router.stack
  const served: string[] = []
  for (const layer of stack) {
    if (layer.route) {
      for (const method of Object.keys(layer.route.methods)) served.push(operation(method, layer.route.path))
    }
    const prefix = layer.rawPath && layer.rawPath !== '/' ? layer.rawPath : ''
    for (const inner of layer.handle?.stack ?? []) {
      if (!inner.route) continue
      for (const method of Object.keys(inner.route.methods)) {
        served.push(operation(method, `${prefix}${inner.route.path}`))
      }
    }
  }
  return served
}

describe('OpenAPI document', () => {
  let database: TestDatabase
  before(async () => {
    database = await createTestDatabase()
  })
  after(async () => {
    await database.drop()
  })

  it('documents exactly the routes the app serves (besides /metrics, the document itself and the public pages)', async () => {
    const { app } = await createTestApp(database)
    const res = await request(app).get('/v1/openapi.json').expect(200)
    const documented = Object.entries(res.body.paths as Record<string, Record<string, unknown>>).flatMap(
      ([path, operations]) => Object.keys(operations).map((method) => operation(method, path)),
    )
    // The HTML pages (server/pages/) are for people, not part of the API.
    const pages = PAGE_PATHS.map((path) => operation('get', path))
    const all = servedOperations(app)
    expect(all, 'the pages are served').to.include.members(pages)
    const served = all.filter(
      (entry) => entry !== 'GET /metrics' && entry !== 'GET /v1/openapi.json' && !pages.includes(entry),
    )
    expect(served.length).to.be.greaterThan(50)
    expect(
      served.filter((entry) => !documented.includes(entry)),
      'served but undocumented',
    ).to.deep.equal([])
    expect(
      documented.filter((entry) => !served.includes(entry)),
      'documented but not served',
    ).to.deep.equal([])
  })
})
