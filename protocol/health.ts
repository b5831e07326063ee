import { z } from './zod'

/** One dependency as `GET /v1/health` found it, within its time bound. */
export const dependencyHealth = z
  .object({
    status: z.enum(['ok', 'down', 'not_configured']).openapi({
      description: '`down`: it failed or did not answer within HEALTH_TIMEOUT_MS',
    }),
    latency_ms: z
      .number()
      .int()
      .nullable()
      .openapi({ description: 'How long the probe took; null if it did not answer' }),
    error: z.string().nullable().openapi({ description: 'Why it is down, in one line' }),
  })
  .openapi('DependencyHealth')

export type DependencyHealth = z.infer<typeof dependencyHealth>

/** A background worker of this process, as decided at start-up. */
export const workerHealth = z
  .object({
    status: z.enum(['running', 'disabled', 'not_running']).openapi({
      description:
        '`disabled`: turned off on purpose (WORKERS_ENABLED=false); `not_running`: it should run but cannot (see `reason`), and health is `degraded`',
    }),
    reason: z.string().nullable(),
  })
  .openapi('WorkerHealth')

export type WorkerHealth = z.infer<typeof workerHealth>

/** The workers a coordinator process runs, by name. */
export const WORKER_NAMES = [
  'indexer',
  'settler',
  'withdrawal_refunds',
  'reconciliation',
  'timers',
  'webhooks',
] as const
export type WorkerName = (typeof WORKER_NAMES)[number]

/** `GET /v1/health`. */
export const healthResponse = z.object({
  status: z.enum(['ok', 'degraded']),
  version: z.string(),
  chain_id: z.number().int().nullable(),
  block_number: z.number().int().nullable(),
  database: z.enum(['postgres', 'pglite']),
  contracts: z.record(z.string(), z.string()),
  dependencies: z.object({ database: dependencyHealth, chain: dependencyHealth }),
  workers: z
    .object({
      indexer: workerHealth.optional(),
      settler: workerHealth.optional(),
      withdrawal_refunds: workerHealth.optional(),
      reconciliation: workerHealth.optional(),
    })
    .openapi({
      description: 'Each worker of this process; empty for an app built without the composition root (tests)',
    }),
})

export type HealthResponse = z.infer<typeof healthResponse>
