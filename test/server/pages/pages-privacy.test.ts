import { expect } from 'chai'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import request from 'supertest'
import { bearer } from '../helpers/agents'
import { buildPagesWorld, pageAddresses, type PagesWorld } from './pages-world'

/**
 * Issue 16: nothing private on any public page, nor in the public feed. The world plants what seed
 * 004 keeps from the public (proposals, pending and losing bid amounts, a deliverable, a private
 * message, change requests, a self-asserted claim, a saved withdrawal address and its label, every
 * API key, a cancelled job) through the API; each must be stored (its owner reads it back), and no
 * page and no `feed_event` may show it, in any case.
 */
describe('public pages: privacy', () => {
  let world: PagesWorld
  let server: Server
  let baseUrl: string

  before(async function () {
    this.timeout(180_000)
    world = await buildPagesWorld()
    server = world.app.listen(0, '127.0.0.1')
    await new Promise((resolve) => server.once('listening', resolve))
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  after(async () => {
    server?.closeAllConnections()
    server?.close()
    await world?.stop()
  })

  /** Every value no page may show: the planted ones, the API keys, the withdrawal address in both cases. */
  function secrets(options: { feed: boolean }): Record<string, string> {
    const { cancelledTitle, withdrawalAddress, ...always } = world.privateValues
    const values: Record<string, string> = {
      ...always,
      withdrawalAddress: withdrawalAddress.toLowerCase(),
      withdrawalAddressChecksummed: withdrawalAddress,
    }
    for (const [name, agent] of Object.entries(world.agents)) values[`${name} API key`] = agent.apiKey
    // The feed announced the job while it was open and public; only the pages must forget it.
    if (!options.feed) values.cancelledTitle = cancelledTitle
    return values
  }

  function expectNoSecrets(where: string, text: string, values: Record<string, string>): void {
    const lower = text.toLowerCase()
    for (const [name, value] of Object.entries(values)) {
      expect(lower.includes(value.toLowerCase()), `${where} shows the ${name} (${value})`).to.equal(false)
    }
  }

  it('stores every planted value where its owner reads it back (so their absence below means something)', async () => {
    const { creator, worker, bidder } = world.agents
    const { completed, open, cancelled } = world.jobs
    const values = world.privateValues
    const bids = await request(world.app)
      .get(`/v1/jobs/${completed.job_id}/bids`)
      .set('Authorization', bearer(creator.apiKey))
      .expect(200)
    const seen = JSON.stringify(bids.body)
    for (const value of [values.winningProposal, values.losingProposal, values.losingAmount])
      expect(seen).to.contain(value)
    const pending = await request(world.app)
      .get(`/v1/jobs/${open.job_id}/bids`)
      .set('Authorization', bearer(bidder.apiKey))
      .expect(200)
    expect(JSON.stringify(pending.body))
      .to.contain(values.pendingProposal)
      .and.to.contain(values.pendingAmount)
    const job = await request(world.app)
      .get(`/v1/jobs/${completed.job_id}`)
      .set('Authorization', bearer(worker.apiKey))
      .expect(200)
    expect(job.body.deliverable).to.equal(values.deliverable)
    const me = await request(world.app)
      .get('/v1/agents/me')
      .set('Authorization', bearer(creator.apiKey))
      .expect(200)
    expect(JSON.stringify(me.body.verifiable_claim)).to.contain(values.verifiableClaim)
    const addresses = await request(world.app)
      .get('/v1/withdrawal-addresses')
      .set('Authorization', bearer(worker.apiKey))
      .expect(200)
    expect(JSON.stringify(addresses.body).toLowerCase()).to.contain(values.withdrawalAddress.toLowerCase())
    const assignment = job.body.my_assignments[0].assignment_id as string
    const messages = await request(world.app)
      .get(`/v1/assignments/${assignment}/messages`)
      .set('Authorization', bearer(worker.apiKey))
      .expect(200)
    expect(JSON.stringify(messages.body)).to.contain(values.privateMessage).and.to.contain(values.feedback)
    await request(world.app)
      .get(`/v1/jobs/${cancelled.job_id}`)
      .set('Authorization', bearer(creator.apiKey))
      .expect(200)
  })

  it('shows none of them on any page', async () => {
    const values = secrets({ feed: false })
    const pages = await pageAddresses(world)
    expect(pages.length).to.be.greaterThan(12)
    for (const path of pages) {
      const res = await request(world.app).get(path)
      expect(res.status, path).to.equal(200)
      expectNoSecrets(path, res.text, values)
    }
    // Filters cannot reach them either: a search for a proposal or the cancelled title finds nothing.
    for (const search of [world.privateValues.winningProposal, world.privateValues.cancelledTitle]) {
      const res = await request(world.app)
        .get(`/jobs?search=${encodeURIComponent(search)}`)
        .expect(200)
      expect(res.text).to.contain('No public jobs match.')
    }
    const hidden = await request(world.app).get(`/jobs/${world.jobs.cancelled.job_id}`).expect(404)
    expectNoSecrets('the cancelled job’s 404', hidden.text, values)
  })

  it('shows what is public: the accepted bid, the public update in the feed', async () => {
    const page = await request(world.app).get(`/jobs/${world.jobs.completed.job_id}`).expect(200)
    expect(page.text).to.contain(`${world.publicValues.acceptedAmount} USDC`)
    const feed = await readFeed()
    expect(feed).to.contain(world.publicValues.publicMessage)
  })

  it('puts none of them in the feed the dashboard reads (GET /dashboard/events, replayed from the start)', async () => {
    const feed = await readFeed()
    expect(feed).to.contain('event: feed_event')
    expectNoSecrets('the feed', feed, secrets({ feed: true }))
  })

  /** The whole public feed: the stream replayed from its first event, read until the newest arrived. */
  async function readFeed(): Promise<string> {
    const controller = new AbortController()
    const res = await fetch(`${baseUrl}/dashboard/events?last_event_id=0`, { signal: controller.signal })
    expect(res.status).to.equal(200)
    const decoder = new TextDecoder()
    let text = ''
    const newest = `"job_id":"${world.jobs.cancelled.job_id}"`
    const deadline = Date.now() + 10_000
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        text += decoder.decode(chunk, { stream: true })
        // The cancelled job's creation is the newest public event of the world.
        if (text.includes(newest) && text.endsWith('\n\n')) break
        if (Date.now() > deadline) throw new Error(`the feed did not reach the newest event: ${text}`)
      }
    } finally {
      controller.abort()
    }
    return text
  }
})
