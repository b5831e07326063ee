import { expect } from 'chai'
import request from 'supertest'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { selectEntrySumsByToken } from '../../../server/ledger/ledger-queries'
import { bearer, registerAgent } from '../helpers/agents'
import { createChainTestApp, type ChainTestApp } from '../helpers/chain-app'
import { createTestDatabase, type TestDatabase } from '../helpers/database'

/**
 * Registration takes over what the chain holds for a wallet while the indexer may be crediting a
 * new deposit to the same wallet: whichever commits first, each deposit reaches the agent once.
 */
describe('registering a wallet while the indexer credits a deposit to it', () => {
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

  it('credits every deposit exactly once, whichever of the two commits first', async function () {
    this.timeout(120_000)
    for (let round = 0; round < 6; round += 1) {
      const owner = privateKeyToAccount(generatePrivateKey())
      await chain.fund(owner.address, 3_000_000n) // held unclaimed: no agent holds the wallet yet
      await chain.depositOnChain(owner.address, 4_000_000n) // not indexed yet
      const [agent] = await Promise.all([registerAgent(chain.app, { account: owner }), chain.index()])
      const res = await request(chain.app)
        .get('/v1/wallet/balance')
        .set('Authorization', bearer(agent.apiKey))
        .expect(200)
      expect(res.body.balances[0], `round ${round}`).to.include({ available: '7', debt: '0' })
      const { rows } = await database.pool.query(
        "SELECT count(*)::int AS n FROM deposits WHERE account = $1 AND status <> 'success'",
        [owner.address.toLowerCase()],
      )
      expect(rows[0].n, `round ${round}`).to.equal(0)
    }
    for (const [token, sum] of await selectEntrySumsByToken(database.pool)) {
      expect(sum, `ledger sum of ${token}`).to.equal(0n)
    }
    expect(await chain.reconciliationDifference()).to.equal(0n)
  })
})
