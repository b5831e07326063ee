import { z } from './zod'

/** The one error shape every 4xx and 5xx response body has. */
export const errorResponse = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    details: z.unknown(),
  }),
})

export type ErrorResponse = z.infer<typeof errorResponse>

/** Error codes the coordinator itself emits outside any domain. */
export const ERROR_CODES = {
  validation: 'validation_failed',
  notFound: 'not_found',
  malformedJson: 'malformed_json',
  payloadTooLarge: 'payload_too_large',
  rateLimited: 'rate_limited',
  internal: 'internal_error',
  databaseUnavailable: 'database_unavailable',
} as const
