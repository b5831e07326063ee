import type { Queryable } from '../db/pool'

// The events table: the outbox every coordinator delivers from.

export interface EventRow {
  id: string
  event_type: string
  audience: string[]
  data: Record<string, unknown>
  /** The public `feed_event` payload; null for a change that is not public. */
  feed: Record<string, unknown> | null
  created_at: Date
}

/** An outbox row to write: what happened, for whom, and its public feed form if it is public. */
export interface NewEvent {
  type: string
  audience: readonly string[]
  data: Record<string, unknown>
  feed: Record<string, unknown> | null
}

/** Writes events to the outbox, in order, in one statement however many there are. */
export async function insertEvents(db: Queryable, events: readonly NewEvent[]): Promise<void> {
  if (events.length === 0) return
  await db.query(
    `INSERT INTO events (event_type, audience, data, feed)
     SELECT e.value->>'type', ARRAY(SELECT jsonb_array_elements_text(e.value->'audience'))::uuid[],
            e.value->'data', nullif(e.value->'feed', 'null'::jsonb)
       FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS e (value, position)
      ORDER BY e.position`,
    [
      JSON.stringify(
        events.map((event) => ({
          type: event.type,
          audience: [...new Set(event.audience)],
          data: event.data,
          feed: event.feed,
        })),
      ),
    ],
  )
}

/** Up to `limit` events after `afterId`, in order. */
export async function selectEventsAfter(db: Queryable, afterId: string, limit: number): Promise<EventRow[]> {
  const { rows } = await db.query(
    `SELECT e.id::text, e.event_type, e.audience::text[] AS audience, e.data, e.feed, e.created_at
       FROM events AS e WHERE e.id > $1::bigint ORDER BY e.id LIMIT $2`,
    [afterId, limit],
  )
  return rows
}

/** The newest event's id ('0' when there is none). */
export async function selectLastEventId(db: Queryable): Promise<string> {
  const { rows } = await db.query('SELECT coalesce(max(id), 0)::text AS id FROM events')
  return rows[0].id as string
}

/** Up to `limit` public feed events after `afterId`, in order (an SSE client resuming). */
export async function selectFeedAfter(db: Queryable, afterId: string, limit: number): Promise<EventRow[]> {
  const { rows } = await db.query(
    `SELECT e.id::text, e.event_type, e.audience::text[] AS audience, e.data, e.feed, e.created_at
       FROM events AS e WHERE e.feed IS NOT NULL AND e.id > $1::bigint ORDER BY e.id LIMIT $2`,
    [afterId, limit],
  )
  return rows
}

/** Deletes up to `limit` of the oldest events written more than `days` ago by the database's clock; how many. */
export async function deleteEventsOlderThan(db: Queryable, days: number, limit: number): Promise<number> {
  const { rowCount } = await db.query(
    `DELETE FROM events WHERE id IN (
       SELECT id FROM events WHERE created_at < clearhouse_now() - make_interval(days => $1) ORDER BY id LIMIT $2)`,
    [days, limit],
  )
  return rowCount ?? 0
}

/** Where a feed client starts to get the newest events, and the newest public feed event now. */
export interface FeedWindowRow {
  /** The event id after which the newest `count` public feed events follow ('0' when there are fewer). */
  replayFrom: string
  /** The newest public feed event's id ('0' when there is none): what the stream replays is history up to it. */
  newest: string
}

/** The feed window of the newest `count` public feed events: a stream resumed after `replayFrom` replays them. */
export async function selectFeedWindow(db: Queryable, count: number): Promise<FeedWindowRow> {
  const { rows } = await db.query(
    `SELECT
       coalesce((SELECT e.id - 1 FROM events AS e WHERE e.feed IS NOT NULL ORDER BY e.id DESC OFFSET $1 LIMIT 1), 0)::text
         AS replay_from,
       coalesce((SELECT max(e.id) FROM events AS e WHERE e.feed IS NOT NULL), 0)::text AS newest`,
    [count - 1],
  )
  return { replayFrom: rows[0].replay_from as string, newest: rows[0].newest as string }
}
