import type { Logger } from 'pino'
import { describeDatabaseError, isDatabaseUnavailable } from '../db/database-errors'
import { FatalWorkerError } from '../errors'

export interface PeriodicTask {
  /** Waits for a round in progress, then stops scheduling. */
  stop(): Promise<void>
}

/** Longest wait between rounds after failures in a row: failing rounds back off up to it. */
export const MAX_BACKOFF_MS = 60_000

/** What a periodic task is told beyond its rounds. */
export interface PeriodicOptions {
  /** A round failed with a `FatalWorkerError`: the task has stopped for good. */
  onFatal?(error: FatalWorkerError): void
}

/**
 * Runs `round` now and then every `intervalMs` after the previous round ends (never two at once).
 * A failed round is retryable (RPC and database blips): it is logged and tried again, each failure
 * in a row doubling the wait up to `MAX_BACKOFF_MS`, and a round that works resets it. While the
 * database stays unavailable, only the first failed round warns (without a stack: it says nothing
 * about the code); the round that works again says so. A `FatalWorkerError` is not retried: it is
 * logged at error level, `onFatal` is told, and the task stops.
 */
export function runPeriodically(
  name: string,
  intervalMs: number,
  logger: Logger,
  round: () => Promise<unknown>,
  options: PeriodicOptions = {},
): PeriodicTask {
  let stopped = false
  let timer: NodeJS.Timeout | null = null
  let running: Promise<void> = Promise.resolve()
  let isDatabaseDown = false
  let failuresInARow = 0

  const tick = () => {
    running = (async () => {
      try {
        await round()
        if (isDatabaseDown) logger.info({ worker: name }, 'worker round succeeded; database available again')
        isDatabaseDown = false
        failuresInARow = 0
      } catch (error) {
        failuresInARow += 1
        if (error instanceof FatalWorkerError) {
          logger.error({ err: error, worker: name }, 'worker stopped: this failure needs an operator')
          stopped = true
          options.onFatal?.(error)
          return
        }
        if (isDatabaseUnavailable(error)) {
          const fields = { worker: name, cause: describeDatabaseError(error) }
          if (isDatabaseDown)
            logger.debug(fields, 'worker round failed: database still unavailable; retrying')
          else logger.warn(fields, 'worker round failed: database unavailable; retrying')
          isDatabaseDown = true
        } else {
          logger.warn({ err: error, worker: name }, 'worker round failed; retrying')
        }
      }
      const backoff = failuresInARow === 0 ? intervalMs : intervalMs * 2 ** Math.min(failuresInARow, 16)
      if (!stopped) timer = setTimeout(tick, Math.min(backoff, Math.max(intervalMs, MAX_BACKOFF_MS)))
    })()
  }
  timer = setTimeout(tick, 0)

  return {
    async stop() {
      stopped = true
      if (timer) clearTimeout(timer)
      await running
    },
  }
}
