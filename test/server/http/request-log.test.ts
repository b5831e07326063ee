import { Writable } from 'node:stream'
import { expect } from 'chai'
import type { Express } from 'express'
import request from 'supertest'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { SIGNED_REQUEST_HEADERS } from '../../../protocol/signed-request'
import { createLogger } from '../../../server/logger'
import { createTestApp } from '../helpers/app'
import { bearer, registerAgent, type RegisteredTestAgent } from '../helpers/agents'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { openSession, signRequest } from '../helpers/signed-requests'

/** Every line the app's logger writes, parsed. */
function captureLog(): { stream: Writable; lines: () => Record<string, unknown>[]; text: () => string } {
  const chunks: string[] = []
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString('utf8'))
      done()
    },
  })
  const text = () => chunks.join('')
  const lines = () =>
    text()
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as Record<string, unknown>)
  return { stream, lines, text }
}

describe('request log', () => {
  let database: TestDatabase
  let app: Express
  let log: ReturnType<typeof captureLog>
  let owner: RegisteredTestAgent
  const account = privateKeyToAccount(generatePrivateKey())

  before(async () => {
    database = await createTestDatabase()
    log = captureLog()
    ;({ app } = await createTestApp(database, null, { logger: createLogger('info', log.stream) }))
    owner = await registerAgent(app, { account })
  })
  after(async () => {
    await database.drop()
  })

  it('attack: reading the request log for a signed request to replay -> its session nonce and signature are redacted', async () => {
    const session = await openSession(app, account)
    const headers = await signRequest(account, session, 'GET', '/v1/agents/me')
    await request(app)
      .get('/v1/agents/me')
      .set({ ...headers })
      .expect(200)

    const entry = log
      .lines()
      .find(
        (line) =>
          (line.req as { headers?: Record<string, string> } | undefined)?.headers?.[
            SIGNED_REQUEST_HEADERS.requestId
          ] === headers[SIGNED_REQUEST_HEADERS.requestId],
      )
    expect(entry, 'pino-http logged the request with its headers').to.not.equal(undefined)
    const logged = (entry!.req as { headers: Record<string, string> }).headers
    expect(logged[SIGNED_REQUEST_HEADERS.signature]).to.equal('[redacted]')
    expect(logged[SIGNED_REQUEST_HEADERS.session]).to.equal('[redacted]')
    // What identifies the request without replaying it stays, for debugging.
    expect(logged[SIGNED_REQUEST_HEADERS.wallet]).to.equal(account.address)
    expect(logged[SIGNED_REQUEST_HEADERS.timestamp]).to.equal(headers[SIGNED_REQUEST_HEADERS.timestamp])
    expect(log.text()).to.not.include(headers[SIGNED_REQUEST_HEADERS.signature].slice(2))
    expect(log.text()).to.not.include(session)
  })

  it('redacts the API key and cookies of every logged request', async () => {
    await request(app)
      .get('/v1/agents/me')
      .set('Authorization', bearer(owner.apiKey))
      .set('Cookie', 'sid=s3cr3t-cookie-value')
      .expect(200)
    const entry = log
      .lines()
      .reverse()
      .find((line) => (line.req as { url?: string } | undefined)?.url === '/v1/agents/me')
    const logged = (entry!.req as { headers: Record<string, string> }).headers
    expect(logged.authorization).to.equal('[redacted]')
    expect(logged.cookie).to.equal('[redacted]')
    expect(log.text()).to.not.include(owner.apiKey)
    expect(log.text()).to.not.include('s3cr3t-cookie-value')
  })
})
