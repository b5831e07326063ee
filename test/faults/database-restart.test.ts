import { expect } from 'chai'
import type { RunningCoordinator } from '../../server/coordinator'
import { startInProcessCoordinator } from './helpers/coordinator'
import { startDisposablePostgres, type DisposablePostgres } from './helpers/disposable-postgres'
import {
  api,
  award,
  prepareAwards,
  settleAward,
  waitFor,
  type ApiResponse,
  type PreparedAwards,
} from './helpers/http-client'
import { countWaiting, holdAwardsMidTransaction } from './helpers/stalls'

const DATABASE = 'clearhouse'
const LEASE_SECONDS = 2

/** A 503 in the API's error shape that says the database is away and when to come back. */
function expectDatabaseUnavailable(res: ApiResponse): void {
  expect(res.status, JSON.stringify(res.body)).to.equal(503)
  expect(res.body.error?.code).to.equal('database_unavailable')
  expect(res.body.error?.message).to.be.a('string')
  expect(res.headers.get('retry-after')).to.match(/^\d+$/)
}

/**
 * Issue 11, finding 3: Postgres going away under load. A real cluster of the test's own is
 * restarted and stopped while 30 awards with Idempotency-Keys are blocked inside their
 * transactions; the coordinator (same composition root as `server/main.ts`, real HTTP) must stay
 * up, answer 503 `database_unavailable` while the database is away, and every key must then come
 * to one definitive answer with each job awarded exactly once.
 */
describe('faults: the database restarts and stops under load', () => {
  let cluster: DisposablePostgres
  let coordinator: RunningCoordinator
  let prepared: PreparedAwards
  const uncaught: unknown[] = []
  const recordUncaught = (error: unknown) => uncaught.push(error)

  before(async function () {
    this.timeout(120_000)
    cluster = await startDisposablePostgres()
    await cluster.createDatabase(DATABASE)
    coordinator = await startInProcessCoordinator(cluster.url(DATABASE), {
      IDEMPOTENCY_LEASE_SECONDS: String(LEASE_SECONDS),
      DATABASE_CONNECT_TIMEOUT_MS: '2000',
      DATABASE_QUERY_TIMEOUT_MS: '5000',
      HEALTH_TIMEOUT_MS: '1000',
    })
    prepared = await prepareAwards(coordinator.url, 60)
    process.prependListener('uncaughtException', recordUncaught)
  })
  after(async () => {
    process.off('uncaughtException', recordUncaught)
    await coordinator?.stop()
    await cluster?.destroy()
  })

  /** Each of the 30 jobs awarded exactly once, and escrow moved once per award. */
  async function expectAwardedOnce(targets: PreparedAwards['awards']): Promise<void> {
    const ids = targets.map((target) => `'${target.jobId}'`).join(',')
    const { rows } = await cluster.query(
      `SELECT j.id::text AS id, count(a.id)::int AS n FROM jobs AS j
       LEFT JOIN assignments AS a ON a.job_id = j.id WHERE j.id IN (${ids}) GROUP BY j.id`,
      DATABASE,
    )
    expect(rows).to.have.length(targets.length)
    for (const row of rows) expect(row.n, `assignments of job ${row.id}`).to.equal(1)
  }

  /** Fires awards for `targets` while they are all held mid-transaction, then runs `fault`. */
  async function awardsInFlightDuring(
    targets: PreparedAwards['awards'],
    prefix: string,
    fault: () => Promise<void>,
  ): Promise<ApiResponse[]> {
    const hold = await holdAwardsMidTransaction(cluster.url(DATABASE))
    const inFlight = targets.map((target, index) =>
      award(coordinator.url, target, `${prefix}-${index}`, 30_000),
    )
    await waitFor(
      async () => (await countWaiting((sql) => cluster.query(sql), DATABASE, 'Lock')) >= 5,
      10_000,
      'awards blocked mid-transaction',
    )
    await fault()
    await hold.release()
    return Promise.all(inFlight)
  }

  it('survives a restart with 30 awards in flight: each answers 200 or 503, then every key settles to one award', async function () {
    this.timeout(60_000)
    const targets = prepared.awards.slice(0, 30)
    const first = await awardsInFlightDuring(targets, 'restart', () => cluster.restart('fast'))

    expect(uncaught, 'uncaught errors').to.deep.equal([])
    for (const res of first) {
      if (res.status !== 200) expectDatabaseUnavailable(res)
    }
    expect(
      first.filter((res) => res.status === 503).length,
      'answers that saw the restart',
    ).to.be.greaterThan(0)

    const settled = await Promise.all(
      targets.map((target, index) => settleAward(coordinator.url, target, `restart-${index}`, 20_000)),
    )
    for (const res of settled) {
      const definitive =
        res.status === 200 ||
        (res.status === 409 && res.body.error?.code === 'idempotency_outcome_unrecorded')
      expect(definitive, `${res.status} ${JSON.stringify(res.body)}`).to.equal(true)
    }
    await expectAwardedOnce(targets)
  })

  it('answers 503 database_unavailable with Retry-After while the database is stopped, says so in /v1/health, and recovers', async function () {
    this.timeout(60_000)
    const targets = prepared.awards.slice(30, 60)
    const first = await awardsInFlightDuring(targets, 'stop', () => cluster.stop('fast'))
    try {
      expect(uncaught, 'uncaught errors').to.deep.equal([])
      for (const res of first) {
        if (res.status !== 200) expectDatabaseUnavailable(res)
      }

      // While it is down: a new award, an authenticated read and the health check all answer, fast.
      const [newAward, balance, health] = await Promise.all([
        award(coordinator.url, targets[0]!, 'stop-while-down', 10_000),
        api(coordinator.url, 'GET', '/v1/wallet/balance', {
          apiKey: prepared.awards[0]!.requesterKey,
          timeoutMs: 10_000,
        }),
        api(coordinator.url, 'GET', '/v1/health', { timeoutMs: 10_000 }),
      ])
      expectDatabaseUnavailable(newAward)
      expectDatabaseUnavailable(balance)
      expect(newAward.ms).to.be.below(5_000)
      expect(health.status).to.equal(503)
      expect(health.ms).to.be.below(3_000)
      const dependencies = health.body.dependencies as Record<string, { status: string }>
      expect(dependencies.database!.status).to.equal('down')
    } finally {
      await cluster.start()
    }

    await waitFor(
      async () => {
        const health = await api(coordinator.url, 'GET', '/v1/health', { timeoutMs: 5_000 })
        return (health.body.dependencies as Record<string, { status: string }>)?.database?.status === 'ok'
      },
      15_000,
      'health to see the database again',
    )
    const settled = await Promise.all(
      targets.map((target, index) => settleAward(coordinator.url, target, `stop-${index}`, 20_000)),
    )
    for (const res of settled) {
      const definitive =
        res.status === 200 ||
        (res.status === 409 && res.body.error?.code === 'idempotency_outcome_unrecorded')
      expect(definitive, `${res.status} ${JSON.stringify(res.body)}`).to.equal(true)
    }
    await expectAwardedOnce(targets)
    expect(uncaught, 'uncaught errors').to.deep.equal([])
  })
})
