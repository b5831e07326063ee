import { randomBytes } from 'node:crypto'
import type {
  ListWebhookDeliveriesQuery,
  SetWebhookBody,
  WebhookDeliveriesPage,
  WebhookDelivery,
  WebhookResponse,
} from '../../protocol/webhooks'
import { allowsLoopbackEndpoints, type AppContext } from '../app-context'
import type { Actor } from '../auth/actor'
import { seal, unseal } from '../crypto/sealed-box'
import { cursorTimestamp, cursorUuid, decodeCursor, encodeCursor } from '../cursor'
import type { Queryable } from '../db/pool'
import { withRetryingTransaction } from '../db/retrying-transaction'
import { fieldError, NotFoundError } from '../errors'
import { checkDestinationUrl } from '../outbound/destination-policy'
import {
  deleteFinishedDeliveriesOlderThan,
  deleteWebhook,
  insertRedelivery,
  selectDeliveries,
  selectDelivery,
  selectWebhook,
  upsertWebhook,
  type DeliveryRow,
  type WebhookRow,
} from './webhooks-queries'

/** Characters of the URL a read shows (seed 001: "masked for security"). */
const VISIBLE_URL_CHARACTERS = 10

/** The associated data a webhook secret is sealed with: it opens for this agent's webhook only. */
function secretBinding(agentId: string): string {
  return `webhook:${agentId}`
}

/** The webhook's signing secret, unsealed (for the sender). */
export function openWebhookSecret(
  context: Pick<AppContext, 'walletEncryptionKey'>,
  agentId: string,
  sealed: string,
) {
  return unseal(context.walletEncryptionKey, secretBinding(agentId), sealed).toString('utf8')
}

/** `.../hooks/clearhouse`: enough to recognise the URL, not enough to learn where it points. */
export function maskWebhookUrl(url: string): string {
  const visible = Math.min(VISIBLE_URL_CHARACTERS, Math.floor(url.length / 3))
  return `...${url.slice(url.length - visible)}`
}

function toWebhookResponse(row: WebhookRow, secret?: string): WebhookResponse {
  return {
    webhook_url: maskWebhookUrl(row.url),
    ...(secret ? { secret } : {}),
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  }
}

/**
 * Where webhooks may be sent, by the outbound client's own rules (https to a public host; plain
 * http to loopback only where loopback endpoints are allowed, as on the embedded stack). A name is
 * checked again on every address it resolves to when a delivery connects.
 */
function checkWebhookUrl(context: Pick<AppContext, 'isDevChain' | 'allowLoopbackEndpoints'>, value: string) {
  const url = new URL(value)
  const refusal = checkDestinationUrl(url, { allowLoopbackHttp: allowsLoopbackEndpoints(context) })
  if (refusal) {
    throw fieldError(
      'body',
      'webhook_url',
      `${refusal.message}; a webhook must be an https URL of a public host (${refusal.reason})`,
    )
  }
  return url.toString()
}

/**
 * `PUT /v1/agents/me/webhook`: sets the caller's webhook URL. The signing secret is made with the
 * webhook (and again on `rotate_secret`) and shown only in that response; a URL change keeps it.
 */
export async function setWebhook(
  context: AppContext,
  agent: Actor,
  body: SetWebhookBody,
): Promise<WebhookResponse> {
  return setAgentWebhook(context, context.pool, agent.id, body)
}

/**
 * Sets agent `agentId`'s webhook through `db` (a registration's transaction, say), with the checks
 * and the secret of `PUT /v1/agents/me/webhook`.
 */
export async function setAgentWebhook(
  context: Pick<AppContext, 'isDevChain' | 'allowLoopbackEndpoints' | 'walletEncryptionKey'>,
  db: Queryable,
  agentId: string,
  body: SetWebhookBody,
): Promise<WebhookResponse> {
  const url = checkWebhookUrl(context, body.webhook_url)
  const freshSecret = `whsec_${randomBytes(32).toString('base64url')}`
  const row = await upsertWebhook(db, agentId, {
    url,
    freshSealedSecret: seal(context.walletEncryptionKey, secretBinding(agentId), Buffer.from(freshSecret)),
    rotate: body.rotate_secret,
  })
  return toWebhookResponse(row, row.is_secret_new ? freshSecret : undefined)
}

function webhookNotFound(): NotFoundError {
  return new NotFoundError('webhook_not_found', 'no webhook is set; PUT /v1/agents/me/webhook sets one')
}

/** `GET /v1/agents/me/webhook`: the URL masked, never the secret. */
export async function getWebhook(context: AppContext, agent: Actor): Promise<WebhookResponse> {
  const row = await selectWebhook(context.pool, agent.id)
  if (!row) throw webhookNotFound()
  return toWebhookResponse(row)
}

/** `DELETE /v1/agents/me/webhook`: nothing more is sent; pending deliveries fail when their turn comes. */
export async function removeWebhook(context: AppContext, agent: Actor): Promise<void> {
  if (!(await deleteWebhook(context.pool, agent.id))) throw webhookNotFound()
}

function deliveryNotFound(id: string): NotFoundError {
  return new NotFoundError('webhook_delivery_not_found', `no delivery ${id} of the caller's webhook`)
}

function toDelivery(row: DeliveryRow): WebhookDelivery {
  return {
    delivery_id: row.id,
    event_id: row.event_id,
    event_type: row.event_type,
    status: row.status,
    attempts: row.attempts,
    next_attempt_at: row.status === 'pending' ? row.next_attempt_at.toISOString() : null,
    last_attempt_at: row.last_attempt_at?.toISOString() ?? null,
    response_status: row.response_status,
    last_error: row.last_error,
    redelivery_of: row.redelivery_of,
    created_at: row.created_at.toISOString(),
    delivered_at: row.delivered_at?.toISOString() ?? null,
  }
}

const deliveryCursor = { createdAt: cursorTimestamp, id: cursorUuid }

/** `GET /v1/agents/me/webhook/deliveries`: the caller's delivery log, newest first. */
export async function listWebhookDeliveries(
  context: AppContext,
  agent: Actor,
  query: ListWebhookDeliveriesQuery,
): Promise<WebhookDeliveriesPage> {
  const after = query.cursor ? decodeCursor(query.cursor, deliveryCursor) : undefined
  const rows = await selectDeliveries(context.pool, agent.id, {
    status: query.status,
    after,
    limit: query.limit + 1,
  })
  const page = rows.slice(0, query.limit)
  const last = page[page.length - 1]
  const hasMore = rows.length > query.limit
  return {
    data: page.map(toDelivery),
    has_more: hasMore,
    next_cursor:
      hasMore && last ? encodeCursor({ createdAt: last.cursor_key, id: last.id }, deliveryCursor) : null,
  }
}

/** `GET /v1/agents/me/webhook/deliveries/{id}`. */
export async function getWebhookDelivery(
  context: AppContext,
  agent: Actor,
  id: string,
): Promise<WebhookDelivery> {
  const row = await selectDelivery(context.pool, agent.id, id)
  if (!row) throw deliveryNotFound(id)
  return toDelivery(row)
}

/**
 * `POST /v1/agents/me/webhook/deliveries/{id}/redeliver`: the same event again, as a new delivery
 * (a new delivery id, the same `event_id`) due now, to the webhook's current URL.
 */
export async function redeliverWebhookDelivery(
  context: AppContext,
  agent: Actor,
  id: string,
): Promise<WebhookDelivery> {
  return withRetryingTransaction(context.pool, async (db) => {
    const original = await selectDelivery(db, agent.id, id)
    if (!original) throw deliveryNotFound(id)
    if (!(await selectWebhook(db, agent.id))) throw webhookNotFound()
    return toDelivery(await insertRedelivery(db, original))
  })
}

/** How long the delivery log keeps a finished delivery: long enough to look into a month of them. */
export const WEBHOOK_DELIVERY_RETENTION_DAYS = 30

/** For the timers: deletes up to `limit` finished deliveries past their retention; how many. */
export function pruneWebhookDeliveries(db: Queryable, limit: number): Promise<number> {
  return deleteFinishedDeliveriesOlderThan(db, WEBHOOK_DELIVERY_RETENTION_DAYS, limit)
}
