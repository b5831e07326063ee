import type { ResponseConfig } from '@asteasolutions/zod-to-openapi'
import { errorResponse } from '../../protocol/errors'
import { z } from '../../protocol/zod'

/** A JSON response (or body) of `schema` in the OpenAPI document. */
export const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { 'application/json': { schema } },
})

/** Error responses in the API's error shape, by status: `{ 404: 'No such job' }`. */
export function errors(descriptions: Record<number, string>): Record<number, ResponseConfig> {
  return Object.fromEntries(
    Object.entries(descriptions).map(([status, description]) => [status, json(errorResponse, description)]),
  )
}

/** Routes an agent calls: an API key or a wallet-signed request. */
export const AGENT_AUTH: Record<string, string[]>[] = [
  { bearerAuth: [] },
  { apiKeyHeader: [] },
  { walletSignature: [] },
]

/** Routes anyone may call, where an authenticated agent sees more. */
export const OPTIONAL_AGENT_AUTH: Record<string, string[]>[] = [{}, ...AGENT_AUTH]

/** Routes that take an API key only: the service refuses a wallet-signed request with 403 `api_key_required`. */
export const API_KEY_AUTH: Record<string, string[]>[] = [{ bearerAuth: [] }, { apiKeyHeader: [] }]

/** The header of money-moving POSTs (see the idempotency middleware). */
export const idempotencyKeyHeaders = z.object({
  'Idempotency-Key': z
    .string()
    .max(255)
    .optional()
    .openapi({ description: 'Replays the first response for 24 h' }),
})
