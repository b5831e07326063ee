import { healthResponse, type DependencyHealth, type HealthResponse } from '../../protocol/health'
import type { AppContext } from '../app-context'
import { json } from '../http/openapi-parts'
import { defineRoute, type Route } from '../http/route'

/** How long health waits for each dependency when the context does not say (HEALTH_TIMEOUT_MS). */
export const DEFAULT_HEALTH_TIMEOUT_MS = 2_000

/** `GET /v1/health`. */
export const healthRoutes: readonly Route[] = [
  defineRoute({
    method: 'get',
    path: '/v1/health',
    summary: 'Liveness and what this coordinator is connected to',
    auth: 'none',
    responses: {
      200: json(healthResponse, 'Healthy'),
      503: json(healthResponse, 'A dependency is down'),
    },
    handler: async ({ context, reply }) => {
      const health = await checkHealth(context)
      return reply(health.status === 'ok' ? 200 : 503, health)
    },
  }),
]

/**
 * 'ok' when the database and the chain answer and every worker that should run does; 'degraded'
 * otherwise, with `dependencies` and `workers` saying which. Each probe is raced against
 * HEALTH_TIMEOUT_MS, so health answers in bounded time whatever the database or the node does (a
 * silent network would otherwise hold it for minutes).
 */
async function checkHealth(context: AppContext): Promise<HealthResponse> {
  const timeoutMs = context.healthTimeoutMs ?? DEFAULT_HEALTH_TIMEOUT_MS
  const chain = context.chain
  const [database, block] = await Promise.all([
    probe(() => context.pool.query('SELECT 1'), timeoutMs),
    chain ? probe(() => chain.client.getBlockNumber(), timeoutMs) : null,
  ])
  const workers = context.workers ?? {}
  const dependencies: HealthResponse['dependencies'] = {
    database: database.health,
    chain: block?.health ?? {
      status: 'not_configured',
      latency_ms: null,
      error: 'no RPC_URL and DEPLOYMENT_FILE',
    },
  }
  const isHealthy =
    dependencies.database.status === 'ok' &&
    dependencies.chain.status === 'ok' &&
    Object.values(workers).every((worker) => worker?.status !== 'not_running')
  return {
    status: isHealthy ? 'ok' : 'degraded',
    version: context.version,
    chain_id: chain?.deployment.chainId ?? null,
    block_number: block?.value === null || block?.value === undefined ? null : Number(block.value),
    database: context.databaseKind,
    contracts: chain?.deployment.contracts ?? {},
    dependencies,
    workers,
  }
}

/** Runs one probe against a deadline; the slow probe is abandoned, not awaited. */
async function probe<T>(
  run: () => Promise<T>,
  timeoutMs: number,
): Promise<{ health: DependencyHealth; value: T | null }> {
  const started = Date.now()
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs)
  })
  try {
    const value = await Promise.race([run(), deadline])
    return { health: { status: 'ok', latency_ms: Date.now() - started, error: null }, value }
  } catch (error) {
    return { health: { status: 'down', latency_ms: null, error: summarize(error) }, value: null }
  } finally {
    clearTimeout(timer)
  }
}

/** A code (ECONNREFUSED, 57P01) or the first line of the message: health is public, so no addresses or stacks. */
function summarize(error: unknown): string {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown }
  if (typeof code === 'string' && code !== '') return code
  const line = typeof message === 'string' ? message.split('\n')[0]! : String(error)
  return line.slice(0, 200)
}
