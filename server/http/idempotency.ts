import type { RequestHandler, Response } from 'express'
import { sha256, stringToBytes } from 'viem'
import { canonicalJson } from '../../protocol/canonical-json'
import type { AppContext } from '../app-context'
import { ConflictError, ValidationError } from '../errors'
import { currentAgent } from './auth'
import {
  claimIdempotencyKey,
  completeIdempotencyKey,
  releaseIdempotencyKey,
  selectIdempotencyRecord,
} from './idempotency-queries'

/** How long a stored response is replayed for the same key. */
export const IDEMPOTENCY_TTL_SECONDS = 24 * 60 * 60
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/

/** What "the same request" means for a key: sha256 of the canonical JSON of method, URL and body. */
export function idempotencyRequestHash(method: string, url: string, body: unknown): string {
  return sha256(stringToBytes(canonicalJson({ method, path: url, body: body ?? null }))).slice(2)
}

/**
 * `Idempotency-Key` for money-moving POSTs; mount after `requireAgent`. Without the header the
 * request runs normally. With it:
 * - first use: a record is inserted *before* the handler runs (the primary key makes a concurrent
 *   duplicate fail to insert, so it never executes) and the 2xx response is stored before it is sent;
 * - same key, same agent, same method, path and body: the stored status and body are replayed
 *   with `Idempotent-Replayed: true`;
 * - same key, different request: 409 `idempotency_key_reused`;
 * - still running: 409 `idempotency_in_progress`.
 * A 4xx outcome moved no money (services refuse before or inside their rolled-back transaction),
 * so its record is dropped and the key may be retried with a corrected request. A 5xx is stored
 * and replayed like a success: the failure may have come after a commit, and running the request
 * again could move money twice. Records live 24 hours.
 */
export function idempotent(context: AppContext): RequestHandler {
  return async (req, res, next) => {
    try {
      const key = req.headers['idempotency-key']
      if (key === undefined) return next()
      if (typeof key !== 'string' || !KEY_PATTERN.test(key)) {
        throw new ValidationError(
          'validation_failed',
          'header Idempotency-Key: must be 1-255 printable characters',
          {
            details: {
              where: 'headers',
              fields: [{ field: 'Idempotency-Key', message: 'must be 1-255 printable characters' }],
            },
          },
        )
      }
      const agent = currentAgent(res)
      const requestHash = idempotencyRequestHash(req.method, req.originalUrl, req.body)

      if (!(await claimIdempotencyKey(context.pool, agent.id, key, requestHash, IDEMPOTENCY_TTL_SECONDS))) {
        const record = await selectIdempotencyRecord(context.pool, agent.id, key)
        if (!record) {
          // Released or expired between our insert and read: the caller may simply retry.
          throw new ConflictError(
            'idempotency_in_progress',
            'a request with this Idempotency-Key is in progress',
          )
        }
        if (record.requestHash !== requestHash) {
          throw new ConflictError(
            'idempotency_key_reused',
            'this Idempotency-Key was used for a different request',
          )
        }
        if (record.state === 'in_progress') {
          throw new ConflictError(
            'idempotency_in_progress',
            'a request with this Idempotency-Key is in progress',
          )
        }
        res.setHeader('Idempotent-Replayed', 'true')
        res.status(record.responseStatus!).json(record.responseBody)
        return
      }

      captureResponse(res, async (status, body) => {
        try {
          if (status >= 400 && status < 500) await releaseIdempotencyKey(context.pool, agent.id, key)
          else await completeIdempotencyKey(context.pool, agent.id, key, status, body)
        } catch (error) {
          // The key stays in progress: a retry gets 409 rather than a second execution.
          context.logger.error({ err: error }, 'could not store an idempotent response')
          throw error
        }
      })
      next()
    } catch (error) {
      next(error)
    }
  }
}

/**
 * Runs `store` with the status and JSON body before they are sent, so a retry that arrives after
 * the client saw the response always finds the stored copy. A response sent without `res.json`
 * (a 204, say) is stored when it finishes, with a null body.
 */
function captureResponse(res: Response, store: (status: number, body: unknown) => Promise<void>): void {
  const send = res.json.bind(res)
  let stored = false
  res.json = (body: unknown) => {
    if (stored) return send(body)
    stored = true
    store(res.statusCode, body).then(
      () => send(body),
      () => {
        res.status(500)
        send({ error: { code: 'internal_error', message: 'internal error', details: null } })
      },
    )
    return res
  }
  res.on('finish', () => {
    if (stored) return
    stored = true
    store(res.statusCode, null).catch(() => undefined)
  })
}
