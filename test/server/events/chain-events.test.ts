import { expect } from 'chai'
import request from 'supertest'
import type { Address } from 'viem'
import { formatAmount } from '../../../protocol/amounts'
import { bearer, registerAgent } from '../helpers/agents'
import { createChainTestApp, type ChainTestApp } from '../helpers/chain-app'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { registerStubService, startUpstreamStub, type UpstreamStub } from '../helpers/upstream'

const USDC = 1_000_000n
const OUTSIDE = '0x00000000000000000000000000000000000e1e17' as Address

interface OutboxRow {
  event_type: string
  audience: string[]
  data: Record<string, unknown>
}

/**
 * Issue 16: what the chain confirms is on the event bus too, written in the indexer's transaction
 * that books it: `deposit_confirmed` and `withdrawal_completed` to their agent, `channel_settled`
 * to the channel's caller and provider, and `batch_settled` for everyone (no private audience).
 */
describe('events: what the chain confirms', () => {
  let database: TestDatabase
  let chain: ChainTestApp
  let upstream: UpstreamStub

  before(async function () {
    this.timeout(120_000)
    database = await createTestDatabase()
    chain = await createChainTestApp(database)
    upstream = await startUpstreamStub()
  })
  after(async () => {
    await upstream?.close()
    await chain?.stop()
    await database?.drop()
  })

  async function outbox(type: string): Promise<OutboxRow[]> {
    const { rows } = await database.pool.query(
      'SELECT event_type, audience::text[] AS audience, data FROM events WHERE event_type = $1 ORDER BY id',
      [type],
    )
    return rows
  }

  it('publishes deposits, withdrawals, channel settlements and batches once the chain confirms them', async function () {
    this.timeout(120_000)
    const agent = await registerAgent(chain.app)
    const provider = await registerAgent(chain.app)
    await chain.fund(agent.agent.wallet_address as Address, 10n * USDC)
    const [deposit] = await outbox('deposit_confirmed')
    expect(deposit!.audience).to.deep.equal([agent.agent.id])
    expect(deposit!.data).to.include({
      token_address: chain.usdc.toLowerCase(),
      amount_base_units: (10n * USDC).toString(),
    })
    expect(deposit!.data.deposit_id).to.be.a('string')

    const withdrawal = await request(chain.app)
      .post('/v1/wallet/withdraw')
      .set('Authorization', bearer(agent.apiKey))
      .send({ amount: '2', to: OUTSIDE })
      .expect(201)
    const serviceId = await registerStubService(chain.app, provider.apiKey, upstream, { price: '0.01' })
    const channel = await request(chain.app)
      .post('/v1/channels')
      .set('Authorization', bearer(agent.apiKey))
      .send({ service_id: serviceId, deposit_amount: '1' })
      .expect(201)
    await chain.settle()
    expect(await outbox('withdrawal_completed'), 'nothing before the chain says so').to.have.length(1)
    const [completed] = await outbox('withdrawal_completed')
    expect(completed!.audience).to.deep.equal([agent.agent.id])
    expect(completed!.data).to.include({
      withdrawal_id: withdrawal.body.withdrawal_id,
      amount_base_units: (2n * USDC).toString(),
    })
    expect((completed!.data.to as string).toLowerCase()).to.equal(OUTSIDE)

    for (let n = 0; n < 3; n += 1) {
      await request(chain.app)
        .post(`/v1/services/${serviceId}/invoke`)
        .set('Authorization', bearer(agent.apiKey))
        .send({ input: n })
        .expect(200)
    }
    await request(chain.app)
      .post(`/v1/channels/${channel.body.channel_id}/settle`)
      .set('Authorization', bearer(agent.apiKey))
      .expect(200)
    expect(await outbox('channel_settled'), 'queued is not settled').to.deep.equal([])
    await chain.settle()
    const [settled] = await outbox('channel_settled')
    expect([...settled!.audience].sort()).to.deep.equal([agent.agent.id, provider.agent.id].sort())
    expect(settled!.data).to.include({
      channel_id: channel.body.channel_id,
      sequence: 3,
      settled_amount: formatAmount(30_000n, 6),
      cumulative_amount: '0.03',
    })

    const batches = await outbox('batch_settled')
    const recorded = await request(chain.app).get('/v1/settlements?limit=50').expect(200)
    expect(batches.map((row) => row.data.batch_number)).to.deep.equal(
      recorded.body.settlements.map((record: { batch_number: number }) => record.batch_number),
    )
    for (const row of batches) expect(row.audience).to.deep.equal([])
  })
})
