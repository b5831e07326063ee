import { expect } from 'chai'
import hre from 'hardhat'
import { execFile } from 'node:child_process'
import path from 'node:path'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import request from 'supertest'
import { parseUnits, type Address, type Hex } from 'viem'
import { formatAmount } from '../../../protocol/amounts'
import { computeOpsRoot, type SettlementPage, type SettlementRecord } from '../../../protocol/settlements'
import { runAudit, type AuditReport } from '../../../sdk/audit/auditor'
import { bearer, registerAgent } from '../helpers/agents'
import { hardhatRpcUrl, mockUsdc } from '../helpers/chain'
import { createChainTestApp, type ChainTestApp } from '../helpers/chain-app'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { postBid, postJob, postSubmit } from '../helpers/jobs'
import { startUpstreamStub, type UpstreamStub } from '../helpers/upstream'

const USDC = 1_000_000n
const PRICE_UNITS = 10_000n
const OUTSIDE = '0x00000000000000000000000000000000000d0d0e' as Address

/**
 * Issue 15: the public settlement records, and the auditor that re-verifies every settled batch
 * from them and the chain. The history holds a job (escrow lock and release), a fast withdrawal, a
 * channel (funding, a settlement of its calls, a close) and a micro-job; the auditor passes on it
 * and names the batch when one call record, one op, or the coordinator's signature is changed in
 * the database, and the token when the vault's balance is moved behind the ledger's back.
 */
/** The CLI as a user runs it: `bin/clearhouse.js` in a child process. */
function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [path.join(__dirname, '../../../bin/clearhouse.js'), ...args],
      { timeout: 60_000 },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number') return reject(error)
        resolve({ code: error ? (error.code as number) : 0, stdout, stderr })
      },
    )
  })
}

describe('public settlement records and the auditor', () => {
  let database: TestDatabase
  let chain: ChainTestApp
  let upstream: UpstreamStub
  let server: Server
  let apiUrl: string
  let rpcUrl: string
  let channelId: string
  let callCount = 0

  before(async function () {
    this.timeout(180_000)
    database = await createTestDatabase()
    chain = await createChainTestApp(database)
    upstream = await startUpstreamStub()
    server = chain.app.listen(0, '127.0.0.1')
    await new Promise((resolve) => server.once('listening', resolve))
    apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    rpcUrl = await hardhatRpcUrl()

    const payer = await registerAgent(chain.app)
    const worker = await registerAgent(chain.app)
    const caller = await registerAgent(chain.app)
    for (const agent of [payer, caller]) await chain.fund(agent.agent.wallet_address as Address, 50n * USDC)

    // A job: the payer's escrow lock, then its release.
    const job = await postJob(chain.app, payer.apiKey)
    const bid = await postBid(chain.app, worker.apiKey, job.job_id, { amount: '10' })
    await request(chain.app)
      .post(`/v1/jobs/${job.job_id}/award`)
      .set('Authorization', bearer(payer.apiKey))
      .send({ bid_id: bid.bid_id })
      .expect(200)
    await postSubmit(chain.app, worker.apiKey, job.job_id)
    await request(chain.app)
      .post(`/v1/jobs/${job.job_id}/accept`)
      .set('Authorization', bearer(payer.apiKey))
      .send({})
      .expect(200)
    // A fast withdrawal.
    await request(chain.app)
      .post('/v1/wallet/withdraw')
      .set('Authorization', bearer(payer.apiKey))
      .send({ amount: '5', to: OUTSIDE })
      .expect(201)
    // A channel: funded, called, settled, then called again and closed.
    const service = await request(chain.app)
      .post('/v1/agents/me/services')
      .set('Authorization', bearer(worker.apiKey))
      .send({
        name: 'Echo',
        category: 'testing',
        pricing_model: 'per_call',
        price_amount: formatAmount(PRICE_UNITS, 6),
        settlement_interval: 1000,
        endpoint_url: `${upstream.baseUrl}/echo`,
      })
      .expect(201)
    const serviceId = service.body.service_id as string
    const opened = await request(chain.app)
      .post('/v1/channels')
      .set('Authorization', bearer(caller.apiKey))
      .send({ service_id: serviceId, deposit_amount: '1' })
      .expect(201)
    channelId = opened.body.channel_id
    const call = async (input: unknown) => {
      await request(chain.app)
        .post(`/v1/services/${serviceId}/invoke`)
        .set('Authorization', bearer(caller.apiKey))
        .send({ input })
        .expect(200)
      callCount += 1
    }
    await chain.settle()
    for (let n = 0; n < 4; n += 1) await call({ n })
    await request(chain.app)
      .post(`/v1/channels/${channelId}/settle`)
      .set('Authorization', bearer(caller.apiKey))
      .send({})
      .expect(200)
    await chain.settle()
    for (let n = 4; n < 7; n += 1) await call({ n })
    await request(chain.app)
      .post(`/v1/channels/${channelId}/close`)
      .set('Authorization', bearer(caller.apiKey))
      .send({})
      .expect(200)
    // A micro-job: a priced call without a channel (the caller's channel is closing).
    await request(chain.app)
      .post(`/v1/services/${serviceId}/invoke`)
      .set('Authorization', bearer(payer.apiKey))
      .send({ input: 'once' })
      .expect(200)
    await chain.settle()
  })
  after(async () => {
    server?.close()
    await upstream?.close()
    await chain?.stop()
    await database?.drop()
  })

  const audit = (fromBatch?: number): Promise<AuditReport> =>
    runAudit({
      rpcUrl,
      apiUrl,
      fromBlock: BigInt(chain.deployment.deploymentBlock),
      ...(fromBatch === undefined ? {} : { fromBatch }),
    })

  async function allRecords(): Promise<SettlementRecord[]> {
    const res = await request(chain.app).get('/v1/settlements?limit=50').expect(200)
    return (res.body as SettlementPage).settlements
  }

  describe('GET /v1/settlements', () => {
    it('shows every batch to anyone, with ops that hash to its root, decoded fields, signatures and totals', async () => {
      const records = await allRecords()
      expect(records.length).to.be.greaterThan(2)
      expect(records.map((record) => record.batch_number)).to.deep.equal(records.map((_, index) => index + 1))
      for (const record of records) {
        expect(record.status).to.equal('confirmed')
        expect(record.tx_hash).to.match(/^0x[0-9a-f]{64}$/)
        expect(record.block_number).to.be.a('number')
        expect(record.op_count).to.equal(record.ops.length)
        expect(
          computeOpsRoot(record.ops.map((op) => ({ kind: op.kind_code, data: op.data as Hex }))),
        ).to.equal(record.ops_root)
        expect(record.totals).to.be.an('array').that.is.not.empty
      }
      const kinds = records.flatMap((record) => record.ops.map((op) => op.kind))
      for (const kind of [
        'escrow_lock',
        'escrow_release',
        'withdrawal',
        'channel_fund',
        'channel_settle',
        'channel_close',
      ]) {
        expect(kinds, kind).to.include(kind)
      }
      const lock = records.flatMap((record) => record.ops).find((op) => op.kind === 'escrow_lock')!
      expect(lock.fields.terms).to.include({ amount: '10000000' })
      expect(lock.signatures).to.have.length(1)
      expect(lock.signatures[0]!.role).to.equal('payer')
      expect(lock.escrow_id).to.match(/^0x[0-9a-f]{64}$/)
    })

    it('carries the settled call records (hashes and amounts, no bodies) with the call chain they extend', async () => {
      const ops = (await allRecords()).flatMap((record) => record.ops)
      const settle = ops.find((op) => op.kind === 'channel_settle')!
      expect(settle.call_records!.previous_call_chain).to.equal(`0x${'0'.repeat(64)}`)
      expect(settle.call_records!.calls.map((call) => call.sequence)).to.deep.equal([1, 2, 3, 4])
      expect(settle.call_records!.calls[0]).to.have.all.keys(
        'sequence',
        'amount',
        'request_hash',
        'response_hash',
        'call_record_hash',
      )
      const close = ops.find((op) => op.kind === 'channel_close')!
      expect(close.call_records!.calls.map((call) => call.sequence)).to.deep.equal([5, 6, 7])
      expect(close.signatures.map((signature) => signature.role)).to.deep.equal(['caller', 'provider'])
      const body = JSON.stringify(await allRecords())
      expect(body).not.to.match(/"reference"|"input"|escrow-lock:/)
    })

    it('pages in order with after and next_after; one batch by number; 404 and 400 for bad numbers', async () => {
      const first = (await request(chain.app).get('/v1/settlements?limit=1').expect(200))
        .body as SettlementPage
      expect(first.settlements.map((record) => record.batch_number)).to.deep.equal([1])
      expect(first.next_after).to.equal(1)
      const second = (
        await request(chain.app).get(`/v1/settlements?limit=1&after=${first.next_after}`).expect(200)
      ).body as SettlementPage
      expect(second.settlements.map((record) => record.batch_number)).to.deep.equal([2])
      const all = await allRecords()
      const end = (await request(chain.app).get(`/v1/settlements?after=${all.length}`).expect(200)).body
      expect(end).to.deep.equal({ settlements: [], next_after: null })
      const one = await request(chain.app).get('/v1/settlements/2').expect(200)
      expect(one.body).to.deep.equal(second.settlements[0])
      expect((await request(chain.app).get('/v1/settlements/99999').expect(404)).body.error.code).to.equal(
        'settlement_not_found',
      )
      await request(chain.app).get('/v1/settlements/first').expect(400)
      await request(chain.app).get('/v1/settlements?limit=0').expect(400)
      await request(chain.app).get('/v1/settlements?after=-1').expect(400)
    })
  })

  describe('the auditor', () => {
    it('passes an honest history: every batch, op, signature and call checked, every token solvent', async function () {
      this.timeout(60_000)
      const report = await audit()
      expect(report.problems).to.deep.equal([])
      expect(report.isClean).to.equal(true)
      expect(report.batchesChecked).to.equal((await allRecords()).length)
      expect(report.callsChecked).to.equal(callCount)
      expect(report.signaturesChecked).to.be.greaterThan(report.batchesChecked)
      expect(report.tokens).to.have.length(1)
      expect(report.tokens[0]!.isSolvent).to.equal(true)
    })

    it('attack: one call record changed in the database -> the call chain fails, naming the batch and op', async function () {
      this.timeout(60_000)
      const { rows } = await database.pool.query(
        'SELECT request_hash FROM channel_calls WHERE channel_id = $1 AND sequence = 2',
        [channelId],
      )
      await database.pool.query(
        'UPDATE channel_calls SET request_hash = $2 WHERE channel_id = $1 AND sequence = 2',
        [channelId, `0x${'ab'.repeat(32)}`],
      )
      try {
        const report = await audit()
        expect(report.isClean).to.equal(false)
        const settleBatch = (await allRecords()).find((record) =>
          record.ops.some((op) => op.kind === 'channel_settle'),
        )!
        expect(report.problems).to.have.length(1)
        expect(report.problems[0]).to.include({ check: 'call_chain', batch: settleBatch.batch_number })
        expect(report.problems[0]!.op).to.be.a('number')
      } finally {
        await database.pool.query(
          'UPDATE channel_calls SET request_hash = $2 WHERE channel_id = $1 AND sequence = 2',
          [channelId, rows[0].request_hash],
        )
      }
      expect((await audit()).isClean).to.equal(true)
    })

    it('attack: one call amount raised in the database -> the record no longer hashes to its call chain', async function () {
      this.timeout(60_000)
      await database.pool.query(
        'UPDATE channel_calls SET amount = amount + 1 WHERE channel_id = $1 AND sequence = 6',
        [channelId],
      )
      try {
        const report = await audit()
        expect(report.problems.map((problem) => problem.check)).to.deep.equal(['call_chain'])
        const closeBatch = (await allRecords()).find((record) =>
          record.ops.some((op) => op.kind === 'channel_close'),
        )!
        expect(report.problems[0]!.batch).to.equal(closeBatch.batch_number)
      } finally {
        await database.pool.query(
          'UPDATE channel_calls SET amount = amount - 1 WHERE channel_id = $1 AND sequence = 6',
          [channelId],
        )
      }
    })

    it('attack: one op’s amount changed in the database -> the ops no longer hash to the root the vault logged', async function () {
      this.timeout(60_000)
      const lock = await database.pool.query(
        'SELECT id, data, batch_number::int AS batch FROM chain_ops WHERE kind = 0 ORDER BY id LIMIT 1',
      )
      const { id, data, batch } = lock.rows[0]
      // The terms' amount word (the 4th word of the lock's data) one base unit higher.
      const words = (data as string).slice(2).match(/.{64}/g)!
      words[3] = (BigInt(`0x${words[3]}`) + 1n).toString(16).padStart(64, '0')
      await database.pool.query('UPDATE chain_ops SET data = $2 WHERE id = $1', [id, `0x${words.join('')}`])
      try {
        const report = await audit()
        expect(report.problems).to.have.length(1)
        expect(report.problems[0]).to.include({ check: 'ops_root', batch })
      } finally {
        await database.pool.query('UPDATE chain_ops SET data = $2 WHERE id = $1', [id, data])
      }
    })

    it('attack: the coordinator’s signature of a batch replaced -> fails naming the batch', async function () {
      this.timeout(60_000)
      const { rows } = await database.pool.query(
        'SELECT coordinator_signature FROM settlement_batches WHERE batch_number = 1',
      )
      const other = await database.pool.query(
        'SELECT coordinator_signature FROM settlement_batches WHERE batch_number = 2',
      )
      await database.pool.query(
        'UPDATE settlement_batches SET coordinator_signature = $1 WHERE batch_number = 1',
        [other.rows[0].coordinator_signature],
      )
      try {
        const report = await audit()
        expect(report.problems).to.have.length(1)
        expect(report.problems[0]).to.include({ check: 'coordinator_signature', batch: 1, op: null })
      } finally {
        await database.pool.query(
          'UPDATE settlement_batches SET coordinator_signature = $1 WHERE batch_number = 1',
          [rows[0].coordinator_signature],
        )
      }
    })

    it('audits from a batch on with --from-batch', async function () {
      this.timeout(60_000)
      const report = await audit(2)
      expect(report.isClean).to.equal(true)
      expect(report.batchesChecked).to.equal((await allRecords()).length - 1)
    })

    it('runs as `clearhouse audit --json`: exit 0 and the report when clean; exit 1 and one stderr line naming the batch when not', async function () {
      this.timeout(60_000)
      const args = [
        'audit',
        '--rpc',
        rpcUrl,
        '--api',
        apiUrl,
        '--from-block',
        String(chain.deployment.deploymentBlock),
      ]
      const clean = await runCli([...args, '--json'])
      expect(clean.code, clean.stderr).to.equal(0)
      expect(JSON.parse(clean.stdout)).to.include({ is_clean: true, calls_checked: callCount })

      const { rows } = await database.pool.query(
        'SELECT coordinator_signature FROM settlement_batches WHERE batch_number = 2',
      )
      await database.pool.query(
        `UPDATE settlement_batches SET coordinator_signature = '0x' || repeat('11', 65) WHERE batch_number = 2`,
      )
      try {
        const failed = await runCli(args)
        expect(failed.code).to.equal(1)
        expect(failed.stderr.trim().split('\n')).to.have.length(1)
        expect(failed.stderr).to.match(
          /^clearhouse: audit failed: 1 problem\(s\); first in batch 2: coordinator_signature/,
        )
        expect(failed.stdout).to.contain('✗ batch 2: coordinator_signature')
      } finally {
        await database.pool.query(
          'UPDATE settlement_batches SET coordinator_signature = $1 WHERE batch_number = 2',
          [rows[0].coordinator_signature],
        )
      }
      const usage = await runCli(['audit', '--from-batch', 'first'])
      expect(usage.code).to.not.equal(0)
      expect(usage.stderr.trim().split('\n')).to.have.length(1)
      expect(usage.stderr).to.contain('must be a whole number')
    })

    it('attack: tokens moved out of the vault behind the ledger’s back -> the token is reported short', async function () {
      this.timeout(60_000)
      const usdc = await mockUsdc(chain.usdc)
      const vault = chain.vault
      await hre.network.provider.request({ method: 'hardhat_impersonateAccount', params: [vault] })
      await hre.network.provider.request({
        method: 'hardhat_setBalance',
        params: [vault, '0xde0b6b3a7640000'],
      })
      await usdc.write.transfer([OUTSIDE, parseUnits('1', 6)], { account: vault })
      await hre.network.provider.request({ method: 'hardhat_stopImpersonatingAccount', params: [vault] })
      const report = await audit()
      expect(report.problems.map((problem) => problem.check)).to.deep.equal(['solvency'])
      expect(report.problems[0]!.message).to.contain(chain.usdc.toLowerCase()).and.to.contain('short 1000000')
      expect(report.tokens[0]!.isSolvent).to.equal(false)
    })
  })
})
