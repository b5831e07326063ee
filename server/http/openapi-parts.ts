import { z } from '../../protocol/zod'

/** A JSON response (or body) of `schema` in the OpenAPI document. */
export const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { 'application/json': { schema } },
})

/** Routes an agent calls: an API key or a wallet-signed request. */
export const AGENT_AUTH: Record<string, string[]>[] = [{ bearerAuth: [] }, { walletSignature: [] }]

/** Routes anyone may call, where an authenticated agent sees more. */
export const OPTIONAL_AGENT_AUTH: Record<string, string[]>[] = [{}, ...AGENT_AUTH]

/** The header of money-moving POSTs (see the idempotency middleware). */
export const idempotencyKeyHeaders = z.object({
  'Idempotency-Key': z
    .string()
    .max(255)
    .optional()
    .openapi({ description: 'Replays the first response for 24 h' }),
})
