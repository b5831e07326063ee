import { expect } from 'chai'
import { publishEvent } from '../../../server/events/event-bus'
import { TimersWorker } from '../../../server/workers/timers'
import { createTestApp } from '../helpers/app'
import { shiftDatabaseClock } from '../helpers/clock'
import { createTestDatabase, type TestDatabase } from '../helpers/database'

/** Issue 16: the outbox keeps an event 7 days (an SSE client resumes within them), then the timers delete it. */
describe('events: the outbox’s retention', () => {
  let database: TestDatabase

  before(async () => {
    database = await createTestDatabase()
  })
  after(async () => {
    await database?.drop()
  })

  const types = async () =>
    (await database.pool.query('SELECT event_type FROM events ORDER BY id')).rows.map((row) => row.event_type)

  it('deletes events older than 7 days by the database clock, once, and keeps the rest', async () => {
    const { context } = await createTestApp(database)
    await publishEvent(database.pool, { type: 'batch_settled', audience: [], data: { batch_number: 1 } })
    const timers = new TimersWorker(context, 10_000)
    try {
      expect(await timers.runOnce(), 'not within the week').to.include({ eventsPruned: 0 })
      await shiftDatabaseClock(database.pool, 7 * 24 * 3600 + 60)
      await publishEvent(database.pool, { type: 'batch_settled', audience: [], data: { batch_number: 2 } })
      expect(await timers.runOnce()).to.include({ eventsPruned: 1 })
      expect(await timers.runOnce(), 'once').to.include({ eventsPruned: 0 })
    } finally {
      await shiftDatabaseClock(database.pool, 0)
      await timers.resign()
    }
    const { rows } = await database.pool.query('SELECT data FROM events')
    expect(rows.map((row) => row.data)).to.deep.equal([{ batch_number: 2 }])
    expect(await types()).to.deep.equal(['batch_settled'])
  })
})
