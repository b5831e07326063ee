import type { Address } from './address'
import { sha256, stringToBytes } from 'viem'
import { canonicalJson } from './canonical-json'

/**
 * Wallet-signed requests (the seed-003 format). Instead of an API key, a request carries five
 * headers; the signature is EIP-191 `personal_sign` by the wallet over `signedRequestMessage`.
 *
 *   X-Clearhouse-Wallet:     0x… (the agent's wallet address)
 *   X-Clearhouse-Session:    session nonce from `POST /v1/auth/session`
 *   X-Clearhouse-Request-Id: fresh for every request (1–128 of A–Z a–z 0–9 . _ : -); single use per session
 *   X-Clearhouse-Timestamp:  when the request was signed, in unix seconds (decimal, no leading zeros)
 *   X-Clearhouse-Signature:  0x… 65-byte signature
 *
 * The message is these lines joined by `\n`, in this order:
 *
 *   clearhouse-request
 *   wallet:<lowercase address>
 *   session:<session nonce>
 *   request:<request id>
 *   timestamp:<unix seconds>
 *   action:<METHOD> <path>
 *   product:<raw query string, or ->
 *   payload:<sha256 hex of the RFC 8785 canonical JSON body, or empty without a body>
 *
 * The coordinator refuses a timestamp further than its validity window (SIGNED_REQUEST_MAX_AGE_SECONDS,
 * 300 by default) from its own clock, in either direction, so a request captured and held back
 * (never delivered, or logged somewhere) stops working once the window has passed; within it,
 * the single-use request id refuses a second delivery.
 */
export const SIGNED_REQUEST_HEADERS = {
  wallet: 'x-clearhouse-wallet',
  session: 'x-clearhouse-session',
  requestId: 'x-clearhouse-request-id',
  timestamp: 'x-clearhouse-timestamp',
  signature: 'x-clearhouse-signature',
} as const

/** First line of every signed request message, so a signature for anything else never matches. */
export const SIGNED_REQUEST_DOMAIN = 'clearhouse-request'

/** Allowed request ids: short, printable, unambiguous in one line of the message. */
export const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/

/** Allowed timestamps: unix seconds in decimal without sign or leading zeros, so each has one spelling. */
export const TIMESTAMP_PATTERN = /^(0|[1-9][0-9]{0,11})$/

/** The current time in unix seconds, as `X-Clearhouse-Timestamp` and the `timestamp:` line carry it. */
export function signedRequestTimestamp(now: Date = new Date()): number {
  return Math.floor(now.getTime() / 1000)
}

export interface SignedRequestFields {
  wallet: Address
  session: string
  requestId: string
  /** When the request was signed, in unix seconds (`signedRequestTimestamp()`); the header carries the same. */
  timestamp: number
  /** `signedRequestAction(method, path)`: binds the signature to one route and resource. */
  action: string
  /** `signedRequestProduct(query)`: the raw query string, or `-` when there is none. */
  product: string
  /** `signedRequestPayloadHash(body)`: sha256 of the canonical JSON body, or `''` without a body. */
  payloadHash: string
}

/** `POST /v1/jobs/1234/award`: the method in capitals, a space, the path without the query. */
export function signedRequestAction(method: string, path: string): string {
  return `${method.toUpperCase()} ${path}`
}

/** The raw query string without `?` exactly as sent (`limit=20&tag=rust`), or `-`. */
export function signedRequestProduct(query: string | undefined): string {
  return query ? query : '-'
}

/**
 * Lowercase hex sha256 (no 0x) of the RFC 8785 canonical JSON of `body`; `''` when the request
 * sends no body bytes (even with `Content-Type: application/json`).
 */
export function signedRequestPayloadHash(body: unknown): string {
  if (body === undefined) return ''
  return sha256(stringToBytes(canonicalJson(body))).slice(2)
}

/** The exact text the wallet signs with EIP-191 personal_sign. */
export function signedRequestMessage(fields: SignedRequestFields): string {
  if (!Number.isSafeInteger(fields.timestamp) || fields.timestamp < 0) {
    throw new RangeError(`timestamp must be whole unix seconds, got ${fields.timestamp}`)
  }
  return [
    SIGNED_REQUEST_DOMAIN,
    `wallet:${fields.wallet.toLowerCase()}`,
    `session:${fields.session}`,
    `request:${fields.requestId}`,
    `timestamp:${fields.timestamp}`,
    `action:${fields.action}`,
    `product:${fields.product}`,
    `payload:${fields.payloadHash}`,
  ].join('\n')
}

/** The five headers of a wallet-signed request, by their header names. */
export type SignedRequestHeaders = Record<
  (typeof SIGNED_REQUEST_HEADERS)[keyof typeof SIGNED_REQUEST_HEADERS],
  string
>

/**
 * The five headers of a wallet-signed request for `method url` (path and raw query) with `body`
 * (undefined: no body), signed by `signMessage` (EIP-191 personal_sign of the wallet `wallet`).
 */
export async function signedRequestHeaders(request: {
  wallet: Address
  signMessage: (message: string) => Promise<string>
  session: string
  method: string
  url: string
  body?: unknown
  requestId: string
  timestamp?: number
}): Promise<SignedRequestHeaders> {
  const [path, query] = request.url.split('?') as [string, string | undefined]
  const timestamp = request.timestamp ?? signedRequestTimestamp()
  const message = signedRequestMessage({
    wallet: request.wallet,
    session: request.session,
    requestId: request.requestId,
    timestamp,
    action: signedRequestAction(request.method, path),
    product: signedRequestProduct(query || undefined),
    payloadHash: signedRequestPayloadHash(request.body),
  })
  return {
    [SIGNED_REQUEST_HEADERS.wallet]: request.wallet,
    [SIGNED_REQUEST_HEADERS.session]: request.session,
    [SIGNED_REQUEST_HEADERS.requestId]: request.requestId,
    [SIGNED_REQUEST_HEADERS.timestamp]: String(timestamp),
    [SIGNED_REQUEST_HEADERS.signature]: await request.signMessage(message),
  }
}

/**
 * Seed 003's signed-request envelope: the same wallet signature carried in the JSON body instead
 * of headers, so an agent written for that API only changes its base URL and paths. The body holds
 * these four fields beside the request's own; there is no timestamp (a session's single-use
 * request ids and its expiry bound a replay). The message is seed 003's seven lines:
 *
 *   agentpmt-external
 *   wallet:<lowercase address>
 *   session:<session nonce>
 *   request:<request id>
 *   action:<the route's seed action (job_list, job_reserve, …), else METHOD path>
 *   product:<the route's product (a job id), else ->
 *   payload:<sha256 hex of the canonical JSON of the body without these four fields>
 *
 * The first line is seed 003's, kept so its agents sign unchanged; what binds a signature to this
 * coordinator is the session nonce, which only this coordinator issues.
 */
export const SIGNED_ENVELOPE_FIELDS = ['wallet_address', 'session_nonce', 'request_id', 'signature'] as const
export type SignedEnvelope = Record<(typeof SIGNED_ENVELOPE_FIELDS)[number], string>

/** First line of a body-envelope message (seed 003's). */
export const SIGNED_ENVELOPE_DOMAIN = 'agentpmt-external'

export interface SignedEnvelopeFields {
  wallet: Address
  session: string
  requestId: string
  action: string
  product: string
  payloadHash: string
}

/** The exact text the wallet signs with EIP-191 personal_sign for a body-envelope request. */
export function signedEnvelopeMessage(fields: SignedEnvelopeFields): string {
  return [
    SIGNED_ENVELOPE_DOMAIN,
    `wallet:${fields.wallet.toLowerCase()}`,
    `session:${fields.session}`,
    `request:${fields.requestId}`,
    `action:${fields.action}`,
    `product:${fields.product}`,
    `payload:${fields.payloadHash}`,
  ].join('\n')
}

/** The body without the envelope's four fields: what its `payload:` line hashes, and what the route reads. */
export function withoutSignedEnvelope(body: Record<string, unknown>): Record<string, unknown> {
  const rest = { ...body }
  for (const field of SIGNED_ENVELOPE_FIELDS) delete rest[field]
  return rest
}

/**
 * `payload` with the envelope added, signed by `signMessage` (EIP-191 personal_sign of `wallet`)
 * for `action` and `product`: the JSON body a seed 003 agent sends.
 */
export async function signedEnvelopeBody(request: {
  wallet: Address
  signMessage: (message: string) => Promise<string>
  session: string
  requestId: string
  action: string
  product?: string
  payload?: Record<string, unknown>
}): Promise<Record<string, unknown>> {
  const payload = request.payload ?? {}
  const message = signedEnvelopeMessage({
    wallet: request.wallet,
    session: request.session,
    requestId: request.requestId,
    action: request.action,
    product: request.product ?? '-',
    payloadHash: signedRequestPayloadHash(payload),
  })
  return {
    ...payload,
    wallet_address: request.wallet,
    session_nonce: request.session,
    request_id: request.requestId,
    signature: await request.signMessage(message),
  }
}
