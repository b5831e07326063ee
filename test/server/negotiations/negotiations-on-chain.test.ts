import { expect } from 'chai'
import request from 'supertest'
import type { NegotiationResponse } from '../../../protocol/negotiations'
import { bearer, registerAgent } from '../helpers/agents'
import { createChainTestApp, type ChainTestApp } from '../helpers/chain-app'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { postJob } from '../helpers/jobs'

const USDC = 1_000_000n

/** Issue 18: a negotiation countered twice then accepted awards at the final price, held by the vault. */
describe('negotiations on the chain', () => {
  let database: TestDatabase
  let chain: ChainTestApp

  before(async function () {
    this.timeout(120_000)
    database = await createTestDatabase()
    chain = await createChainTestApp(database)
  })
  after(async () => {
    await chain.stop()
    await database.drop()
  })

  /** The ledger's available and escrowed USDC of an agent, in base units. */
  async function ledgerBalance(apiKey: string): Promise<{ available: bigint; escrow: bigint }> {
    const res = await request(chain.app)
      .get('/v1/wallet/balance')
      .set('Authorization', bearer(apiKey))
      .expect(200)
    const row = (res.body.balances as { token_address: string; available: string; escrowed: string }[]).find(
      (entry) => entry.token_address.toLowerCase() === chain.usdc.toLowerCase(),
    )!
    const units = (value: string) => {
      const [whole, fraction = ''] = value.split('.')
      return BigInt(whole!) * USDC + BigInt(fraction.padEnd(6, '0'))
    }
    return { available: units(row.available), escrow: units(row.escrowed) }
  }

  const post = (apiKey: string, path: string, body: object = {}) =>
    request(chain.app).post(path).set('Authorization', bearer(apiKey)).send(body)

  it('a negotiation countered twice then accepted awards at the final price; the escrow holds exactly it (ledger and vault)', async function () {
    this.timeout(120_000)
    const requester = await registerAgent(chain.app)
    const worker = await registerAgent(chain.app)
    await chain.fund(requester.agent.wallet_address, 40n * USDC)
    const job = await postJob(chain.app, requester.apiKey, { budget_amount: '20' })

    const opened = await post(worker.apiKey, '/v1/negotiations', {
      job_id: job.job_id,
      amount: '19.5',
    }).expect(201)
    const id = (opened.body as NegotiationResponse).negotiation_id
    await post(requester.apiKey, `/v1/negotiations/${id}/counter`, { amount: '11' }).expect(200)
    await post(worker.apiKey, `/v1/negotiations/${id}/counter`, { amount: '13.333333' }).expect(200)
    const accepted = (await post(requester.apiKey, `/v1/negotiations/${id}/accept`).expect(200))
      .body as NegotiationResponse
    expect(accepted).to.include({ status: 'accepted', amount: '13.333333' })
    const final = 13_333_333n

    const assignment = await request(chain.app)
      .get(`/v1/assignments/${accepted.award!.assignment_id}`)
      .set('Authorization', bearer(requester.apiKey))
      .expect(200)
    expect(assignment.body.escrow_amount).to.equal('13.333333')
    const lock = assignment.body.chain_ops.find((op: { kind: string }) => op.kind === 'escrow_lock')
    expect(BigInt(lock.typed_data.message.amount)).to.equal(final)

    const settled = await chain.settle()
    expect(settled.map((result) => result.outcome)).to.include('confirmed')
    // Ledger: exactly the final price moved from available into escrow.
    const balance = await ledgerBalance(requester.apiKey)
    expect(balance).to.deep.equal({ available: 40n * USDC - final, escrow: final })
    // Vault: the requester's internal balance paid exactly the final price into the escrow.
    expect(await chain.vaultBalanceOf(requester.agent.wallet_address)).to.equal(40n * USDC - final)
    const confirmed = await request(chain.app)
      .get(`/v1/assignments/${accepted.award!.assignment_id}`)
      .set('Authorization', bearer(requester.apiKey))
      .expect(200)
    expect(
      confirmed.body.chain_ops.map((op: { kind: string; status: string }) => [op.kind, op.status]),
    ).to.deep.equal([['escrow_lock', 'confirmed']])
    expect(await chain.reconciliationDifference()).to.equal(0n)
  })
})
