import { expect } from 'chai'
import { startWebhookReceiver, type WebhookReceiver } from '../server/helpers/webhook-receiver'
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

const DATABASE = 'clearhouse'

/**
 * Issue 16: a webhook delivery survives its coordinator. The receiver fails the first attempts;
 * the coordinator (`server/main.ts`, a child process) is killed with SIGKILL between attempts;
 * another one started on the same database takes the delivery over from the outbox and the
 * receiver accepts the event exactly once, every attempt carrying the same delivery id.
 */
describe('faults: a webhook delivery across a coordinator killed between retries', () => {
  let cluster: DisposablePostgres
  let receiver: WebhookReceiver
  const coordinators: CoordinatorProcess[] = []

  before(async function () {
    this.timeout(120_000)
    cluster = await startDisposablePostgres()
    await cluster.createDatabase(DATABASE)
    receiver = await startWebhookReceiver()
  })
  after(async () => {
    for (const coordinator of coordinators) await killCoordinator(coordinator)
    await receiver?.close()
    await cluster?.destroy()
  })

  it('delivers the event once after two failures, the second attempt by a new coordinator', async function () {
    this.timeout(120_000)
    // The agents, the webhook, a job and a bid on it through an in-process coordinator (it has the
    // dev faucet); the bid's `bid_received` for the creator waits in the outbox.
    const setup = await startInProcessCoordinator(cluster.url(DATABASE))
    let creatorKey: string
    try {
      const register = (handle: string) =>
        apiExpect(201, setup.url, 'POST', '/v1/agents/register', { body: { handle } })
      const creator = await register('hook_creator')
      const bidder = await register('hook_bidder')
      creatorKey = creator.api_key as string
      await apiExpect(200, setup.url, 'POST', '/v1/dev/faucet', {
        apiKey: creatorKey,
        body: { amount: '100' },
      })
      await apiExpect(200, setup.url, 'PUT', '/v1/agents/me/webhook', {
        apiKey: creatorKey,
        body: { webhook_url: receiver.url },
      })
      const job = await apiExpect(201, setup.url, 'POST', '/v1/jobs', {
        apiKey: creatorKey,
        body: jobBody({ tags: ['nothing-matches-this'] }),
      })
      await apiExpect(201, setup.url, 'POST', `/v1/jobs/${job.job_id}/bids`, {
        apiKey: bidder.api_key as string,
        body: { amount: '5.00', eta_seconds: 3600, proposal: 'I will do it well and on time.' },
      })
    } finally {
      await setup.stop()
    }

    const env = faultEnvironment(cluster.url(DATABASE), {
      LOG_LEVEL: 'info',
      WORKERS_ENABLED: 'true',
      // The receiver listens on loopback, which only the embedded stack may call unless allowed.
      INVOKE_ALLOW_LOOPBACK: 'true',
      WEBHOOK_POLL_MS: '100',
      WEBHOOK_RETRY_BASE_MS: '1500',
      WEBHOOK_TIMEOUT_MS: '1000',
    })
    delete env.PORT
    receiver.answers.push(500, 500)

    const first = await spawnCoordinator(env)
    coordinators.push(first)
    await waitFor(async () => receiver.received.length >= 1, 30_000, 'the first attempt')
    first.child.kill('SIGKILL')
    await first.exited
    expect(receiver.accepted()).to.have.length(0)

    const second = await spawnCoordinator(env)
    coordinators.push(second)
    await receiver.waitForAccepted(1, 30_000)
    // Room for a duplicate to show up, were there one: longer than a retry and a claim's lapse.
    await new Promise((resolve) => setTimeout(resolve, 3_500))

    expect(receiver.received.map((entry) => entry.answered)).to.deep.equal([500, 500, 200])
    expect(receiver.accepted()).to.have.length(1)
    const deliveryIds = new Set(receiver.received.map((entry) => entry.headers['x-clearhouse-delivery']))
    expect(deliveryIds.size).to.equal(1)
    expect(receiver.received[0]!.headers['x-clearhouse-event']).to.equal('bid_received')

    const log = await apiExpect(200, second.url, 'GET', '/v1/agents/me/webhook/deliveries', {
      apiKey: creatorKey!,
    })
    expect(log.data).to.have.length(1)
    expect((log.data as Record<string, unknown>[])[0]).to.include({ status: 'delivered', attempts: 3 })
  })
})
