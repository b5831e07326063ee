import type { IncomingMessage, Server } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer, type RawData, type WebSocket } from 'ws'
import type { AppContext } from '../app-context'
import { bearerToken } from '../auth/api-key-codec'
import { authenticateApiKey } from '../auth/api-keys'
import type { EventHub } from './event-bus'

/** Seed 004: the path of the targeted-events WebSocket. */
export const EVENT_SOCKET_PATH = '/v1/ws'

/** Seed 004's close codes. */
export const CLOSE_BAD_FORMAT = 4000
export const CLOSE_INVALID_TOKEN = 4001

export interface EventSocketOptions {
  /** How long a connection without an Authorization header has to send its token (seed: 10 s). */
  authTimeoutMs?: number
  /** How often the server pings (seed: 30 s). */
  pingIntervalMs?: number
  /** Silence after which a connection is closed (seed: 60 s without a pong). */
  pongTimeoutMs?: number
  /** Unsent bytes past which a slow client is dropped instead of buffered (default 1 MiB). */
  maxBufferedBytes?: number
}

const DEFAULTS: Required<EventSocketOptions> = {
  authTimeoutMs: 10_000,
  pingIntervalMs: 30_000,
  pongTimeoutMs: 60_000,
  maxBufferedBytes: 1024 * 1024,
}

/** The token of a first message: `{"token": "…"}` or the bare token; null for anything else. */
function tokenOf(message: RawData): string | null {
  const text = message.toString().trim()
  if (text.startsWith('{')) {
    try {
      const parsed = JSON.parse(text) as { token?: unknown }
      return typeof parsed.token === 'string' ? parsed.token : null
    } catch {
      return null
    }
  }
  return /^\S{1,200}$/.test(text) ? text : null
}

/** The API key of the upgrade request: `Authorization: Bearer`, else `X-API-Key`. */
function bearerOf(req: IncomingMessage): string | null {
  const header = req.headers.authorization
  if (header) return bearerToken(header)
  const apiKey = req.headers['x-api-key']
  return typeof apiKey === 'string' && /^\S{1,200}$/.test(apiKey.trim()) ? apiKey.trim() : null
}

/**
 * `GET /v1/ws` (seed 004 "WebSocket"): the agent's targeted events as `{"msg_type":"event",
 * "event_type":…,"data":…}`. Authentication by `Authorization: Bearer` on the upgrade, or by a
 * first message within `authTimeoutMs` (`{"msg_type":"auth","status":"ok"}`, or close 4001 for an
 * invalid token, 4000 for a bad format or the timeout). The server pings every `pingIntervalMs`
 * and closes a connection silent for `pongTimeoutMs`; a client that does not read is dropped once
 * `maxBufferedBytes` are waiting, so no connection holds memory without bound. Many connections
 * of one agent each get every event.
 */
export function attachEventSocket(
  server: Server,
  context: Pick<AppContext, 'pool' | 'logger'>,
  hub: EventHub,
  options: EventSocketOptions = {},
): () => Promise<void> {
  const settings = { ...DEFAULTS, ...options }
  const sockets = new WebSocketServer({ noServer: true, maxPayload: 4096 })

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    if (url.pathname !== EVENT_SOCKET_PATH) return
    sockets.handleUpgrade(req, socket, head, (ws) => void accept(ws, bearerOf(req)))
  }
  server.on('upgrade', onUpgrade)

  async function authenticate(token: string): Promise<string | null> {
    const found = await authenticateApiKey(context.pool, token).catch(() => null)
    return found?.actor.id ?? null
  }

  async function accept(ws: WebSocket, bearer: string | null): Promise<void> {
    if (bearer !== null) {
      const agentId = await authenticate(bearer)
      if (!agentId) return ws.close(CLOSE_INVALID_TOKEN, 'invalid token')
      return stream(ws, agentId)
    }
    const timeout = setTimeout(
      () => ws.close(CLOSE_BAD_FORMAT, 'no token within the time allowed'),
      settings.authTimeoutMs,
    )
    ws.once('message', async (message) => {
      clearTimeout(timeout)
      const token = tokenOf(message)
      if (token === null) return ws.close(CLOSE_BAD_FORMAT, 'send {"token": "<api key>"} or the bare key')
      const agentId = await authenticate(token)
      if (!agentId) return ws.close(CLOSE_INVALID_TOKEN, 'invalid token')
      ws.send(JSON.stringify({ msg_type: 'auth', status: 'ok' }))
      stream(ws, agentId)
    })
    ws.once('close', () => clearTimeout(timeout))
  }

  function stream(ws: WebSocket, agentId: string): void {
    if (ws.readyState !== ws.OPEN) return
    let lastHeard = Date.now()
    ws.on('pong', () => (lastHeard = Date.now()))
    ws.on('message', () => (lastHeard = Date.now()))
    const heartbeat = setInterval(() => {
      if (Date.now() - lastHeard > settings.pongTimeoutMs) return ws.terminate()
      ws.ping()
    }, settings.pingIntervalMs)
    const unsubscribe = hub.subscribe(agentId, (event) => {
      if (ws.readyState !== ws.OPEN) return
      // A client that does not read would make this process buffer without bound: drop it.
      if (ws.bufferedAmount > settings.maxBufferedBytes) {
        context.logger.warn({ agentId }, 'event socket: a slow client was dropped')
        return ws.terminate()
      }
      ws.send(JSON.stringify({ msg_type: 'event', event_type: event.eventType, data: event.data }))
    })
    ws.once('close', () => {
      clearInterval(heartbeat)
      unsubscribe()
    })
  }

  return async () => {
    server.off('upgrade', onUpgrade)
    for (const client of sockets.clients) client.terminate()
    await new Promise<void>((resolve) => sockets.close(() => resolve()))
  }
}
