import { randomUUID } from 'node:crypto'
import type { RequestHandler, Response } from 'express'
import { sha256, stringToBytes } from 'viem'
import { canonicalJson } from '../../protocol/canonical-json'
import { ERROR_CODES } from '../../protocol/errors'
import type { AppContext } from '../app-context'
import { describeDatabaseError } from '../db/database-errors'
import { runInTransactionScope, type TransactionScope } from '../db/pool'
import { ConflictError, ValidationError } from '../errors'
import { currentAgent } from './auth'
import {
  claimIdempotencyKey,
  completeIdempotencyKey,
  markIdempotentWorkCommitted,
  releaseIdempotencyKey,
  renewIdempotencyLease,
  selectIdempotencyRecord,
  type IdempotencyClaim,
  type IdempotencyRow,
} from './idempotency-queries'

/** How long a stored response is replayed for the same key. */
export const IDEMPOTENCY_TTL_SECONDS = 24 * 60 * 60
/** How long a claim outlives its last heartbeat when IDEMPOTENCY_LEASE_SECONDS is not given. */
export const DEFAULT_IDEMPOTENCY_LEASE_SECONDS = 30
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/

/** What "the same request" means for a key: sha256 of the canonical JSON of method, URL and body. */
export function idempotencyRequestHash(method: string, url: string, body: unknown): string {
  return sha256(stringToBytes(canonicalJson({ method, path: url, body: body ?? null }))).slice(2)
}

/**
 * `Idempotency-Key` for money-moving POSTs; mount after `requireAgent`. Without the header the
 * request runs normally. With it:
 * - first use: a claim is inserted *before* the handler runs (the primary key makes a concurrent
 *   duplicate fail to insert, so it never executes) and the 2xx response is stored before it is sent;
 * - same key, same agent, same method, path and body: the stored status and body are replayed
 *   with `Idempotent-Replayed: true`;
 * - same key, different request: 409 `idempotency_key_reused`;
 * - still running: 409 `idempotency_in_progress`, with `Retry-After`.
 *
 * A claim is a lease (IDEMPOTENCY_LEASE_SECONDS) that a heartbeat renews while the request runs,
 * so a claim whose process died or lost the database lapses instead of blocking the key for a
 * day. Every transaction the request runs is fenced: just before its COMMIT it sets the claim's
 * `work_committed` where the lease token is still its own, so once a retry has taken a lapsed
 * claim over, the old request's work can no longer commit. A retry finding a lapsed claim:
 * - nothing committed: it takes the claim over and runs the request;
 * - work committed but no response stored (a crash between the two): 409
 *   `idempotency_outcome_unrecorded`, never a second run.
 *
 * A 4xx outcome moved no money (services refuse before or inside their rolled-back transaction),
 * so its claim is dropped and the key may be retried with a corrected request. A 503
 * `database_unavailable` is dropped too, unless a COMMIT was lost with its connection (then the
 * lease decides, as above). Any other 5xx is stored and replayed like a success: the failure may
 * have come after a commit. Records live 24 hours.
 */
export function idempotent(context: AppContext): RequestHandler {
  const leaseSeconds = context.idempotencyLeaseSeconds ?? DEFAULT_IDEMPOTENCY_LEASE_SECONDS
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
      const claim: IdempotencyClaim = {
        agentId: agent.id,
        key,
        requestHash: idempotencyRequestHash(req.method, req.originalUrl, req.body),
        leaseToken: randomUUID(),
      }

      const { isClaimed, isTakeover } = await claimIdempotencyKey(
        context.pool,
        claim,
        IDEMPOTENCY_TTL_SECONDS,
        leaseSeconds,
      )
      if (!isClaimed) {
        answerFromRecord(res, claim, await selectIdempotencyRecord(context.pool, agent.id, key))
        return
      }
      if (isTakeover) {
        context.logger.info(
          { agentId: agent.id, idempotencyKey: key },
          'took over an Idempotency-Key claim whose lease lapsed with nothing committed',
        )
      }

      const heartbeat = startHeartbeat(context, claim, leaseSeconds)
      const scope: TransactionScope = {
        commitOutcomeUnknown: false,
        async beforeCommit(client) {
          if (!(await markIdempotentWorkCommitted(client, claim))) {
            throw new ConflictError(
              'idempotency_claim_lost',
              'this request took too long and a retry with the same Idempotency-Key took over; nothing this request did was kept',
            )
          }
        },
      }
      captureResponse(res, context, async (status, body) => {
        try {
          await settleClaim(context, claim, scope, status, body)
        } catch (error) {
          // The claim stays in progress and lapses with its lease; a retry then learns from
          // `work_committed` whether to run or to be told the outcome was not recorded.
          context.logger.warn(
            { idempotencyKey: key, cause: describeDatabaseError(error) },
            'could not record an idempotent outcome; its lease will decide',
          )
        } finally {
          heartbeat.stop()
        }
      })
      runInTransactionScope(scope, () => next())
    } catch (error) {
      next(error)
    }
  }
}

/** Answers a request whose key another request holds or held: replay, or a 409 saying what to do. */
function answerFromRecord(res: Response, claim: IdempotencyClaim, record: IdempotencyRow | null): void {
  if (!record) {
    // Released or expired between our insert and read: the caller may simply retry.
    res.setHeader('Retry-After', '1')
    throw new ConflictError('idempotency_in_progress', 'a request with this Idempotency-Key is in progress')
  }
  if (record.requestHash !== claim.requestHash) {
    throw new ConflictError('idempotency_key_reused', 'this Idempotency-Key was used for a different request')
  }
  if (record.state === 'completed') {
    res.setHeader('Idempotent-Replayed', 'true')
    res.status(record.responseStatus!).json(record.responseBody)
    return
  }
  if (record.leaseSecondsLeft === 0 && record.workCommitted) {
    throw new ConflictError(
      'idempotency_outcome_unrecorded',
      'the request with this Idempotency-Key took effect but its response was not recorded (the coordinator stopped in between); read the resource to see its outcome, and use a new key for a new request',
    )
  }
  // A live lease, or a lapsed one whose takeover another retry won a moment ago.
  const retryAfter = Math.max(1, record.leaseSecondsLeft)
  res.setHeader('Retry-After', String(retryAfter))
  throw new ConflictError('idempotency_in_progress', 'a request with this Idempotency-Key is in progress', {
    details: { retry_after_seconds: retryAfter },
  })
}

/** Records the request's outcome on its claim; throws only if the database could not be told. */
async function settleClaim(
  context: AppContext,
  claim: IdempotencyClaim,
  scope: TransactionScope,
  status: number,
  body: unknown,
): Promise<void> {
  const errorCode = (body as { error?: { code?: unknown } } | null)?.error?.code
  if (status === 503 && errorCode === ERROR_CODES.databaseUnavailable) {
    // Nothing to store, and nothing committed unless a COMMIT was lost mid-way: free the key for
    // the retry the 503 asks for. If the database is still away this fails and the lease lapses.
    if (!scope.commitOutcomeUnknown) await releaseIdempotencyKey(context.pool, claim)
    return
  }
  if (status >= 400 && status < 500) {
    // Dropped only if nothing committed; a refusal after committed work is an outcome to keep.
    if (await releaseIdempotencyKey(context.pool, claim)) return
  }
  if (!(await completeIdempotencyKey(context.pool, claim, status, body))) {
    context.logger.warn(
      { idempotencyKey: claim.key, status },
      'an idempotent response was not stored: a retry had taken the claim over',
    )
  }
}

/** Renews the claim's lease every third of it while the request runs; stops once it is lost. */
function startHeartbeat(
  context: AppContext,
  claim: IdempotencyClaim,
  leaseSeconds: number,
): { stop(): void } {
  let isRenewing = false
  const timer = setInterval(
    () => {
      if (isRenewing) return
      isRenewing = true
      renewIdempotencyLease(context.pool, claim, leaseSeconds)
        .then(
          (isHeld) => {
            if (isHeld) return
            clearInterval(timer)
            context.logger.warn(
              { idempotencyKey: claim.key },
              'an Idempotency-Key lease lapsed while its request ran; a retry may take it over',
            )
          },
          // The database may be away: the lease lapses and the fence keeps the work single.
          (error: unknown) =>
            context.logger.debug(
              { cause: describeDatabaseError(error) },
              'could not renew an idempotency lease',
            ),
        )
        .finally(() => (isRenewing = false))
    },
    Math.max(200, (leaseSeconds * 1000) / 3),
  )
  timer.unref()
  return { stop: () => clearInterval(timer) }
}

/**
 * Runs `store` with the status and JSON body before they are sent, so a retry that arrives after
 * the client saw the response always finds the stored copy. A response sent without `res.json`
 * (a 204, say) is stored when it finishes, with a null body. `store` must not throw: the response
 * is sent whatever it could record.
 */
function captureResponse(
  res: Response,
  context: AppContext,
  store: (status: number, body: unknown) => Promise<void>,
): void {
  const send = res.json.bind(res)
  let stored = false
  res.json = (body: unknown) => {
    if (stored) return send(body)
    stored = true
    // Sent later than Express expects: a failure to send must not become an unhandled rejection.
    void store(res.statusCode, body)
      .then(() => send(body))
      .catch((error: unknown) =>
        context.logger.error({ err: error }, 'could not send an idempotent response'),
      )
    return res
  }
  res.on('finish', () => {
    if (stored) return
    stored = true
    void store(res.statusCode, null)
  })
}
