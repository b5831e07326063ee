import {
  SEED_001_SIGNATURE_HEADER,
  seed001WebhookSignature,
  WEBHOOK_DELIVERY_HEADER,
  WEBHOOK_EVENT_HEADER,
  WEBHOOK_SIGNATURE_HEADER,
  webhookSignature,
  type WebhookPayload,
} from '../../protocol/webhooks'
import type { AppContext } from '../app-context'
import { withRetryingTransaction } from '../db/retrying-transaction'
import { outboundClientFor } from '../outbound/app-outbound-client'
import { OutboundHttpError } from '../outbound/outbound-http'
import { openWebhookSecret } from './webhooks-service'
import {
  claimDueDeliveries,
  fanOutEvents,
  lockFanoutCursor,
  recordDeliveryAttempt,
  updateFanoutCursor,
  type DueDeliveryRow,
} from './webhooks-queries'

/** How the sender retries and waits; from WEBHOOK_* in the config. */
export interface WebhookSenderOptions {
  /** The wait after the first failed attempt; each further failure doubles it, up to `MAX_RETRY_DELAY_MS`. */
  retryBaseMs: number
  /** Attempts before a delivery is `failed`. */
  maxAttempts: number
  /** The longest one attempt may take, response included. */
  timeoutMs: number
}

/** The longest wait between two attempts, however many failed. */
export const MAX_RETRY_DELAY_MS = 6 * 60 * 60 * 1000

/** Outbox events fanned out per transaction. */
const FANOUT_BATCH = 500

/** Deliveries claimed per round; they are sent concurrently. */
const SEND_BATCH = 20

/** A receiver's answer is read up to this size, then dropped: only its status matters. */
const MAX_RECEIVER_RESPONSE_BYTES = 64 * 1024

/** A webhook secret the coordinator's key does not open (WALLET_ENCRYPTION_KEY changed since it was set). */
export class UnreadableSecretError extends Error {
  override name = 'UnreadableSecretError'
  readonly reason = 'unreadable_secret'
  constructor(options: { cause?: unknown } = {}) {
    super(
      'the signing secret cannot be opened with this WALLET_ENCRYPTION_KEY; set the webhook again',
      options,
    )
  }
}

/** What one round did. */
export interface WebhookRound {
  fannedOut: number
  delivered: number
  retrying: number
  failed: number
}

/** The wait before attempt `attempts + 1`, after `attempts` failed ones. */
export function retryDelayMs(options: Pick<WebhookSenderOptions, 'retryBaseMs'>, attempts: number): number {
  return Math.min(options.retryBaseMs * 2 ** Math.max(0, attempts - 1), MAX_RETRY_DELAY_MS)
}

/** The body of a delivery: the same bytes on every attempt, so a receiver can dedupe by `delivery_id`. */
export function webhookBody(
  delivery: Pick<DueDeliveryRow, 'id' | 'event_id' | 'event_type' | 'event_data' | 'event_created_at'>,
): Buffer {
  const payload: WebhookPayload = {
    delivery_id: delivery.id,
    event: delivery.event_type,
    event_id: delivery.event_id,
    created_at: delivery.event_created_at.toISOString(),
    data: delivery.event_data,
  }
  // Seed 001's receivers read a posted task at the top level.
  const task = delivery.event_data.task
  if (delivery.event_type === 'task.posted' && typeof task === 'object' && task !== null) {
    payload.task = task as Record<string, unknown>
  }
  return Buffer.from(JSON.stringify(payload))
}

/**
 * The webhook outbox's worker. Each round first fans new outbox events out into deliveries (one
 * replica at a time, under the fan-out cursor's row lock, in the transaction that moves the
 * cursor, so an event becomes its deliveries exactly once), then sends the deliveries that are due.
 * Any number of replicas send at once: each claims its deliveries for a while, and a claim a crash
 * left behind lapses, so nothing is lost across a restart; a delivery can then arrive twice, with
 * the same `X-Clearhouse-Delivery`. A 2xx answer delivers; anything else (a refused destination, a
 * timeout, a redirect, another status) is retried with exponential backoff until `maxAttempts`.
 */
export class WebhookSender {
  constructor(
    private readonly context: AppContext,
    private readonly options: WebhookSenderOptions,
  ) {}

  async runOnce(): Promise<WebhookRound> {
    const fannedOut = await this.fanOut()
    const round: WebhookRound = { fannedOut, delivered: 0, retrying: 0, failed: 0 }
    for (;;) {
      // Claimed for three timeouts: longer than any attempt, short enough to take over after a crash.
      const due = await claimDueDeliveries(this.context.pool, SEND_BATCH, this.options.timeoutMs * 3)
      const outcomes = await Promise.all(due.map((delivery) => this.send(delivery)))
      for (const outcome of outcomes) round[outcome] += 1
      if (due.length < SEND_BATCH) return round
    }
  }

  private async fanOut(): Promise<number> {
    let total = 0
    for (;;) {
      const step = await withRetryingTransaction(this.context.pool, async (db) => {
        const cursor = await lockFanoutCursor(db)
        if (cursor === null) return null
        const result = await fanOutEvents(db, cursor, FANOUT_BATCH)
        if (result.lastEventId !== cursor) await updateFanoutCursor(db, result.lastEventId)
        return { ...result, isDone: result.lastEventId === cursor }
      })
      if (!step) return total
      total += step.deliveries
      if (step.isDone) return total
    }
  }

  /** The webhook's signing secret; one sealed under another key is this delivery's failure, not the round's. */
  private secretOf(agentId: string, sealedSecret: string): string {
    try {
      return openWebhookSecret(this.context, agentId, sealedSecret)
    } catch (error) {
      throw new UnreadableSecretError({ cause: error })
    }
  }

  private async send(delivery: DueDeliveryRow): Promise<'delivered' | 'retrying' | 'failed'> {
    if (delivery.url === null || delivery.sealed_secret === null) {
      await recordDeliveryAttempt(this.context.pool, delivery.id, {
        status: 'failed',
        responseStatus: null,
        error: 'the webhook was removed',
        retryInMs: null,
      })
      return 'failed'
    }
    const body = webhookBody(delivery)
    let responseStatus: number | null = null
    let error: string | null = null
    try {
      const secret = this.secretOf(delivery.agent_id, delivery.sealed_secret)
      const response = await outboundClientFor(this.context).post({
        url: delivery.url,
        body,
        headers: {
          [WEBHOOK_SIGNATURE_HEADER]: webhookSignature(secret, Math.floor(Date.now() / 1000), body),
          [SEED_001_SIGNATURE_HEADER]: seed001WebhookSignature(secret, body),
          [WEBHOOK_EVENT_HEADER]: delivery.event_type,
          [WEBHOOK_DELIVERY_HEADER]: delivery.id,
          'user-agent': `Clearhouse-Webhooks/${this.context.version}`,
        },
        timeoutMs: this.options.timeoutMs,
        maxResponseBytes: MAX_RECEIVER_RESPONSE_BYTES,
        // A receiver answers where it was asked; following a redirect would send the event elsewhere.
        maxRedirects: 0,
      })
      responseStatus = response.status
      if (response.status < 200 || response.status >= 300) error = `the receiver answered ${response.status}`
    } catch (failure) {
      error =
        failure instanceof OutboundHttpError || failure instanceof UnreadableSecretError
          ? `${failure.reason}: ${failure.message}`
          : `could not be sent: ${(failure as Error).message}`
    }
    const attempts = delivery.attempts + 1
    const status = error === null ? 'delivered' : attempts >= this.options.maxAttempts ? 'failed' : 'pending'
    await recordDeliveryAttempt(this.context.pool, delivery.id, {
      status,
      responseStatus,
      error,
      retryInMs: status === 'pending' ? retryDelayMs(this.options, attempts) : null,
    })
    if (status === 'pending') return 'retrying'
    this.context.logger.info(
      { deliveryId: delivery.id, eventType: delivery.event_type, status, attempts, responseStatus },
      'webhook delivery finished',
    )
    return status
  }
}
