import { jobBody } from '../../server/helpers/jobs'

/** What a fault test needs of a response; a request that could not complete has status 0. */
export interface ApiResponse {
  status: number
  headers: Headers
  body: Record<string, unknown> & { error?: { code: string; message: string; details: unknown } }
  /** Wall time from sending to the whole body. */
  ms: number
  /** Why a request got no response (socket closed, refused, timed out). */
  failure?: string
}

/** One request over real HTTP with `fetch`; never throws, so tests can fire many and sort them after. */
export async function api(
  baseUrl: string,
  method: string,
  path: string,
  options: { apiKey?: string; body?: unknown; idempotencyKey?: string; timeoutMs?: number } = {},
): Promise<ApiResponse> {
  const headers: Record<string, string> = {}
  if (options.apiKey) headers.authorization = `Bearer ${options.apiKey}`
  if (options.idempotencyKey) headers['idempotency-key'] = options.idempotencyKey
  if (options.body !== undefined) headers['content-type'] = 'application/json'
  const started = Date.now()
  try {
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: AbortSignal.timeout(options.timeoutMs ?? 60_000),
    })
    const text = await res.text()
    let body: ApiResponse['body'] = {}
    try {
      body = text ? JSON.parse(text) : {}
    } catch {
      body = { raw: text }
    }
    return { status: res.status, headers: res.headers, body, ms: Date.now() - started }
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause
    return {
      status: 0,
      headers: new Headers(),
      body: {},
      ms: Date.now() - started,
      failure: cause?.code ?? (error as Error).name,
    }
  }
}

/** Like `api`, but a status other than `expected` throws with the body. */
export async function apiExpect(
  expected: number,
  ...args: Parameters<typeof api>
): Promise<ApiResponse['body']> {
  const res = await api(...args)
  if (res.status !== expected) {
    throw new Error(
      `${args[1]} ${args[2]}: expected ${expected}, got ${res.status} ${JSON.stringify(res.body)}`,
    )
  }
  return res.body
}

let handles = 0

/** An open job with one pending bid, and the key of the requester who may award it. */
export interface AwardTarget {
  jobId: string
  bidId: string
  requesterKey: string
}

/** Funded requesters and a worker that has bid on each of their jobs. */
export interface PreparedAwards {
  workerKey: string
  awards: AwardTarget[]
}

async function registerAgent(baseUrl: string): Promise<string> {
  handles += 1
  const body = await apiExpect(201, baseUrl, 'POST', '/v1/agents/register', {
    body: { handle: `fault_${process.pid.toString(36)}${handles.toString(36)}`.slice(0, 20) },
  })
  return body.api_key as string
}

/**
 * Posts `count` jobs, each with one bid by the same worker. With `requesters: 'one'` one funded
 * requester posts them all, so its awards queue on its balance row; with `'each'` every job has a
 * requester of its own, so awards run side by side.
 */
export async function prepareAwards(
  baseUrl: string,
  count: number,
  options: { requesters?: 'one' | 'each' } = {},
): Promise<PreparedAwards> {
  const workerKey = await registerAgent(baseUrl)
  const fundedRequester = async (jobs: number) => {
    const key = await registerAgent(baseUrl)
    await apiExpect(200, baseUrl, 'POST', '/v1/dev/faucet', {
      apiKey: key,
      body: { amount: String(10 * jobs + 100) },
    })
    return key
  }
  const shared = options.requesters === 'each' ? null : await fundedRequester(count)
  const awards: AwardTarget[] = []
  for (let index = 0; index < count; index += 1) {
    const requesterKey = shared ?? (await fundedRequester(1))
    const job = await apiExpect(201, baseUrl, 'POST', '/v1/jobs', { apiKey: requesterKey, body: jobBody() })
    const bid = await apiExpect(201, baseUrl, 'POST', `/v1/jobs/${job.job_id as string}/bids`, {
      apiKey: workerKey,
      body: { amount: '5.00', eta_seconds: 3600, proposal: 'I will do it well and on time.' },
    })
    awards.push({ jobId: job.job_id as string, bidId: bid.bid_id as string, requesterKey })
  }
  return { workerKey, awards }
}

/** `POST /v1/jobs/:id/award` with an Idempotency-Key. */
export function award(
  baseUrl: string,
  target: AwardTarget,
  idempotencyKey: string,
  timeoutMs?: number,
): Promise<ApiResponse> {
  return api(baseUrl, 'POST', `/v1/jobs/${target.jobId}/award`, {
    apiKey: target.requesterKey,
    idempotencyKey,
    body: { bid_id: target.bidId },
    timeoutMs,
  })
}

/**
 * Retries an award until its key gives a definitive answer: anything but 503 (the database is
 * still away), 409 `idempotency_in_progress` (the claim's lease has not run out yet) or no
 * response. Throws if none comes within `withinMs`: that key is stuck.
 */
export async function settleAward(
  baseUrl: string,
  target: AwardTarget,
  idempotencyKey: string,
  withinMs: number,
): Promise<ApiResponse> {
  const deadline = Date.now() + withinMs
  for (;;) {
    const res = await award(baseUrl, target, idempotencyKey, 10_000)
    const pending =
      res.status === 0 ||
      res.status === 503 ||
      (res.status === 409 && res.body.error?.code === 'idempotency_in_progress')
    if (!pending) return res
    if (Date.now() > deadline) {
      throw new Error(`key ${idempotencyKey} is stuck: still ${res.status} ${JSON.stringify(res.body)}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

/** Polls `check` until it returns true, or throws after `timeoutMs`. */
export async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await check().catch(() => false)) return
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
