import pino, { type Logger } from 'pino'

/** The process logger; secrets are redacted wherever they might appear in a logged object. */
export function createLogger(level: string): Logger {
  return pino({
    level,
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'headers.authorization',
        '*.privateKey',
        '*.apiKey',
        '*.api_key',
        'config.COORDINATOR_PRIVATE_KEY',
      ],
      censor: '[redacted]',
    },
  })
}

export type { Logger }
