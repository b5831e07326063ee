import { expect } from 'chai'
import type { Express } from 'express'
import request from 'supertest'
import { messageResponse, REACTION_EMOJIS, type MessageResponse } from '../../../protocol/messages'
import { createTestApp } from '../helpers/app'
import { bearer, fundAgent, registerAgent, type RegisteredTestAgent } from '../helpers/agents'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { expectFieldError, postAward, postBid, postJob } from '../helpers/jobs'

describe('messages', () => {
  let database: TestDatabase
  let app: Express
  let requester: RegisteredTestAgent
  let worker: RegisteredTestAgent
  let resolver: RegisteredTestAgent
  let stranger: RegisteredTestAgent
  let jobId: string
  let assignmentId: string

  before(async () => {
    database = await createTestDatabase()
    ;({ app } = await createTestApp(database))
    requester = await registerAgent(app)
    worker = await registerAgent(app)
    resolver = await registerAgent(app)
    stranger = await registerAgent(app)
    await fundAgent(app, requester.apiKey, '100.00')
    const job = await postJob(app, requester.apiKey, { dispute_agent_id: resolver.agent.id })
    jobId = job.job_id
    const bid = await postBid(app, worker.apiKey, jobId)
    assignmentId = (await postAward(app, requester.apiKey, jobId, bid.bid_id)).assignment.assignment_id
  })
  after(async () => {
    await database.drop()
  })

  const post = (path: string, agent: RegisteredTestAgent | null, body: unknown) => {
    const req = request(app).post(path)
    return (agent ? req.set('Authorization', bearer(agent.apiKey)) : req).send(body as object)
  }
  const get = (path: string, agent: RegisteredTestAgent | null) => {
    const req = request(app).get(path)
    return agent ? req.set('Authorization', bearer(agent.apiKey)) : req
  }

  describe('assignment messages (private)', () => {
    const path = () => `/v1/assignments/${assignmentId}/messages`

    it('lets the worker and the creator talk, and the resolver read and write, oldest first', async () => {
      const sent = await post(path(), worker, { body: 'Here is the draft for review.' }).expect(201)
      const message = messageResponse.parse(sent.body)
      expect(message).to.include({
        assignment_id: assignmentId,
        job_id: jobId,
        sender_agent_id: worker.agent.id,
        kind: 'text',
        body: 'Here is the draft for review.',
      })
      await post(path(), requester, { body: 'Looks good so far.' }).expect(201)
      await post(path(), resolver, { body: 'Noted.' }).expect(201)
      for (const agent of [requester, worker, resolver]) {
        const res = await get(path(), agent).expect(200)
        expect(res.body.map((row: MessageResponse) => row.body)).to.deep.equal([
          'Here is the draft for review.',
          'Looks good so far.',
          'Noted.',
        ])
      }
    })

    it('answers 404 to anyone else, 401 without credentials', async () => {
      await post(path(), stranger, { body: 'let me in' }).expect(404)
      const res = await get(path(), stranger)
      expect(res.status).to.equal(404)
      expect(res.body.error.code).to.equal('assignment_not_found')
      await get(path(), null).expect(401)
      await post(path(), null, { body: 'x' }).expect(401)
    })

    it('answers 400 naming the field for an empty body, an oversize body and a malformed id', async () => {
      expectFieldError(await post(path(), worker, { body: '  ' }), 'body')
      expectFieldError(await post(path(), worker, { body: 'x'.repeat(10_001) }), 'body')
      expectFieldError(await get('/v1/assignments/abc/messages', worker), 'assignment_id')
      expectFieldError(await get(`${path()}?limit=0`, worker), 'limit')
    })

    it('answers 404 to the worker of another slot on the same job, which is not a participant', async () => {
      const job = await postJob(app, requester.apiKey, { max_slots: 2 })
      const first = await postBid(app, worker.apiKey, job.job_id)
      const second = await postBid(app, stranger.apiKey, job.job_id)
      const mine = (await postAward(app, requester.apiKey, job.job_id, first.bid_id)).assignment
      await postAward(app, requester.apiKey, job.job_id, second.bid_id)
      const secret = `/v1/assignments/${mine.assignment_id}/messages`
      await post(secret, worker, { body: 'for the requester only' }).expect(201)
      await get(secret, stranger).expect(404)
      await post(secret, stranger, { body: 'let me in' }).expect(404)
      // The resolver of another job is not a resolver here either.
      await get(secret, resolver).expect(404)
    })

    it('pages back with before and limit', async () => {
      for (let i = 0; i < 5; i += 1) await post(path(), worker, { body: `page message ${i}` }).expect(201)
      const newest = await get(`${path()}?limit=2`, worker).expect(200)
      expect(newest.body.map((row: MessageResponse) => row.body)).to.deep.equal([
        'page message 3',
        'page message 4',
      ])
      const older = await get(`${path()}?limit=2&before=${newest.body[0].message_id}`, worker).expect(200)
      expect(older.body.map((row: MessageResponse) => row.body)).to.deep.equal([
        'page message 1',
        'page message 2',
      ])
    })
  })

  describe('job messages (public)', () => {
    const path = () => `/v1/jobs/${jobId}/messages`

    it('lets the creator post and any authenticated agent read', async () => {
      await post(path(), requester, { body: 'Work is progressing well.' }).expect(201)
      for (const agent of [worker, stranger]) {
        const res = await get(path(), agent).expect(200)
        expect(res.body.map((row: MessageResponse) => row.body)).to.deep.equal(['Work is progressing well.'])
        expect(res.body[0]).to.include({ assignment_id: null, sender_agent_id: requester.agent.id })
      }
    })

    it('answers 403 to a worker posting, 401 to an anonymous reader, 404 for a job that does not exist', async () => {
      const res = await post(path(), worker, { body: 'Can I post here?' })
      expect(res.status).to.equal(403)
      expect(res.body.error.code).to.equal('not_job_creator')
      await get(path(), null).expect(401)
      await get('/v1/jobs/00000000-0000-4000-8000-000000000000/messages', worker).expect(404)
    })

    it('answers 400 naming the field for an empty, oversize or non-string body and a malformed query', async () => {
      expectFieldError(await post(path(), requester, {}), 'body')
      expectFieldError(await post(path(), requester, { body: '' }), 'body')
      expectFieldError(await post(path(), requester, { body: 'x'.repeat(10_001) }), 'body')
      expectFieldError(await post(path(), requester, { body: { text: 'hi' } }), 'body')
      expectFieldError(await get(`${path()}?limit=101`, worker), 'limit')
      expectFieldError(await get(`${path()}?before=yesterday`, worker), 'before')
      await post(path(), null, { body: 'anonymous' }).expect(401)
    })

    it('hides the public messages of a job closed after work from outsiders, and their reactions too', async () => {
      const job = await postJob(app, requester.apiKey)
      const bid = await postBid(app, worker.apiKey, job.job_id)
      await postAward(app, requester.apiKey, job.job_id, bid.bid_id)
      const message = (await post(`/v1/jobs/${job.job_id}/messages`, requester, { body: 'Wrapping up.' }))
        .body
      await database.pool.query(
        "UPDATE jobs SET status = 'closed', closed_reason = 'resolved' WHERE id = $1",
        [job.job_id],
      )
      await get(`/v1/jobs/${job.job_id}/messages`, worker).expect(200)
      await get(`/v1/jobs/${job.job_id}/messages`, stranger).expect(404)
      await post(`/v1/messages/${message.message_id}/reactions`, stranger, { emoji: 'eyes' }).expect(404)
      await post(`/v1/messages/${message.message_id}/reactions`, worker, { emoji: 'eyes' }).expect(200)
      await post(`/v1/jobs/${job.job_id}/messages`, stranger, { body: 'hello?' }).expect(404)
    })

    it("hides a cancelled job's messages from everyone but its creator", async () => {
      const job = await postJob(app, requester.apiKey)
      await post(`/v1/jobs/${job.job_id}/messages`, requester, { body: 'Budget raised!' }).expect(201)
      await post(`/v1/jobs/${job.job_id}/cancel`, requester, {}).expect(200)
      await get(`/v1/jobs/${job.job_id}/messages`, requester).expect(200)
      await get(`/v1/jobs/${job.job_id}/messages`, stranger).expect(404)
    })

    it('keeps private messages out of the public channel', async () => {
      const res = await get(path(), requester).expect(200)
      expect(res.body.every((row: MessageResponse) => row.assignment_id === null)).to.equal(true)
    })
  })

  describe('POST /v1/messages/{message_id}/reactions', () => {
    it('toggles a reaction and reports counts with the viewer’s own reactions', async () => {
      const message = (
        await post(`/v1/jobs/${jobId}/messages`, requester, { body: 'React to me' }).expect(201)
      ).body
      const path = `/v1/messages/${message.message_id}/reactions`
      const added = await post(path, worker, { emoji: 'thumbs_up' }).expect(200)
      expect(added.body).to.deep.equal({
        action: 'added',
        emoji: 'thumbs_up',
        message_id: message.message_id,
      })
      await post(path, stranger, { emoji: 'thumbs_up' }).expect(200)
      await post(path, stranger, { emoji: 'rocket' }).expect(200)

      const read = async (agent: RegisteredTestAgent) =>
        ((await get(`/v1/jobs/${jobId}/messages`, agent).expect(200)).body as MessageResponse[]).find(
          (row) => row.message_id === message.message_id,
        )!
      const seenByWorker = await read(worker)
      expect(seenByWorker.reactions).to.deep.equal([
        { emoji: 'thumbs_up', unicode: REACTION_EMOJIS.thumbs_up, count: 2 },
        { emoji: 'rocket', unicode: REACTION_EMOJIS.rocket, count: 1 },
      ])
      expect(seenByWorker.viewer_reactions).to.deep.equal(['thumbs_up'])

      const removed = await post(path, worker, { emoji: 'thumbs_up' }).expect(200)
      expect(removed.body.action).to.equal('removed')
      const seenByStranger = await read(stranger)
      expect(seenByStranger.reactions[0]).to.include({ emoji: 'thumbs_up', count: 1 })
      expect(seenByStranger.viewer_reactions.sort()).to.deep.equal(['rocket', 'thumbs_up'])
    })

    it('answers 400 naming emoji for one outside the set, 404 on a private message to an outsider', async () => {
      const message = (
        await post(`/v1/assignments/${assignmentId}/messages`, worker, { body: 'private' }).expect(201)
      ).body
      const path = `/v1/messages/${message.message_id}/reactions`
      expectFieldError(await post(path, requester, { emoji: 'smile' }), 'emoji')
      await post(path, stranger, { emoji: 'eyes' }).expect(404)
      await post(path, resolver, { emoji: 'eyes' }).expect(200)
      await post('/v1/messages/00000000-0000-4000-8000-000000000000/reactions', worker, {
        emoji: 'eyes',
      }).expect(404)
      await post(path, null, { emoji: 'eyes' }).expect(401)
    })
  })
})
