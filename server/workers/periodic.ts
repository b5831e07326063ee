import type { Logger } from 'pino'
import { describeDatabaseError, isDatabaseUnavailable } from '../db/database-errors'

export interface PeriodicTask {
  /** Waits for a round in progress, then stops scheduling. */
  stop(): Promise<void>
}

/**
 * Runs `round` now and then every `intervalMs` after the previous round ends (never two at once).
 * A failed round is logged and retried next time: workers survive RPC and database blips. While
 * the database stays unavailable, only the first failed round warns (without a stack: it says
 * nothing about the code); the round that works again says so.
 */
export function runPeriodically(
  name: string,
  intervalMs: number,
  logger: Logger,
  round: () => Promise<unknown>,
): PeriodicTask {
  let stopped = false
  let timer: NodeJS.Timeout | null = null
  let running: Promise<void> = Promise.resolve()
  let isDatabaseDown = false

  const tick = () => {
    running = (async () => {
      try {
        await round()
        if (isDatabaseDown) logger.info({ worker: name }, 'worker round succeeded; database available again')
        isDatabaseDown = false
      } catch (error) {
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
      if (!stopped) timer = setTimeout(tick, intervalMs)
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
