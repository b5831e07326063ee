import pino, { type DestinationStream, type Logger } from 'pino'
import { SIGNED_REQUEST_HEADERS } from '../protocol/signed-request'

/**
 * Request headers that carry a credential: an API key, a cookie, or what a captured wallet-signed
 * request needs to be replayed (its session nonce and signature). Header names as Node gives them.
 */
export const SECRET_HEADERS = [
  'authorization',
  'cookie',
  SIGNED_REQUEST_HEADERS.session,
  SIGNED_REQUEST_HEADERS.signature,
] as const

/**
 * The process logger; secrets are redacted wherever they might appear in a logged object:
 * pino-http's `req.headers`, and a `headers` object logged at the top level or one level down.
 * `destination` is for tests that read what was logged.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const headerPaths = ['req.headers', 'headers', '*.headers'].flatMap((prefix) =>
    SECRET_HEADERS.map((name) => `${prefix}["${name}"]`),
  )
  return pino(
    {
      level,
      redact: {
        paths: [...headerPaths, '*.privateKey', '*.apiKey', '*.api_key', 'config.COORDINATOR_PRIVATE_KEY'],
        censor: '[redacted]',
      },
    },
    destination,
  )
}

export type { Logger }
