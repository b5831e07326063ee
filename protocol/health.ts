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

/** `GET /v1/health`. */
export const healthResponse = z.object({
  status: z.enum(['ok', 'degraded']),
  version: z.string(),
  chain_id: z.number().int().nullable(),
  block_number: z.number().int().nullable(),
  database: z.enum(['postgres', 'pglite']),
  contracts: z.record(z.string(), z.string()),
  dependencies: z.object({ database: dependencyHealth, chain: dependencyHealth }),
})

export type HealthResponse = z.infer<typeof healthResponse>
