import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi'
import type { RequestHandler } from 'express'
import { z } from '../../protocol/zod'
import type { AppContext } from '../app-context'
import { fieldError, ServiceUnavailableError } from '../errors'
import { feedEventsAfter, type FeedEvent } from './event-bus'

/** Seed 004: where the public feed streams. */
export const FEED_STREAM_PATH = '/dashboard/events'

/** Events replayed per read when a client resumes. */
const REPLAY_BATCH = 500

/** Unsent bytes past which a client that does not read is cut off rather than buffered. */
const MAX_BUFFERED_BYTES = 1024 * 1024

/** How often a comment line keeps proxies from closing an idle stream. */
const KEEP_ALIVE_MS = 15_000

/**
 * `GET /dashboard/events` (seed 004 "Public Feed"): Server-Sent Events, each `event: feed_event`
 * with `id:` its outbox id and `data:` its public payload (`event_type`, `job_id`, `job_title`,
 * `created_at` and the seed's fields; nothing private is ever written to the feed). With
 * `Last-Event-ID` (or `?last_event_id=`) the stream first replays what came after it, then
 * follows without a gap or a repeat: live events are held while the replay reads.
 */
export function feedStream(context: Pick<AppContext, 'pool' | 'events'>): RequestHandler {
  return async (req, res, next) => {
    try {
      const hub = context.events
      if (!hub)
        throw new ServiceUnavailableError('feed_unavailable', 'this coordinator does not serve the feed')
      const resumeFrom = req.get('last-event-id') ?? (req.query.last_event_id as string | undefined)
      if (resumeFrom !== undefined && !/^\d{1,18}$/.test(resumeFrom)) {
        throw fieldError('headers', 'Last-Event-ID', 'must be an event id (digits)')
      }
      res.status(200)
      res.setHeader('content-type', 'text/event-stream; charset=utf-8')
      res.setHeader('cache-control', 'no-cache, no-transform')
      res.setHeader('x-accel-buffering', 'no')
      res.flushHeaders()

      let lastSent = BigInt(resumeFrom ?? 0)
      const send = (event: FeedEvent) => {
        if (BigInt(event.id) <= lastSent) return
        if (res.writableLength > MAX_BUFFERED_BYTES) return res.destroy()
        res.write(`id: ${event.id}\nevent: feed_event\ndata: ${JSON.stringify(event.data)}\n\n`)
        lastSent = BigInt(event.id)
      }
      const held: FeedEvent[] = []
      let isReplaying = true
      const unsubscribe = hub.subscribeFeed((event) => (isReplaying ? held.push(event) : send(event)))
      const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), KEEP_ALIVE_MS)
      res.on('close', () => {
        clearInterval(keepAlive)
        unsubscribe()
      })
      if (resumeFrom !== undefined) {
        for (;;) {
          const batch = await feedEventsAfter(context.pool, lastSent.toString(), REPLAY_BATCH)
          batch.forEach(send)
          if (batch.length < REPLAY_BATCH || res.destroyed) break
        }
      }
      isReplaying = false
      held.forEach(send)
    } catch (error) {
      if (res.headersSent) res.destroy()
      else next(error)
    }
  }
}

/** The feed stream in the OpenAPI document, beside the JSON routes. */
export function registerFeedStream(registry: OpenAPIRegistry): void {
  registry.registerPath({
    method: 'get',
    path: FEED_STREAM_PATH,
    summary:
      'The public feed (seed 004): Server-Sent Events, each `event: feed_event` with `id:` and JSON `data:`',
    description:
      'No key needed; nothing private. `Last-Event-ID` (or `?last_event_id=`) replays what followed that event, then follows.',
    request: {
      headers: z.object({
        'last-event-id': z
          .string()
          .regex(/^\d{1,18}$/)
          .optional(),
      }),
      query: z.object({
        last_event_id: z
          .string()
          .regex(/^\d{1,18}$/)
          .optional(),
      }),
    },
    responses: {
      200: { description: 'The stream', content: { 'text/event-stream': { schema: z.string() } } },
      400: { description: 'validation_failed: a Last-Event-ID that is not an event id' },
      503: { description: 'feed_unavailable' },
    },
  })
}
