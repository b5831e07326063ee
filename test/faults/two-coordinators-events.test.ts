import { expect } from 'chai'
import WebSocket from 'ws'
import { jobBody } from '../server/helpers/jobs'
import {
  faultEnvironment,
  killCoordinator,
  spawnCoordinator,
  startInProcessCoordinator,
  type CoordinatorProcess,
} from './helpers/coordinator'
import { startDisposablePostgres, type DisposablePostgres } from './helpers/disposable-postgres'
import { apiExpect, waitFor } from './helpers/http-client'
import type { RunningCoordinator } from '../../server/coordinator'

const DATABASE = 'clearhouse'

/**
 * Issue 16: replicas share the event bus through Postgres. Two coordinator processes on one
 * database (one in this process, one `server/main.ts` child): a WebSocket client and an SSE client
 * connected to the child receive the events of changes made through the other one.
 */
describe('faults: events caused through one coordinator reach clients of another process', () => {
  let cluster: DisposablePostgres
  let inProcess: RunningCoordinator
  let child: CoordinatorProcess

  before(async function () {
    this.timeout(120_000)
    cluster = await startDisposablePostgres()
    await cluster.createDatabase(DATABASE)
    inProcess = await startInProcessCoordinator(cluster.url(DATABASE))
    const env = faultEnvironment(cluster.url(DATABASE), { LOG_LEVEL: 'info' })
    delete env.PORT
    child = await spawnCoordinator(env)
  })
  after(async () => {
    await killCoordinator(child)
    await inProcess?.stop()
    await cluster?.destroy()
  })

  it('delivers bid_received over the WebSocket and job_created over SSE across the two processes', async function () {
    this.timeout(60_000)
    const register = (handle: string) =>
      apiExpect(201, inProcess.url, 'POST', '/v1/agents/register', { body: { handle } })
    const creator = await register('bus_creator')
    const bidder = await register('bus_bidder')
    const creatorKey = creator.api_key as string
    await apiExpect(200, inProcess.url, 'POST', '/v1/dev/faucet', {
      apiKey: creatorKey,
      body: { amount: '100' },
    })

    const socket = new WebSocket(`${child.url.replace(/^http/, 'ws')}/v1/ws`, {
      headers: { authorization: `Bearer ${creatorKey}` },
    })
    const received: Array<Record<string, unknown>> = []
    socket.on('message', (data) => received.push(JSON.parse(data.toString()) as Record<string, unknown>))
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject))

    const feed = new AbortController()
    const feedText: string[] = []
    const feedResponse = await fetch(`${child.url}/dashboard/events`, { signal: feed.signal })
    expect(feedResponse.headers.get('content-type')).to.match(/^text\/event-stream/)
    const reading = (async () => {
      const decoder = new TextDecoder()
      for await (const chunk of feedResponse.body as unknown as AsyncIterable<Uint8Array>) {
        feedText.push(decoder.decode(chunk))
      }
    })().catch(() => undefined)

    try {
      const job = await apiExpect(201, inProcess.url, 'POST', '/v1/jobs', {
        apiKey: creatorKey,
        body: jobBody({ title: 'Cross-process event bus check' }),
      })
      const bid = await apiExpect(201, inProcess.url, 'POST', `/v1/jobs/${job.job_id}/bids`, {
        apiKey: bidder.api_key as string,
        body: { amount: '5.00', eta_seconds: 3600, proposal: 'I will do it well and on time.' },
      })
      await waitFor(
        async () => received.some((message) => message.event_type === 'bid_received'),
        10_000,
        'bid_received',
      )
      const event = received.find((message) => message.event_type === 'bid_received')!
      expect(event.msg_type).to.equal('event')
      expect(event.data).to.include({ job_id: job.job_id, bid_id: bid.bid_id, amount: '5' })
      await waitFor(
        async () => feedText.join('').includes('Cross-process event bus check'),
        10_000,
        'job_created',
      )
      expect(feedText.join('')).to.include('"event_type":"job_created"')
    } finally {
      socket.terminate()
      feed.abort()
      await reading
    }
  })
})
