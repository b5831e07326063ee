import { expect } from 'chai'
import type { Express } from 'express'
import request from 'supertest'
import type { AssignmentResponse, AwardResponse } from '../../../protocol/assignments'
import type { BidResponse } from '../../../protocol/bids'
import type { JobResponse } from '../../../protocol/jobs'
import { TEST_USDC } from './app'
import { bearer } from './agents'

/** A valid job body: titles and descriptions meet the seed's minimum lengths. */
export function jobBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    title: 'Security audit for the auth module',
    description:
      'Review about 500 lines of Rust for injection and timing attacks; deliver a Markdown report.',
    tags: ['security', 'rust'],
    budget_amount: '10.00',
    ...overrides,
  }
}

/** Creates a job through the API and returns it (201 expected). */
export async function postJob(
  app: Express,
  apiKey: string,
  overrides: Record<string, unknown> = {},
): Promise<JobResponse> {
  const res = await request(app)
    .post('/v1/jobs')
    .set('Authorization', bearer(apiKey))
    .send(jobBody(overrides))
  expect(res.status, JSON.stringify(res.body)).to.equal(201)
  return res.body as JobResponse
}

/** Places a bid (201 expected). */
export async function postBid(
  app: Express,
  apiKey: string,
  jobId: string,
  overrides: Record<string, unknown> = {},
): Promise<BidResponse> {
  const res = await request(app)
    .post(`/v1/jobs/${jobId}/bids`)
    .set('Authorization', bearer(apiKey))
    .send({ amount: '5.00', eta_seconds: 3600, proposal: 'I will do it well and on time.', ...overrides })
  expect(res.status, JSON.stringify(res.body)).to.equal(201)
  return res.body as BidResponse
}

/** Awards a bid (200 expected). */
export async function postAward(
  app: Express,
  apiKey: string,
  jobId: string,
  bidId: string,
): Promise<AwardResponse> {
  const res = await request(app)
    .post(`/v1/jobs/${jobId}/award`)
    .set('Authorization', bearer(apiKey))
    .send({ bid_id: bidId })
  expect(res.status, JSON.stringify(res.body)).to.equal(200)
  return res.body as AwardResponse
}

/** Submits a URL deliverable (200 expected). */
export async function postSubmit(
  app: Express,
  apiKey: string,
  jobId: string,
  deliverable = 'https://example.com/report.md',
): Promise<AssignmentResponse> {
  const res = await request(app)
    .post(`/v1/jobs/${jobId}/submit`)
    .set('Authorization', bearer(apiKey))
    .send({ deliverable })
  expect(res.status, JSON.stringify(res.body)).to.equal(200)
  return res.body as AssignmentResponse
}

/** A message on an assignment's private channel (201 expected). */
export async function postAssignmentMessage(
  app: Express,
  apiKey: string,
  assignmentId: string,
  body: string,
) {
  await request(app)
    .post(`/v1/assignments/${assignmentId}/messages`)
    .set('Authorization', bearer(apiKey))
    .send({ body })
    .expect(201)
}

/** A public message on a job (201 expected). */
export async function postJobMessage(app: Express, apiKey: string, jobId: string, body: string) {
  await request(app)
    .post(`/v1/jobs/${jobId}/messages`)
    .set('Authorization', bearer(apiKey))
    .send({ body })
    .expect(201)
}

/** The creator sends submitted work back with `message` (200 expected). */
export async function postRequestChanges(app: Express, apiKey: string, jobId: string, message: string) {
  await request(app)
    .post(`/v1/jobs/${jobId}/request-changes`)
    .set('Authorization', bearer(apiKey))
    .send({ message })
    .expect(200)
}

/** The creator accepts submitted work (200 expected). */
export async function postAccept(app: Express, apiKey: string, jobId: string) {
  await request(app)
    .post(`/v1/jobs/${jobId}/accept`)
    .set('Authorization', bearer(apiKey))
    .send({})
    .expect(200)
}

/** Available and escrowed base units of the test token for an agent, through `GET /v1/wallet/balance`. */
export async function balanceOf(
  app: Express,
  apiKey: string,
): Promise<{ available: bigint; escrow: bigint }> {
  const res = await request(app).get('/v1/wallet/balance').set('Authorization', bearer(apiKey)).expect(200)
  const row = (res.body.balances as { token_address: string; available: string; escrowed: string }[]).find(
    (balance) => balance.token_address === TEST_USDC.address,
  )!
  const units = (value: string) => {
    const [whole, fraction = ''] = value.split('.')
    return BigInt(whole!) * 10n ** 6n + BigInt(fraction.padEnd(6, '0'))
  }
  return { available: units(row.available), escrow: units(row.escrowed) }
}

/** The caller's booked payments the vault has not yet carried out (`unsettled`), in USDC base units. */
export async function unsettledOf(app: Express, apiKey: string): Promise<bigint> {
  const res = await request(app).get('/v1/wallet/balance').set('Authorization', bearer(apiKey)).expect(200)
  const row = (res.body.balances as { token_address: string; unsettled: string }[]).find(
    (balance) => balance.token_address === TEST_USDC.address,
  )!
  const [whole, fraction = ''] = row.unsettled.split('.')
  return BigInt(whole!) * 10n ** 6n + BigInt(fraction.padEnd(6, '0'))
}

/** Expects a 400 whose details name `field`. */
export function expectFieldError(res: request.Response, field: string): void {
  expect(res.status, JSON.stringify(res.body)).to.equal(400)
  const fields = (res.body.error.details?.fields ?? []) as { field: string }[]
  const named = fields.map((entry) => entry.field)
  const isNamed = named.some((name) => name === field || name.startsWith(`${field}.`))
  expect(isNamed || res.body.error.details?.field === field, `fields ${named.join(', ')}`).to.equal(true)
  expect(res.body.error.message).to.contain(field)
}
