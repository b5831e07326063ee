import { expect } from 'chai'
import type { Express } from 'express'
import request from 'supertest'
import { createTestApp } from '../helpers/app'
import { bearer, fundAgent, registerAgent, type RegisteredTestAgent } from '../helpers/agents'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { expectFieldError, jobBody, postAward, postBid, postJob } from '../helpers/jobs'

const CRITERIA = [
  { id: 'severity', description: 'Every finding has a severity rating (low, medium, high, critical)' },
  { id: 'repro', description: 'Every high or critical finding has reproduction steps' },
]

describe('acceptance criteria: what the creator will check, and the submission’s answers', () => {
  let database: TestDatabase
  let app: Express
  let requester: RegisteredTestAgent
  let worker: RegisteredTestAgent
  let stranger: RegisteredTestAgent

  before(async () => {
    database = await createTestDatabase()
    ;({ app } = await createTestApp(database))
    requester = await registerAgent(app)
    worker = await registerAgent(app)
    stranger = await registerAgent(app)
    await fundAgent(app, requester.apiKey, '100')
  })
  after(async () => {
    await database.drop()
  })

  async function awardedJob(): Promise<{ job_id: string }> {
    const job = await postJob(app, requester.apiKey, { acceptance_criteria: CRITERIA })
    const bid = await postBid(app, worker.apiKey, job.job_id)
    await postAward(app, requester.apiKey, job.job_id, bid.bid_id)
    return job
  }

  const submit = (jobId: string, body: Record<string, unknown>, apiKey = worker.apiKey) =>
    request(app)
      .post(`/v1/jobs/${jobId}/submit`)
      .set('Authorization', bearer(apiKey))
      .send({ deliverable: 'https://example.com/report.md', ...body })

  it('shows the criteria on the job to everyone who can see it, and none on a job without', async () => {
    const job = await postJob(app, requester.apiKey, { acceptance_criteria: CRITERIA })
    const anonymous = await request(app).get(`/v1/jobs/${job.job_id}`).expect(200)
    expect(anonymous.body.acceptance_criteria).to.deep.equal(CRITERIA)
    const listed = await request(app).get('/v1/jobs').expect(200)
    const row = listed.body.find((candidate: { job_id: string }) => candidate.job_id === job.job_id)
    expect(row.acceptance_criteria).to.deep.equal(CRITERIA)
    const plain = await postJob(app, requester.apiKey)
    expect(plain.acceptance_criteria).to.deep.equal([])
  })

  it('answers 400 naming the field for too many, repeated, malformed or empty criteria, creating nothing', async () => {
    const before = (await request(app).get('/v1/jobs').query({ creator: requester.agent.id })).body.length
    const post = (criteria: unknown) =>
      request(app)
        .post('/v1/jobs')
        .set('Authorization', bearer(requester.apiKey))
        .send(jobBody({ acceptance_criteria: criteria }))
    const many = Array.from({ length: 21 }, (_, index) => ({ id: `c${index}`, description: 'checked' }))
    expectFieldError(await post(many), 'acceptance_criteria')
    expectFieldError(await post([CRITERIA[0], CRITERIA[0]]), 'acceptance_criteria.1.id')
    expectFieldError(await post([{ id: 'has space', description: 'x' }]), 'acceptance_criteria.0.id')
    expectFieldError(await post([{ id: 'ok', description: '   ' }]), 'acceptance_criteria.0.description')
    expectFieldError(await post('severity'), 'acceptance_criteria')
    const after = (await request(app).get('/v1/jobs').query({ creator: requester.agent.id })).body.length
    expect(after).to.equal(before)
  })

  it('keeps the submission’s answers on the assignment, replaced by a resubmission', async () => {
    const job = await awardedJob()
    const first = await submit(job.job_id, {
      criteria_answers: [
        { criterion_id: 'severity', status: 'met' },
        { criterion_id: 'repro', status: 'not_met', note: 'the timing attack reproduces only on ARM' },
      ],
    }).expect(200)
    expect(first.body.criteria_answers).to.deep.equal([
      { criterion_id: 'severity', status: 'met' },
      { criterion_id: 'repro', status: 'not_met', note: 'the timing attack reproduces only on ARM' },
    ])
    const second = await submit(job.job_id, {
      criteria_answers: [{ criterion_id: 'repro', status: 'met' }],
    }).expect(200)
    expect(second.body.criteria_answers).to.deep.equal([{ criterion_id: 'repro', status: 'met' }])
    const read = await request(app)
      .get(`/v1/assignments/${second.body.assignment_id}`)
      .set('Authorization', bearer(requester.apiKey))
      .expect(200)
    expect(read.body.criteria_answers).to.deep.equal([{ criterion_id: 'repro', status: 'met' }])
  })

  it('answers 400 naming the answer for an unknown criterion, a criterion answered twice or a bad status, storing nothing', async () => {
    const job = await awardedJob()
    expectFieldError(
      await submit(job.job_id, { criteria_answers: [{ criterion_id: 'speed', status: 'met' }] }),
      'criteria_answers.0.criterion_id',
    )
    expectFieldError(
      await submit(job.job_id, {
        criteria_answers: [
          { criterion_id: 'repro', status: 'met' },
          { criterion_id: 'repro', status: 'n/a' },
        ],
      }),
      'criteria_answers.1.criterion_id',
    )
    expectFieldError(
      await submit(job.job_id, { criteria_answers: [{ criterion_id: 'repro', status: 'done' }] }),
      'criteria_answers.0.status',
    )
    const detail = await request(app)
      .get(`/v1/jobs/${job.job_id}`)
      .set('Authorization', bearer(worker.apiKey))
    expect(detail.body.my_assignments[0].status).to.equal('in_progress')
  })

  it('lets only the assigned worker answer (403 to anyone else)', async () => {
    const job = await awardedJob()
    const refused = await submit(
      job.job_id,
      { criteria_answers: [{ criterion_id: 'repro', status: 'met' }] },
      stranger.apiKey,
    ).expect(403)
    expect(refused.body.error.code).to.equal('not_assigned')
  })
})
