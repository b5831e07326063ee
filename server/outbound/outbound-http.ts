import dns from 'node:dns'
import http from 'node:http'
import https from 'node:https'
import { isIP, type LookupFunction } from 'node:net'
import { performance } from 'node:perf_hooks'
import {
  checkDestinationAddress,
  checkDestinationUrl,
  connectHost,
  type DestinationRefusalReason,
  type OutboundPolicy,
  type OutboundProtocol,
} from './destination-policy'

export { addressRange, checkDestinationAddress, isAllowedAddress } from './destination-policy'
export type { DestinationRefusal, DestinationRefusalReason, OutboundPolicy } from './destination-policy'

/** One JSON POST to a service provider's endpoint. */
export interface OutboundRequest {
  url: string
  /**
   * Sent as JSON; `undefined` is sent as `null`. A Buffer is sent as it is: JSON already written,
   * where the exact bytes matter (a signed webhook body).
   */
  body: unknown
  /** Extra headers; credentials, cookies and framing headers are dropped, and the JSON ones are fixed. */
  headers?: Record<string, string>
  /** Deadline for the whole exchange: every lookup, connect, redirect and the response body. */
  timeoutMs: number
  maxResponseBytes: number
  /** Redirects followed before giving up; 3 when absent. */
  maxRedirects?: number
}

export interface OutboundResponse {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: Buffer
  /** The body parsed, when the content type is JSON and it parses. */
  json: unknown | undefined
  /** From the call to the last byte of the body, redirects included. */
  durationMs: number
}

/** Base of the client's errors: `reason` says which failure, for the caller to map and for metrics. */
export abstract class OutboundHttpError<Reason extends string = string> extends Error {
  readonly reason: Reason

  constructor(reason: Reason, message: string, options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause })
    this.reason = reason
  }
}

/** The URL (scheme, credentials, host) or an address it resolved to is not a destination the policy allows. */
export class ForbiddenDestinationError extends OutboundHttpError<DestinationRefusalReason> {
  override name = 'ForbiddenDestinationError'
  /** The refused URL's host, or the name whose resolution was refused. */
  readonly host: string

  constructor(reason: DestinationRefusalReason, message: string, host: string) {
    super(reason, message)
    this.host = host
  }
}

/** The whole exchange, connect to last byte across redirects, took longer than `timeoutMs`. */
export class UpstreamTimeoutError extends OutboundHttpError<'timeout'> {
  override name = 'UpstreamTimeoutError'
  readonly timeoutMs: number

  constructor(timeoutMs: number) {
    super('timeout', `upstream did not answer within ${timeoutMs} ms`)
    this.timeoutMs = timeoutMs
  }
}

/** The response body is, or announced it would be, larger than `maxResponseBytes`. */
export class UpstreamResponseTooLargeError extends OutboundHttpError<'content_length' | 'body'> {
  override name = 'UpstreamResponseTooLargeError'
  readonly maxResponseBytes: number

  constructor(reason: 'content_length' | 'body', maxResponseBytes: number) {
    super(
      reason,
      reason === 'content_length'
        ? `upstream announced a body over ${maxResponseBytes} bytes`
        : `upstream sent a body over ${maxResponseBytes} bytes`,
    )
    this.maxResponseBytes = maxResponseBytes
  }
}

export type UpstreamFailureReason =
  | 'dns_failed'
  | 'connection_failed'
  | 'tls_failed'
  | 'response_aborted'
  | 'bad_redirect'
  | 'too_many_redirects'

/** The upstream could not be reached or misbehaved: refused or reset connection, TLS, bad or endless redirects. */
export class UpstreamFailedError extends OutboundHttpError<UpstreamFailureReason> {
  override name = 'UpstreamFailedError'
}

const DEFAULT_MAX_REDIRECTS = 3
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308])

/**
 * Idle pooled sockets are dropped after this long. Node servers close idle keep-alive connections
 * after 5 s by default; letting go first keeps a POST from being written onto a socket the server is
 * closing, which would fail a call that cannot safely be retried. A shorter `Keep-Alive: timeout=`
 * hint from the server wins.
 */
const IDLE_SOCKET_TIMEOUT_MS = 4_000

/**
 * Caller headers never sent: credentials and cookies must not reach a provider, and framing or
 * routing headers are the client's to set (a caller `host` or `content-length` could smuggle a
 * second request or a different virtual host).
 */
const DROPPED_HEADERS = new Set([
  'authorization',
  'proxy-authorization',
  'cookie',
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'proxy-connection',
  'upgrade',
  'te',
  'trailer',
  'expect',
])

const FIXED_HEADERS = { accept: 'application/json', 'user-agent': 'clearhouse-invoke-proxy' }

type Method = 'POST' | 'GET'

interface Exchange {
  request: http.ClientRequest
  response: http.IncomingMessage
}

/**
 * The SSRF-safe HTTP client the invoke proxy calls providers with. Every destination, the first and
 * each redirect target, passes the policy twice: on its URL before connecting, and on every address
 * its name resolves to inside the agents' `lookup`, which is the address the socket then connects to,
 * so a name cannot be re-pointed (DNS rebinding) between the check and the connect. Sockets are kept
 * alive and reused; a pooled socket was checked when it connected.
 */
export class OutboundHttpClient {
  private readonly policy: OutboundPolicy
  private readonly httpAgent: http.Agent
  private readonly httpsAgent: https.Agent
  private isClosed = false

  constructor(policy: OutboundPolicy, options: { lookup?: LookupFunction } = {}) {
    this.policy = policy
    const resolve = options.lookup ?? (dns.lookup as LookupFunction)
    const agentOptions = { keepAlive: true, scheduling: 'lifo' as const, timeout: IDLE_SOCKET_TIMEOUT_MS }
    this.httpAgent = new http.Agent({ ...agentOptions, lookup: guardLookup(resolve, policy, 'http:') })
    this.httpsAgent = new https.Agent({ ...agentOptions, lookup: guardLookup(resolve, policy, 'https:') })
  }

  /** POSTs `request.body` as JSON and reads the whole response, following redirects the policy allows. */
  async post(request: OutboundRequest): Promise<OutboundResponse> {
    if (this.isClosed) throw new Error('OutboundHttpClient is closed')
    const startedAt = performance.now()
    const deadline = new AbortController()
    const timer = setTimeout(
      () => deadline.abort(new UpstreamTimeoutError(request.timeoutMs)),
      request.timeoutMs,
    )
    try {
      return await this.exchangeFollowingRedirects(request, deadline.signal, startedAt)
    } finally {
      clearTimeout(timer)
    }
  }

  /** Destroys the pooled sockets; in-flight calls fail. */
  close(): void {
    this.isClosed = true
    this.httpAgent.destroy()
    this.httpsAgent.destroy()
  }

  private async exchangeFollowingRedirects(
    request: OutboundRequest,
    signal: AbortSignal,
    startedAt: number,
  ): Promise<OutboundResponse> {
    const maxRedirects = request.maxRedirects ?? DEFAULT_MAX_REDIRECTS
    let url = this.allowedUrl(parseUrl(request.url))
    let method: Method = 'POST'
    let body: Buffer | undefined = Buffer.isBuffer(request.body)
      ? request.body
      : Buffer.from(JSON.stringify(request.body) ?? 'null')
    let callerHeaders = withoutDroppedHeaders(request.headers)

    for (let redirectCount = 0; ; redirectCount++) {
      const exchange = await this.send(url, method, body, callerHeaders, signal)
      const status = exchange.response.statusCode ?? 0
      const location = exchange.response.headers.location
      if (!REDIRECT_STATUSES.has(status) || location === undefined) {
        const responseBody = await readBody(exchange, request.maxResponseBytes, signal)
        return {
          status,
          headers: exchange.response.headers,
          body: responseBody,
          json: parseJsonBody(exchange.response.headers['content-type'], responseBody),
          durationMs: performance.now() - startedAt,
        }
      }

      // A redirect's body is never read: dropping its socket is cheaper and safer than draining a
      // body of any length, and redirects are off the hot path.
      exchange.request.destroy()
      if (redirectCount >= maxRedirects) {
        throw new UpstreamFailedError(
          'too_many_redirects',
          `more than ${maxRedirects} redirects from ${url.host}`,
        )
      }
      const target = this.allowedUrl(redirectTarget(location, url))
      // As browsers do: 303 always, and 301/302 after a POST, become a GET without body; 307/308 repeat the POST.
      if (status === 303 || ((status === 301 || status === 302) && method === 'POST')) {
        method = 'GET'
        body = undefined
      }
      // Headers the caller meant for this provider are not handed to whatever origin it points at.
      if (target.origin !== url.origin) callerHeaders = {}
      url = target
    }
  }

  private allowedUrl(url: URL): URL {
    const refusal = checkDestinationUrl(url, this.policy)
    if (refusal !== undefined) throw new ForbiddenDestinationError(refusal.reason, refusal.message, url.host)
    return url
  }

  private send(
    url: URL,
    method: Method,
    body: Buffer | undefined,
    callerHeaders: Record<string, string>,
    signal: AbortSignal,
  ): Promise<Exchange> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason)
      const isHttps = url.protocol === 'https:'
      const headers: Record<string, string | number> = { ...callerHeaders, ...FIXED_HEADERS }
      if (body !== undefined) {
        headers['content-type'] = 'application/json'
        headers['content-length'] = body.length
      }
      const request = (isHttps ? https : http).request({
        protocol: url.protocol,
        hostname: connectHost(url),
        port: url.port === '' ? undefined : Number(url.port),
        path: url.pathname + url.search,
        method,
        headers,
        agent: isHttps ? this.httpsAgent : this.httpAgent,
      })
      const onAbort = (): void => {
        request.destroy()
        reject(signal.reason)
      }
      signal.addEventListener('abort', onAbort, { once: true })
      request.on('response', (response) => {
        signal.removeEventListener('abort', onAbort)
        resolve({ request, response })
      })
      // Stays attached after the response: a late socket error must not become an uncaught 'error'.
      request.on('error', (error) => {
        signal.removeEventListener('abort', onAbort)
        reject(toOutboundError(error, signal))
      })
      request.end(body)
    })
  }
}

/** Reads the body up to `maxBytes`, refusing (and destroying the socket) as soon as it is known to be larger. */
function readBody({ request, response }: Exchange, maxBytes: number, signal: AbortSignal): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    if (Number(response.headers['content-length']) > maxBytes) {
      request.destroy()
      return reject(new UpstreamResponseTooLargeError('content_length', maxBytes))
    }
    const chunks: Buffer[] = []
    let receivedBytes = 0
    let isSettled = false
    const settle = (error: unknown, body?: Buffer): void => {
      if (isSettled) return
      isSettled = true
      signal.removeEventListener('abort', onAbort)
      if (error === undefined) return resolve(body as Buffer)
      request.destroy()
      reject(error)
    }
    const onAbort = (): void => settle(signal.reason)
    if (signal.aborted) return onAbort()
    signal.addEventListener('abort', onAbort, { once: true })

    response.on('data', (chunk: Buffer) => {
      receivedBytes += chunk.length
      if (receivedBytes > maxBytes) return settle(new UpstreamResponseTooLargeError('body', maxBytes))
      chunks.push(chunk)
    })
    response.on('end', () => settle(undefined, Buffer.concat(chunks, receivedBytes)))
    response.on('error', (error) => settle(toOutboundError(error, signal)))
    response.on('close', () => {
      if (!response.complete) {
        settle(new UpstreamFailedError('response_aborted', 'upstream closed the connection mid-response'))
      }
    })
  })
}

/**
 * Wraps a resolver so a name connects only if every address it resolves to is allowed: refusing on
 * any bad address, not just the first, keeps Happy Eyeballs (which tries them all) from reaching it.
 */
function guardLookup(
  resolve: LookupFunction,
  policy: OutboundPolicy,
  protocol: OutboundProtocol,
): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname, { ...options, all: true }, (error, resolved, resolvedFamily) => {
      if (error) return callback(error, '')
      const addresses =
        typeof resolved === 'string'
          ? [{ address: resolved, family: resolvedFamily ?? isIP(resolved) }]
          : resolved
      if (addresses.length === 0) {
        const notFound: NodeJS.ErrnoException = new Error(`${hostname} resolved to no address`)
        notFound.code = 'ENOTFOUND'
        return callback(notFound, '')
      }
      for (const { address } of addresses) {
        const refusal = checkDestinationAddress(address, policy, protocol)
        if (refusal !== undefined) {
          return callback(
            new ForbiddenDestinationError(refusal.reason, `${hostname}: ${refusal.message}`, hostname),
            '',
          )
        }
      }
      if (options.all) return callback(null, addresses)
      callback(null, addresses[0].address, addresses[0].family)
    })
  }
}

function parseUrl(text: string): URL {
  try {
    return new URL(text)
  } catch {
    throw new ForbiddenDestinationError('invalid_url', 'destination is not an absolute URL', '')
  }
}

function redirectTarget(location: string, from: URL): URL {
  try {
    return new URL(location, from)
  } catch (error) {
    throw new UpstreamFailedError('bad_redirect', `${from.host} redirected to an invalid URL`, {
      cause: error,
    })
  }
}

function withoutDroppedHeaders(headers: Record<string, string> | undefined): Record<string, string> {
  const kept: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers ?? {})) {
    const lowerName = name.toLowerCase()
    if (!DROPPED_HEADERS.has(lowerName)) kept[lowerName] = value
  }
  return kept
}

const JSON_CONTENT_TYPE = /^\s*application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i

function parseJsonBody(contentType: string | undefined, body: Buffer): unknown | undefined {
  if (contentType === undefined || !JSON_CONTENT_TYPE.test(contentType) || body.length === 0) return undefined
  try {
    return JSON.parse(body.toString('utf8'))
  } catch {
    return undefined
  }
}

const DNS_FAILURE_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NODATA', 'EAI_NONAME'])

/** Names a socket-level failure; once the deadline has passed, every failure is the timeout. */
function toOutboundError(error: Error, signal: AbortSignal): Error {
  if (signal.aborted) return signal.reason as Error
  if (error instanceof OutboundHttpError) return error
  const code = (error as NodeJS.ErrnoException).code ?? ''
  if (DNS_FAILURE_CODES.has(code)) {
    return new UpstreamFailedError('dns_failed', `lookup failed: ${error.message}`, { cause: error })
  }
  if (isTlsFailure(code)) {
    return new UpstreamFailedError('tls_failed', `TLS failed: ${error.message}`, { cause: error })
  }
  return new UpstreamFailedError('connection_failed', `connection failed: ${error.message}`, { cause: error })
}

/** Node reports TLS failures under OpenSSL's certificate codes, `ERR_TLS_*`/`ERR_SSL_*`, or `EPROTO`. */
function isTlsFailure(code: string): boolean {
  return (
    code.startsWith('ERR_TLS_') ||
    code.startsWith('ERR_SSL_') ||
    code === 'EPROTO' ||
    code.includes('CERT') ||
    code.includes('SELF_SIGNED') ||
    code.startsWith('UNABLE_TO_')
  )
}
