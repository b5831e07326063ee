import { expect } from 'chai'
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createTestApp } from '../helpers/app'
import { createTestDatabase, type TestDatabase } from '../helpers/database'

const CLI = path.join(__dirname, '../../../bin/clearhouse.js')

/**
 * Issue 15: the `clearhouse` CLI as a user runs it, a child process: `register` stores the key
 * (owner-readable only), commands read it, `--json` prints the API's answer, tables are for
 * people, and any error is exit code 1 with one line on stderr.
 */
describe('the clearhouse CLI', () => {
  let database: TestDatabase
  let server: Server
  let apiUrl: string
  let home: string

  before(async () => {
    database = await createTestDatabase()
    const { app } = await createTestApp(database)
    server = app.listen(0, '127.0.0.1')
    await new Promise((resolve) => server.once('listening', resolve))
    apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    home = await mkdtemp(path.join(tmpdir(), 'clearhouse-cli-'))
  })
  after(async () => {
    server?.close()
    await database?.drop()
    await rm(home, { recursive: true, force: true })
  })

  function cli(
    args: string[],
    env: Record<string, string> = {},
  ): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      execFile(
        process.execPath,
        [CLI, ...args],
        {
          timeout: 60_000,
          env: {
            PATH: process.env.PATH ?? '',
            CLEARHOUSE_API_URL: apiUrl,
            CLEARHOUSE_CONFIG: path.join(home, 'config.json'),
            ...env,
          },
        },
        (error, stdout, stderr) => {
          if (error && typeof error.code !== 'number') return reject(error)
          resolve({ code: error ? (error.code as number) : 0, stdout, stderr })
        },
      )
    })
  }

  it('refuses a command that needs a key before anyone logged in: exit 1, one line', async function () {
    this.timeout(30_000)
    const res = await cli(['wallet', 'balance'])
    expect(res.code).to.equal(1)
    expect(res.stderr.trim().split('\n')).to.have.length(1)
    expect(res.stderr).to.match(/^clearhouse: not logged in/)
  })

  it('registers an agent, stores its key readable by its owner only, and uses it', async function () {
    this.timeout(60_000)
    const registered = await cli(['register', '--handle', 'cli_tester', '--json'])
    expect(registered.code, registered.stderr).to.equal(0)
    const agent = JSON.parse(registered.stdout)
    expect(agent.handle).to.equal('cli_tester')
    const file = path.join(home, 'config.json')
    expect(JSON.parse(await readFile(file, 'utf8'))).to.deep.equal({
      api_url: apiUrl,
      api_key: agent.api_key,
    })
    expect((await stat(file)).mode & 0o777).to.equal(0o600)

    const whoami = await cli(['whoami'])
    expect(whoami.code).to.equal(0)
    expect(whoami.stdout)
      .to.match(/^agent_id\s+/m)
      .and.to.contain('cli_tester')
  })

  it('prints tables for people and the API’s JSON with --json', async function () {
    this.timeout(60_000)
    expect((await cli(['wallet', 'deposit', '--faucet', '50', '--json'])).code).to.equal(0)
    const created = await cli([
      'jobs',
      'create',
      '--title',
      'A job posted from the CLI test',
      '--description',
      'The CLI posts this job as a child process and reads it back as a table and as JSON.',
      '--budget',
      '5',
      '--json',
    ])
    expect(created.code, created.stderr).to.equal(0)
    const job = JSON.parse(created.stdout)
    expect(job).to.include({ status: 'open', budget_amount: '5' })

    const table = await cli(['jobs', 'list', '--mine'])
    const [header, rule, row] = table.stdout.trim().split('\n')
    expect(header).to.match(/^job_id\s+status\s+budget\s+title$/)
    expect(rule).to.match(/^-+\s+-+/)
    expect(row).to.contain(job.job_id).and.to.contain('A job posted from the CLI test')
    const listed = JSON.parse((await cli(['jobs', 'list', '--mine', '--json'])).stdout)
    expect(listed.map((entry: { job_id: string }) => entry.job_id)).to.deep.equal([job.job_id])

    const balance = JSON.parse((await cli(['wallet', 'balance', '--json'])).stdout)
    expect(balance.balances[0].available).to.equal('50')
  })

  it('answers an API error with exit 1 and one stderr line carrying its message; usage errors too', async function () {
    this.timeout(60_000)
    const missing = await cli(['jobs', 'show', '00000000-0000-4000-8000-000000000000'])
    expect(missing.code).to.equal(1)
    expect(missing.stderr.trim().split('\n')).to.have.length(1)
    expect(missing.stderr).to.match(/^clearhouse: job 00000000-0000-4000-8000-000000000000 not found/)
    const poor = await cli([
      'wallet',
      'withdraw',
      '--amount',
      '1000',
      '--to',
      '0x000000000000000000000000000000000000dEaD',
    ])
    expect(poor.code).to.equal(1)
    expect(poor.stderr.trim().split('\n')).to.have.length(1)
    const usage = await cli(['jobs', 'bid'])
    expect(usage.code).to.not.equal(0)
    expect(usage.stderr.trim().split('\n')).to.have.length(1)
    expect(usage.stderr).to.match(/^clearhouse: (missing required argument|required option)/)
    const unreachable = await cli(['whoami'], { CLEARHOUSE_API_URL: 'http://127.0.0.1:9' })
    expect(unreachable.code).to.equal(1)
    expect(unreachable.stderr.trim().split('\n')).to.have.length(1)
  })
})
