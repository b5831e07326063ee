import { expect } from 'chai'
import {
  faultEnvironment,
  killCoordinator,
  spawnCoordinator,
  startInProcessCoordinator,
  type CoordinatorProcess,
} from './helpers/coordinator'
import { freePort, startDisposablePostgres, type DisposablePostgres } from './helpers/disposable-postgres'
import { award, prepareAwards, settleAward, waitFor, type AwardTarget } from './helpers/http-client'
import { countWaiting } from './helpers/stalls'

const DATABASE = 'clearhouse'
const LEASE_SECONDS = 2

/**
 * Real Postgres stalls, installed by the test, that put awards exactly where a crash hurts most:
 * `before-commit-*` jobs sleep inside the award transaction (inserting the assignment), and
 * `after-commit-*` keys sleep while the response is being stored, after the award committed.
 */
function stallsSql(beforeCommitJobIds: string[]): string {
  return `
    CREATE FUNCTION fault_stall() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM pg_sleep(20);
      RETURN NEW;
    END $$;
    CREATE TRIGGER fault_stall_before_commit BEFORE INSERT ON assignments FOR EACH ROW
      WHEN (NEW.job_id::text IN (${beforeCommitJobIds.map((id) => `'${id}'`).join(',')}))
      EXECUTE FUNCTION fault_stall();
    CREATE TRIGGER fault_stall_after_commit BEFORE UPDATE ON idempotency_keys FOR EACH ROW
      WHEN (NEW.key LIKE 'after-commit-%' AND NEW.state = 'completed' AND OLD.state = 'in_progress')
      EXECUTE FUNCTION fault_stall();`
}

const DROP_STALLS = `
  DROP TRIGGER fault_stall_before_commit ON assignments;
  DROP TRIGGER fault_stall_after_commit ON idempotency_keys;
  DROP FUNCTION fault_stall();`

/**
 * Issue 11, finding 5: a coordinator killed with SIGKILL mid-request must not leave Idempotency-Keys
 * stuck for 24 hours. `server/main.ts` runs as a child process with a 2 s lease; 30 awards are in
 * three states when it dies (answered, stalled before their commit, stalled after it), and once
 * it is back every key gives a definitive answer within the lease: the answered ones replay, the
 * uncommitted ones run (once), the committed-but-unanswered ones say so with 409.
 */
describe('faults: kill -9 in the middle of idempotent requests', () => {
  let cluster: DisposablePostgres
  let coordinator: CoordinatorProcess | null = null
  let targets: AwardTarget[]
  let env: Record<string, string>

  before(async function () {
    this.timeout(120_000)
    cluster = await startDisposablePostgres()
    await cluster.createDatabase(DATABASE)
    // Agents, funds and jobs through the API of an in-process coordinator (it has the dev faucet).
    const setup = await startInProcessCoordinator(cluster.url(DATABASE))
    try {
      ;({ awards: targets } = await prepareAwards(setup.url, 30, { requesters: 'each' }))
    } finally {
      await setup.stop()
    }
    env = faultEnvironment(cluster.url(DATABASE), {
      LOG_LEVEL: 'info',
      IDEMPOTENCY_LEASE_SECONDS: String(LEASE_SECONDS),
      // Room for all 20 stalled requests at once, and for the rest beside them.
      DATABASE_POOL_SIZE: '40',
      // The stalls sleep 20 s: the kill, not a timeout, must be what ends them.
      DATABASE_STATEMENT_TIMEOUT_MS: '60000',
      DATABASE_QUERY_TIMEOUT_MS: '60000',
    })
    delete env.PORT
  })
  after(async () => {
    await killCoordinator(coordinator)
    await cluster?.destroy()
  })

  it('every key comes to a definitive answer after a restart: replayed, run once, or 409 outcome unrecorded', async function () {
    this.timeout(120_000)
    const answered = targets.slice(0, 10)
    const beforeCommit = targets.slice(10, 20)
    const afterCommit = targets.slice(20, 30)
    const keyOf = (target: AwardTarget) =>
      answered.includes(target)
        ? `answered-${targets.indexOf(target)}`
        : beforeCommit.includes(target)
          ? `before-commit-${targets.indexOf(target)}`
          : `after-commit-${targets.indexOf(target)}`

    await cluster.query(stallsSql(beforeCommit.map((target) => target.jobId)), DATABASE)
    const port = String(await freePort())
    coordinator = await spawnCoordinator({ ...env, PORT: port })

    const firstAnswers = await Promise.all(
      answered.map((target) => award(coordinator!.url, target, keyOf(target))),
    )
    for (const res of firstAnswers) expect(res.status, JSON.stringify(res.body)).to.equal(200)

    const inFlight = [...beforeCommit, ...afterCommit].map((target) =>
      award(coordinator!.url, target, keyOf(target), 30_000),
    )
    await waitFor(
      async () => (await countWaiting((sql) => cluster.query(sql), DATABASE, 'PgSleep')) === 20,
      20_000,
      '20 awards stalled before and after their commit',
    )
    coordinator.child.kill('SIGKILL')
    expect(await coordinator.exited).to.equal('SIGKILL')
    for (const res of await Promise.all(inFlight))
      expect(res.status, 'no answer from a killed process').to.equal(0)

    // Postgres notices the dead client within client_connection_check_interval and rolls back.
    await waitFor(
      async () => (await countWaiting((sql) => cluster.query(sql), DATABASE, 'PgSleep')) === 0,
      10_000,
      'the sessions of the killed process to end',
    )
    await cluster.query(DROP_STALLS, DATABASE)
    coordinator = await spawnCoordinator({ ...env, PORT: port })
    const restartedAt = Date.now()

    const settled = await Promise.all(
      targets.map((target) => settleAward(coordinator!.url, target, keyOf(target), 4 * LEASE_SECONDS * 1000)),
    )
    expect(Date.now() - restartedAt, 'every key answered within a few leases').to.be.below(
      6 * LEASE_SECONDS * 1000,
    )
    settled.forEach((res, index) => {
      const target = targets[index]!
      if (answered.includes(target)) {
        expect(res.status).to.equal(200)
        expect(res.headers.get('idempotent-replayed')).to.equal('true')
        expect(res.body).to.deep.equal(firstAnswers[index]!.body)
      } else if (beforeCommit.includes(target)) {
        expect(res.status, JSON.stringify(res.body)).to.equal(200)
        expect(res.headers.get('idempotent-replayed'), 'never committed: the retry runs it').to.equal(null)
      } else {
        expect(res.status, JSON.stringify(res.body)).to.equal(409)
        expect(res.body.error?.code).to.equal('idempotency_outcome_unrecorded')
      }
    })

    // Exactly one award per job, whichever way its key went.
    const ids = targets.map((target) => `'${target.jobId}'`).join(',')
    const { rows } = await cluster.query(
      `SELECT count(*)::int AS n, count(DISTINCT job_id)::int AS jobs FROM assignments WHERE job_id::text IN (${ids})`,
      DATABASE,
    )
    expect(rows[0]).to.deep.equal({ n: 30, jobs: 30 })
    // And the answers stay the same: the retried ones now replay.
    for (const target of beforeCommit) {
      const again = await award(coordinator.url, target, keyOf(target))
      expect(again.status).to.equal(200)
      expect(again.headers.get('idempotent-replayed')).to.equal('true')
    }
  })
})
