import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { expect } from 'chai'
import { createServer as createHttpServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { privateKeyToAccount } from 'viem/accounts'
import { ChannelCaller, ClearhouseClient, runAudit } from '../../sdk'

const ROOT = path.resolve(__dirname, '../..')
/** Hardhat's dev account #3: `npm start`'s third demo wallet, which deposits 1,000 USDC at start. */
const DEMO_WALLET_3_KEY = '0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6'
const run = promisify(execFile)

/** A port nothing listens on right now. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0))
    })
  })
}

/** The first ```sh block after the line starting with `heading` in README.md. */
function shellBlockAfter(readme: string, heading: string): string {
  const start = readme.indexOf(heading)
  expect(start, `README has "${heading}"`).to.be.greaterThan(-1)
  const open = readme.indexOf('```sh\n', start)
  const close = readme.indexOf('\n```', open + 6)
  return readme.slice(open + 6, close)
}

/**
 * The README's walk-throughs, run verbatim (only the port changed) with bash and curl against the
 * real `npm start` stack: the embedded chain, PGlite, the coordinator and its workers.
 */
describe('README walk-throughs against the embedded dev stack (npm start)', () => {
  let stack: ChildProcess
  let port: number
  let rpcPort: number
  let dataDir: string
  let output = ''

  before(async function () {
    this.timeout(180_000)
    port = await freePort()
    rpcPort = await freePort()
    dataDir = await mkdtemp(path.join(tmpdir(), 'clearhouse-e2e-'))
    stack = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', 'scripts/dev.ts'], {
      cwd: ROOT,
      env: {
        ...process.env,
        PORT: String(port),
        EMBEDDED_RPC_PORT: String(rpcPort),
        EMBEDDED_PG_PORT: String(await freePort()),
        DATA_DIR: dataDir,
        DATABASE_URL: '',
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    stack.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()))
    stack.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()))
    const deadline = Date.now() + 170_000
    for (;;) {
      if (stack.exitCode !== null) throw new Error(`npm start exited:\n${output}`)
      const healthy = await fetch(`http://127.0.0.1:${port}/v1/health`)
        .then((res) => res.ok)
        .catch(() => false)
      if (healthy) break
      if (Date.now() > deadline) throw new Error(`npm start never became healthy:\n${output}`)
      await new Promise((resolve) => setTimeout(resolve, 500))
    }
  })

  after(async () => {
    if (stack && stack.exitCode === null) {
      const exited = new Promise((resolve) => stack.once('exit', resolve))
      stack.kill('SIGTERM')
      await exited
    }
    if (dataDir) await rm(dataDir, { recursive: true, force: true })
  })

  async function bash(script: string, timeoutMs = 60_000): Promise<string> {
    const withPort = script
      .replaceAll('localhost:3000', `127.0.0.1:${port}`)
      .replaceAll('localhost:8545', `127.0.0.1:${rpcPort}`)
    const { stdout } = await run('bash', ['-euo', 'pipefail', '-c', withPort], {
      cwd: ROOT,
      timeout: timeoutMs,
    })
    return stdout
  }

  it('runs the requester/worker flow to the balances the README shows, and the vault reconciles', async function () {
    this.timeout(120_000)
    const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8')
    const stdout = await bash(shellBlockAfter(readme, 'The requester and worker flow against `npm start`'))
    const lines = stdout.trim().split('\n')
    expect(lines).to.include('Security audit for auth module')
    expect(stdout).to.contain("[ 'in_progress', 'escrow_lock', 'pending' ]")
    expect(stdout).to.contain("[ '95.5', '4.5' ]")
    expect(stdout).to.contain("[ 'completed', 'accepted' ]")
    // Booked as unsettled at acceptance, available once the vault has carried the release out.
    expect(lines.slice(-3)).to.deep.equal(['95.5', "[ '0', '4.455' ]", '4.455'])

    const report = (await (await fetch(`http://127.0.0.1:${port}/v1/platform/reconciliation`)).json()) as {
      tokens: Array<Record<string, unknown>>
    }
    expect(report.tokens[0]).to.include({ difference: '0', is_balanced: true })
  })

  it('opens a dispute, adds evidence, has it ruled and shows the EscrowRuled logs and balances, as the README shows', async function () {
    this.timeout(120_000)
    const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8')
    const stdout = await bash(shellBlockAfter(readme, 'A dispute against `npm start`'))
    const lines = stdout.trim().split('\n')
    expect(lines.slice(0, 4)).to.deep.equal([
      'submitted',
      "[ '89.5', '10.5' ]",
      'url',
      "[ 'resolved', 'split' ]",
    ])
    expect(lines.slice(-4)).to.deep.equal(['6.7914', '92.94', '0.2', '2'])
  })

  it('registers a service, opens a channel, makes paid calls, settles and finds ChannelSettled, then pays a call without a channel as a micro-job, as the README shows', async function () {
    this.timeout(120_000)
    const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8')
    const stdout = await bash(shellBlockAfter(readme, 'Paid calls against `npm start`'))
    const lines = stdout.trim().split('\n')
    expect(lines).to.deep.equal([
      "[ 5, '0.01', 1 ]",
      "[ 4, '0.01', 2 ]",
      "[ 5, '0.01', 3 ]",
      "[ '0.97', '0.03', 3 ]",
      '[ [ 3, false ], [ 2, false ], [ 1, false ] ]',
      "[ 3, '0.03', '0.0297' ]",
      '0.0297',
      '1',
      "[ 'completed', '0.01', '0.0001' ]",
      '0.0396',
    ])
    const report = (await (await fetch(`http://127.0.0.1:${port}/v1/platform/reconciliation`)).json()) as {
      tokens: Array<Record<string, unknown>>
    }
    expect(report.tokens[0]).to.include({ difference: '0', is_balanced: true })
  })

  it('lists the public settlement records and audits every batch with npx clearhouse audit, as the README shows', async function () {
    this.timeout(120_000)
    const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8')
    const stdout = await bash(shellBlockAfter(readme, '### Settlement records and the auditor'))
    expect(stdout.trim().split('\n')).to.deep.equal(["[ 1, 'confirmed', true ]", '[ true, true, 3, true ]'])
  })

  it('hires a worker through a job, pays it, withdraws and audits with the CLI alone, as the README shows', async function () {
    this.timeout(180_000)
    const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8')
    const stdout = await bash(
      shellBlockAfter(readme, '### The CLI: hire an agent, pay it, withdraw, audit'),
      150_000,
    )
    expect(stdout.trim().split('\n')).to.deep.equal([
      'cli_requester',
      'cli_worker',
      'in_progress',
      'submitted',
      'completed',
      "[ '5', 'success' ]",
      '2.92',
      'true',
    ])
  })

  it('runs the walk-throughs with the SDK: a job paid and withdrawn, a self-custody caller’s signed vouchers, an audit', async function () {
    this.timeout(180_000)
    const baseUrl = `http://127.0.0.1:${port}`
    const anonymous = new ClearhouseClient({ baseUrl })
    const agent = async (handle: string) =>
      anonymous.with({ apiKey: (await anonymous.agents.register({ handle })).api_key })
    const until = async (what: string, check: () => Promise<boolean>) => {
      const deadline = Date.now() + 60_000
      while (!(await check())) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
        await new Promise((resolve) => setTimeout(resolve, 500))
      }
    }

    // The requester/worker flow, then the worker withdraws.
    const requester = await agent('sdk_requester')
    const worker = await agent('sdk_worker')
    await requester.wallet.faucet({ amount: '100' })
    const job = await requester.jobs.create({
      title: 'Port the README walkthrough to the SDK',
      description: 'Every curl of the requester and worker walkthrough, written as typed SDK calls instead.',
      budget_amount: '20',
    })
    const bid = await worker.jobs.bid(job.job_id, {
      amount: '12',
      eta_seconds: 3600,
      proposal: 'Typed and tested.',
    })
    await requester.jobs.award(job.job_id, { bid_id: bid.bid_id })
    await worker.jobs.submit(job.job_id, { deliverable: 'https://example.com/sdk-port.md' })
    expect((await requester.jobs.accept(job.job_id)).job.status).to.equal('completed')
    await until(
      'the release to land',
      async () => (await worker.wallet.balance()).balances[0]!.unsettled === '0',
    )
    const withdrawal = await worker.wallet.withdraw({
      amount: '10',
      to: '0x000000000000000000000000000000000000dEaD',
    })
    await until(
      'the withdrawal to land',
      async () => (await worker.wallet.withdrawal(withdrawal.withdrawal_id)).status === 'success',
    )
    expect((await worker.wallet.balance()).balances[0]!.available).to.equal('1.88')

    // A provider on this machine, and demo wallet #3 (self-custody) paying it per call on a channel.
    const provider = await agent('sdk_provider')
    const upstream = createHttpServer((req, res) => {
      let body = ''
      req.on('data', (chunk) => (body += chunk))
      req.on('end', () => {
        res.setHeader('content-type', 'application/json')
        res.end(JSON.stringify({ length: String(JSON.parse(body).input).length }))
      })
    })
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve))
    try {
      const service = await provider.services.create({
        name: 'Length',
        category: 'text',
        pricing_model: 'per_call',
        price_amount: '0.01',
        endpoint_url: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/`,
      })
      const caller = new ClearhouseClient({ baseUrl, wallet: privateKeyToAccount(DEMO_WALLET_3_KEY) })
      await caller.agents.registerWithWallet({ handle: 'sdk_demo_three' })
      expect((await caller.wallet.balance()).balances[0]!.available, 'its start-up deposit').to.equal('1000')
      const channel = await ChannelCaller.open(caller, {
        service_id: service.service_id,
        deposit_amount: '1',
      })
      await until(
        'the funding to land',
        async () => (await caller.channels.get(channel.id)).status === 'active',
      )
      const lengths = []
      for (const word of ['one', 'three', 'eleven']) lengths.push((await channel.call(word)).output)
      expect(lengths).to.deep.equal([{ length: 3 }, { length: 5 }, { length: 6 }])
      await caller.channels.settle(channel.id)
      await until(
        'the settlement to land',
        async () => (await caller.channels.settlements(channel.id))[0]?.status === 'settled',
      )
      expect((await provider.wallet.balance()).balances[0]!.available).to.equal('0.0297')
    } finally {
      upstream.close()
    }

    const report = await runAudit({ rpcUrl: `http://127.0.0.1:${rpcPort}`, apiUrl: baseUrl })
    expect(report.problems).to.deep.equal([])
    expect(report.callsChecked).to.be.at.least(6)
  })

  it('delivers a bid to its job creator over the WebSocket, as the README shows', async function () {
    this.timeout(60_000)
    const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8')
    const stdout = await bash(shellBlockAfter(readme, '### Events over WebSocket (`GET /v1/ws`)'))
    expect(stdout.trim()).to.equal("[ 'event', 'bid_received', '4' ]")
  })

  it('lets the published x402 client pay a service with no account, the provider credited, as the README shows', async function () {
    this.timeout(90_000)
    const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8')
    const stdout = await bash(shellBlockAfter(readme, '### Paying with x402'))
    expect(stdout.trim().split('\n')).to.deep.equal([
      "[ 200, 'HELLO', true ]",
      "[ '0.0099' ]",
      "[ 'AGAIN', '0.02' ]",
      "[ [ 'answered', '0.01', true ] ]",
    ])
  })

  it('replays the public feed over SSE from Last-Event-ID 0, as the README shows', async function () {
    this.timeout(60_000)
    const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8')
    const stdout = await bash(shellBlockAfter(readme, '### The public feed over Server-Sent Events'))
    expect(stdout.trim()).to.equal("[ 'job_created', 'Proofread the changelog', null ]")
  })

  it('sends task.posted to a matching agent’s webhook, signed so the SDK verifies it, as the README shows', async function () {
    this.timeout(60_000)
    const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8')
    const stdout = await bash(shellBlockAfter(readme, '### Signed webhooks'))
    expect(stdout.trim().split('\n')).to.deep.equal([
      "[ true, 'task.posted', 'Translate the FAQ' ]",
      "[ [ 'task.posted', 'delivered', 1 ] ]",
    ])
  })

  it('withdraws through the settler as the README shows', async function () {
    this.timeout(120_000)
    const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8')
    const setup = `
      json() { node -pe "const v=JSON.parse(require('fs').readFileSync(0)); $1"; }
      KEY=$(curl -s -X POST localhost:3000/v1/agents/register -H 'Content-Type: application/json' -d '{"handle":"e2e_withdrawer"}' | json v.api_key)
      curl -s -X POST localhost:3000/v1/dev/faucet -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' -d '{"amount":"100"}' >/dev/null
    `
    const block = shellBlockAfter(readme, '**Withdrawals.**')
    const stdout = await bash(setup + block)
    expect(stdout).to.match(/^pending\n/)
    expect(stdout).to.match(/\[\s*'success',\s*'0x[0-9a-f]{64}'\s*\]/)
  })
  it("credits a demo wallet's start-up deposit at registration and a depositFor made for it, as the README shows", async function () {
    this.timeout(120_000)
    const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8')
    const stdout = await bash(shellBlockAfter(readme, 'Against `npm start`: demo wallet #1 registers'))
    const lines = stdout.trim().split('\n')
    expect(lines[0]).to.equal('1000')
    expect(stdout).to.contain("[ [ '5', 'success' ], [ '1000', 'success' ] ]")
  })
  /**
   * Each seed's documented flow as the README gives it to an agent written for that seed: the
   * block run as it is, what it prints compared with what the README says it prints.
   */
  describe("the seeds' flows, as the README gives them", () => {
    async function runBlock(heading: string, timeoutMs = 90_000): Promise<string[]> {
      const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8')
      return (await bash(shellBlockAfter(readme, heading), timeoutMs)).trim().split('\n')
    }

    it("runs seed 001's quick start: register, browse the board without a key, accept, complete, execute, wallet", async function () {
      this.timeout(120_000)
      expect(await runBlock("Seed 001's quick start against `npm start`")).to.deep.equal([
        'researchbot',
        "[ 'assigned', '25' ]",
        "[ 'completed', 'Here is my completed work...' ]",
        'Packets flow like streams...',
        '23.5',
        '24.75',
      ])
    })

    it('hires a service for a job in one call with POST /v1/jobs/instant (seed 004)', async function () {
      this.timeout(120_000)
      expect(await runBlock('#### Instant jobs')).to.deep.equal([
        "[ 'in_progress', 'Spanish translation', '3', 'assigned' ]",
      ])
    })

    it('opens a session with the CLI, continues it and settles 14 of a 20 budget: 13.86 to the agent, 6 back (seed 000)', async function () {
      this.timeout(180_000)
      expect(await runBlock('### Sessions (seed 000)', 170_000)).to.deep.equal([
        "[ 'session_created', 'Which signing algorithm?' ]",
        "[ 'active', 'Done: JWT with RS256. Ready to settle.' ]",
        "[ 'settled', '14', '6', '0.14', 'USDC' ]",
        '86',
        '13.86',
      ])
    })

    it('reserves a reservable job, reads its private instructions and completes it with proof (seed 003, API key)', async function () {
      this.timeout(120_000)
      expect(await runBlock('### Reservable jobs (seed 003')).to.deep.equal([
        "[ 'completed', 'Post it to ticket #12345.' ]",
      ])
    })

    it("runs seed 003's job loop from an agent that signs every call in the body with its own wallet", async function () {
      this.timeout(120_000)
      expect(await runBlock('An agent written for seed 003 keeps its own code')).to.deep.equal([
        "[ 'active', 'Use the labels in the triage sheet.', '3' ]",
        "[ 'completed', 'released' ]",
      ])
    })

    it('routes a task by capability to a provider that completes it through the API, paid from escrow (seed 002)', async function () {
      this.timeout(120_000)
      expect(await runBlock('### Tasks: routed by capability')).to.deep.equal([
        "[ 'assigned', 'Translation by hand', 'held' ]",
        "[ 'completed', 'Hola', 'released' ]",
      ])
    })

    it('negotiates a hybrid service down through two counters and accepts into an escrowed award (seed 002)', async function () {
      this.timeout(120_000)
      expect(await runBlock('### Negotiations (seed 002)')).to.deep.equal([
        "[ 'accepted', '7.5', 3 ]",
        "[ '2.5', '7.5' ]",
      ])
    })

    it('calculates the fee and net of a payment from the vault’s fee rate (seed 002)', async function () {
      this.timeout(60_000)
      expect(await runBlock('### Fees: `POST /v1/fees/calculate`')).to.deep.equal(["[ '0.1', '9.9', 100 ]"])
    })
  })
})
