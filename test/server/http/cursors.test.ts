import { expect } from 'chai'
import type { Express } from 'express'
import request from 'supertest'
import {
  cursorLiteral,
  cursorSerial,
  cursorTimestamp,
  cursorUuid,
  decodeCursor,
  encodeCursor,
} from '../../../server/cursor'
import { ValidationError } from '../../../server/errors'
import { createTestApp } from '../helpers/app'
import { bearer, fundAgent, registerAgent, type RegisteredTestAgent } from '../helpers/agents'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { postJob } from '../helpers/jobs'

const ID = '0b5e2f4c-9a1d-4c3e-8f7a-1b2c3d4e5f60'
const shape = {
  sort: cursorLiteral('created_at', 'updated_at'),
  key: cursorTimestamp,
  id: cursorUuid,
}

function expectInvalidCursor(decode: () => unknown): void {
  let thrown: unknown
  try {
    decode()
  } catch (error) {
    thrown = error
  }
  expect(thrown).to.be.instanceOf(ValidationError)
  expect(thrown).to.include({ code: 'invalid_cursor', statusCode: 400 })
  expect((thrown as ValidationError).details).to.deep.equal({
    where: 'query',
    fields: [{ field: 'cursor', message: 'not a cursor this API returned' }],
  })
}

describe('cursors (server/cursor.ts)', () => {
  describe('the codec', () => {
    it('gives back the values it encoded, typed by the shape, in a URL-safe text', () => {
      const values = { sort: 'updated_at' as const, key: '2024-02-29T23:59:59.123456', id: ID }
      const cursor = encodeCursor(values, shape)
      expect(cursor).to.match(/^[A-Za-z0-9_.-]+$/)
      expect(encodeURIComponent(cursor)).to.equal(cursor)
      expect(decodeCursor(cursor, shape)).to.deep.equal(values)
    })

    it('writes a cursor of one id as the id itself, and of one serial as its digits', () => {
      expect(encodeCursor({ id: ID }, { id: cursorUuid })).to.equal(ID)
      expect(decodeCursor(ID.toUpperCase(), { id: cursorUuid })).to.deep.equal({ id: ID })
      expect(encodeCursor({ entryId: '4711' }, { entryId: cursorSerial })).to.equal('4711')
      expect(decodeCursor('4711', { entryId: cursorSerial })).to.deep.equal({ entryId: '4711' })
    })

    it('answers 400 invalid_cursor naming cursor for anything encoding cannot produce', () => {
      const good = encodeCursor({ sort: 'created_at', key: '2024-01-31T12:00:00.000000', id: ID }, shape)
      for (const text of [
        '',
        '.',
        'garbage',
        good.replace('created_at', 'budget_amount'),
        `${good}.${ID}`,
        good.split('.').slice(0, 2).join('.'),
        `created_at.20241301120000000000.${ID}`, // month 13
        `created_at.20230229120000000000.${ID}`, // 29 February of a common year
        `created_at.20240131240000000000.${ID}`, // hour 24
        `created_at.00000101000000000000.${ID}`, // year 0, which Postgres refuses
        `created_at.2024013112000000000.${ID}`, // 19 digits
        `created_at.20240131120000000000.${'-'.repeat(36)}`,
        `created_at.20240131120000000000.${ID.replace('0b', 'zz')}`,
        Buffer.from(JSON.stringify(['created_at', '2024-01-31T12:00:00.000000', ID])).toString('base64url'),
      ]) {
        expectInvalidCursor(() => decodeCursor(text, shape))
      }
      expectInvalidCursor(() => decodeCursor('9'.repeat(19), { entryId: cursorSerial }))
      expectInvalidCursor(() => decodeCursor('-1', { entryId: cursorSerial }))
    })
  })

  describe('every list', () => {
    let database: TestDatabase
    let app: Express
    let agent: RegisteredTestAgent

    before(async () => {
      database = await createTestDatabase()
      ;({ app } = await createTestApp(database))
      agent = await registerAgent(app)
      await registerAgent(app)
      await registerAgent(app)
      await fundAgent(app, agent.apiKey, '100')
      await fundAgent(app, agent.apiKey, '100')
      for (let index = 0; index < 3; index += 1) await postJob(app, agent.apiKey)
    })
    after(async () => {
      await database.drop()
    })

    const lists = [
      '/v1/jobs',
      '/v1/agents',
      '/v1/wallet/transactions',
      '/v1/wallet/deposits',
      '/v1/withdrawals',
    ]

    function get(path: string, query: Record<string, string | number>) {
      return request(app).get(path).query(query).set('Authorization', bearer(agent.apiKey))
    }

    for (const path of lists) {
      it(`GET ${path} answers 400 invalid_cursor naming cursor for a malformed or forged cursor, never a 5xx`, async () => {
        for (const cursor of [
          'garbage',
          '.',
          `created_at.desc.20241301120000000000.${ID}`,
          `20240230120000000000.${ID}`,
          `created_at.desc.00000101000000000000.${'-'.repeat(36)}`,
          '-'.repeat(36),
          '9'.repeat(19),
          ID, // a history list's shape, but no row of the caller's
          Buffer.from(JSON.stringify({ t: '2024-01-31 12:00:00+00', i: ID })).toString('base64url'),
        ]) {
          const res = await get(path, { cursor })
          expect(res.status, `${path}?cursor=${cursor}: ${JSON.stringify(res.body)}`).to.equal(400)
          expect(res.body.error.code, `${path}?cursor=${cursor}`).to.equal('invalid_cursor')
          expect(res.body.error.details.fields[0].field).to.equal('cursor')
        }
      })
    }

    it('walks the jobs, the directory and the transactions with the cursors they hand out', async () => {
      for (const [path, query] of [
        ['/v1/jobs', { creator: agent.agent.id }],
        ['/v1/agents', {}],
        ['/v1/wallet/transactions', {}],
      ] as const) {
        let cursor = ''
        const seen: string[] = []
        for (let page = 0; page < 20; page += 1) {
          const res = await get(path, { ...query, cursor, limit: 1 })
          expect(res.status, `${path}: ${JSON.stringify(res.body)}`).to.equal(200)
          seen.push(JSON.stringify(res.body.data[0]))
          if (!res.body.has_more) break
          expect(res.body.next_cursor).to.match(/^[A-Za-z0-9_.-]+$/)
          cursor = res.body.next_cursor
        }
        expect(seen.length, path).to.be.greaterThan(1)
        expect(new Set(seen).size, `${path} repeats no row`).to.equal(seen.length)
      }
    })
  })
})
