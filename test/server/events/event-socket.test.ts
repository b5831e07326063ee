import { expect } from 'chai'
import type { Express } from 'express'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import request from 'supertest'
import WebSocket from 'ws'
import type { AppContext } from '../../../server/app-context'
import { EventHub, publishEvent } from '../../../server/events/event-bus'
import { attachEventSocket, type EventSocketOptions } from '../../../server/events/event-socket'
import { bearer, fundAgent, registerAgent, type RegisteredTestAgent } from '../helpers/agents'
import { createTestApp } from '../helpers/app'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { postBid, postJob, postSubmit } from '../helpers/jobs'

/** One coordinator: an app, its HTTP server, its event hub and its WebSocket endpoint. */
interface Replica {
  app: Express
  url: string
  stop(): Promise<void>
}

interface EventMessage {
  msg_type: string
  event_type?: string
  data?: Record<string, unknown>
  status?: string
}

/** A WebSocket client that collects what it is sent and how it was closed. */
class TestSocket {
  readonly messages: EventMessage[] = []
  readonly closed: Promise<{ code: number; reason: string }>
  readonly opened: Promise<void>

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => this.messages.push(JSON.parse(data.toString()) as EventMessage))
    this.closed = new Promise((resolve) =>
      ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    )
    this.opened = new Promise((resolve, reject) => {
      ws.once('open', () => resolve())
      ws.once('error', reject)
    })
  }

  events(type?: string): EventMessage[] {
    return this.messages.filter(
      (message) => message.msg_type === 'event' && (!type || message.event_type === type),
    )
  }

  async next(type: string, timeoutMs = 5_000): Promise<EventMessage> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const found = this.events(type)[0]
      if (found) return found
      if (Date.now() > deadline)
        throw new Error(`no ${type} event within ${timeoutMs} ms: got ${JSON.stringify(this.messages)}`)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }
}

/**
 * Issue 16: the event bus and `GET /v1/ws` (seed 004 "WebSocket"). Two coordinators on one
 * Postgres: a client connected to one receives the events of changes made through the other, only
 * its own, in the seed's format; authentication by header or first message with the seed's close
 * codes; a client that stops answering pings is closed.
 */
describe('events: the outbox and the targeted WebSocket across replicas', () => {
  let database: TestDatabase
  let first: Replica
  let second: Replica
  const sockets: TestSocket[] = []

  async function startReplica(socketOptions: EventSocketOptions = {}, pollMs = 60_000): Promise<Replica> {
    const { app, context } = await createTestApp(database)
    const server: Server = app.listen(0, '127.0.0.1')
    await new Promise((resolve) => server.once('listening', resolve))
    // A long poll: only LISTEN/NOTIFY delivers within the tests' waits.
    const hub = new EventHub(context.pool, (context as AppContext).logger, { pollMs })
    await hub.start()
    const close = attachEventSocket(server, context, hub, socketOptions)
    return {
      app,
      url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/v1/ws`,
      async stop() {
        await close()
        await hub.stop()
        server.closeAllConnections()
        await new Promise((resolve) => server.close(resolve))
      },
    }
  }

  function connect(replica: Replica, options: WebSocket.ClientOptions = {}): TestSocket {
    const socket = new TestSocket(new WebSocket(replica.url, options))
    sockets.push(socket)
    return socket
  }

  async function connectAs(replica: Replica, agent: RegisteredTestAgent): Promise<TestSocket> {
    const socket = connect(replica, { headers: { authorization: bearer(agent.apiKey) } })
    await socket.opened
    return socket
  }

  before(async () => {
    database = await createTestDatabase()
    first = await startReplica()
    second = await startReplica({ authTimeoutMs: 300, pingIntervalMs: 100, pongTimeoutMs: 400 })
  })
  after(async () => {
    for (const socket of sockets) socket.ws.terminate()
    await first?.stop()
    await second?.stop()
    await database?.drop()
  })

  it('delivers each step of the job flow to its audience only, across replicas, in the seed’s format', async function () {
    this.timeout(30_000)
    const creator = await registerAgent(first.app)
    const worker = await registerAgent(first.app)
    const stranger = await registerAgent(first.app)
    await fundAgent(first.app, creator.apiKey, '100')
    // Connected to the second coordinator; every change is made through the first.
    const creatorSocket = await connectAs(second, creator)
    const creatorSecondSocket = await connectAs(second, creator)
    const workerSocket = await connectAs(second, worker)
    const strangerSocket = await connectAs(second, stranger)

    const job = await postJob(first.app, creator.apiKey)
    const bid = await postBid(first.app, worker.apiKey, job.job_id, { amount: '5' })
    expect(await creatorSocket.next('bid_received')).to.deep.equal({
      msg_type: 'event',
      event_type: 'bid_received',
      data: { job_id: job.job_id, job_title: job.title, bid_id: bid.bid_id, amount: '5' },
    })
    await creatorSecondSocket.next('bid_received')

    await request(first.app)
      .post(`/v1/jobs/${job.job_id}/award`)
      .set('Authorization', bearer(creator.apiKey))
      .send({ bid_id: bid.bid_id })
      .expect(200)
    expect((await workerSocket.next('job_awarded')).data).to.deep.equal({
      job_id: job.job_id,
      job_title: job.title,
      amount: '5',
    })
    const submitted = await postSubmit(first.app, worker.apiKey, job.job_id)
    expect((await creatorSocket.next('submission_received')).data).to.include({
      assignment_id: submitted.assignment_id,
    })
    await request(first.app)
      .post(`/v1/jobs/${job.job_id}/request-changes`)
      .set('Authorization', bearer(creator.apiKey))
      .send({ message: 'Please add the sources you used.' })
      .expect(200)
    expect((await workerSocket.next('changes_requested')).data).to.include({
      assignment_id: submitted.assignment_id,
    })
    await postSubmit(first.app, worker.apiKey, job.job_id, 'https://example.com/report-v2.md')
    await request(first.app)
      .post(`/v1/jobs/${job.job_id}/accept`)
      .set('Authorization', bearer(creator.apiKey))
      .send({})
      .expect(200)
    for (const socket of [creatorSocket, workerSocket]) {
      expect((await socket.next('job_completed')).data).to.deep.equal({
        job_id: job.job_id,
        job_title: job.title,
      })
    }

    expect(creatorSocket.events().map((message) => message.event_type)).to.deep.equal([
      'bid_received',
      'submission_received',
      'submission_received',
      'job_completed',
    ])
    expect(workerSocket.events().map((message) => message.event_type)).to.deep.equal([
      'job_awarded',
      'changes_requested',
      'job_completed',
    ])
    expect(strangerSocket.messages, 'nothing for an agent outside the job').to.deep.equal([])
  })

  it('delivers messages to the other parties, a dispute to the counterparty and its ruling to both sides', async function () {
    this.timeout(30_000)
    const creator = await registerAgent(first.app)
    const worker = await registerAgent(first.app)
    const resolver = await registerAgent(first.app)
    await fundAgent(first.app, creator.apiKey, '100')
    const [creatorSocket, workerSocket, resolverSocket] = await Promise.all(
      [creator, worker, resolver].map((agent) => connectAs(second, agent)),
    )
    const job = await postJob(first.app, creator.apiKey, { dispute_agent_id: resolver.agent.id })
    const bid = await postBid(first.app, worker.apiKey, job.job_id, { amount: '5' })
    await request(first.app)
      .post(`/v1/jobs/${job.job_id}/award`)
      .set('Authorization', bearer(creator.apiKey))
      .send({ bid_id: bid.bid_id })
      .expect(200)
    const submitted = await postSubmit(first.app, worker.apiKey, job.job_id)

    const note = await request(first.app)
      .post(`/v1/assignments/${submitted.assignment_id}/messages`)
      .set('Authorization', bearer(worker.apiKey))
      .send({ body: 'The report is in; the sources are in its appendix.' })
      .expect(201)
    for (const socket of [creatorSocket, resolverSocket]) {
      expect((await socket.next('message_received')).data).to.deep.equal({
        job_id: job.job_id,
        job_title: job.title,
        message_id: note.body.message_id,
        assignment_id: submitted.assignment_id,
      })
    }
    const update = await request(first.app)
      .post(`/v1/jobs/${job.job_id}/messages`)
      .set('Authorization', bearer(creator.apiKey))
      .send({ body: 'Reviewing it today.' })
      .expect(201)
    expect((await workerSocket.next('message_received')).data).to.deep.equal({
      job_id: job.job_id,
      job_title: job.title,
      message_id: update.body.message_id,
    })

    const dispute = await request(first.app)
      .post(`/v1/jobs/${job.job_id}/dispute`)
      .set('Authorization', bearer(creator.apiKey))
      .send({ reason: 'The appendix cites nothing.' })
      .expect(201)
    expect((await workerSocket.next('dispute_opened')).data).to.deep.equal({
      job_id: job.job_id,
      job_title: job.title,
      dispute_id: dispute.body.dispute_id,
    })
    await request(first.app)
      .post(`/v1/disputes/${dispute.body.dispute_id}/rule`)
      .set('Authorization', bearer(resolver.apiKey))
      .send({ ruling: 'worker_wins', reasoning: 'The sources are there.' })
      .expect(200)
    for (const socket of [creatorSocket, workerSocket]) {
      expect((await socket.next('dispute_resolved')).data).to.deep.equal({
        job_id: job.job_id,
        job_title: job.title,
        ruling: 'worker_wins',
      })
    }
    expect(creatorSocket.events('dispute_opened'), 'the opener is not told its own dispute').to.deep.equal([])
    expect(workerSocket.events('message_received'), 'not its own message').to.have.length(1)
  })

  it('takes the token as the first message ({"token": …} or bare) and says so', async function () {
    this.timeout(10_000)
    const agent = await registerAgent(first.app)
    for (const first of [JSON.stringify({ token: agent.apiKey }), agent.apiKey]) {
      const socket = connect(second)
      await socket.opened
      socket.ws.send(first)
      const deadline = Date.now() + 3_000
      while (!socket.messages.length && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 20))
      expect(socket.messages).to.deep.equal([{ msg_type: 'auth', status: 'ok' }])
    }
  })

  it('authenticates the upgrade by X-API-Key (seed 001) as by Authorization, and closes 4001 for an unknown key', async function () {
    this.timeout(10_000)
    const agent = await registerAgent(first.app)
    const byHeader = connect(second, { headers: { 'x-api-key': agent.apiKey } })
    await byHeader.opened
    // The second replica closes an unauthenticated socket after 300 ms: this one stays open.
    const outcome = await Promise.race([
      byHeader.closed.then(({ code }) => `closed ${code}`),
      new Promise((resolve) => setTimeout(() => resolve('open'), 800)),
    ])
    expect(outcome).to.equal('open')
    const unknown = connect(second, { headers: { 'x-api-key': `sk_live_${'C'.repeat(43)}` } })
    expect((await unknown.closed).code).to.equal(4001)
  })

  it('closes 4001 for an invalid token (header or message), 4000 for a bad first message or none in time', async function () {
    this.timeout(10_000)
    const badHeader = connect(second, { headers: { authorization: 'Bearer ch_not_a_real_key_at_all' } })
    expect((await badHeader.closed).code).to.equal(4001)
    const badToken = connect(second)
    await badToken.opened
    badToken.ws.send(JSON.stringify({ token: 'ch_not_a_real_key_either' }))
    expect((await badToken.closed).code).to.equal(4001)
    const badFormat = connect(second)
    await badFormat.opened
    badFormat.ws.send(JSON.stringify({ key: 'what' }))
    expect((await badFormat.closed).code).to.equal(4000)
    const silent = connect(second)
    await silent.opened
    const started = Date.now()
    expect((await silent.closed).code).to.equal(4000)
    expect(Date.now() - started).to.be.within(200, 3_000)
  })

  it('drops a client that stops reading once its unsent events pass the limit, and keeps serving the others', async function () {
    this.timeout(30_000)
    const slowReplica = await startReplica({ maxBufferedBytes: 64 * 1024 }, 50)
    try {
      const agent = await registerAgent(first.app)
      const reader = connect(slowReplica, { headers: { authorization: bearer(agent.apiKey) } })
      const stalled = connect(slowReplica, { headers: { authorization: bearer(agent.apiKey) } })
      await Promise.all([reader.opened, stalled.opened])
      // The stalled client stops reading: what the server sends piles up in the kernel, then in ws.
      ;(stalled.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause()
      const events = 60
      for (let index = 0; index < events; index += 1) {
        await publishEvent(database.pool, {
          type: 'message_received',
          audience: [agent.agent.id],
          data: { index, padding: 'x'.repeat(200_000) },
        })
      }
      const deadline = Date.now() + 20_000
      while (reader.events('message_received').length < events && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
      expect(reader.events('message_received'), 'the reading client gets every event').to.have.length(events)
      ;(stalled.ws as unknown as { _socket: { resume(): void } })._socket.resume()
      const closed = await stalled.closed
      expect(closed.code, 'terminated, not closed politely').to.equal(1006)
      expect(stalled.events('message_received').length, 'the stalled client got only part').to.be.lessThan(
        events,
      )
      expect(reader.ws.readyState).to.equal(WebSocket.OPEN)
    } finally {
      await slowReplica.stop()
    }
  })

  it('pings, and closes a connection that stops answering', async function () {
    this.timeout(10_000)
    const agent = await registerAgent(first.app)
    const answering = await connectAs(second, agent)
    const pings: number[] = []
    answering.ws.on('ping', () => pings.push(Date.now()))
    const mute = connect(second, { headers: { authorization: bearer(agent.apiKey) }, autoPong: false })
    await mute.opened
    const closed = await mute.closed
    expect(closed.code).to.equal(1006)
    expect(pings.length, 'pinged every 100 ms meanwhile').to.be.greaterThan(2)
    expect(answering.ws.readyState, 'a client that answers stays').to.equal(WebSocket.OPEN)
  })
})
