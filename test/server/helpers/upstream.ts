import type { Express } from 'express'
import http from 'node:http'
import request from 'supertest'
import type { AddressInfo } from 'node:net'

/** A provider's endpoint for invoke tests, on loopback (which the embedded stack's proxy may call). */
export interface UpstreamStub {
  /** `http://127.0.0.1:<port>` */
  baseUrl: string
  /** How many requests each path got. */
  hits: Map<string, number>
  /** The last JSON body and headers `path` received. */
  lastRequest: Map<string, { body: unknown; headers: http.IncomingHttpHeaders }>
  close(): Promise<void>
}

/**
 * Paths: `/echo` answers `{"echo": <input>}`; `/fail` answers 500; `/declare-failure` answers 200
 * `{"status":"failed","error":…}` (a provider saying it could not do the task); `/slow?ms=N` answers after N ms;
 * `/big?bytes=N` answers N bytes of JSON string; `/redirect?to=URL` answers 302 to URL; `/text`
 * answers plain text.
 */
export async function startUpstreamStub(): Promise<UpstreamStub> {
  const hits = new Map<string, number>()
  const lastRequest = new Map<string, { body: unknown; headers: http.IncomingHttpHeaders }>()
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://stub')
    hits.set(url.pathname, (hits.get(url.pathname) ?? 0) + 1)
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      let body: unknown = null
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null')
      } catch {
        body = Buffer.concat(chunks).toString('utf8')
      }
      lastRequest.set(url.pathname, { body, headers: req.headers })
      const input = (body as { input?: unknown } | null)?.input
      switch (url.pathname) {
        case '/echo':
          res.setHeader('content-type', 'application/json')
          res.end(JSON.stringify({ echo: input ?? null }))
          return
        case '/declare-failure':
          res.setHeader('content-type', 'application/json')
          res.end(JSON.stringify({ status: 'failed', error: 'cannot translate into Klingon' }))
          return
        case '/fail':
          res.statusCode = 500
          res.end('{"error":"boom"}')
          return
        case '/slow':
          setTimeout(
            () => {
              res.setHeader('content-type', 'application/json')
              res.end('{"late":true}')
            },
            Number(url.searchParams.get('ms') ?? 1000),
          ).unref()
          return
        case '/big': {
          const size = Number(url.searchParams.get('bytes') ?? 1024 * 1024 + 1)
          res.setHeader('content-type', 'application/json')
          res.end(`"${'x'.repeat(Math.max(0, size - 2))}"`)
          return
        }
        case '/redirect':
          res.statusCode = 302
          res.setHeader('location', url.searchParams.get('to') ?? '/echo')
          res.end()
          return
        case '/text':
          res.setHeader('content-type', 'text/plain')
          res.end('plain answer')
          return
        default:
          res.statusCode = 404
          res.end()
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    hits,
    lastRequest,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/**
 * Registers a `per_call` service of the agent holding `apiKey` that the proxy calls at the stub's
 * `path` (default `/echo`), priced `price` (a decimal amount); returns its id.
 */
export async function registerStubService(
  app: Express,
  apiKey: string,
  upstream: UpstreamStub,
  options: { path?: string; price: string; fields?: Record<string, unknown> },
): Promise<string> {
  const res = await request(app)
    .post('/v1/agents/me/services')
    .set('Authorization', `Bearer ${apiKey}`)
    .send({
      name: 'Echo',
      category: 'testing',
      pricing_model: 'per_call',
      price_amount: options.price,
      endpoint_url: `${upstream.baseUrl}${options.path ?? '/echo'}`,
      ...options.fields,
    })
  if (res.status !== 201)
    throw new Error(`service registration failed: ${res.status} ${JSON.stringify(res.body)}`)
  return res.body.service_id as string
}
