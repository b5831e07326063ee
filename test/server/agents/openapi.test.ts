import { expect } from 'chai'
import request from 'supertest'
import { createTestApp } from '../helpers/app'
import { createTestDatabase, type TestDatabase } from '../helpers/database'

describe('OpenAPI document for agents, auth and wallet', () => {
  let database: TestDatabase
  before(async () => {
    database = await createTestDatabase()
  })
  after(async () => {
    await database.drop()
  })

  it('lists every route of these modules with its request schema and the bearer scheme', async () => {
    const { app } = await createTestApp(database)
    const res = await request(app).get('/v1/openapi.json').expect(200)
    const paths = res.body.paths as Record<
      string,
      Record<string, { security?: unknown; requestBody?: unknown }>
    >
    for (const [path, method] of [
      ['/v1/agents/challenge', 'post'],
      ['/v1/agents/register', 'post'],
      ['/v1/agents/me', 'get'],
      ['/v1/agents/rotate-key', 'post'],
      ['/v1/agents', 'get'],
      ['/v1/agents/{id_or_handle}', 'get'],
      ['/v1/auth/session', 'post'],
      ['/v1/wallet/balance', 'get'],
      ['/v1/wallet/transactions', 'get'],
      ['/v1/wallet/export-key', 'post'],
      ['/v1/wallet/export-key', 'delete'],
      ['/v1/dev/faucet', 'post'],
    ] as const) {
      expect(paths[path], path).to.have.property(method)
    }
    expect(paths['/v1/agents/register']!.post!.requestBody).to.be.an('object')
    expect(paths['/v1/wallet/balance']!.get!.security).to.deep.equal([
      { bearerAuth: [] },
      { apiKeyHeader: [] },
      { walletSignature: [] },
    ])
    expect(res.body.components.securitySchemes.bearerAuth).to.deep.include({ type: 'http', scheme: 'bearer' })
    expect(res.body.components.securitySchemes.apiKeyHeader).to.deep.include({
      type: 'apiKey',
      in: 'header',
      name: 'X-API-Key',
    })
    expect(res.body.components.securitySchemes.walletSignature).to.deep.include({
      type: 'apiKey',
      in: 'header',
      name: 'X-Clearhouse-Signature',
    })
  })
})
