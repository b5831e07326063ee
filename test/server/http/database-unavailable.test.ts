import { Writable } from 'node:stream'
import { expect } from 'chai'
import express from 'express'
import pino from 'pino'
import request from 'supertest'
import { errorResponse } from '../../../protocol/errors'
import { errorHandler } from '../../../server/http/errors-middleware'

/** An app whose one route fails with `error`, and the JSON lines its logger wrote. */
function failingApp(error: unknown) {
  const lines: Array<Record<string, unknown>> = []
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()))
      done()
    },
  })
  const app = express()
  app.get('/fails', () => {
    throw error
  })
  app.use(errorHandler(pino({ level: 'info' }, sink)))
  return { app, lines }
}

describe('errors middleware: the database unavailable', () => {
  for (const [what, error] of [
    ['a terminated connection', new Error('Connection terminated unexpectedly')],
    [
      'a shutdown (57P01)',
      Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }),
    ],
    [
      'a refused connection',
      Object.assign(new Error('connect ECONNREFUSED 10.0.0.5:5432'), { code: 'ECONNREFUSED' }),
    ],
    ['a pool that waited too long for a connection', new Error('timeout exceeded when trying to connect')],
  ] as const) {
    it(`answers ${what} with 503 database_unavailable, Retry-After, and one warning without a stack`, async () => {
      const { app, lines } = failingApp(error)
      const res = await request(app).get('/fails').expect(503)
      const body = errorResponse.parse(res.body)
      expect(body.error.code).to.equal('database_unavailable')
      expect(body.error.details).to.deep.equal({ dependency: 'database', retry_after_seconds: 2 })
      expect(res.headers['retry-after']).to.equal('2')
      expect(JSON.stringify(body)).to.not.contain('10.0.0.5')
      expect(lines.map((line) => line.msg)).to.deep.equal(['database unavailable'])
      expect(lines[0]).to.not.have.property('err')
    })
  }

  it('still answers any other unexpected error with 500 internal_error, logged with its stack', async () => {
    const { app, lines } = failingApp(Object.assign(new Error('duplicate key'), { code: '23505' }))
    const res = await request(app).get('/fails').expect(500)
    expect(res.body.error.code).to.equal('internal_error')
    expect(res.headers).to.not.have.property('retry-after')
    expect(lines.map((line) => line.msg)).to.deep.equal(['unexpected error'])
  })
})
