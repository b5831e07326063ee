import { sha256, stringToBytes } from 'viem'
import { canonicalJson } from './canonical-json'

/**
 * Wallet-signed requests (the seed-003 format). Instead of an API key, a request carries four
 * headers; the signature is EIP-191 `personal_sign` by the wallet over `signedRequestMessage`.
 *
 *   X-Clearhouse-Wallet:     0x… (the agent's wallet address)
 *   X-Clearhouse-Session:    session nonce from `POST /v1/auth/session`
 *   X-Clearhouse-Request-Id: fresh for every request (1–128 of A–Z a–z 0–9 . _ : -); single use per session
 *   X-Clearhouse-Signature:  0x… 65-byte signature
 */
export const SIGNED_REQUEST_HEADERS = {
  wallet: 'x-clearhouse-wallet',
  session: 'x-clearhouse-session',
  requestId: 'x-clearhouse-request-id',
  signature: 'x-clearhouse-signature',
} as const

/** First line of every signed request message, so a signature for anything else never matches. */
export const SIGNED_REQUEST_DOMAIN = 'clearhouse-request'

/** Allowed request ids: short, printable, unambiguous in one line of the message. */
export const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/

export interface SignedRequestFields {
  wallet: `0x${string}`
  session: string
  requestId: string
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
  return [
    SIGNED_REQUEST_DOMAIN,
    `wallet:${fields.wallet.toLowerCase()}`,
    `session:${fields.session}`,
    `request:${fields.requestId}`,
    `action:${fields.action}`,
    `product:${fields.product}`,
    `payload:${fields.payloadHash}`,
  ].join('\n')
}
