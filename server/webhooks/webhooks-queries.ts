import type { Queryable } from '../db/pool'
import type { WebhookDeliveryStatus } from '../../protocol/webhooks'

// The webhooks, the fan-out cursor and the delivery log.

export interface WebhookRow {
  agent_id: string
  url: string
  sealed_secret: string
  created_at: Date
  updated_at: Date
}

export async function selectWebhook(db: Queryable, agentId: string): Promise<WebhookRow | null> {
  const { rows } = await db.query(
    `SELECT w.agent_id, w.url, w.sealed_secret, w.created_at, w.updated_at FROM webhooks AS w WHERE w.agent_id = $1`,
    [agentId],
  )
  return rows[0] ?? null
}

/**
 * Creates the agent's webhook or changes its URL. `freshSealedSecret` becomes the secret of a new
 * webhook, or of an existing one when `rotate`; `isSecretNew` says whether it did, decided by the
 * one statement so two racing first PUTs cannot both believe theirs is the secret. A new webhook
 * receives only events written after it (`from_event_id`).
 */
export async function upsertWebhook(
  db: Queryable,
  agentId: string,
  change: { url: string; freshSealedSecret: string; rotate: boolean },
): Promise<WebhookRow & { is_secret_new: boolean }> {
  const { rows } = await db.query(
    `INSERT INTO webhooks AS w (agent_id, url, sealed_secret, from_event_id)
     VALUES ($1, $2, $3, (SELECT coalesce(max(id), 0) FROM events))
     ON CONFLICT (agent_id) DO UPDATE
       SET url = EXCLUDED.url, updated_at = clearhouse_now(),
           sealed_secret = CASE WHEN $4::boolean THEN EXCLUDED.sealed_secret ELSE w.sealed_secret END
     RETURNING w.agent_id, w.url, w.sealed_secret, w.created_at, w.updated_at,
               w.sealed_secret = $3 AS is_secret_new`,
    [agentId, change.url, change.freshSealedSecret, change.rotate],
  )
  return rows[0]
}

export async function deleteWebhook(db: Queryable, agentId: string): Promise<boolean> {
  const { rowCount } = await db.query('DELETE FROM webhooks WHERE agent_id = $1', [agentId])
  return (rowCount ?? 0) > 0
}

/** Locks the fan-out cursor for this transaction; null when another replica holds it. */
export async function lockFanoutCursor(db: Queryable): Promise<string | null> {
  const { rows } = await db.query(
    'SELECT c.last_event_id::text FROM webhook_fanout_cursor AS c FOR UPDATE SKIP LOCKED',
  )
  return rows[0]?.last_event_id ?? null
}

export async function updateFanoutCursor(db: Queryable, lastEventId: string): Promise<void> {
  await db.query('UPDATE webhook_fanout_cursor SET last_event_id = $1::bigint', [lastEventId])
}

/**
 * Fans the outbox events after `afterId` (up to `limit` of them) out into deliveries: each event
 * to the webhooks of its audience, and a `task.posted` to the webhooks of agents, other than the
 * job's creator, whose tags or capability values (any string in their `capabilities`, such as a
 * `skills` list) name one of the job's tags, case aside. A webhook gets only events written after
 * it was set. Returns the last event id read (unchanged when there was none) and how many
 * deliveries were written; a delivery that exists already is not written twice.
 */
export async function fanOutEvents(
  db: Queryable,
  afterId: string,
  limit: number,
): Promise<{ lastEventId: string; deliveries: number }> {
  const { rows } = await db.query(
    `WITH batch AS (
       SELECT e.id, e.event_type, e.audience, e.data, e.created_at
         FROM events AS e WHERE e.id > $1::bigint ORDER BY e.id LIMIT $2
     ), targets AS (
       SELECT b.id, a.agent_id FROM batch AS b CROSS JOIN LATERAL unnest(b.audience) AS a (agent_id)
       UNION
       SELECT b.id, ag.id FROM batch AS b
         JOIN agents AS ag ON b.event_type = 'task.posted'
         JOIN webhooks AS w ON w.agent_id = ag.id
        WHERE ag.id IS DISTINCT FROM (b.data ->> 'creator_agent_id')::uuid
          AND EXISTS (
            SELECT 1 FROM jsonb_array_elements_text(coalesce(b.data -> 'tags', '[]'::jsonb)) AS t (tag)
             WHERE lower(t.tag) = ANY (SELECT lower(x) FROM unnest(ag.tags) AS x)
                OR lower(t.tag) IN (
                  SELECT lower(v #>> '{}') FROM jsonb_path_query(ag.capabilities, 'strict $.**') AS v
                   WHERE jsonb_typeof(v) = 'string'))
     ), inserted AS (
       INSERT INTO webhook_deliveries (id, agent_id, event_id, event_type, event_data, event_created_at)
       SELECT gen_random_uuid(), t.agent_id, b.id, b.event_type, b.data, b.created_at
         FROM targets AS t JOIN batch AS b ON b.id = t.id
         JOIN webhooks AS w ON w.agent_id = t.agent_id AND b.id > w.from_event_id
       ON CONFLICT (agent_id, event_id) WHERE redelivery_of IS NULL DO NOTHING
       RETURNING 1
     )
     SELECT (SELECT max(id)::text FROM batch) AS last_event_id, (SELECT count(*)::int FROM inserted) AS deliveries`,
    [afterId, limit],
  )
  return { lastEventId: rows[0].last_event_id ?? afterId, deliveries: rows[0].deliveries }
}

/** A delivery as the sender needs it: what to send, where, and with which secret. */
export interface DueDeliveryRow {
  id: string
  agent_id: string
  event_id: string
  event_type: string
  event_data: Record<string, unknown>
  event_created_at: Date
  attempts: number
  /** Null when the agent removed its webhook since. */
  url: string | null
  sealed_secret: string | null
}

/**
 * Claims up to `limit` due pending deliveries for `claimMs` (other replicas skip them meanwhile, and
 * may take them over once the claim lapses, as after a crash mid-send), oldest due first.
 */
export async function claimDueDeliveries(
  db: Queryable,
  limit: number,
  claimMs: number,
): Promise<DueDeliveryRow[]> {
  const { rows } = await db.query(
    `WITH due AS (
       SELECT d.id FROM webhook_deliveries AS d
        WHERE d.status = 'pending' AND d.next_attempt_at <= clearhouse_now()
          AND (d.claimed_until IS NULL OR d.claimed_until < clearhouse_now())
        ORDER BY d.next_attempt_at, d.id LIMIT $1 FOR UPDATE SKIP LOCKED
     ), claimed AS (
       UPDATE webhook_deliveries AS d
          SET claimed_until = clearhouse_now() + make_interval(secs => $2::double precision / 1000)
         FROM due WHERE d.id = due.id
       RETURNING d.id, d.agent_id, d.event_id, d.event_type, d.event_data, d.event_created_at, d.attempts
     )
     SELECT c.id, c.agent_id, c.event_id::text, c.event_type, c.event_data, c.event_created_at, c.attempts,
            w.url, w.sealed_secret
       FROM claimed AS c LEFT JOIN webhooks AS w ON w.agent_id = c.agent_id`,
    [limit, claimMs],
  )
  return rows
}

/** Records one attempt's outcome and releases the claim. */
export async function recordDeliveryAttempt(
  db: Queryable,
  id: string,
  outcome: {
    status: WebhookDeliveryStatus
    responseStatus: number | null
    error: string | null
    /** For a delivery still pending: how long until it is tried again. */
    retryInMs: number | null
  },
): Promise<void> {
  await db.query(
    `UPDATE webhook_deliveries
        SET status = $2, attempts = attempts + 1, last_attempt_at = clearhouse_now(), claimed_until = NULL,
            response_status = $3, last_error = $4,
            next_attempt_at = CASE WHEN $5::bigint IS NULL THEN next_attempt_at
                                   ELSE clearhouse_now() + make_interval(secs => $5::bigint / 1000.0) END,
            delivered_at = CASE WHEN $2 = 'delivered' THEN clearhouse_now() END
      WHERE id = $1`,
    [id, outcome.status, outcome.responseStatus, outcome.error, outcome.retryInMs],
  )
}

export interface DeliveryRow {
  id: string
  agent_id: string
  event_id: string
  event_type: string
  event_data: Record<string, unknown>
  event_created_at: Date
  status: WebhookDeliveryStatus
  attempts: number
  next_attempt_at: Date
  last_attempt_at: Date | null
  response_status: number | null
  last_error: string | null
  redelivery_of: string | null
  created_at: Date
  delivered_at: Date | null
  /** `created_at` as a cursor timestamp. */
  cursor_key: string
}

const DELIVERY_COLUMNS = `d.id, d.agent_id, d.event_id::text, d.event_type, d.event_data, d.event_created_at, d.status,
  d.attempts, d.next_attempt_at, d.last_attempt_at, d.response_status, d.last_error, d.redelivery_of, d.created_at,
  d.delivered_at, to_char(d.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS cursor_key`

/** The agent's deliveries, newest first, after the keyset `after` (a row's created_at and id). */
export async function selectDeliveries(
  db: Queryable,
  agentId: string,
  filter: { status?: WebhookDeliveryStatus; after?: { createdAt: string; id: string }; limit: number },
): Promise<DeliveryRow[]> {
  const { rows } = await db.query(
    `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries AS d
      WHERE d.agent_id = $1 AND ($2::text IS NULL OR d.status = $2)
        AND ($3::text IS NULL OR (d.created_at, d.id) < ($3::timestamp AT TIME ZONE 'UTC', $4::uuid))
      ORDER BY d.created_at DESC, d.id DESC LIMIT $5`,
    [agentId, filter.status ?? null, filter.after?.createdAt ?? null, filter.after?.id ?? null, filter.limit],
  )
  return rows
}

export async function selectDelivery(
  db: Queryable,
  agentId: string,
  id: string,
): Promise<DeliveryRow | null> {
  const { rows } = await db.query(
    `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries AS d WHERE d.agent_id = $1 AND d.id = $2`,
    [agentId, id],
  )
  return rows[0] ?? null
}

/** A new pending delivery repeating `original`'s event, due now. */
export async function insertRedelivery(db: Queryable, original: DeliveryRow): Promise<DeliveryRow> {
  const { rows } = await db.query(
    `INSERT INTO webhook_deliveries AS d
       (id, agent_id, event_id, event_type, event_data, event_created_at, redelivery_of)
     VALUES (gen_random_uuid(), $1, $2::bigint, $3, $4::jsonb, $5, $6)
     RETURNING ${DELIVERY_COLUMNS}`,
    [
      original.agent_id,
      original.event_id,
      original.event_type,
      JSON.stringify(original.event_data),
      original.event_created_at,
      original.id,
    ],
  )
  return rows[0]
}

/**
 * Deletes up to `limit` of the oldest finished (delivered or failed) deliveries written more than
 * `days` ago by the database's clock; how many. One a newer redelivery repeats waits for it.
 */
export async function deleteFinishedDeliveriesOlderThan(
  db: Queryable,
  days: number,
  limit: number,
): Promise<number> {
  const { rowCount } = await db.query(
    `DELETE FROM webhook_deliveries WHERE id IN (
       SELECT d.id FROM webhook_deliveries AS d
        WHERE d.status IN ('delivered', 'failed') AND d.created_at < clearhouse_now() - make_interval(days => $1)
          AND NOT EXISTS (SELECT 1 FROM webhook_deliveries AS r WHERE r.redelivery_of = d.id)
        ORDER BY d.created_at LIMIT $2)`,
    [days, limit],
  )
  return rowCount ?? 0
}
