import { expect } from 'chai'
import pino from 'pino'
import { FatalWorkerError } from '../../../server/errors'
import { runPeriodically } from '../../../server/workers/periodic'

const silent = pino({ level: 'silent' })
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('runPeriodically: retryable failures back off, fatal ones stop the worker', () => {
  it('stops at a FatalWorkerError, tells onFatal once, and runs no further round', async () => {
    let rounds = 0
    const fatal: Error[] = []
    const task = runPeriodically(
      'test',
      5,
      silent,
      async () => {
        rounds += 1
        throw new FatalWorkerError('a settlement gap')
      },
      { onFatal: (error) => fatal.push(error) },
    )
    await sleep(100)
    await task.stop()
    expect(rounds).to.equal(1)
    expect(fatal.map((error) => error.message)).to.deep.equal(['a settlement gap'])
  })

  it('waits twice as long after each retryable failure in a row, and back to the interval after a success', async () => {
    const at: number[] = []
    let failuresLeft = 4
    const start = Date.now()
    const task = runPeriodically('test', 10, silent, async () => {
      at.push(Date.now() - start)
      if (failuresLeft > 0) {
        failuresLeft -= 1
        throw new Error('the node blinked')
      }
    })
    await sleep(500)
    await task.stop()
    const gaps = at.slice(1).map((time, index) => time - at[index]!)
    // 20, 40, 80, 160 ms after the four failures, then 10 ms rounds again.
    expect(gaps.slice(0, 4).every((gap, index) => gap >= 10 * 2 ** (index + 1) - 2)).to.equal(true)
    expect(gaps.slice(4, 6).every((gap) => gap < 40)).to.equal(true)
  })
})
