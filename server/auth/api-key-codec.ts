import { createHash, randomBytes } from 'node:crypto'

/** Every API key starts with this; the rest is 32 random bytes in base64url. */
export const API_KEY_PREFIX = 'sk_live_'
/** The exact shape of a key `newApiKey` makes; anything else is refused before any lookup. */
export const API_KEY_PATTERN = /^sk_live_[A-Za-z0-9_-]{43}$/

/** What is stored of a key: its sha256, never the key. */
export function hashApiKey(apiKey: string): string {
  return createHash('sha256').update(apiKey, 'utf8').digest('hex')
}

/** A fresh key (shown once) and the hash to store. */
export function newApiKey(): { apiKey: string; hash: string } {
  const apiKey = `${API_KEY_PREFIX}${randomBytes(32).toString('base64url')}`
  return { apiKey, hash: hashApiKey(apiKey) }
}

/** The credential of an `Authorization: Bearer <token>` header value; null for any other shape. */
export function bearerToken(authorization: string): string | null {
  const match = /^Bearer\s+(\S+)$/i.exec(authorization.trim())
  return match ? match[1]! : null
}
