import { z } from './zod'

/** `GET /v1/health`. */
export const healthResponse = z.object({
  status: z.enum(['ok', 'degraded']),
  version: z.string(),
  chain_id: z.number().int().nullable(),
  block_number: z.number().int().nullable(),
  database: z.enum(['postgres', 'pglite']),
  contracts: z.record(z.string(), z.string()),
})

export type HealthResponse = z.infer<typeof healthResponse>
