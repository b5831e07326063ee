import { expect } from 'chai'
import type pg from 'pg'
import request from 'supertest'
import { healthResponse } from '../../../protocol/health'
import { createHardhatChain, createTestApp } from '../helpers/app'
import { createTestDatabase, type TestDatabase } from '../helpers/database'

describe('GET /v1/health', () => {
  let database: TestDatabase
  before(async () => {
    database = await createTestDatabase()
  })
  after(async () => {
    await database.drop()
  })

  it('answers 200 with the chain, block, database kind and contracts when everything is up', async () => {
    const chain = await createHardhatChain()
    const { app, context } = await createTestApp(database, chain)
    const res = await request(app).get('/v1/health').expect(200)
    const body = healthResponse.parse(res.body)
    expect(body.status).to.equal('ok')
    expect(body.chain_id).to.equal(31337)
    expect(body.block_number).to.be.a('number')
    expect(body.database).to.equal(context.databaseKind)
    expect(body.contracts).to.deep.equal(chain.deployment.contracts)
  })

  it('answers 503 degraded, in the same shape, when no chain is reachable', async () => {
    const { app } = await createTestApp(database, null)
    const res = await request(app).get('/v1/health').expect(503)
    const body = healthResponse.parse(res.body)
    expect(body.status).to.equal('degraded')
    expect(body.block_number).to.equal(null)
    expect(body.dependencies.chain.status).to.equal('not_configured')
    expect(body.dependencies.database.status).to.equal('ok')
  })

  it('reports each dependency with its latency, and the workers as start-up planned them', async () => {
    const chain = await createHardhatChain()
    const running = { status: 'running' as const, reason: null }
    const workers = {
      indexer: running,
      settler: running,
      withdrawal_refunds: running,
      reconciliation: running,
    }
    const { app } = await createTestApp(database, chain, { workers })
    const body = healthResponse.parse((await request(app).get('/v1/health').expect(200)).body)
    expect(body.dependencies.database).to.include({ status: 'ok', error: null })
    expect(body.dependencies.database.latency_ms).to.be.a('number')
    expect(body.dependencies.chain).to.include({ status: 'ok', error: null })
    expect(body.workers).to.deep.equal(workers)
  })

  it('is degraded (503) when a worker that should run does not, and names it', async () => {
    const chain = await createHardhatChain()
    const settler = { status: 'not_running' as const, reason: 'no COORDINATOR_PRIVATE_KEY' }
    const { app } = await createTestApp(database, chain, {
      workers: { indexer: { status: 'running', reason: null }, settler },
    })
    const body = healthResponse.parse((await request(app).get('/v1/health').expect(503)).body)
    expect(body.status).to.equal('degraded')
    expect(body.workers.settler).to.deep.equal(settler)
  })

  it('counts workers disabled on purpose (an API-only replica) as healthy', async () => {
    const chain = await createHardhatChain()
    const disabled = { status: 'disabled' as const, reason: 'WORKERS_ENABLED=false' }
    const { app } = await createTestApp(database, chain, {
      workers: { indexer: disabled, settler: disabled },
    })
    await request(app).get('/v1/health').expect(200)
  })

  it('answers within HEALTH_TIMEOUT_MS when the database never answers, reporting it down', async () => {
    const chain = await createHardhatChain()
    const silentPool = { query: () => new Promise(() => undefined) } as unknown as pg.Pool
    const { app } = await createTestApp(database, chain, { pool: silentPool, healthTimeoutMs: 200 })
    const started = Date.now()
    const res = await request(app).get('/v1/health').expect(503)
    expect(Date.now() - started).to.be.below(1_500)
    const body = healthResponse.parse(res.body)
    expect(body.dependencies.database).to.deep.equal({
      status: 'down',
      latency_ms: null,
      error: 'no answer within 200 ms',
    })
    expect(body.dependencies.chain.status).to.equal('ok')
  })
})

describe('HTTP plumbing', () => {
  let database: TestDatabase
  before(async () => {
    database = await createTestDatabase()
  })
  after(async () => {
    await database.drop()
  })

  it('answers an unknown path with 404 in the error shape', async () => {
    const { app } = await createTestApp(database)
    const res = await request(app).get('/v1/no-such-thing').expect(404)
    expect(res.body).to.deep.equal({
      error: { code: 'not_found', message: 'no route for GET /v1/no-such-thing', details: null },
    })
  })

  it('answers a malformed JSON body with 400 malformed_json, not 500', async () => {
    const { app } = await createTestApp(database)
    const res = await request(app).post('/v1/health').set('Content-Type', 'application/json').send('{"a":')
    expect(res.status).to.equal(400)
    expect(res.body.error.code).to.equal('malformed_json')
  })

  it('answers a body over the size limit with 413', async () => {
    const { app } = await createTestApp(database)
    const res = await request(app)
      .post('/v1/health')
      .set('Content-Type', 'application/json')
      .send(JSON.stringify({ text: 'x'.repeat(300 * 1024) }))
    expect(res.status).to.equal(413)
    expect(res.body.error.code).to.equal('payload_too_large')
  })

  it('serves an OpenAPI 3.1 document generated from the zod schemas', async () => {
    const { app } = await createTestApp(database)
    const res = await request(app).get('/v1/openapi.json').expect(200)
    expect(res.body.openapi).to.equal('3.1.0')
    expect(res.body.paths).to.have.property('/v1/health')
    expect(res.body.components.schemas).to.have.property('Error')
  })

  it('counts requests by route pattern at /metrics', async () => {
    const { app } = await createTestApp(database)
    await request(app).get('/v1/health')
    const res = await request(app).get('/metrics').expect(200)
    expect(res.text).to.match(
      /clearhouse_http_requests_total\{method="GET",route="\/v1\/health",status="503"\} 1/,
    )
  })

  it('echoes a well-formed X-Request-Id and replaces a malformed one', async () => {
    const { app } = await createTestApp(database)
    const good = await request(app).get('/v1/health').set('X-Request-Id', 'abc-123')
    expect(good.headers['x-request-id']).to.equal('abc-123')
    const bad = await request(app).get('/v1/health').set('X-Request-Id', 'no spaces allowed!')
    expect(bad.headers['x-request-id']).to.match(/^[0-9a-f-]{36}$/)
  })
})
