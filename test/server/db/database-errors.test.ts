import { expect } from 'chai'
import { describeDatabaseError, isDatabaseUnavailable } from '../../../server/db/database-errors'

function withCode(code: string, message = 'failed'): Error {
  return Object.assign(new Error(message), { code })
}

describe('isDatabaseUnavailable', () => {
  for (const [what, error] of [
    ['a refused connection', withCode('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432')],
    ['a reset connection', withCode('ECONNRESET')],
    ['57P01 admin_shutdown', withCode('57P01', 'terminating connection due to administrator command')],
    ['57P03 cannot_connect_now', withCode('57P03', 'the database system is starting up')],
    ['08006 connection_failure', withCode('08006')],
    ['08P01 protocol_violation', withCode('08P01')],
    ['57014 statement_timeout', withCode('57014', 'canceling statement due to statement timeout')],
    ['a terminated connection', new Error('Connection terminated unexpectedly')],
    ['a connect timeout', new Error('Connection terminated due to connection timeout')],
    ['a pool wait timeout', new Error('timeout exceeded when trying to connect')],
    ['a query read timeout', new Error('Query read timeout')],
    ['a broken client', new Error('Client has encountered a connection error and is not queryable')],
    ['a refusal wrapped as a cause', new Error('award failed', { cause: withCode('ECONNREFUSED') })],
    [
      'an AggregateError of refusals',
      Object.assign(new AggregateError([withCode('ECONNREFUSED')], 'connect'), {}),
    ],
  ] as const) {
    it(`counts ${what} as the database being unavailable`, () => {
      expect(isDatabaseUnavailable(error)).to.equal(true)
    })
  }

  for (const [what, error] of [
    ['a unique violation', withCode('23505', 'duplicate key value')],
    ['a syntax error', withCode('42601')],
    ['a serialization failure', withCode('40001')],
    ['an application error', new Error('job is not open')],
    ['a string', 'Connection terminated'],
    ['null', null],
  ] as const) {
    it(`does not count ${what}`, () => {
      expect(isDatabaseUnavailable(error)).to.equal(false)
    })
  }

  it('describes an error in one line, code first', () => {
    expect(describeDatabaseError(withCode('57P01', 'terminating connection\nDETAIL: x'))).to.equal(
      '57P01: terminating connection',
    )
    expect(describeDatabaseError(new Error('Query read timeout'))).to.equal('Query read timeout')
  })
})
