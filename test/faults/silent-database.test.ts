import { expect } from 'chai'
import type { RunningCoordinator } from '../../server/coordinator'
import { startInProcessCoordinator } from './helpers/coordinator'
import { startDisposablePostgres, type DisposablePostgres } from './helpers/disposable-postgres'
import { api, award, prepareAwards, settleAward, waitFor, type PreparedAwards } from './helpers/http-client'
import { startSilentProxy, type SilentProxy } from './helpers/silent-proxy'

const DATABASE = 'clearhouse'
const CONNECT_TIMEOUT_MS = 1_000
const QUERY_TIMEOUT_MS = 2_000
const HEALTH_TIMEOUT_MS = 500
/** Scheduling slack on a 2-core machine that also runs Postgres. */
const SLACK_MS = 1_500

/**
 * Issue 11, finding 4: no timeouts to the database. A TCP proxy between the pool and Postgres
 * stops forwarding (sockets stay open, bytes vanish), the failure that makes a client wait forever
 * without timeouts. Health and requests must answer within the configured bounds.
 */
describe('faults: the network to the database goes silent', () => {
  let cluster: DisposablePostgres
  let proxy: SilentProxy
  let coordinator: RunningCoordinator
  let prepared: PreparedAwards

  before(async function () {
    this.timeout(120_000)
    cluster = await startDisposablePostgres()
    await cluster.createDatabase(DATABASE)
    proxy = await startSilentProxy(cluster.port)
    coordinator = await startInProcessCoordinator(`postgres://postgres@127.0.0.1:${proxy.port}/${DATABASE}`, {
      DATABASE_CONNECT_TIMEOUT_MS: String(CONNECT_TIMEOUT_MS),
      DATABASE_QUERY_TIMEOUT_MS: String(QUERY_TIMEOUT_MS),
      DATABASE_STATEMENT_TIMEOUT_MS: '1500',
      HEALTH_TIMEOUT_MS: String(HEALTH_TIMEOUT_MS),
      IDEMPOTENCY_LEASE_SECONDS: '2',
    })
    prepared = await prepareAwards(coordinator.url, 5)
  })
  afterEach(() => proxy?.resume())
  after(async () => {
    proxy?.resume()
    await coordinator?.stop()
    await proxy?.close()
    await cluster?.destroy()
  })

  it('/v1/health answers within its bound and reports the database down', async function () {
    this.timeout(30_000)
    proxy.silence()
    const health = await api(coordinator.url, 'GET', '/v1/health', { timeoutMs: 20_000 })
    expect(health.status, health.failure).to.equal(503)
    expect(health.ms).to.be.below(HEALTH_TIMEOUT_MS + SLACK_MS)
    const dependencies = health.body.dependencies as Record<string, { status: string; error: string | null }>
    expect(dependencies.database!.status).to.equal('down')
    expect(dependencies.database!.error).to.be.a('string')
  })

  it('requests answer 503 database_unavailable within the connect and query timeouts, then recover', async function () {
    this.timeout(60_000)
    proxy.silence()
    const responses = await Promise.all([
      ...prepared.awards.map((target, index) => award(coordinator.url, target, `silent-${index}`, 30_000)),
      api(coordinator.url, 'GET', '/v1/wallet/balance', {
        apiKey: prepared.awards[0]!.requesterKey,
        timeoutMs: 30_000,
      }),
    ])
    for (const res of responses) {
      expect(res.status, `${res.failure ?? ''} ${JSON.stringify(res.body)}`).to.equal(503)
      expect(res.body.error?.code).to.equal('database_unavailable')
      // A request may wait for a connection (connect timeout) and then for one query (query timeout).
      expect(res.ms).to.be.below(CONNECT_TIMEOUT_MS + QUERY_TIMEOUT_MS + SLACK_MS)
    }

    proxy.resume()
    await waitFor(
      async () => {
        const health = await api(coordinator.url, 'GET', '/v1/health', { timeoutMs: 5_000 })
        return (health.body.dependencies as Record<string, { status: string }>)?.database?.status === 'ok'
      },
      15_000,
      'health to see the database again',
    )
    const settled = await Promise.all(
      prepared.awards.map((target, index) => settleAward(coordinator.url, target, `silent-${index}`, 20_000)),
    )
    for (const res of settled) expect(res.status, JSON.stringify(res.body)).to.equal(200)
    const { rows } = await cluster.query(
      'SELECT count(*)::int AS n, count(DISTINCT job_id)::int AS jobs FROM assignments',
      DATABASE,
    )
    expect(rows[0]).to.deep.equal({ n: prepared.awards.length, jobs: prepared.awards.length })
  })
})
