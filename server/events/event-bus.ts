import pg from 'pg'
import type { Logger } from 'pino'
import type { Queryable } from '../db/pool'
import {
  deleteEventsOlderThan,
  insertEvents,
  selectEventsAfter,
  selectFeedAfter,
  selectFeedWindow,
  selectLastEventId,
  type EventRow,
} from './events-queries'

/** The Postgres channel the outbox's insert trigger notifies. */
const NOTIFY_CHANNEL = 'clearhouse_events'

/** How often a hub reads the outbox without a notification (databases without LISTEN/NOTIFY, a lost one). */
export const DEFAULT_EVENT_POLL_MS = 1_000

/** Events read per round trip. */
const READ_BATCH = 500

/** An event as its audience receives it (seed 004's WebSocket message, less `msg_type`). */
export interface DeliveredEvent {
  id: string
  eventType: string
  data: Record<string, unknown>
  createdAt: Date
}

/**
 * Writes an event to the outbox inside the caller's transaction: it is delivered if and only if
 * the change it reports commits. `audience` is the agents it is for.
 */
export async function publishEvent(db: Queryable, event: PublishedEvent): Promise<void> {
  await publishEvents(db, [event])
}

export interface PublishedEvent {
  type: string
  audience: readonly (string | null | undefined)[]
  data: Record<string, unknown>
  /** The public feed's `feed_event` (seed 004 "Public Feed"), for a public change: nothing private in it. */
  feed?: { event_type: string } & Record<string, unknown>
}

/** `publishEvent` for many events, in order, in one statement (the indexer's backfill). */
export async function publishEvents(db: Queryable, events: readonly PublishedEvent[]): Promise<void> {
  await insertEvents(
    db,
    events.map((event) => ({
      type: event.type,
      audience: event.audience.filter((id): id is string => typeof id === 'string'),
      data: event.data,
      feed: event.feed ?? null,
    })),
  )
}

/** A public feed event as the SSE stream sends it: its outbox id and its `feed_event` data. */
export interface FeedEvent {
  id: string
  data: Record<string, unknown>
}

/** The `feed_event` of an outbox row, with its `created_at`; null for a row that is not public. */
export function feedEventOf(row: EventRow): FeedEvent | null {
  if (!row.feed) return null
  return { id: row.id, data: { ...row.feed, created_at: row.created_at.toISOString() } }
}

/** Public feed events after `afterId` (an SSE client's `Last-Event-ID`), in order. */
export async function feedEventsAfter(db: Queryable, afterId: string, limit: number): Promise<FeedEvent[]> {
  return (await selectFeedAfter(db, afterId, limit)).map((row) => feedEventOf(row)!)
}

/**
 * Where an SSE client should resume (`Last-Event-ID`) to open with the newest `count` public feed
 * events, and the newest one's id now (what a page rendered now has seen).
 */
export function feedWindow(db: Queryable, count: number): Promise<{ replayFrom: string; newest: string }> {
  return selectFeedWindow(db, count)
}

type Listener = (event: DeliveredEvent) => void
type FeedListener = (event: FeedEvent) => void

/**
 * One coordinator's reader of the outbox: it follows the events table from the newest id at start,
 * woken by `LISTEN clearhouse_events` (so an event caused through another replica arrives at once)
 * and by a poll, and hands each event to the listeners of the agents in its audience. Delivery is
 * at most once per connection and in id order; a connection that was not open misses what passed.
 */
export class EventHub {
  private readonly listeners = new Map<string, Set<Listener>>()
  private readonly feedListeners = new Set<FeedListener>()
  private lastId: string | null = null
  private listenClient: pg.Client | null = null
  private pollTimer: NodeJS.Timeout | null = null
  private reading: Promise<void> | null = null
  private isRereadWanted = false
  private isStopped = false

  constructor(
    private readonly pool: pg.Pool,
    private readonly logger: Logger,
    private readonly options: { pollMs?: number; listen?: boolean } = {},
  ) {}

  /** Starts following the outbox from its newest event. */
  async start(): Promise<void> {
    this.lastId = await selectLastEventId(this.pool)
    if (this.options.listen !== false) await this.startListening()
    const pollMs = this.options.pollMs ?? DEFAULT_EVENT_POLL_MS
    this.pollTimer = setInterval(() => this.wake(), pollMs)
    this.pollTimer.unref()
  }

  private async startListening(): Promise<void> {
    const client = new pg.Client(this.pool.options)
    client.on('error', (error) =>
      this.logger.warn({ err: error }, 'event bus: LISTEN connection failed; polling'),
    )
    try {
      await client.connect()
      client.on('notification', () => this.wake())
      await client.query(`LISTEN ${NOTIFY_CHANNEL}`)
      this.listenClient = client
    } catch (error) {
      this.logger.warn({ err: error }, 'event bus: LISTEN unavailable; polling the outbox')
      await client.end().catch(() => {})
    }
  }

  /** Calls `listener` with every event for `agentId` until the returned function is called. */
  subscribe(agentId: string, listener: Listener): () => void {
    let set = this.listeners.get(agentId)
    if (!set) {
      set = new Set()
      this.listeners.set(agentId, set)
    }
    set.add(listener)
    return () => {
      set.delete(listener)
      if (set.size === 0) this.listeners.delete(agentId)
    }
  }

  /** Calls `listener` with every public feed event from now on, until the returned function is called. */
  subscribeFeed(listener: FeedListener): () => void {
    this.feedListeners.add(listener)
    return () => this.feedListeners.delete(listener)
  }

  /** Reads what is new now (at most one read at a time; a wake during one reads again after it). */
  wake(): void {
    if (this.isStopped || this.lastId === null) return
    if (this.reading) {
      this.isRereadWanted = true
      return
    }
    this.reading = this.readNew()
      .catch((error: unknown) => this.logger.warn({ err: error }, 'event bus: reading the outbox failed'))
      .finally(() => {
        this.reading = null
        if (this.isRereadWanted) {
          this.isRereadWanted = false
          this.wake()
        }
      })
  }

  private async readNew(): Promise<void> {
    for (;;) {
      const rows = await selectEventsAfter(this.pool, this.lastId!, READ_BATCH)
      for (const row of rows) this.deliver(row)
      if (rows.length) this.lastId = rows[rows.length - 1]!.id
      if (rows.length < READ_BATCH) return
    }
  }

  private deliver(row: EventRow): void {
    const feed = feedEventOf(row)
    if (feed) for (const listener of this.feedListeners) this.notify(listener, feed, row.id)
    const event: DeliveredEvent = {
      id: row.id,
      eventType: row.event_type,
      data: row.data,
      createdAt: row.created_at,
    }
    for (const agentId of row.audience) {
      for (const listener of this.listeners.get(agentId) ?? []) this.notify(listener, event, row.id)
    }
  }

  /** One listener's delivery: its failure is logged, never another's loss. */
  private notify<T>(listener: (event: T) => void, event: T, eventId: string): void {
    try {
      listener(event)
    } catch (error) {
      this.logger.warn({ err: error, eventId }, 'event bus: a listener failed')
    }
  }

  async stop(): Promise<void> {
    this.isStopped = true
    if (this.pollTimer) clearInterval(this.pollTimer)
    await this.reading
    const client = this.listenClient
    this.listenClient = null
    if (client) {
      // A connection whose network went silent would wait forever for its goodbye.
      const ended = client.end().catch(() => {})
      const timeout = new Promise<void>((resolve) => setTimeout(resolve, 1_000).unref())
      await Promise.race([ended, timeout])
      ;(client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy()
    }
  }
}

/**
 * How long the outbox keeps an event: an SSE client can resume from `Last-Event-ID` within it,
 * and no connection needs an older one.
 */
export const EVENT_RETENTION_DAYS = 7

/** For the timers: deletes up to `limit` events older than `EVENT_RETENTION_DAYS`; how many. */
export async function pruneOldEvents(db: Queryable, limit: number): Promise<number> {
  return deleteEventsOlderThan(db, EVENT_RETENTION_DAYS, limit)
}
