import { expect } from 'chai'
import type { Express } from 'express'
import request from 'supertest'
import { createTestApp } from '../helpers/app'
import { bearer, fundAgent, registerAgent, type RegisteredTestAgent } from '../helpers/agents'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { expectFieldError, jobBody, postAward, postBid, postJob, postSubmit } from '../helpers/jobs'

/** Values no field of any body or query expects, in every JSON shape. */
const HOSTILE_VALUES: unknown[] = [
  null,
  true,
  0,
  -1,
  -5.5,
  1e308,
  Number.MAX_SAFE_INTEGER + 2,
  '',
  ' ',
  '-5.00',
  '1e400',
  '9'.repeat(400),
  '0x',
  'nul\u0000byte',
  'lone \ud800 surrogate',
  '🚀'.repeat(50),
  'x'.repeat(60_000),
  [],
  ['a', 1, null],
  {},
  { nested: { deep: [1, 2, 3] } },
]

/** Whole bodies that are not the object a route expects. */
const HOSTILE_BODIES: unknown[] = [[], [{}], 'a string', 42, null, true]

/** Query values: repeated keys (arrays), operators, numbers out of range, control characters. */
const HOSTILE_QUERY_VALUES = [
  '',
  '-1',
  '1e400',
  '9'.repeat(400),
  'NaN',
  'nul%00byte',
  '%F0%9F%9A%80',
  '%ED%A0%80',
  'x'.repeat(2_000),
  "' OR 1=1 --",
]

interface Route {
  method: 'get' | 'post' | 'patch' | 'delete'
  /** The route as documented, for the test name. */
  route: string
  path: () => string
  caller: () => RegisteredTestAgent | null
  /** A valid body whose fields are replaced one at a time. */
  body?: () => Record<string, unknown>
  /** Query parameters the route reads. */
  query?: string[]
}

const ADDRESS = `0x${'1'.repeat(40)}`
const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000'
const SIGNATURE = `0x${'1'.repeat(130)}`
const HASH = `sha256:${'a'.repeat(64)}`
/** Long enough for every minimum length (titles 10, descriptions 50), with a NUL in the middle. */
const WITH_NUL = `A text long enough for every minimum length, with a NUL \u0000 in the middle of it.`
const LONE_SURROGATE = `A text long enough for every minimum length, with a lone \ud800 surrogate in it.`

describe('hostile input', () => {
  let database: TestDatabase
  let app: Express
  let requester: RegisteredTestAgent
  let worker: RegisteredTestAgent
  let jobId: string
  let openJobId: string
  let competitionId: string
  let bidId: string
  let assignmentId: string
  let messageId: string
  let entryId: string
  let addressId: string
  /** The worker's service without an endpoint, open to offers (sessions, instant jobs, negotiations). */
  let serviceId: string

  before(async () => {
    database = await createTestDatabase()
    const { app: bootstrap } = await createTestApp(database)
    const judge = await registerAgent(bootstrap)
    ;({ app } = await createTestApp(database, null, { platformJudgeAgentId: judge.agent.id }))
    requester = await registerAgent(app)
    worker = await registerAgent(app)
    await fundAgent(app, requester.apiKey, '1000.00')
    openJobId = (await postJob(app, requester.apiKey)).job_id
    jobId = (await postJob(app, requester.apiKey)).job_id
    bidId = (await postBid(app, worker.apiKey, jobId)).bid_id
    assignmentId = (await postAward(app, requester.apiKey, jobId, bidId)).assignment.assignment_id
    await postSubmit(app, worker.apiKey, jobId)
    messageId = (
      await request(app)
        .post(`/v1/assignments/${assignmentId}/messages`)
        .set('Authorization', bearer(worker.apiKey))
        .send({ body: 'hello' })
        .expect(201)
    ).body.message_id
    competitionId = (await postJob(app, requester.apiKey, { job_type: 'competition', budget_amount: '10' }))
      .job_id
    entryId = (
      await request(app)
        .post(`/v1/jobs/${competitionId}/entries`)
        .set('Authorization', bearer(worker.apiKey))
        .send({ deliverable: 'https://example.com/entry' })
        .expect(201)
    ).body.entry_id
    addressId = (
      await request(app)
        .post('/v1/withdrawal-addresses')
        .set('Authorization', bearer(worker.apiKey))
        .send({ address: `0x${'2'.repeat(40)}` })
        .expect(201)
    ).body.address_id
    serviceId = (
      await request(app)
        .post('/v1/agents/me/services')
        .set('Authorization', bearer(worker.apiKey))
        .send({
          name: 'Hostile input target',
          category: 'testing',
          pricing_model: 'hybrid',
          base_price: '0.5',
        })
        .expect(201)
    ).body.service_id
  })
  after(async () => {
    await database.drop()
  })

  const asRequester = () => requester
  const asWorker = () => worker
  const anonymous = () => null
  const ROUTES: Route[] = [
    {
      method: 'post',
      route: '/v1/agents/challenge',
      path: () => '/v1/agents/challenge',
      caller: anonymous,
      body: () => ({ wallet_address: ADDRESS }),
    },
    {
      method: 'post',
      route: '/v1/agents/register',
      path: () => '/v1/agents/register',
      caller: anonymous,
      body: () => ({ capabilities: { skills: ['rust'] }, tags: ['rust'], verifiable_claim: { kind: 'x' } }),
    },
    { method: 'get', route: '/v1/agents/me', path: () => '/v1/agents/me', caller: asWorker },
    {
      method: 'post',
      route: '/v1/agents/rotate-key',
      path: () => '/v1/agents/rotate-key',
      caller: anonymous,
      body: () => ({}),
    },
    {
      method: 'get',
      route: '/v1/agents',
      path: () => '/v1/agents',
      caller: anonymous,
      query: ['search', 'tag', 'sort_by', 'sort_dir', 'limit', 'offset', 'cursor'],
    },
    { method: 'get', route: '/v1/agents/{id_or_handle}', path: () => '/v1/agents/nobody', caller: anonymous },
    {
      method: 'post',
      route: '/v1/auth/session',
      path: () => '/v1/auth/session',
      caller: anonymous,
      body: () => ({ wallet_address: ADDRESS }),
    },
    {
      method: 'get',
      route: '/v1/jobs',
      path: () => '/v1/jobs',
      caller: asWorker,
      query: [
        'status',
        'creator',
        'worker',
        'tags',
        'search',
        'job_type',
        'judge',
        'sort',
        'order',
        'limit',
        'offset',
        'cursor',
      ],
    },
    {
      method: 'post',
      route: '/v1/jobs',
      path: () => '/v1/jobs',
      caller: asRequester,
      body: () => ({
        ...jobBody(),
        budget_token: 'USDC',
        deadline_seconds: 3600,
        max_slots: 1,
        dispute_agent_id: null,
        requires_verifiable: false,
        job_type: 'standard',
      }),
    },
    { method: 'get', route: '/v1/jobs/{job_id}', path: () => `/v1/jobs/${jobId}`, caller: asWorker },
    {
      method: 'patch',
      route: '/v1/jobs/{job_id}',
      path: () => `/v1/jobs/${openJobId}`,
      caller: asRequester,
      body: () => ({ title: 'A perfectly fine title', tags: ['rust'], budget_amount: '1' }),
    },
    {
      method: 'post',
      route: '/v1/jobs/{job_id}/cancel',
      path: () => `/v1/jobs/${jobId}/cancel`,
      caller: asWorker,
      body: () => ({}),
    },
    {
      method: 'get',
      route: '/v1/jobs/{job_id}/bids',
      path: () => `/v1/jobs/${jobId}/bids`,
      caller: asWorker,
      query: ['status', 'limit', 'offset'],
    },
    {
      method: 'post',
      route: '/v1/jobs/{job_id}/bids',
      path: () => `/v1/jobs/${openJobId}/bids`,
      caller: asWorker,
      body: () => ({ amount: '1', eta_seconds: 60, proposal: 'p' }),
    },
    {
      method: 'get',
      route: '/v1/agents/me/bids',
      path: () => '/v1/agents/me/bids',
      caller: asWorker,
      query: ['status', 'limit', 'offset'],
    },
    {
      method: 'get',
      route: '/v1/agents/me/jobs/bids',
      path: () => '/v1/agents/me/jobs/bids',
      caller: asRequester,
      query: ['status', 'limit', 'offset'],
    },
    {
      method: 'get',
      route: '/v1/agents/{agent_id}/bids',
      path: () => `/v1/agents/${worker.agent.id}/bids`,
      caller: anonymous,
      query: ['status', 'limit', 'offset'],
    },
    {
      method: 'get',
      route: '/v1/agents/{agent_id}/jobs/bids',
      path: () => `/v1/agents/${requester.agent.id}/jobs/bids`,
      caller: anonymous,
      query: ['status', 'limit', 'offset'],
    },
    {
      method: 'post',
      route: '/v1/jobs/{job_id}/award',
      path: () => `/v1/jobs/${jobId}/award`,
      caller: asRequester,
      body: () => ({ bid_id: bidId }),
    },
    {
      method: 'post',
      route: '/v1/jobs/{job_id}/submit',
      path: () => `/v1/jobs/${jobId}/submit`,
      caller: asWorker,
      body: () => ({ deliverable: 'https://example.com', deliverable_hash: HASH }),
    },
    {
      method: 'post',
      route: '/v1/jobs/{job_id}/request-changes',
      path: () => `/v1/jobs/${jobId}/request-changes`,
      caller: asWorker,
      body: () => ({ message: 'm' }),
    },
    {
      method: 'post',
      route: '/v1/jobs/{job_id}/accept',
      path: () => `/v1/jobs/${jobId}/accept`,
      caller: asWorker,
      body: () => ({ assignment_id: assignmentId }),
    },
    {
      method: 'get',
      route: '/v1/assignments/{assignment_id}',
      path: () => `/v1/assignments/${assignmentId}`,
      caller: asWorker,
    },
    {
      method: 'post',
      route: '/v1/assignments/{assignment_id}/request-changes',
      path: () => `/v1/assignments/${assignmentId}/request-changes`,
      caller: asWorker,
      body: () => ({ message: 'm' }),
    },
    {
      method: 'post',
      route: '/v1/assignments/{assignment_id}/escrow-signature',
      path: () => `/v1/assignments/${assignmentId}/escrow-signature`,
      caller: asRequester,
      body: () => ({ kind: 'escrow_lock', signature: SIGNATURE }),
    },
    {
      method: 'post',
      route: '/v1/assignments/{assignment_id}/messages',
      path: () => `/v1/assignments/${assignmentId}/messages`,
      caller: asWorker,
      body: () => ({ body: 'b' }),
    },
    {
      method: 'get',
      route: '/v1/assignments/{assignment_id}/messages',
      path: () => `/v1/assignments/${assignmentId}/messages`,
      caller: asWorker,
      query: ['limit', 'before'],
    },
    {
      method: 'post',
      route: '/v1/jobs/{job_id}/messages',
      path: () => `/v1/jobs/${jobId}/messages`,
      caller: asRequester,
      body: () => ({ body: 'b' }),
    },
    {
      method: 'get',
      route: '/v1/jobs/{job_id}/messages',
      path: () => `/v1/jobs/${jobId}/messages`,
      caller: asWorker,
      query: ['limit', 'before'],
    },
    {
      method: 'post',
      route: '/v1/messages/{message_id}/reactions',
      path: () => `/v1/messages/${messageId}/reactions`,
      caller: asWorker,
      body: () => ({ emoji: 'eyes' }),
    },
    {
      method: 'post',
      route: '/v1/jobs/{job_id}/entries',
      path: () => `/v1/jobs/${competitionId}/entries`,
      caller: asWorker,
      body: () => ({ deliverable: 'https://example.com', deliverable_hash: HASH }),
    },
    {
      method: 'get',
      route: '/v1/jobs/{job_id}/entries',
      path: () => `/v1/jobs/${competitionId}/entries`,
      caller: asWorker,
    },
    {
      method: 'post',
      route: '/v1/jobs/{job_id}/resolve',
      path: () => `/v1/jobs/${competitionId}/resolve`,
      caller: asWorker,
      body: () => ({ results: [{ entry_id: entryId, bps: 1 }] }),
    },
    {
      method: 'post',
      route: '/v1/jobs/{job_id}/entries/{entry_id}/escrow-signature',
      path: () => `/v1/jobs/${competitionId}/entries/${entryId}/escrow-signature`,
      caller: asRequester,
      body: () => ({ kind: 'escrow_lock', signature: SIGNATURE }),
    },
    { method: 'get', route: '/v1/wallet/balance', path: () => '/v1/wallet/balance', caller: asWorker },
    {
      method: 'get',
      route: '/v1/wallet/transactions',
      path: () => '/v1/wallet/transactions',
      caller: asWorker,
      query: ['token', 'limit', 'cursor'],
    },
    {
      method: 'post',
      route: '/v1/wallet/export-key',
      path: () => '/v1/wallet/export-key',
      caller: anonymous,
      body: () => ({}),
    },
    {
      method: 'delete',
      route: '/v1/wallet/export-key',
      path: () => '/v1/wallet/export-key',
      caller: asWorker,
      body: () => ({}),
    },
    {
      method: 'post',
      route: '/v1/dev/faucet',
      path: () => '/v1/dev/faucet',
      caller: asWorker,
      body: () => ({ amount: '1', token: 'USDC' }),
    },
    // The chain bridge's routes, on an app without a chain: validation runs before the 409.
    {
      method: 'get',
      route: '/v1/wallet/deposit_address',
      path: () => '/v1/wallet/deposit_address',
      caller: asWorker,
    },
    {
      method: 'get',
      route: '/v1/wallet/deposits',
      path: () => '/v1/wallet/deposits',
      caller: asWorker,
      query: ['status', 'token', 'limit', 'offset', 'cursor'],
    },
    {
      method: 'get',
      route: '/v1/wallet/deposits/{deposit_id}',
      path: () => `/v1/wallet/deposits/${UNKNOWN_ID}`,
      caller: asWorker,
    },
    {
      method: 'post',
      route: '/v1/wallet/withdraw',
      path: () => '/v1/wallet/withdraw',
      caller: asWorker,
      body: () => ({ amount: '1', token: 'USDC', to: ADDRESS }),
    },
    {
      method: 'get',
      route: '/v1/withdrawals',
      path: () => '/v1/withdrawals',
      caller: asWorker,
      query: ['status', 'token', 'limit', 'offset', 'cursor'],
    },
    {
      method: 'get',
      route: '/v1/withdrawals/{withdrawal_id}',
      path: () => `/v1/withdrawals/${UNKNOWN_ID}`,
      caller: asWorker,
    },
    {
      method: 'post',
      route: '/v1/withdrawals/{withdrawal_id}/signature',
      path: () => `/v1/withdrawals/${UNKNOWN_ID}/signature`,
      caller: asWorker,
      body: () => ({ signature: SIGNATURE }),
    },
    {
      method: 'post',
      route: '/v1/withdrawal-addresses',
      path: () => '/v1/withdrawal-addresses',
      caller: asWorker,
      body: () => ({ address: ADDRESS, label: 'cold wallet', is_default: true }),
    },
    {
      method: 'patch',
      route: '/v1/withdrawal-addresses/{address_id}',
      path: () => `/v1/withdrawal-addresses/${addressId}`,
      caller: asWorker,
      body: () => ({ label: 'renamed' }),
    },
    {
      method: 'post',
      route: '/v1/withdrawal-addresses/{address_id}/default',
      path: () => `/v1/withdrawal-addresses/${addressId}/default`,
      caller: asWorker,
    },
    {
      method: 'get',
      route: '/v1/platform/reconciliation',
      path: () => '/v1/platform/reconciliation',
      caller: anonymous,
    },
    // The seeds' flows (issue 18) and x402's logs (issue 19).
    {
      method: 'patch',
      route: '/v1/agents/me (profile)',
      path: () => '/v1/agents/me',
      caller: asWorker,
      body: () => ({
        description: 'Hostile input target',
        tags: ['testing'],
        capabilities: ['research'],
        endpoint_url: 'https://example.com/agent',
        base_price: '1.5',
        pricing_model: 'hybrid',
      }),
    },
    {
      method: 'post',
      route: '/v1/agents/me/services',
      path: () => '/v1/agents/me/services',
      caller: asWorker,
      body: () => ({
        name: 'Another service',
        category: 'testing',
        pricing_model: 'fixed',
        price_amount: '1',
      }),
    },
    {
      method: 'get',
      route: '/v1/wallet',
      path: () => '/v1/wallet',
      caller: asWorker,
    },
    {
      method: 'post',
      route: '/v1/wallet/deposit',
      path: () => '/v1/wallet/deposit',
      caller: asWorker,
      body: () => ({ amount: '1', token: 'USDC' }),
    },
    {
      method: 'post',
      route: '/v1/fees/calculate',
      path: () => '/v1/fees/calculate',
      caller: asWorker,
      body: () => ({ amount: '10.00', token: 'USDC', kind: 'job' }),
    },
    {
      method: 'post',
      route: '/v1/jobs/instant',
      path: () => '/v1/jobs/instant',
      caller: asRequester,
      body: () => ({
        title: 'Translate document to Spanish',
        description: 'Translate the attached document.',
        budget_amount: '1',
        service_id: serviceId,
        deadline_seconds: 3600,
      }),
    },
    {
      method: 'get',
      route: '/v1/jobs/{job_id}/instant',
      path: () => `/v1/jobs/${UNKNOWN_ID}/instant`,
      caller: asRequester,
    },
    {
      method: 'get',
      route: '/v1/jobs/{job_id}/assignments',
      path: () => `/v1/jobs/${jobId}/assignments`,
      caller: asWorker,
    },
    {
      method: 'post',
      route: '/v1/assignments/{assignment_id}/accept',
      path: () => `/v1/assignments/${UNKNOWN_ID}/accept`,
      caller: asRequester,
    },
    {
      method: 'post',
      route: '/v1/jobs/reservable',
      path: () => '/v1/jobs/reservable',
      caller: asRequester,
      body: () => ({
        title: 'Summarise the support backlog',
        description: 'Read the open support tickets and post a one-paragraph summary of them.',
        budget_amount: '1',
        private_instructions: 'Post it to ticket #12345.',
        reservation_seconds: 3600,
        auto_accept: true,
      }),
    },
    {
      method: 'post',
      route: '/v1/external/jobs/list',
      path: () => '/v1/external/jobs/list',
      caller: asWorker,
      body: () => ({ limit: 50, skip: 0 }),
    },
    {
      method: 'post',
      route: '/v1/external/jobs/{job_id}/reserve',
      path: () => `/v1/external/jobs/${UNKNOWN_ID}/reserve`,
      caller: asWorker,
      body: () => ({}),
    },
    {
      method: 'post',
      route: '/v1/external/jobs/{job_id}/complete',
      path: () => `/v1/external/jobs/${UNKNOWN_ID}/complete`,
      caller: asWorker,
      body: () => ({ reservation_id: UNKNOWN_ID, proof_text: 'Posted.', proof_hash: HASH }),
    },
    {
      method: 'post',
      route: '/v1/external/jobs/{job_id}/status',
      path: () => `/v1/external/jobs/${openJobId}/status`,
      caller: asWorker,
      body: () => ({}),
    },
    {
      method: 'post',
      route: '/v1/sessions',
      path: () => '/v1/sessions',
      caller: asRequester,
      body: () => ({ service_id: serviceId, message: 'Refactor the auth module', budget: '0.5' }),
    },
    {
      method: 'post',
      route: '/v1/sessions/{session_id}/continue',
      path: () => `/v1/sessions/${UNKNOWN_ID}/continue`,
      caller: asRequester,
      body: () => ({ message: 'Use RS256' }),
    },
    {
      method: 'post',
      route: '/v1/sessions/{session_id}/settle',
      path: () => `/v1/sessions/${UNKNOWN_ID}/settle`,
      caller: asRequester,
      body: () => ({ amount: '0.1' }),
    },
    {
      method: 'post',
      route: '/v1/sessions/{session_id}/reply',
      path: () => `/v1/sessions/${UNKNOWN_ID}/reply`,
      caller: asWorker,
      body: () => ({ message: 'Which algorithm?' }),
    },
    {
      method: 'post',
      route: '/v1/sessions/{session_id}/fail',
      path: () => `/v1/sessions/${UNKNOWN_ID}/fail`,
      caller: asWorker,
      body: () => ({ reason: 'cannot do it' }),
    },
    {
      method: 'post',
      route: '/v1/negotiations',
      path: () => '/v1/negotiations',
      caller: asRequester,
      body: () => ({
        service_id: serviceId,
        amount: '0.3',
        message: 'Would you take 0.3?',
        expires_in_seconds: 600,
      }),
    },
    {
      method: 'post',
      route: '/v1/negotiations/{negotiation_id}/counter',
      path: () => `/v1/negotiations/${UNKNOWN_ID}/counter`,
      caller: asWorker,
      body: () => ({ amount: '0.4', message: 'Meet me at 0.4', expires_in_seconds: 600 }),
    },
    {
      method: 'post',
      route: '/v1/negotiations/{negotiation_id}/accept',
      path: () => `/v1/negotiations/${UNKNOWN_ID}/accept`,
      caller: asWorker,
      body: () => ({ message: 'Deal' }),
    },
    {
      method: 'get',
      route: '/v1/negotiations',
      path: () => '/v1/negotiations',
      caller: asRequester,
      query: ['role', 'status', 'limit', 'offset'],
    },
    {
      method: 'post',
      route: '/v1/tasks (routed)',
      path: () => '/v1/tasks',
      caller: asRequester,
      body: () => ({
        capability: 'hostile-input',
        input: { text: 'Hello' },
        max_price: '1',
        payment_type: 'balance',
      }),
    },
    {
      method: 'post',
      route: '/v1/tasks (board)',
      path: () => '/v1/tasks',
      caller: asRequester,
      body: () => ({ title: 'Summarize this paper', budget: 0.5, required_capabilities: ['research'] }),
    },
    {
      method: 'get',
      route: '/v1/tasks',
      path: () => '/v1/tasks',
      caller: anonymous,
      query: ['status', 'capability', 'role', 'limit', 'offset'],
    },
    {
      method: 'post',
      route: '/v1/tasks/{task_id}/complete',
      path: () => `/v1/tasks/${UNKNOWN_ID}/complete`,
      caller: asWorker,
      body: () => ({ result: 'Here is the summary' }),
    },
    {
      method: 'post',
      route: '/v1/tasks/{task_id}/fail',
      path: () => `/v1/tasks/${UNKNOWN_ID}/fail`,
      caller: asWorker,
      body: () => ({ reason: 'cannot' }),
    },
    {
      method: 'post',
      route: '/v1/execute',
      path: () => '/v1/execute',
      caller: asRequester,
      body: () => ({ agent_id: worker.agent.id, task_description: 'Write a haiku', budget: 15 }),
    },
    {
      method: 'get',
      route: '/v1/x402/payments',
      path: () => '/v1/x402/payments',
      caller: asWorker,
      query: ['limit', 'cursor'],
    },
    {
      method: 'get',
      route: '/v1/agents/me/endpoint-payments',
      path: () => '/v1/agents/me/endpoint-payments',
      caller: asWorker,
      query: ['limit', 'cursor'],
    },
    {
      method: 'get',
      route: '/v1/x402/receipts',
      path: () => '/v1/x402/receipts',
      caller: anonymous,
      query: ['limit', 'cursor', 'service_id'],
    },
  ]

  /** Sends one request and describes it when the answer is a 5xx or a 4xx outside the error shape. */
  async function problem(
    route: Route,
    what: string,
    path: string,
    payload?: { json: unknown } | { raw: string },
  ): Promise<string | null> {
    const caller = route.caller()
    let req = request(app)[route.method](path)
    if (caller) req = req.set('Authorization', bearer(caller.apiKey))
    const res = await (payload === undefined
      ? req
      : req
          .set('Content-Type', 'application/json')
          .send('raw' in payload ? payload.raw : JSON.stringify(payload.json)))
    const shaped = typeof res.body?.error?.code === 'string' && typeof res.body?.error?.message === 'string'
    if (res.status >= 500 || (res.status >= 400 && !shaped)) {
      return `${what}: ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`
    }
    return null
  }

  for (const route of ROUTES) {
    it(`${route.method.toUpperCase()} ${route.route} answers every hostile body, field and query with a 4xx in the error shape, never a 5xx`, async () => {
      const problems: (string | null)[] = []
      const path = route.path()
      if (route.body) {
        for (const raw of [
          '{"a":',
          '{"a":1}}',
          '\u0000',
          'nul',
          '{"__proto__":{"x":1}}',
          '{"a":"\\ud800"}',
        ]) {
          problems.push(await problem(route, `raw ${JSON.stringify(raw)}`, path, { raw }))
        }
        for (const json of HOSTILE_BODIES)
          problems.push(await problem(route, `body ${JSON.stringify(json)}`, path, { json }))
        const valid = route.body()
        for (const field of Object.keys(valid)) {
          for (const value of HOSTILE_VALUES) {
            const what = `${field}=${JSON.stringify(value).slice(0, 40)}`
            problems.push(await problem(route, what, path, { json: { ...valid, [field]: value } }))
          }
        }
      }
      for (const param of route.query ?? []) {
        for (const value of HOSTILE_QUERY_VALUES) {
          problems.push(await problem(route, `?${param}=${value.slice(0, 40)}`, `${path}?${param}=${value}`))
        }
        problems.push(await problem(route, `?${param} twice`, `${path}?${param}=1&${param}=2`))
        problems.push(await problem(route, `?${param}[a]=b`, `${path}?${param}[a]=b`))
      }
      const found = problems.filter((entry) => entry !== null)
      expect(found, found.join('\n')).to.deep.equal([])
    })
  }

  it('answers 413 payload_too_large in the error shape for a body over the limit', async () => {
    const res = await request(app)
      .post('/v1/jobs')
      .set('Authorization', bearer(requester.apiKey))
      .send(jobBody({ description: 'x'.repeat(3_000_000) }))
    expect(res.status).to.equal(413)
    expect(res.body.error.code).to.be.a('string')
  })

  describe('text Postgres cannot store', () => {
    const send = (
      method: 'get' | 'post' | 'patch',
      path: string,
      caller: RegisteredTestAgent | null,
      body?: object,
    ) => {
      const req = request(app)[method](path)
      const authed = caller ? req.set('Authorization', bearer(caller.apiKey)) : req
      return body ? authed.send(body) : authed
    }

    it('answers 400 naming the field for a NUL character in any text the coordinator stores or searches', async () => {
      const awarded = await postJob(app, requester.apiKey)
      const bid = await postBid(app, worker.apiKey, awarded.job_id)
      const { assignment } = await postAward(app, requester.apiKey, awarded.job_id, bid.bid_id)
      const nul = encodeURIComponent(WITH_NUL)
      const cases: [string, () => request.Test, string][] = [
        [
          'register capabilities',
          () => send('post', '/v1/agents/register', null, { capabilities: { a: WITH_NUL } }),
          'capabilities.a',
        ],
        [
          'register claim key',
          () => send('post', '/v1/agents/register', null, { verifiable_claim: { [WITH_NUL]: 1 } }),
          'verifiable_claim',
        ],
        ['agent search', () => send('get', `/v1/agents?search=${nul}`, null), 'search'],
        [
          'agent profile',
          () => send('get', `/v1/agents/${encodeURIComponent('no\u0000body')}`, null),
          'idOrHandle',
        ],
        [
          'agent bids',
          () => send('get', `/v1/agents/${encodeURIComponent('no\u0000body')}/bids`, null),
          'agent_id',
        ],
        [
          'agent job bids',
          () => send('get', `/v1/agents/${encodeURIComponent('no\u0000body')}/jobs/bids`, null),
          'agent_id',
        ],
        ['job search', () => send('get', `/v1/jobs?search=${nul}`, null), 'search'],
        ['job title', () => send('post', '/v1/jobs', requester, jobBody({ title: WITH_NUL })), 'title'],
        [
          'job description',
          () => send('post', '/v1/jobs', requester, jobBody({ description: WITH_NUL })),
          'description',
        ],
        [
          'job update',
          () => send('patch', `/v1/jobs/${openJobId}`, requester, { description: WITH_NUL }),
          'description',
        ],
        [
          'bid proposal',
          () =>
            send('post', `/v1/jobs/${openJobId}/bids`, worker, {
              amount: '1',
              eta_seconds: 600,
              proposal: WITH_NUL,
            }),
          'proposal',
        ],
        [
          'public message',
          () => send('post', `/v1/jobs/${awarded.job_id}/messages`, requester, { body: WITH_NUL }),
          'body',
        ],
        [
          'private message',
          () =>
            send('post', `/v1/assignments/${assignment.assignment_id}/messages`, worker, { body: WITH_NUL }),
          'body',
        ],
        [
          'inline deliverable',
          () => send('post', `/v1/jobs/${awarded.job_id}/submit`, worker, { deliverable: WITH_NUL }),
          'deliverable',
        ],
        [
          'deliverable url',
          () =>
            send('post', `/v1/jobs/${awarded.job_id}/submit`, worker, {
              deliverable_url: `https://example.com/${WITH_NUL}`,
            }),
          'deliverable_url',
        ],
        [
          'competition entry',
          () => send('post', `/v1/jobs/${competitionId}/entries`, worker, { deliverable: WITH_NUL }),
          'deliverable',
        ],
      ]
      for (const [name, run, field] of cases) {
        const res = await run()
        expect(res.status, `${name}: ${JSON.stringify(res.body)}`).to.equal(400)
        expectFieldError(res, field)
      }
      await postSubmit(app, worker.apiKey, awarded.job_id)
      for (const path of [
        `/v1/jobs/${awarded.job_id}/request-changes`,
        `/v1/assignments/${assignment.assignment_id}/request-changes`,
      ]) {
        expectFieldError(await send('post', path, requester, { message: WITH_NUL }), 'message')
      }
      // Nothing was half-stored: the assignment is still the submitted one, with no feedback.
      const after = await send('get', `/v1/assignments/${assignment.assignment_id}`, worker).expect(200)
      expect(after.body.status).to.equal('submitted')
    })

    it('answers 400 naming the field for an unpaired UTF-16 surrogate, which jsonb refuses', async () => {
      for (const body of [
        { capabilities: { skills: [LONE_SURROGATE] } },
        { capabilities: { [LONE_SURROGATE]: true } },
        { verifiable_claim: { proof: LONE_SURROGATE } },
      ]) {
        const res = await send('post', '/v1/agents/register', null, body)
        expect(res.status, JSON.stringify(res.body)).to.equal(400)
        expectFieldError(res, Object.keys(body)[0]!)
      }
      expectFieldError(
        await send('post', `/v1/jobs/${openJobId}/messages`, requester, { body: LONE_SURROGATE }),
        'body',
      )
    })

    it('still stores a well-formed astral character (a surrogate pair) and NUL-free unicode unchanged', async () => {
      const text = 'Résumé review 🚀 — 日本語のテキスト, with the pair kept whole.'
      const posted = await send('post', `/v1/jobs/${openJobId}/messages`, requester, { body: text }).expect(
        201,
      )
      expect(posted.body.body).to.equal(text)
      const registered = await send('post', '/v1/agents/register', null, {
        capabilities: { motto: '🚀' },
      }).expect(201)
      const me = await send('get', '/v1/agents/me', null)
        .set('Authorization', bearer(registered.body.api_key))
        .expect(200)
      expect(me.body.capabilities).to.deep.equal({ motto: '🚀' })
    })
  })
})
