import type { Logger } from 'pino'

export interface PeriodicTask {
  /** Waits for a round in progress, then stops scheduling. */
  stop(): Promise<void>
}

/**
 * Runs `round` now and then every `intervalMs` after the previous round ends (never two at once).
 * A failed round is logged and retried next time: workers survive RPC and database blips.
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

  const tick = () => {
    running = (async () => {
      try {
        await round()
      } catch (error) {
        logger.warn({ err: error, worker: name }, 'worker round failed; retrying')
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
