import { createHmac } from 'node:crypto'
import { expect } from 'chai'
import type { Express } from 'express'
import request from 'supertest'
import { verifyWebhookSignature, type WebhookPayload } from '../../../protocol/webhooks'
import type { AppContext } from '../../../server/app-context'
import { closeOutboundClient } from '../../../server/outbound/app-outbound-client'
import { WebhookSender, type WebhookSenderOptions } from '../../../server/webhooks/webhook-sender'
import { TimersWorker } from '../../../server/workers/timers'
import { shiftDatabaseClock } from '../helpers/clock'
import { bearer, fundAgent, registerAgent, type RegisteredTestAgent } from '../helpers/agents'
import { createTestApp } from '../helpers/app'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { postBid, postJob } from '../helpers/jobs'
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver'

const FAST_RETRIES: WebhookSenderOptions = { retryBaseMs: 10, maxAttempts: 5, timeoutMs: 2_000 }

/**
 * Issue 16, seed 001 "Webhooks": an agent's signed webhook. Set, read masked, removed; the secret
 * shown once and sealed at rest; events of the agent's audience and matching `task.posted` sent
 * signed, retried with backoff until a 2xx, once per delivery; a delivery log and redelivery.
 */
describe('webhooks: signed deliveries from the outbox', () => {
  let database: TestDatabase
  let app: Express
  let context: AppContext
  let receiver: WebhookReceiver

  before(async () => {
    database = await createTestDatabase()
    ;({ app, context } = await createTestApp(database))
  })
  beforeEach(async () => {
    receiver = await startWebhookReceiver()
  })
  afterEach(async () => {
    await receiver.close()
  })
  after(async () => {
    closeOutboundClient(context)
    await database?.drop()
  })

  async function setWebhook(agent: RegisteredTestAgent, url = receiver.url): Promise<string> {
    const res = await request(app)
      .put('/v1/agents/me/webhook')
      .set('Authorization', bearer(agent.apiKey))
      .send({ webhook_url: url })
    expect(res.status, JSON.stringify(res.body)).to.equal(200)
    return res.body.secret as string
  }

  /** A funded creator with a webhook, its job (whose tags match nobody) and a bidder for it. */
  async function jobWithCreatorWebhook() {
    const creator = await registerAgent(app)
    const bidder = await registerAgent(app)
    await fundAgent(app, creator.apiKey, '100')
    const secret = await setWebhook(creator)
    const job = await postJob(app, creator.apiKey, { tags: ['nothing-matches-this'] })
    return { creator, bidder, job, secret }
  }

  /** Runs sender rounds until nothing is due or pending soon, or `rounds` are done. */
  async function sendRounds(sender: WebhookSender, rounds = 20): Promise<void> {
    for (let round = 0; round < rounds; round += 1) {
      const result = await sender.runOnce()
      if (result.retrying === 0 && round > 0 && result.delivered === 0 && result.fannedOut === 0) {
        const { rows } = await database.pool.query(
          "SELECT count(*)::int AS n FROM webhook_deliveries WHERE status = 'pending'",
        )
        if (rows[0].n === 0) return
      }
      await new Promise((resolve) => setTimeout(resolve, 30))
    }
  }

  async function deliveries(agent: RegisteredTestAgent, query = '') {
    const res = await request(app)
      .get(`/v1/agents/me/webhook/deliveries${query}`)
      .set('Authorization', bearer(agent.apiKey))
    expect(res.status, JSON.stringify(res.body)).to.equal(200)
    return res.body as { data: Record<string, unknown>[]; has_more: boolean; next_cursor: string | null }
  }

  it('shows the secret once, masks the URL on read, keeps the secret across a URL change and seals it at rest', async () => {
    const agent = await registerAgent(app)
    const created = await request(app)
      .put('/v1/agents/me/webhook')
      .set('Authorization', bearer(agent.apiKey))
      .send({ webhook_url: 'https://hooks.example.com/clearhouse/incoming' })
      .expect(200)
    expect(created.headers['cache-control']).to.equal('no-store')
    const secret = created.body.secret as string
    expect(secret).to.match(/^whsec_[A-Za-z0-9_-]{43}$/)
    expect(created.body.webhook_url).to.equal('...e/incoming')

    const read = await request(app)
      .get('/v1/agents/me/webhook')
      .set('Authorization', bearer(agent.apiKey))
      .expect(200)
    expect(read.body).to.not.have.property('secret')
    expect(read.body.webhook_url).to.equal('...e/incoming')
    expect(JSON.stringify(read.body)).to.not.include('hooks.example.com')

    const changed = await request(app)
      .put('/v1/agents/me/webhook')
      .set('Authorization', bearer(agent.apiKey))
      .send({ webhook_url: 'https://hooks.example.com/v2' })
      .expect(200)
    expect(changed.body).to.not.have.property('secret')

    const { rows } = await database.pool.query(
      'SELECT url, sealed_secret FROM webhooks WHERE agent_id = $1',
      [agent.agent.id],
    )
    expect(rows[0].url).to.equal('https://hooks.example.com/v2')
    expect(rows[0].sealed_secret).to.not.include(secret.slice(6))

    const rotated = await request(app)
      .put('/v1/agents/me/webhook')
      .set('Authorization', bearer(agent.apiKey))
      .send({ webhook_url: 'https://hooks.example.com/v2', rotate_secret: true })
      .expect(200)
    expect(rotated.body.secret)
      .to.match(/^whsec_/)
      .and.not.equal(secret)

    await request(app).delete('/v1/agents/me/webhook').set('Authorization', bearer(agent.apiKey)).expect(204)
    const gone = await request(app).get('/v1/agents/me/webhook').set('Authorization', bearer(agent.apiKey))
    expect(gone.status).to.equal(404)
    expect(gone.body.error.code).to.equal('webhook_not_found')
    const again = await request(app)
      .delete('/v1/agents/me/webhook')
      .set('Authorization', bearer(agent.apiKey))
    expect(again.status).to.equal(404)
  })

  it('refuses URLs that are not https to a public host, with a 400 naming webhook_url', async () => {
    const agent = await registerAgent(app)
    const refused = [
      'http://hooks.example.com/in',
      'https://10.0.0.7/in',
      'https://169.254.169.254/latest/meta-data',
      'https://[::ffff:192.168.0.1]/in',
      'https://user:pw@hooks.example.com/in',
      'ftp://hooks.example.com/in',
      'not a url',
    ]
    for (const url of refused) {
      const res = await request(app)
        .put('/v1/agents/me/webhook')
        .set('Authorization', bearer(agent.apiKey))
        .send({ webhook_url: url })
      expect(res.status, url).to.equal(400)
      expect(res.body.error.details.fields[0].field, url).to.equal('webhook_url')
    }
    const extra = await request(app)
      .put('/v1/agents/me/webhook')
      .set('Authorization', bearer(agent.apiKey))
      .send({ webhook_url: 'https://hooks.example.com/in', events: ['all'] })
    expect(extra.status).to.equal(400)

    // Outside the embedded stack, loopback is no destination either.
    const { app: strictApp } = await createTestApp(database, null, { allowLoopbackEndpoints: false })
    for (const url of ['http://127.0.0.1:9/in', 'https://127.0.0.1/in', 'https://[::1]/in']) {
      const res = await request(strictApp)
        .put('/v1/agents/me/webhook')
        .set('Authorization', bearer(agent.apiKey))
        .send({ webhook_url: url })
      expect(res.status, url).to.equal(400)
    }
    const none = await request(app).get('/v1/agents/me/webhook').set('Authorization', bearer(agent.apiKey))
    expect(none.status).to.equal(404)
  })

  it('sends the audience’s event signed, retries a failing receiver with backoff and delivers it exactly once', async () => {
    const { creator, bidder, job, secret } = await jobWithCreatorWebhook()
    receiver.answers.push(500, 503)
    const bid = await postBid(app, bidder.apiKey, job.job_id)

    await sendRounds(new WebhookSender(context, FAST_RETRIES))
    const [accepted] = await receiver.waitForAccepted(1)
    expect(receiver.received.map((entry) => entry.answered)).to.deep.equal([500, 503, 200])
    expect(receiver.accepted()).to.have.length(1)
    const deliveryIds = new Set(receiver.received.map((entry) => entry.headers['x-clearhouse-delivery']))
    expect(deliveryIds.size).to.equal(1)

    const payload = JSON.parse(accepted!.rawBody) as WebhookPayload
    expect(accepted!.headers['x-clearhouse-event']).to.equal('bid_received')
    expect(accepted!.headers['content-type']).to.match(/^application\/json/)
    expect(payload.event).to.equal('bid_received')
    expect(payload.delivery_id).to.equal(accepted!.headers['x-clearhouse-delivery'])
    expect(payload.data).to.include({ job_id: job.job_id, bid_id: bid.bid_id })
    const signature = accepted!.headers['x-clearhouse-signature'] as string
    expect(signature).to.match(/^t=\d+,v1=[0-9a-f]{64}$/)
    expect(verifyWebhookSignature(secret, signature, accepted!.rawBody)).to.equal(true)
    expect(verifyWebhookSignature('whsec_other', signature, accepted!.rawBody)).to.equal(false)
    expect(
      verifyWebhookSignature(secret, signature, accepted!.rawBody.replace('bid_received', 'bid_receivet')),
    ).to.equal(false)
    // A captured delivery replayed ten minutes later is refused by the receiver's check.
    expect(
      verifyWebhookSignature(secret, signature, accepted!.rawBody, {
        nowSeconds: Math.floor(Date.now() / 1000) + 600,
      }),
    ).to.equal(false)

    const log = await deliveries(creator)
    expect(log.data).to.have.length(1)
    expect(log.data[0]).to.include({
      delivery_id: payload.delivery_id,
      event_type: 'bid_received',
      status: 'delivered',
      attempts: 3,
      response_status: 200,
      next_attempt_at: null,
    })
    // The bidder has no webhook: nothing is written for it.
    const { rows } = await database.pool.query(
      'SELECT count(*)::int AS n FROM webhook_deliveries WHERE agent_id = $1',
      [bidder.agent.id],
    )
    expect(rows[0].n).to.equal(0)
  })

  it('sends task.posted to agents whose tags or capabilities match the job’s tags, not to others or the creator', async () => {
    const creator = await registerAgent(app, { tags: ['rust'] })
    await fundAgent(app, creator.apiKey, '100')
    const byTag = await registerAgent(app, { tags: ['rust', 'go'] })
    const bySkill = await registerAgent(app, { capabilities: { skills: ['Security'], languages: ['en'] } })
    const unrelated = await registerAgent(app, { tags: ['cooking'], capabilities: { skills: ['baking'] } })
    for (const agent of [creator, byTag, bySkill, unrelated]) await setWebhook(agent)

    const job = await postJob(app, creator.apiKey, {
      title: 'Audit the Rust parser for panics',
      tags: ['rust', 'security'],
    })
    await sendRounds(new WebhookSender(context, FAST_RETRIES))
    const posted = receiver
      .accepted()
      .map((entry) => JSON.parse(entry.rawBody) as WebhookPayload)
      .filter((payload) => payload.event === 'task.posted' && payload.data.job_id === job.job_id)
    expect(posted).to.have.length(2)
    const { rows } = await database.pool.query(
      "SELECT agent_id FROM webhook_deliveries WHERE event_type = 'task.posted' AND event_data ->> 'job_id' = $1",
      [job.job_id],
    )
    expect(rows.map((row) => row.agent_id).sort()).to.deep.equal([byTag.agent.id, bySkill.agent.id].sort())
    expect(posted[0]!.data).to.include({
      job_title: 'Audit the Rust parser for panics',
      budget: '10 USDC',
    })
    expect(posted[0]!.data.tags).to.deep.equal(['rust', 'security'])
  })

  it("lets a receiver written for seed 001 verify a board task's task.posted with X-AgentMarket-Signature and read payload.task", async () => {
    const poster = await registerAgent(app)
    await fundAgent(app, poster.apiKey, '100')
    const researcher = await registerAgent(app, { capabilities: ['research', 'summarization'] })
    const secret = await setWebhook(researcher)
    const task = await request(app)
      .post('/v1/tasks')
      .set('Authorization', bearer(poster.apiKey))
      .send({ title: 'Summarize this research paper', budget: 25, required_capabilities: ['research'] })
    expect(task.status, JSON.stringify(task.body)).to.equal(201)
    await sendRounds(new WebhookSender(context, FAST_RETRIES))
    const [delivered] = receiver.accepted()
    // Seed 001's handler, as its page prints it.
    const verifySignature = (body: string, key: string, signatureHeader: string) =>
      'sha256=' + createHmac('sha256', key).update(body).digest('hex') === signatureHeader
    const header = delivered!.headers['x-agentmarket-signature'] as string
    expect(verifySignature(delivered!.rawBody, secret, header)).to.equal(true)
    expect(verifySignature(delivered!.rawBody, 'whsec_other', header)).to.equal(false)
    expect(verifySignature(delivered!.rawBody.replace('25', '95'), secret, header)).to.equal(false)
    const payload = JSON.parse(delivered!.rawBody) as WebhookPayload
    expect(payload.event).to.equal('task.posted')
    expect(payload.task).to.deep.include({
      id: task.body.task_id,
      title: 'Summarize this research paper',
      budget: '25',
      required_capabilities: ['research'],
    })
    expect(payload.task).to.deep.equal(payload.data.task)
    // Ours still verifies on the same delivery.
    expect(
      verifyWebhookSignature(
        secret,
        delivered!.headers['x-clearhouse-signature'] as string,
        delivered!.rawBody,
      ),
    ).to.equal(true)
  })

  it('adds no task alias to events that carry no task', async () => {
    const { bidder, job } = await jobWithCreatorWebhook()
    await postBid(app, bidder.apiKey, job.job_id)
    await sendRounds(new WebhookSender(context, FAST_RETRIES))
    const [delivered] = receiver.accepted()
    expect(JSON.parse(delivered!.rawBody)).to.not.have.property('task')
    expect(delivered!.headers['x-agentmarket-signature']).to.match(/^sha256=[0-9a-f]{64}$/)
  })

  it('sends nothing written before the webhook was set', async () => {
    const creator = await registerAgent(app)
    const bidder = await registerAgent(app)
    await fundAgent(app, creator.apiKey, '100')
    const job = await postJob(app, creator.apiKey, { tags: ['nothing-matches-this'] })
    await postBid(app, bidder.apiKey, job.job_id)
    await setWebhook(creator)
    await sendRounds(new WebhookSender(context, FAST_RETRIES))
    expect((await deliveries(creator)).data).to.deep.equal([])
    expect(receiver.received).to.deep.equal([])
  })

  it('marks a delivery failed after the last attempt, and redelivers it on request as a new delivery', async () => {
    const { creator, bidder, job } = await jobWithCreatorWebhook()
    receiver.answers.push(500, 500, 500)
    await postBid(app, bidder.apiKey, job.job_id)
    await sendRounds(new WebhookSender(context, { ...FAST_RETRIES, maxAttempts: 3 }))
    expect(receiver.accepted()).to.have.length(0)
    const [failed] = (await deliveries(creator, '?status=failed')).data
    expect(failed).to.include({ status: 'failed', attempts: 3, response_status: 500 })
    expect(failed!.last_error).to.equal('the receiver answered 500')

    const redelivered = await request(app)
      .post(`/v1/agents/me/webhook/deliveries/${failed!.delivery_id}/redeliver`)
      .set('Authorization', bearer(creator.apiKey))
      .expect(201)
    expect(redelivered.body).to.include({
      status: 'pending',
      attempts: 0,
      redelivery_of: failed!.delivery_id,
      event_id: failed!.event_id,
    })
    await sendRounds(new WebhookSender(context, FAST_RETRIES))
    const [accepted] = await receiver.waitForAccepted(1)
    expect(accepted!.headers['x-clearhouse-delivery']).to.equal(redelivered.body.delivery_id)
    expect((JSON.parse(accepted!.rawBody) as WebhookPayload).event_id).to.equal(failed!.event_id)
    const one = await request(app)
      .get(`/v1/agents/me/webhook/deliveries/${redelivered.body.delivery_id}`)
      .set('Authorization', bearer(creator.apiKey))
      .expect(200)
    expect(one.body).to.include({ status: 'delivered', attempts: 1 })
  })

  it('checks the destination again when sending: a loopback URL fails where loopback is not allowed', async () => {
    const { creator, bidder, job } = await jobWithCreatorWebhook()
    await postBid(app, bidder.apiKey, job.job_id)
    const { context: strictContext } = await createTestApp(database, null, { allowLoopbackEndpoints: false })
    try {
      await sendRounds(new WebhookSender(strictContext, { ...FAST_RETRIES, maxAttempts: 1 }))
    } finally {
      closeOutboundClient(strictContext)
    }
    expect(receiver.received).to.deep.equal([])
    const [failed] = (await deliveries(creator)).data
    expect(failed).to.include({ status: 'failed', response_status: null })
    expect(failed!.last_error).to.match(/^(forbidden_address|insecure_scheme)/)
  })

  it('fails what is pending once the webhook is removed', async () => {
    const { creator, bidder, job } = await jobWithCreatorWebhook()
    receiver.answers.push(500)
    await postBid(app, bidder.apiKey, job.job_id)
    await new WebhookSender(context, { ...FAST_RETRIES, retryBaseMs: 60_000 }).runOnce()
    expect(receiver.received).to.have.length(1)
    await request(app)
      .delete('/v1/agents/me/webhook')
      .set('Authorization', bearer(creator.apiKey))
      .expect(204)
    await database.pool.query(
      'UPDATE webhook_deliveries SET next_attempt_at = clearhouse_now() WHERE agent_id = $1',
      [creator.agent.id],
    )
    await sendRounds(new WebhookSender(context, FAST_RETRIES))
    expect(receiver.received).to.have.length(1)
    const [failed] = (await deliveries(creator)).data
    expect(failed).to.include({ status: 'failed', last_error: 'the webhook was removed' })
    const redeliver = await request(app)
      .post(`/v1/agents/me/webhook/deliveries/${failed!.delivery_id}/redeliver`)
      .set('Authorization', bearer(creator.apiKey))
    expect(redeliver.status).to.equal(404)
    expect(redeliver.body.error.code).to.equal('webhook_not_found')
  })

  it('records a secret this key cannot open as the delivery’s failure, and still sends the others', async () => {
    const creator = await registerAgent(app)
    const other = await registerAgent(app)
    const bidder = await registerAgent(app)
    await fundAgent(app, creator.apiKey, '100')
    await fundAgent(app, other.apiKey, '100')
    await setWebhook(creator)
    await setWebhook(other)
    // Sealed under another WALLET_ENCRYPTION_KEY than the coordinator runs with now.
    const { rows } = await database.pool.query('SELECT sealed_secret FROM webhooks WHERE agent_id = $1', [
      other.agent.id,
    ])
    await database.pool.query('UPDATE webhooks SET sealed_secret = $2 WHERE agent_id = $1', [
      creator.agent.id,
      rows[0].sealed_secret,
    ])
    const mine = await postJob(app, creator.apiKey, { tags: ['nothing-matches-this'] })
    const theirs = await postJob(app, other.apiKey, { tags: ['nothing-matches-this'] })
    await postBid(app, bidder.apiKey, mine.job_id)
    await postBid(app, bidder.apiKey, theirs.job_id)
    const round = await new WebhookSender(context, { ...FAST_RETRIES, retryBaseMs: 60_000 }).runOnce()
    expect(round).to.include({ delivered: 1, retrying: 1 })
    const [unreadable] = (await deliveries(creator)).data
    expect(unreadable).to.include({ status: 'pending', attempts: 1, response_status: null })
    expect(unreadable!.last_error).to.match(/^unreadable_secret: /)
    expect(receiver.accepted().map((entry) => entry.headers['x-clearhouse-event'])).to.deep.equal([
      'bid_received',
    ])
  })

  it('sends each delivery once when two replicas fan out and send at the same time', async () => {
    const creator = await registerAgent(app)
    const bidders = await Promise.all([1, 2, 3, 4, 5, 6].map(() => registerAgent(app)))
    await fundAgent(app, creator.apiKey, '100')
    await setWebhook(creator)
    const job = await postJob(app, creator.apiKey, { tags: ['nothing-matches-this'], max_workers: 1 })
    for (const bidder of bidders) await postBid(app, bidder.apiKey, job.job_id)
    const { context: otherReplica } = await createTestApp(database)
    try {
      await Promise.all([
        sendRounds(new WebhookSender(context, FAST_RETRIES)),
        sendRounds(new WebhookSender(otherReplica, FAST_RETRIES)),
        sendRounds(new WebhookSender(context, FAST_RETRIES)),
      ])
    } finally {
      closeOutboundClient(otherReplica)
    }
    const accepted = await receiver.waitForAccepted(6)
    expect(accepted).to.have.length(6)
    const ids = accepted.map((entry) => entry.headers['x-clearhouse-delivery'])
    expect(new Set(ids).size).to.equal(6)
    const bidIds = accepted.map((entry) => (JSON.parse(entry.rawBody) as WebhookPayload).data.bid_id)
    expect(new Set(bidIds).size).to.equal(6)
  })

  it('pages the delivery log with a cursor, and refuses a bad cursor, status or id with a 400', async () => {
    const creator = await registerAgent(app)
    const bidders = await Promise.all([1, 2, 3].map(() => registerAgent(app)))
    await fundAgent(app, creator.apiKey, '100')
    await setWebhook(creator)
    const job = await postJob(app, creator.apiKey, { tags: ['nothing-matches-this'] })
    for (const bidder of bidders) await postBid(app, bidder.apiKey, job.job_id)
    await sendRounds(new WebhookSender(context, FAST_RETRIES))
    const first = await deliveries(creator, '?limit=2')
    expect(first.data).to.have.length(2)
    expect(first.has_more).to.equal(true)
    const second = await deliveries(creator, `?limit=2&cursor=${first.next_cursor}`)
    expect(second.data).to.have.length(1)
    expect(second.has_more).to.equal(false)
    const all = [...first.data, ...second.data].map((entry) => entry.delivery_id)
    expect(new Set(all).size).to.equal(3)

    for (const query of ['?cursor=nonsense', '?status=sent', '?limit=0', '?limit=101']) {
      const res = await request(app)
        .get(`/v1/agents/me/webhook/deliveries${query}`)
        .set('Authorization', bearer(creator.apiKey))
      expect(res.status, query).to.equal(400)
    }
    const badId = await request(app)
      .get('/v1/agents/me/webhook/deliveries/not-a-uuid')
      .set('Authorization', bearer(creator.apiKey))
    expect(badId.status).to.equal(400)
  })

  it('shows an agent only its own deliveries: another agent gets 404 for them, anyone unauthenticated 401', async () => {
    const creator = await registerAgent(app)
    const bidder = await registerAgent(app)
    const stranger = await registerAgent(app)
    await fundAgent(app, creator.apiKey, '100')
    await setWebhook(creator)
    await setWebhook(stranger)
    const job = await postJob(app, creator.apiKey, { tags: ['nothing-matches-this'] })
    await postBid(app, bidder.apiKey, job.job_id)
    await sendRounds(new WebhookSender(context, FAST_RETRIES))
    const [delivery] = (await deliveries(creator)).data
    expect(delivery).to.exist
    expect((await deliveries(stranger)).data).to.deep.equal([])
    const peek = await request(app)
      .get(`/v1/agents/me/webhook/deliveries/${delivery!.delivery_id}`)
      .set('Authorization', bearer(stranger.apiKey))
    expect(peek.status).to.equal(404)
    expect(peek.body.error.code).to.equal('webhook_delivery_not_found')
    const redeliver = await request(app)
      .post(`/v1/agents/me/webhook/deliveries/${delivery!.delivery_id}/redeliver`)
      .set('Authorization', bearer(stranger.apiKey))
    expect(redeliver.status).to.equal(404)
    for (const [method, path] of [
      ['get', '/v1/agents/me/webhook'],
      ['put', '/v1/agents/me/webhook'],
      ['delete', '/v1/agents/me/webhook'],
      ['get', '/v1/agents/me/webhook/deliveries'],
    ] as const) {
      const res = await request(app)[method](path).send({ webhook_url: 'https://hooks.example.com/x' })
      expect(res.status, `${method} ${path}`).to.equal(401)
    }
  })

  it('keeps finished deliveries 30 days, then the timers delete them; pending ones stay', async () => {
    const creator = await registerAgent(app)
    const bidders = await Promise.all([1, 2].map(() => registerAgent(app)))
    await fundAgent(app, creator.apiKey, '100')
    await setWebhook(creator)
    const job = await postJob(app, creator.apiKey, { tags: ['nothing-matches-this'] })
    await postBid(app, bidders[0]!.apiKey, job.job_id)
    await sendRounds(new WebhookSender(context, FAST_RETRIES))
    // The second bid's delivery fails once and waits far in the future: pending.
    receiver.answers.push(500)
    await postBid(app, bidders[1]!.apiKey, job.job_id)
    await new WebhookSender(context, { ...FAST_RETRIES, retryBaseMs: 3_600_000 }).runOnce()
    const statuses = async () => (await deliveries(creator)).data.map((entry) => entry.status).sort()
    expect(await statuses()).to.deep.equal(['delivered', 'pending'])

    const timers = new TimersWorker(context, 10_000)
    try {
      expect(await timers.runOnce(), 'not within the month').to.include({ webhookDeliveriesPruned: 0 })
      await shiftDatabaseClock(database.pool, 30 * 24 * 3600 + 60)
      const round = await timers.runOnce()
      expect(round).to.have.property('webhookDeliveriesPruned').that.is.at.least(1)
      // A delivery a newer redelivery repeats (another test's) goes the round after that one.
      let rounds = 0
      while (((await timers.runOnce()) as { webhookDeliveriesPruned: number }).webhookDeliveriesPruned > 0)
        rounds += 1
      expect(rounds).to.be.at.most(2)
    } finally {
      await shiftDatabaseClock(database.pool, 0)
      await timers.resign()
    }
    expect(await statuses()).to.deep.equal(['pending'])
  })
})
