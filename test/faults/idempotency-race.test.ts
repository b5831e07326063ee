import { expect } from 'chai'
import type { RunningCoordinator } from '../../server/coordinator'
import { startInProcessCoordinator } from './helpers/coordinator'
import { startDisposablePostgres, type DisposablePostgres } from './helpers/disposable-postgres'
import { award, prepareAwards, waitFor, type AwardTarget } from './helpers/http-client'
import { countWaiting, holdAwardsMidTransaction } from './helpers/stalls'

const DATABASE = 'clearhouse'

/**
 * Issue 11, finding 5: the lease on an Idempotency-Key claim must never let one request run twice,
 * neither when two copies arrive together nor when a retry takes over a claim whose lease ran out
 * while the first copy was still working.
 */
describe('faults: requests racing for one Idempotency-Key', () => {
  let cluster: DisposablePostgres
  let coordinator: RunningCoordinator
  let targets: AwardTarget[]

  before(async function () {
    this.timeout(120_000)
    cluster = await startDisposablePostgres()
    await cluster.createDatabase(DATABASE)
    coordinator = await startInProcessCoordinator(cluster.url(DATABASE), { IDEMPOTENCY_LEASE_SECONDS: '1' })
    ;({ awards: targets } = await prepareAwards(coordinator.url, 11, { requesters: 'each' }))
  })
  after(async () => {
    await coordinator?.stop()
    await cluster?.destroy()
  })

  async function assignmentsOf(target: AwardTarget): Promise<number> {
    const { rows } = await cluster.query(
      `SELECT count(*)::int AS n FROM assignments WHERE job_id = '${target.jobId}'`,
      DATABASE,
    )
    return rows[0].n as number
  }

  it('two concurrent requests with the same key never both execute', async function () {
    this.timeout(30_000)
    for (const [index, target] of targets.slice(0, 10).entries()) {
      const pair = await Promise.all([
        award(coordinator.url, target, `pair-${index}`),
        award(coordinator.url, target, `pair-${index}`),
      ])
      const executed = pair.filter(
        (res) => res.status === 200 && res.headers.get('idempotent-replayed') === null,
      )
      expect(executed, JSON.stringify(pair.map((res) => [res.status, res.body]))).to.have.length(1)
      for (const res of pair) {
        if (res !== executed[0]) {
          const waited = res.status === 409 && res.body.error?.code === 'idempotency_in_progress'
          const replayed = res.status === 200 && res.headers.get('idempotent-replayed') === 'true'
          expect(waited || replayed, `${res.status} ${JSON.stringify(res.body)}`).to.equal(true)
        }
      }
      expect(await assignmentsOf(target)).to.equal(1)
    }
  })

  it('a retry that takes over an expired claim fences out the first request: only one commits', async function () {
    this.timeout(30_000)
    const target = targets[10]!
    const hold = await holdAwardsMidTransaction(cluster.url(DATABASE))
    let first: ReturnType<typeof award> | null = null
    try {
      first = award(coordinator.url, target, 'takeover')
      await waitFor(
        async () => (await countWaiting((sql) => cluster.query(sql), DATABASE, 'Lock')) === 1,
        10_000,
        'the first award to block mid-transaction',
      )
      // The first copy is alive but its lease is gone, as if its heartbeats had stopped reaching
      // the database: a retry may now take the claim over.
      await cluster.query(
        `UPDATE idempotency_keys SET lease_expires_at = now() - interval '1 second' WHERE key = 'takeover'`,
        DATABASE,
      )
      const retry = award(coordinator.url, target, 'takeover')
      await waitFor(
        async () => (await countWaiting((sql) => cluster.query(sql), DATABASE, 'Lock')) === 2,
        10_000,
        'the retry to block behind the first',
      )
      await hold.release()
      const [firstAnswer, retryAnswer] = await Promise.all([first, retry])
      expect(firstAnswer.status, JSON.stringify(firstAnswer.body)).to.equal(409)
      expect(firstAnswer.body.error?.code).to.equal('idempotency_claim_lost')
      expect(retryAnswer.status, JSON.stringify(retryAnswer.body)).to.equal(200)
      expect(retryAnswer.headers.get('idempotent-replayed')).to.equal(null)
      expect(await assignmentsOf(target)).to.equal(1)

      const replay = await award(coordinator.url, target, 'takeover')
      expect(replay.status).to.equal(200)
      expect(replay.headers.get('idempotent-replayed')).to.equal('true')
      expect(replay.body).to.deep.equal(retryAnswer.body)
    } finally {
      await hold.release()
      await first
    }
  })
})
