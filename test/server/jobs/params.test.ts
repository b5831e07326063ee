import type { Express } from 'express'
import request from 'supertest'
import { createTestApp } from '../helpers/app'
import { bearer, registerAgent, type RegisteredTestAgent } from '../helpers/agents'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { expectFieldError } from '../helpers/jobs'

const ID = '00000000-0000-4000-8000-000000000000'

/** Every job-flow route with an id in its path, and the parameter a malformed id must be named as. */
const ROUTES: [method: 'get' | 'post' | 'patch' | 'delete', path: string, param: string, body?: object][] = [
  ['get', '/v1/jobs/x', 'job_id'],
  ['patch', '/v1/jobs/x', 'job_id', { title: 'A valid new title' }],
  ['delete', '/v1/jobs/x', 'job_id'],
  ['post', '/v1/jobs/x/cancel', 'job_id'],
  ['post', '/v1/jobs/x/award', 'job_id', { bid_id: ID }],
  ['post', '/v1/jobs/x/submit', 'job_id', { deliverable: 'https://example.com' }],
  ['post', '/v1/jobs/x/accept', 'job_id'],
  ['post', '/v1/jobs/x/request-changes', 'job_id', { message: 'more' }],
  ['get', '/v1/jobs/x/bids', 'job_id'],
  ['post', '/v1/jobs/x/bids', 'job_id', { amount: '1', eta_seconds: 60 }],
  ['get', '/v1/jobs/x/messages', 'job_id'],
  ['post', '/v1/jobs/x/messages', 'job_id', { body: 'hi' }],
  ['get', '/v1/jobs/x/entries', 'job_id'],
  ['post', '/v1/jobs/x/entries', 'job_id', { deliverable: 'https://example.com' }],
  ['post', '/v1/jobs/x/resolve', 'job_id', { results: [] }],
  [
    'post',
    `/v1/jobs/${ID}/entries/x/escrow-signature`,
    'entry_id',
    { kind: 'escrow_lock', signature: `0x${'1'.repeat(130)}` },
  ],
  ['post', '/v1/bids/x/withdraw', 'bid_id'],
  ['get', '/v1/assignments/x', 'assignment_id'],
  ['post', '/v1/assignments/x/request-changes', 'assignment_id', { message: 'more' }],
  [
    'post',
    '/v1/assignments/x/escrow-signature',
    'assignment_id',
    { kind: 'escrow_lock', signature: `0x${'1'.repeat(130)}` },
  ],
  ['get', '/v1/assignments/x/messages', 'assignment_id'],
  ['post', '/v1/assignments/x/messages', 'assignment_id', { body: 'hi' }],
  ['post', '/v1/messages/x/reactions', 'message_id', { emoji: 'eyes' }],
]

describe('job flow path parameters', () => {
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

  for (const [method, path, param, body] of ROUTES) {
    it(`${method.toUpperCase()} ${path} answers 400 naming ${param} for a malformed id`, async () => {
      const req = request(app)[method](path).set('Authorization', bearer(agent.apiKey))
      expectFieldError(await (body ? req.send(body) : req), param)
    })
  }
})
