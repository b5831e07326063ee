import { expect } from 'chai'
import type { Express } from 'express'
import request from 'supertest'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { findInputProblem, MAX_INPUT_DEPTH } from '../../../server/http/storable-text'
import { createTestApp } from '../helpers/app'
import { bearer, registerAgent, type RegisteredTestAgent } from '../helpers/agents'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { jobBody } from '../helpers/jobs'
import { openSession, signedRequest } from '../helpers/signed-requests'

/** `levels` arrays inside each other, as JSON text: `[[[]]]` for 3. */
function nestedArrays(levels: number): string {
  return `${'['.repeat(levels)}${']'.repeat(levels)}`
}

/** `levels` objects inside each other under key `a`, as JSON text: `{"a":{"a":{}}}` for 3. */
function nestedObjects(levels: number): string {
  return `${'{"a":'.repeat(levels - 1)}{}${'}'.repeat(levels - 1)}`
}

/** A valid job body with `extraJson` as the value of an extra field, as JSON text. */
function jobBodyWith(extraJson: string): string {
  return JSON.stringify(jobBody({ extra: 'EXTRA' })).replace('"EXTRA"', extraJson)
}

function expectTooDeep(res: request.Response): void {
  expect(res.status, JSON.stringify(res.body).slice(0, 300)).to.equal(400)
  expect(res.body.error.code).to.equal('validation_failed')
  expect(res.body.error.message).to.equal(
    `body nests arrays and objects deeper than ${MAX_INPUT_DEPTH} levels`,
  )
  expect(res.body.error.details).to.deep.include({ where: 'body', max_depth: MAX_INPUT_DEPTH })
}

describe('nesting depth of request bodies', () => {
  let database: TestDatabase
  let app: Express
  let agent: RegisteredTestAgent

  before(async () => {
    database = await createTestDatabase()
    ;({ app } = await createTestApp(database))
    agent = await registerAgent(app)
  })
  after(async () => {
    await database.drop()
  })

  it('attack: 60,000 nested arrays under the size limit -> 400, not 500 (authenticated route)', async () => {
    const body = nestedArrays(60_000)
    expect(body.length).to.be.below(256 * 1024)
    const res = await request(app)
      .post('/v1/jobs')
      .set('Authorization', bearer(agent.apiKey))
      .set('Content-Type', 'application/json')
      .send(body)
    expectTooDeep(res)
  })

  it('attack: 60,000 nested arrays under the size limit -> 400, not 500 (anonymous route)', async () => {
    const res = await request(app)
      .post('/v1/agents/register')
      .set('Content-Type', 'application/json')
      .send(nestedArrays(60_000))
    expectTooDeep(res)
  })

  it('attack: 30,000 nested objects inside a valid body -> 400, not 500', async () => {
    const res = await request(app)
      .post('/v1/jobs')
      .set('Authorization', bearer(agent.apiKey))
      .set('Content-Type', 'application/json')
      .send(jobBodyWith(nestedObjects(30_000)))
    expectTooDeep(res)
    expect(res.body.error.details.fields[0].field).to.equal(
      ['extra', ...Array(MAX_INPUT_DEPTH - 1).fill('a')].join('.'),
    )
  })

  it('refuses before authentication, and lets a body at the limit through to it', async () => {
    const wrongKey = bearer(`sk_live_${'A'.repeat(43)}`)
    const over = await request(app)
      .post('/v1/jobs')
      .set('Authorization', wrongKey)
      .set('Content-Type', 'application/json')
      .send(nestedArrays(MAX_INPUT_DEPTH + 1))
    expectTooDeep(over)
    const atLimit = await request(app)
      .post('/v1/jobs')
      .set('Authorization', wrongKey)
      .set('Content-Type', 'application/json')
      .send(nestedArrays(MAX_INPUT_DEPTH))
    expect(atLimit.status).to.equal(401)
  })

  it('authenticates a wallet-signed request whose body nests to the limit', async () => {
    const account = privateKeyToAccount(generatePrivateKey())
    await registerAgent(app, { account })
    const session = await openSession(app, account)
    const body = JSON.parse(jobBodyWith(nestedObjects(MAX_INPUT_DEPTH - 1))) as Record<string, unknown>
    const res = await signedRequest(app, account, session, 'POST', '/v1/jobs', body)
    // Past the depth check and authentication (the job then needs money the agent does not have).
    expect(res.status, JSON.stringify(res.body).slice(0, 300)).to.not.be.oneOf([400, 401, 500])
  })

  describe('findInputProblem', () => {
    it('walks 200,000 nested arrays without recursion and reports the first level past the cap', () => {
      const deep: unknown[] = []
      let innermost = deep
      for (let level = 1; level < 200_000; level += 1) {
        const next: unknown[] = []
        innermost.push(next)
        innermost = next
      }
      const problem = findInputProblem(deep)
      expect(problem?.kind).to.equal('too_deep')
      expect(problem?.path).to.have.length(MAX_INPUT_DEPTH)
      expect(findInputProblem(deep, Infinity)).to.equal(null)
    })

    it('reports the first problem in document order with its path', () => {
      expect(findInputProblem({ a: ['ok', 'nul\u0000'], b: '\ud800' })).to.deep.equal({
        kind: 'unstorable_text',
        path: ['a', 1],
      })
      expect(findInputProblem({ ok: 1, ['bad\u0000key']: 2 })).to.deep.equal({
        kind: 'unstorable_text',
        path: ['bad\u0000key'],
      })
      expect(findInputProblem({ a: [[1]] }, 2)).to.deep.equal({ kind: 'too_deep', path: ['a', 0] })
      expect(findInputProblem({ a: [[1]] }, 3)).to.equal(null)
    })
  })
})
