import { expect } from 'chai'
import request from 'supertest'
import { createPublicClient, custom, type PublicClient } from 'viem'
import { bearer, registerAgent } from '../helpers/agents'
import { createTestApp } from '../helpers/app'
import { createChainTestApp, type ChainTestApp } from '../helpers/chain-app'
import { createTestDatabase, type TestDatabase } from '../helpers/database'

/**
 * Issue 17, "no request waits on the chain to read": `GET /v1/wallet/balance` answers from the
 * database alone, `on_chain` included (the vault mirror the indexer keeps), so it neither slows
 * with the node nor fails when the node is away.
 */
describe('balance reads never call the chain', () => {
  let database: TestDatabase
  let chain: ChainTestApp

  before(async function () {
    this.timeout(120_000)
    database = await createTestDatabase()
    chain = await createChainTestApp(database)
  })
  after(async () => {
    await chain?.stop()
    await database?.drop()
  })

  it('answers every figure, on_chain included, with a node that refuses every call', async function () {
    this.timeout(60_000)
    const agent = await registerAgent(chain.app)
    await chain.fund(agent.agent.wallet_address, 5_250_000n)

    const rpcCalls: string[] = []
    const unreachableNode = createPublicClient({
      transport: custom({
        async request({ method }: { method: string }) {
          rpcCalls.push(method)
          throw new Error('the node is unreachable')
        },
      }),
    }) as PublicClient
    const { app } = await createTestApp(database, { client: unreachableNode, deployment: chain.deployment })
    const res = await request(app)
      .get('/v1/wallet/balance')
      .set('Authorization', bearer(agent.apiKey))
      .expect(200)
    expect(res.body.balances[0]).to.include({
      token: 'USDC',
      available: '5.25',
      on_chain: '5.25',
      pending: '0',
    })
    expect(rpcCalls).to.deep.equal([])
  })
})
