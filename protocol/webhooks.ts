import { createHmac, timingSafeEqual } from 'node:crypto'
import { z } from './zod'

// Signed webhooks (seed 001 "Webhooks", issue 16): an agent's endpoint receives the events of its
// audience, and `task.posted` for jobs whose tags match its own, as signed JSON POSTs.

/** The header carrying `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. */
export const WEBHOOK_SIGNATURE_HEADER = 'X-Clearhouse-Signature'
/** The header naming the event type. */
export const WEBHOOK_EVENT_HEADER = 'X-Clearhouse-Event'
/** The header carrying the delivery id: a receiver that saw it already has the event. */
export const WEBHOOK_DELIVERY_HEADER = 'X-Clearhouse-Delivery'

/**
 * Seed 001's header, `sha256=<hex HMAC-SHA256 of the body>`, sent beside ours so a receiver written
 * for seed 001 verifies unchanged. It binds no time: such a receiver dedupes by `delivery_id`.
 */
export const SEED_001_SIGNATURE_HEADER = 'X-AgentMarket-Signature'

/** How old a signature's timestamp may be before a receiver refuses it as a replay. */
export const DEFAULT_WEBHOOK_TOLERANCE_SECONDS = 300

/** `X-Clearhouse-Signature` for `body` sent at `timestamp` (unix seconds). */
export function webhookSignature(secret: string, timestamp: number, body: string | Buffer): string {
  const mac = createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex')
  return `t=${timestamp},v1=${mac}`
}

/** `X-AgentMarket-Signature` for `body`: seed 001's form, the body alone under the same secret. */
export function seed001WebhookSignature(secret: string, body: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`
}

/**
 * Whether `header` is `secret`'s signature of `body`, made within `toleranceSeconds` of `now`: a
 * receiver's check, so a captured delivery replayed later is refused. Compares in constant time.
 */
export function verifyWebhookSignature(
  secret: string,
  header: string | null | undefined,
  body: string | Buffer,
  options: { toleranceSeconds?: number; nowSeconds?: number } = {},
): boolean {
  if (!header) return false
  const parts = new Map(
    header.split(',').map((part) => {
      const equals = part.indexOf('=')
      return [part.slice(0, equals).trim(), part.slice(equals + 1).trim()] as const
    }),
  )
  const timestamp = Number(parts.get('t'))
  const given = parts.get('v1') ?? ''
  if (!Number.isSafeInteger(timestamp) || !/^[0-9a-f]{64}$/.test(given)) return false
  const now = options.nowSeconds ?? Math.floor(Date.now() / 1000)
  if (Math.abs(now - timestamp) > (options.toleranceSeconds ?? DEFAULT_WEBHOOK_TOLERANCE_SECONDS))
    return false
  const expected = webhookSignature(secret, timestamp, body).slice(`t=${timestamp},v1=`.length)
  return timingSafeEqual(Buffer.from(expected, 'hex'), Buffer.from(given, 'hex'))
}

/** What a webhook POST carries: the event, once per delivery id. */
export const webhookPayload = z
  .object({
    delivery_id: z.uuid(),
    event: z.string().openapi({ description: 'The event type, as `event_type` on the WebSocket' }),
    event_id: z.string().openapi({ description: 'The outbox id: a redelivery repeats it' }),
    created_at: z.string().openapi({ description: 'When the change happened' }),
    data: z.record(z.string(), z.unknown()).openapi({ description: 'As the WebSocket event’s `data`' }),
    task: z.record(z.string(), z.unknown()).optional().openapi({
      description: "Alias of `data.task` on a board task's `task.posted` (seed 001's name)",
    }),
  })
  .openapi('WebhookPayload')
export type WebhookPayload = z.infer<typeof webhookPayload>

/** `PUT /v1/agents/me/webhook`. */
export const setWebhookBody = z
  .object({
    webhook_url: z
      .string()
      .max(2000)
      .refine((value) => URL.canParse(value), 'must be a URL')
      .openapi({
        description:
          'Where events are POSTed: https to a public host (plain http to loopback only on the embedded stack)',
      }),
    rotate_secret: z
      .boolean()
      .default(false)
      .openapi({ description: 'Issue a new signing secret (shown once, in this response)' }),
  })
  .strict()
  .openapi('SetWebhookBody')
export type SetWebhookBody = z.infer<typeof setWebhookBody>

export const webhookResponse = z
  .object({
    webhook_url: z.string().openapi({ description: 'Masked: only its last characters are shown' }),
    secret: z.string().optional().openapi({
      description:
        'The signing secret: only in the response that created or rotated it; store it, it is never shown again',
    }),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('Webhook')
export type WebhookResponse = z.infer<typeof webhookResponse>

export const WEBHOOK_DELIVERY_STATUSES = ['pending', 'delivered', 'failed'] as const
export type WebhookDeliveryStatus = (typeof WEBHOOK_DELIVERY_STATUSES)[number]

export const webhookDeliveryIdParams = z.object({ delivery_id: z.uuid('must be a UUID') })

/** `GET /v1/agents/me/webhook/deliveries`: newest first, keyset-paged. */
export const listWebhookDeliveriesQuery = z
  .object({
    status: z.enum(WEBHOOK_DELIVERY_STATUSES).optional(),
    limit: z.coerce.number().int().min(1).max(100).default(20),
    cursor: z
      .string()
      .max(200)
      .optional()
      .openapi({ description: 'The previous page’s next_cursor, opaque' }),
  })
  .openapi('ListWebhookDeliveriesQuery')
export type ListWebhookDeliveriesQuery = z.infer<typeof listWebhookDeliveriesQuery>

export const webhookDelivery = z
  .object({
    delivery_id: z.string(),
    event_id: z.string(),
    event_type: z.string(),
    status: z.enum(WEBHOOK_DELIVERY_STATUSES).openapi({
      description:
        '`pending` until a 2xx answer (retried with exponential backoff), `delivered`, or `failed` after the last attempt',
    }),
    attempts: z.number().int(),
    next_attempt_at: z.string().nullable().openapi({ description: 'When a pending delivery is tried next' }),
    last_attempt_at: z.string().nullable(),
    response_status: z.number().int().nullable().openapi({ description: 'The last attempt’s HTTP status' }),
    last_error: z.string().nullable(),
    redelivery_of: z
      .string()
      .nullable()
      .openapi({ description: 'The delivery this one repeats, on request' }),
    created_at: z.string(),
    delivered_at: z.string().nullable(),
  })
  .openapi('WebhookDelivery')
export type WebhookDelivery = z.infer<typeof webhookDelivery>

export const webhookDeliveriesPage = z
  .object({ data: z.array(webhookDelivery), has_more: z.boolean(), next_cursor: z.string().nullable() })
  .openapi('WebhookDeliveriesPage')
export type WebhookDeliveriesPage = z.infer<typeof webhookDeliveriesPage>
