import { expect } from 'chai'
import type { Express } from 'express'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import request from 'supertest'
import { EventHub } from '../../../server/events/event-bus'
import { bearer, fundAgent, registerAgent } from '../helpers/agents'
import { createTestApp } from '../helpers/app'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import {
  postAccept,
  postAssignmentMessage,
  postBid,
  postJob,
  postJobMessage,
  postRequestChanges,
  postSubmit,
} from '../helpers/jobs'

interface FeedFrame {
  id: string
  event: string
  data: Record<string, unknown>
}

/** An open `GET /dashboard/events`: its raw text and the frames parsed from it. */
class FeedClient {
  text = ''
  private readonly controller = new AbortController()
  readonly ready: Promise<Response>

  constructor(url: string, headers: Record<string, string> = {}) {
    this.ready = fetch(url, { headers, signal: this.controller.signal }).then((res) => {
      void this.read(res)
      return res
    })
  }

  private async read(res: Response): Promise<void> {
    const decoder = new TextDecoder()
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>)
        this.text += decoder.decode(chunk)
    } catch {
      // aborted
    }
  }

  frames(): FeedFrame[] {
    return this.text
      .split('\n\n')
      .filter((block) => block.includes('data: '))
      .map((block) => {
        const field = (name: string) =>
          block
            .split('\n')
            .find((line) => line.startsWith(`${name}: `))
            ?.slice(name.length + 2) ?? ''
        return {
          id: field('id'),
          event: field('event'),
          data: JSON.parse(field('data')) as Record<string, unknown>,
        }
      })
  }

  async until(count: number, timeoutMs = 5_000): Promise<FeedFrame[]> {
    const deadline = Date.now() + timeoutMs
    while (this.frames().length < count) {
      if (Date.now() > deadline) throw new Error(`${this.frames().length} of ${count} frames: ${this.text}`)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    return this.frames()
  }

  close(): void {
    this.controller.abort()
  }
}

/**
 * Issue 16: `GET /dashboard/events` (seed 004 "Public Feed"), Server-Sent Events of the public
 * feed: each change as its `feed_event`, nothing private in any of them (checked against private
 * values planted in the flow), and `Last-Event-ID` resumes exactly where a client left.
 */
describe('events: the public feed over Server-Sent Events', () => {
  let database: TestDatabase
  let app: Express
  let server: Server
  let hub: EventHub
  let feedUrl: string
  const clients: FeedClient[] = []

  before(async () => {
    database = await createTestDatabase()
    const { context } = await createTestApp(database)
    hub = new EventHub(database.pool, context.logger, { pollMs: 100 })
    await hub.start()
    ;({ app } = await createTestApp(database, null, { events: hub }))
    server = app.listen(0, '127.0.0.1')
    await new Promise((resolve) => server.once('listening', resolve))
    feedUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/dashboard/events`
  })
  after(async () => {
    for (const client of clients) client.close()
    await hub?.stop()
    server?.closeAllConnections()
    server?.close()
    await database?.drop()
  })

  function open(headers: Record<string, string> = {}): FeedClient {
    const client = new FeedClient(feedUrl, headers)
    clients.push(client)
    return client
  }

  it('streams each public change as a feed_event, and nothing private (planted values never appear)', async function () {
    this.timeout(30_000)
    const feed = open()
    const res = await feed.ready
    expect(res.status).to.equal(200)
    expect(res.headers.get('content-type')).to.match(/^text\/event-stream/)

    const creator = await registerAgent(app)
    const worker = await registerAgent(app)
    const loser = await registerAgent(app)
    await fundAgent(app, creator.apiKey, '100')
    const privateValues = {
      proposal: 'PLANTED-PROPOSAL-7c1e',
      // Four decimals: a timestamp's milliseconds (`…:06.661Z`) never hold it.
      losingAmount: '6.6173',
      deliverable: 'https://planted.example/deliverable-93ab.md',
      privateMessage: 'PLANTED-PRIVATE-MESSAGE-51fd',
      feedback: 'PLANTED-FEEDBACK-0e2c',
    }
    const job = await postJob(app, creator.apiKey, { budget_amount: '10' })
    const bid = await postBid(app, worker.apiKey, job.job_id, {
      amount: '5',
      proposal: privateValues.proposal,
    })
    await postBid(app, loser.apiKey, job.job_id, {
      amount: privateValues.losingAmount,
      proposal: privateValues.proposal,
    })
    await request(app)
      .post(`/v1/jobs/${job.job_id}/award`)
      .set('Authorization', bearer(creator.apiKey))
      .send({ bid_id: bid.bid_id })
      .expect(200)
    const submitted = await postSubmit(app, worker.apiKey, job.job_id, privateValues.deliverable)
    await postAssignmentMessage(app, worker.apiKey, submitted.assignment_id, privateValues.privateMessage)
    await postRequestChanges(app, creator.apiKey, job.job_id, privateValues.feedback)
    await postSubmit(app, worker.apiKey, job.job_id, privateValues.deliverable)
    await postJobMessage(app, creator.apiKey, job.job_id, 'Public: reviewing the second version today.')
    await postAccept(app, creator.apiKey, job.job_id)

    const frames = await feed.until(8)
    expect(frames.map((frame) => frame.event)).to.deep.equal(Array(8).fill('feed_event'))
    expect(frames.map((frame) => frame.data.event_type)).to.deep.equal([
      'job_created',
      'bid_placed',
      'bid_placed',
      'job_awarded',
      'assignment_message_created',
      'changes_requested',
      'message_created',
      'job_completed',
    ])
    const ids = frames.map((frame) => BigInt(frame.id))
    expect(
      ids.every((id, index) => index === 0 || id > ids[index - 1]!),
      'ids increase',
    ).to.equal(true)
    for (const frame of frames) {
      expect(frame.data).to.include({ job_id: job.job_id, job_title: job.title })
      expect(frame.data.created_at).to.be.a('string')
    }
    expect(frames[0]!.data).to.include({ creator_account_id: creator.agent.id, budget: '10 USDC' })
    expect(frames[1]!.data).to.deep.equal({
      event_type: 'bid_placed',
      job_id: job.job_id,
      job_title: job.title,
      bidder_account_id: worker.agent.id,
      created_at: frames[1]!.data.created_at,
    })
    expect(frames[3]!.data).to.include({ worker_account_id: worker.agent.id, amount: '5 USDC' })
    expect(frames[6]!.data).to.include({ body: 'Public: reviewing the second version today.' })
    for (const [name, value] of Object.entries(privateValues)) {
      expect(feed.text, `the feed carries no ${name}`).not.to.contain(value)
    }
    for (const key of [creator.apiKey, worker.apiKey, loser.apiKey]) expect(feed.text).not.to.contain(key)
  })

  it('resumes after Last-Event-ID with exactly what followed it, then keeps following', async function () {
    this.timeout(30_000)
    const creator = await registerAgent(app)
    await fundAgent(app, creator.apiKey, '100')
    const watcher = open()
    await watcher.ready
    const first = await postJob(app, creator.apiKey)
    const second = await postJob(app, creator.apiKey)
    const third = await postJob(app, creator.apiKey)
    const seen = await watcher.until(3)
    watcher.close()

    const resumed = open({ 'Last-Event-ID': seen[0]!.id })
    await resumed.ready
    const replayed = await resumed.until(2)
    expect(replayed.map((frame) => frame.data.job_id)).to.deep.equal([second.job_id, third.job_id])
    expect(replayed.map((frame) => frame.id)).to.deep.equal([seen[1]!.id, seen[2]!.id])
    const fourth = await postJob(app, creator.apiKey)
    const followed = await resumed.until(3)
    expect(followed.map((frame) => frame.data.job_id)).to.deep.equal([
      second.job_id,
      third.job_id,
      fourth.job_id,
    ])
    expect(first.job_id).to.not.be.oneOf(followed.map((frame) => frame.data.job_id))
  })

  it('refuses a Last-Event-ID that is not an event id (400, the API’s error shape)', async () => {
    const res = await request(app).get('/dashboard/events').set('Last-Event-ID', 'yesterday').expect(400)
    expect(res.body.error.code).to.equal('validation_failed')
  })
})
