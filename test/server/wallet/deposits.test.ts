import { eip2612PermitTypes } from '../../../protocol/typed-data'
import { expect } from 'chai'
import request from 'supertest'
import { randomBytes } from 'node:crypto'
import { getAddress, parseAbi, parseSignature, toHex } from 'viem'
import type { HDAccount } from 'viem/accounts'
import {
  balanceResponse,
  deposit,
  depositAddressResponse,
  depositsPage,
  transactionsPage,
  type Deposit,
} from '../../../protocol/wallet'
import { clearhouseVaultAbi } from '../../../protocol/vault-abi'
import type { IndexedEvent } from '../../../server/chain/indexer/indexed-event'
import { listEventsAbove } from '../../../server/chain/indexer/indexer-queries'
import { withTransaction } from '../../../server/db/pool'
import { applyDeposited, observeUnconfirmedDeposits } from '../../../server/wallet/deposits-service'
import { bearer, registerAgent, type RegisteredTestAgent } from '../helpers/agents'
import { createTestApp } from '../helpers/app'
import { createChainTestApp, funderAccount, hardhatAccount, type ChainTestApp } from '../helpers/chain-app'
import { mine, mockUsdc, revertTo, snapshot, walletFor } from '../helpers/chain'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { expectFieldError, postBid, postJob } from '../helpers/jobs'
import { transferWithAuthorizationTypes } from '../../../protocol/x402'

const USDC = 1_000_000n
/** What signing an EIP-2612 permit reads from the token (ERC-5267 gives the EIP-712 domain). */
const permitTokenAbi = parseAbi([
  'function nonces(address owner) view returns (uint256)',
  'function eip712Domain() view returns (bytes1, string, string, uint256, address, bytes32, uint256[])',
])
const CONFIRMATIONS = 2

/**
 * Issue 5, the chain bridge's way in: vault `Deposited` logs shown as `pending_deposit` while they
 * wait for their confirmations, then credited to the agent holding the wallet (or held until one
 * registers it), and un-credited when a reorg drops them. The vault and the ledger must agree
 * whenever the ledger has caught up with the chain.
 */
describe('deposits', () => {
  let database: TestDatabase
  let chain: ChainTestApp

  before(async function () {
    this.timeout(120_000)
    database = await createTestDatabase()
    chain = await createChainTestApp(database, { confirmations: CONFIRMATIONS })
  })
  after(async () => {
    await chain.stop()
    await database.drop()
  })

  /** Mines the blocks that give the newest deposit its confirmations, then indexes. */
  async function confirm(): Promise<void> {
    await mine(CONFIRMATIONS)
    await chain.index()
  }

  async function expectReconciled(when: string): Promise<void> {
    expect(await chain.reconciliationDifference(), `vault and ledger agree ${when}`).to.equal(0n)
  }

  /** `token.approve(vault)` then `vault.deposit(token, units)` from `owner`'s own wallet. */
  async function depositFromOwnWallet(owner: HDAccount, units: bigint): Promise<`0x${string}`> {
    const token = await mockUsdc(chain.usdc)
    const wallet = await walletFor(owner)
    await token.write.mint([owner.address, units])
    const approve = await wallet.writeContract({
      address: chain.usdc,
      abi: token.abi,
      functionName: 'approve',
      args: [chain.vault, units],
      chain: null,
    })
    await chain.client.waitForTransactionReceipt({ hash: approve })
    const hash = await wallet.writeContract({
      address: chain.vault,
      abi: clearhouseVaultAbi,
      functionName: 'deposit',
      args: [chain.usdc, units],
      chain: null,
    })
    await chain.client.waitForTransactionReceipt({ hash })
    return hash
  }

  async function balance(agent: RegisteredTestAgent) {
    const res = await request(chain.app)
      .get('/v1/wallet/balance')
      .set('Authorization', bearer(agent.apiKey))
      .expect(200)
    return balanceResponse
      .parse(res.body)
      .balances.find((row) => row.token_address.toLowerCase() === chain.usdc.toLowerCase())!
  }

  async function list(agent: RegisteredTestAgent, query: Record<string, string | number> = {}) {
    const res = await request(chain.app)
      .get('/v1/wallet/deposits')
      .query(query)
      .set('Authorization', bearer(agent.apiKey))
    expect(res.status, JSON.stringify(res.body)).to.equal(200)
    return depositsPage.parse(res.body)
  }

  async function show(agent: RegisteredTestAgent, id: string): Promise<Deposit> {
    const res = await request(chain.app)
      .get(`/v1/wallet/deposits/${id}`)
      .set('Authorization', bearer(agent.apiKey))
    expect(res.status, JSON.stringify(res.body)).to.equal(200)
    return deposit.parse(res.body)
  }

  /** The agent's only deposit made by `txHash`. */
  async function depositOf(agent: RegisteredTestAgent, txHash: string): Promise<Deposit> {
    const found = (await list(agent, { limit: 100 })).data.filter((row) => row.tx_hash === txHash)
    expect(found, `one deposit of ${txHash}`).to.have.length(1)
    return found[0]!
  }

  /** Ledger transactions of any kind whose reference names `txHash`. */
  async function ledgerTransactionsOf(txHash: string): Promise<{ kind: string; reference: string }[]> {
    const { rows } = await database.pool.query(
      `SELECT t.kind, t.reference FROM ledger_transactions AS t WHERE t.reference LIKE '%' || $1 || '%'
       ORDER BY t.created_at`,
      [txHash.toLowerCase()],
    )
    return rows
  }

  describe('confirmation', () => {
    it('shows a depositFor from another wallet as pending until it has its confirmations, then credits it exactly', async function () {
      this.timeout(120_000)
      const agent = await registerAgent(chain.app)
      const txHash = await chain.depositOnChain(agent.agent.wallet_address, 12_345_678n)
      await chain.index()

      const pending = await depositOf(agent, txHash)
      expect(pending).to.include({
        status: 'pending_deposit',
        amount: '12.345678',
        token: 'USDC',
        from: getAddress(funderAccount.address),
        account: getAddress(agent.agent.wallet_address),
        credit_transaction_id: null,
        credited_at: null,
      })
      // `on_chain` is the vault as of the indexed, confirmed block: the deposit is not in it yet.
      expect(await balance(agent)).to.include({ available: '0', pending: '12.345678', on_chain: '0' })
      expect(await ledgerTransactionsOf(txHash), 'nothing is booked before confirmation').to.deep.equal([])

      // One block short of the confirmations: still pending, however often the indexer runs.
      await mine(CONFIRMATIONS - 1)
      await chain.index()
      await chain.index()
      expect((await show(agent, pending.deposit_id)).status).to.equal('pending_deposit')

      await confirm()
      const credited = await show(agent, pending.deposit_id)
      expect(credited).to.include({ status: 'success', amount: '12.345678', failure_reason: null })
      expect(credited.credit_transaction_id).to.be.a('string')
      expect(credited.credited_at).to.be.a('string')
      expect(credited.created_at, 'the pending row became the credited one').to.equal(pending.created_at)
      expect(await balance(agent)).to.include({
        available: '12.345678',
        pending: '0',
        debt: '0',
        on_chain: '12.345678',
      })
      expect(await ledgerTransactionsOf(txHash)).to.have.length(1)

      const res = await request(chain.app)
        .get('/v1/wallet/transactions')
        .set('Authorization', bearer(agent.apiKey))
        .expect(200)
      const entries = transactionsPage
        .parse(res.body)
        .data.filter((entry) => entry.transaction_id === credited.credit_transaction_id)
      expect(entries).to.have.length(1)
      expect(entries[0]).to.include({
        kind: 'deposit',
        account: 'available',
        amount: '12.345678',
        balance_after: '12.345678',
      })
      await expectReconciled('after the deposit was credited')
    })

    it("credits an approve + deposit made by the agent's own self-custody wallet", async function () {
      this.timeout(120_000)
      const owner = hardhatAccount(16)
      const agent = await registerAgent(chain.app, { account: owner })
      const txHash = await depositFromOwnWallet(owner, 7n * USDC + 1n)
      await chain.index()
      expect(await depositOf(agent, txHash)).to.include({ status: 'pending_deposit', amount: '7.000001' })
      expect(await balance(agent)).to.include({ available: '0', pending: '7.000001' })

      await confirm()
      expect(await depositOf(agent, txHash)).to.include({
        status: 'success',
        from: getAddress(owner.address),
        account: getAddress(owner.address),
      })
      expect(await balance(agent)).to.include({ available: '7.000001', pending: '0', on_chain: '7.000001' })
      await expectReconciled('after a self-custody deposit')
    })

    it('credits the signer of an EIP-2612 permit and of an EIP-3009 authorization that another wallet submits', async function () {
      this.timeout(120_000)
      const owner = hardhatAccount(19)
      const agent = await registerAgent(chain.app, { account: owner })
      const token = await mockUsdc(chain.usdc)
      await token.write.mint([owner.address, 5n * USDC])
      const [, name, version] = await chain.client.readContract({
        address: chain.usdc,
        abi: permitTokenAbi,
        functionName: 'eip712Domain',
      })
      const domain = { name, version, chainId: chain.deployment.chainId, verifyingContract: chain.usdc }
      const { timestamp } = await chain.client.getBlock()
      const deadline = timestamp + 3600n
      const relayer = await walletFor(funderAccount)

      const permit = parseSignature(
        await owner.signTypedData({
          domain,
          types: eip2612PermitTypes,
          primaryType: 'Permit',
          message: {
            owner: owner.address,
            spender: chain.vault,
            value: 2n * USDC,
            nonce: await chain.client.readContract({
              address: chain.usdc,
              abi: permitTokenAbi,
              functionName: 'nonces',
              args: [owner.address],
            }),
            deadline,
          },
        }),
      )
      const permitted = await relayer.writeContract({
        address: chain.vault,
        abi: clearhouseVaultAbi,
        functionName: 'depositWithPermit',
        args: [chain.usdc, owner.address, 2n * USDC, deadline, Number(permit.v), permit.r, permit.s],
        chain: null,
      })
      await chain.client.waitForTransactionReceipt({ hash: permitted })

      const nonce = toHex(randomBytes(32))
      const authorization = parseSignature(
        await owner.signTypedData({
          domain,
          types: { ReceiveWithAuthorization: transferWithAuthorizationTypes.TransferWithAuthorization },
          primaryType: 'ReceiveWithAuthorization',
          message: {
            from: owner.address,
            to: chain.vault,
            value: 3n * USDC,
            validAfter: 0n,
            validBefore: deadline,
            nonce,
          },
        }),
      )
      const authorized = await relayer.writeContract({
        address: chain.vault,
        abi: clearhouseVaultAbi,
        functionName: 'depositWithAuthorization',
        args: [
          chain.usdc,
          owner.address,
          3n * USDC,
          0n,
          deadline,
          nonce,
          Number(authorization.v),
          authorization.r,
          authorization.s,
        ],
        chain: null,
      })
      await chain.client.waitForTransactionReceipt({ hash: authorized })
      await chain.index()
      expect(await balance(agent)).to.include({ available: '0', pending: '5' })

      await confirm()
      for (const [txHash, amount] of [
        [permitted, '2'],
        [authorized, '3'],
      ] as const) {
        expect(await depositOf(agent, txHash)).to.include({
          status: 'success',
          amount,
          from: getAddress(owner.address),
        })
      }
      expect(await balance(agent)).to.include({ available: '5', pending: '0', on_chain: '5' })
      await expectReconciled('after the signed deposits')
    })

    it('credits the agent holding the account, not the wallet that paid', async function () {
      this.timeout(120_000)
      const payer = hardhatAccount(17)
      const payerAgent = await registerAgent(chain.app, { account: payer })
      const payee = await registerAgent(chain.app)
      const txHash = await chain.depositOnChain(payee.agent.wallet_address, 3n * USDC, payer)
      await confirm()
      expect(await depositOf(payee, txHash)).to.include({
        status: 'success',
        from: getAddress(payer.address),
      })
      expect(await balance(payee)).to.include({ available: '3' })
      expect(await balance(payerAgent)).to.include({ available: '0', pending: '0' })
      expect((await list(payerAgent)).data).to.deep.equal([])
      await expectReconciled('after a deposit for another agent')
    })

    it('never credits twice when the indexer reads the same logs again from scratch', async function () {
      this.timeout(120_000)
      const agent = await registerAgent(chain.app)
      const txHash = await chain.depositOnChain(agent.agent.wallet_address, 9n * USDC)
      await chain.index()
      await confirm()
      await chain.index()
      expect(await balance(agent)).to.include({ available: '9' })
      const before = await database.pool.query('SELECT count(*)::int AS n FROM ledger_transactions')

      // Forget everything the indexer stored, as a restore from an old backup would: every log
      // since deployment (this file's other deposits too) is read and applied again.
      await database.pool.query(
        'DELETE FROM chain_events; DELETE FROM chain_blocks; DELETE FROM chain_cursors',
      )
      await chain.index()
      await chain.index()

      const after = await database.pool.query('SELECT count(*)::int AS n FROM ledger_transactions')
      expect(after.rows[0].n, 'no ledger transaction was added').to.equal(before.rows[0].n)
      expect(await balance(agent)).to.include({ available: '9', pending: '0' })
      expect(await ledgerTransactionsOf(txHash)).to.have.length(1)
      expect((await list(agent)).data.map((row) => row.status)).to.deep.equal(['success'])
      await expectReconciled('after re-indexing')
    })

    it('credits runs of deposits (some shown pending first, some first seen confirmed) each once, in one ledger insert per table and round', async function () {
      this.timeout(120_000)
      const first = await registerAgent(chain.app)
      const second = await registerAgent(chain.app)
      const stranger = getAddress(toHex(randomBytes(20)))
      const recipients = [first, second, first, null, second, first]
      const statements: string[] = []
      const connect = database.pool.connect.bind(database.pool)
      // Records every statement the indexer's transactions send.
      // (`pool.query` connects with a callback: those pass through.)
      database.pool.connect = (async (...callback: unknown[]) => {
        if (callback.length > 0) return (connect as (...args: unknown[]) => unknown)(...callback)
        const client = await connect()
        const { query, release } = client
        client.query = ((...args: Parameters<typeof query>) => {
          const text = typeof args[0] === 'string' ? args[0] : (args[0] as { text: string }).text
          statements.push(text.trim().replace(/\s+/g, ' '))
          return query.apply(client, args)
        }) as typeof query
        client.release = (...args: Parameters<typeof release>) => {
          Object.assign(client, { query, release })
          return release.apply(client, args)
        }
        return client
      }) as typeof database.pool.connect

      const hashes: `0x${string}`[] = []
      try {
        for (const [index, recipient] of recipients.entries()) {
          const account = recipient ? recipient.agent.wallet_address : stranger
          hashes.push(await chain.depositOnChain(account, BigInt(index + 1) * USDC))
          // Each deposit mines three blocks: this round credits the first four as one run and
          // shows the fifth as pending; the last round credits the fifth and the sixth.
          if (index === 4) await chain.index()
        }
        expect((await list(second)).data.map((row) => row.status)).to.deep.equal([
          'pending_deposit',
          'success',
        ])
        await confirm()
      } finally {
        database.pool.connect = connect
      }

      expect(await balance(first)).to.include({ available: '10', pending: '0' })
      expect(await balance(second)).to.include({ available: '7', pending: '0' })
      for (const hash of hashes) expect(await ledgerTransactionsOf(hash), hash).to.have.length(1)
      const unclaimed = await database.pool.query('SELECT d.status FROM deposits AS d WHERE d.account = $1', [
        stranger.toLowerCase(),
      ])
      expect(unclaimed.rows).to.deep.equal([{ status: 'processing' }])
      const count = (pattern: RegExp) => statements.filter((text) => pattern.test(text)).length
      expect(count(/^INSERT INTO ledger_transactions /), 'transaction inserts').to.equal(2)
      expect(count(/^INSERT INTO ledger_entries /), 'entry inserts').to.equal(2)
      expect(count(/^INSERT INTO deposits .* FROM unnest/), 'credited deposit inserts').to.equal(2)
      await expectReconciled('after runs of deposits')

      await chain.index()
      for (const hash of hashes) expect(await ledgerTransactionsOf(hash), hash).to.have.length(1)
    })
  })

  describe('the handler', () => {
    /** The indexed `Deposited` event of `txHash`, as the indexer hands it to the handler. */
    async function indexedEvent(txHash: string): Promise<IndexedEvent> {
      const events = await listEventsAbove(database.pool, chain.deployment.chainId, -1n)
      const found = events.find((event) => event.txHash === txHash && event.eventName === 'Deposited')
      expect(found, `the Deposited log of ${txHash} is indexed`).to.not.equal(undefined)
      return found!
    }

    it('never downgrades a confirmed deposit when a preview shows its log, nor credits it twice', async function () {
      this.timeout(120_000)
      const agent = await registerAgent(chain.app)
      const txHash = await chain.depositOnChain(agent.agent.wallet_address, 6n * USDC)
      await chain.index()
      await confirm()
      const event = await indexedEvent(txHash)
      const window = { chainId: event.chainId, fromBlock: event.blockNumber, toBlock: event.blockNumber }

      // A replica with a stale view could show a confirmed log as unconfirmed, or as gone.
      await withTransaction(database.pool, (db) => observeUnconfirmedDeposits(db, [event], window))
      expect(await depositOf(agent, txHash)).to.include({ status: 'success' })
      await withTransaction(database.pool, (db) => observeUnconfirmedDeposits(db, [], window))
      expect(await depositOf(agent, txHash)).to.include({ status: 'success' })
      await withTransaction(database.pool, (db) => applyDeposited(db, event))
      await withTransaction(database.pool, (db) => applyDeposited(db, event))

      expect(await balance(agent)).to.include({ available: '6', pending: '0' })
      expect(await ledgerTransactionsOf(txHash)).to.have.length(1)
      await expectReconciled('after the repeated calls')
    })

    it('shows a dropped pending deposit as pending again when its log comes back, moving no money', async () => {
      const agent = await registerAgent(chain.app)
      const head = await chain.client.getBlockNumber({ cacheTime: 0 })
      const event: IndexedEvent = {
        chainId: chain.deployment.chainId,
        txHash: `0x${'ab'.repeat(32)}`,
        logIndex: 0,
        blockNumber: head + 1n,
        blockHash: `0x${'cd'.repeat(32)}`,
        contract: chain.vault.toLowerCase(),
        eventName: 'Deposited',
        args: {
          account: agent.agent.wallet_address,
          token: chain.usdc,
          from: funderAccount.address,
          amount: '2000000',
        },
      }
      const window = { chainId: event.chainId, fromBlock: head + 1n, toBlock: head + 1n }
      const observe = (events: IndexedEvent[]) =>
        withTransaction(database.pool, (db) => observeUnconfirmedDeposits(db, events, window))

      await observe([event])
      await observe([event])
      expect((await list(agent)).data.map((row) => row.status)).to.deep.equal(['pending_deposit'])
      expect(await balance(agent)).to.include({ pending: '2', available: '0' })
      await observe([])
      expect((await list(agent)).data[0]).to.include({
        status: 'failed',
        failure_reason: 'dropped by a reorg before confirmation',
      })
      expect(await balance(agent)).to.include({ pending: '0' })
      await observe([{ ...event, blockNumber: head + 2n }])
      expect((await list(agent)).data[0]).to.include({
        status: 'pending_deposit',
        failure_reason: null,
        block_number: Number(head + 2n),
      })
      // The log never existed on the chain, so the indexer's next round fails it for good.
      await chain.index()
      expect((await list(agent)).data[0]).to.include({ status: 'failed' })
      expect(await ledgerTransactionsOf(event.txHash)).to.deep.equal([])
      expect(await balance(agent)).to.include({ pending: '0', available: '0' })
    })
  })

  describe('unclaimed wallets', () => {
    it('holds a deposit to a wallet no agent holds as processing and credits it when an agent registers the wallet', async function () {
      this.timeout(120_000)
      const owner = hardhatAccount(18)
      const account = owner.address.toLowerCase()
      const rowsOfAccount = async () =>
        (
          await database.pool.query('SELECT d.status, d.agent_id FROM deposits AS d WHERE d.account = $1', [
            account,
          ])
        ).rows
      const early = await chain.depositOnChain(owner.address, 4n * USDC)
      await chain.index()
      expect(await rowsOfAccount()).to.deep.equal([{ status: 'pending_deposit', agent_id: null }])
      await confirm()
      expect(await rowsOfAccount()).to.deep.equal([{ status: 'processing', agent_id: null }])
      await expectReconciled('with the deposit held unclaimed')

      // A second deposit is still waiting for its confirmations when the agent registers.
      const late = await chain.depositOnChain(owner.address, 2_500_000n)
      await chain.index()

      const agent = await registerAgent(chain.app, { account: owner })
      const claimed = await depositOf(agent, early)
      expect(claimed).to.include({ status: 'success', amount: '4' })
      expect(claimed.credit_transaction_id).to.be.a('string')
      expect(await depositOf(agent, late)).to.include({ status: 'pending_deposit', amount: '2.5' })
      expect(await balance(agent)).to.include({ available: '4', pending: '2.5' })

      await confirm()
      expect(await depositOf(agent, late)).to.include({ status: 'success' })
      expect(await balance(agent)).to.include({ available: '6.5', pending: '0', on_chain: '6.5' })
      await expectReconciled('after the claim')
    })
  })

  describe('reorgs', () => {
    it('fails a deposit whose block a reorg drops before confirmation, crediting nothing', async function () {
      this.timeout(120_000)
      const agent = await registerAgent(chain.app)
      await chain.index()
      const beforeDeposit = await snapshot()
      const txHash = await chain.depositOnChain(agent.agent.wallet_address, 5n * USDC)
      await chain.index()
      expect(await balance(agent)).to.include({ pending: '5' })

      await revertTo(beforeDeposit)
      await mine(CONFIRMATIONS + 3)
      await chain.index()
      expect(await depositOf(agent, txHash)).to.include({
        status: 'failed',
        failure_reason: 'dropped by a reorg before confirmation',
        credit_transaction_id: null,
      })
      expect(await balance(agent)).to.include({ available: '0', pending: '0', debt: '0', on_chain: '0' })
      expect(await ledgerTransactionsOf(txHash)).to.deep.equal([])
      await expectReconciled('after the pending deposit was dropped')
    })

    it('un-credits a confirmed deposit whose block a reorg drops, leaving the row failed', async function () {
      this.timeout(120_000)
      const agent = await registerAgent(chain.app)
      await chain.index()
      const beforeDeposit = await snapshot()
      const txHash = await chain.depositOnChain(agent.agent.wallet_address, 8n * USDC)
      await chain.index()
      await confirm()
      expect(await balance(agent)).to.include({ available: '8' })
      await expectReconciled('with the deposit credited')

      await revertTo(beforeDeposit)
      await mine(CONFIRMATIONS + 5)
      await chain.index()
      const failed = await depositOf(agent, txHash)
      expect(failed).to.include({ status: 'failed', credit_transaction_id: null, credited_at: null })
      expect(failed.failure_reason).to.be.a('string')
      expect(await balance(agent)).to.include({ available: '0', pending: '0', debt: '0', on_chain: '0' })
      expect((await ledgerTransactionsOf(txHash)).map((row) => row.kind)).to.deep.equal([
        'deposit',
        'deposit_reversal',
      ])
      await expectReconciled('after the reorg')
    })

    it('un-credits a deposit the agent already spent as debt, which its next deposit repays first', async function () {
      this.timeout(120_000)
      const payer = await registerAgent(chain.app)
      const worker = await registerAgent(chain.app)
      await chain.index()
      const beforeDeposit = await snapshot()
      await chain.depositOnChain(payer.agent.wallet_address, 10n * USDC)
      await confirm()
      const job = await postJob(chain.app, payer.apiKey, { budget_amount: '10.00' })
      const bid = await postBid(chain.app, worker.apiKey, job.job_id, { amount: '6' })
      await request(chain.app)
        .post(`/v1/jobs/${job.job_id}/award`)
        .set('Authorization', bearer(payer.apiKey))
        .send({ bid_id: bid.bid_id })
        .expect(200)
      expect(await balance(payer)).to.include({ available: '4', escrowed: '6', debt: '0' })

      await revertTo(beforeDeposit)
      await mine(CONFIRMATIONS + 5)
      await chain.index()
      // The escrow belongs to the worker until released, so the reversal takes the 4 available
      // and books the 6 already locked as what the payer owes.
      expect(await balance(payer)).to.include({ available: '0', escrowed: '6', debt: '6', on_chain: '0' })
      await expectReconciled('with the payer in debt')

      const repayment = await chain.depositOnChain(payer.agent.wallet_address, 8n * USDC)
      await confirm()
      expect(await depositOf(payer, repayment)).to.include({ status: 'success', amount: '8' })
      expect(await balance(payer)).to.include({ available: '2', escrowed: '6', debt: '0', on_chain: '8' })
      await expectReconciled('after the next deposit repaid the debt')
    })
  })

  describe('GET /v1/wallet/deposits', () => {
    let owner: RegisteredTestAgent
    let stranger: RegisteredTestAgent
    let ids: string[]

    before(async function () {
      this.timeout(120_000)
      owner = await registerAgent(chain.app)
      stranger = await registerAgent(chain.app)
      ids = []
      for (const units of [1n, 2n, 3n]) {
        const txHash = await chain.depositOnChain(owner.agent.wallet_address, units * USDC)
        await chain.index()
        ids.push((await depositOf(owner, txHash)).deposit_id)
      }
      await chain.depositOnChain(stranger.agent.wallet_address, 5n * USDC)
      await confirm()
      // The fourth is left waiting for its confirmations.
      const txHash = await chain.depositOnChain(owner.agent.wallet_address, 4n * USDC)
      await chain.index()
      ids.push((await depositOf(owner, txHash)).deposit_id)
    })

    it('pages newest first with limit and offset and says whether there is more', async () => {
      const first = await list(owner, { limit: 3 })
      expect(first.data.map((row) => row.deposit_id)).to.deep.equal([ids[3], ids[2], ids[1]])
      expect(first.has_more).to.equal(true)
      const rest = await list(owner, { limit: 3, offset: 3 })
      expect(rest.data.map((row) => row.deposit_id)).to.deep.equal([ids[0]])
      expect(rest.has_more).to.equal(false)
      expect((await list(owner)).data).to.have.length(4)
    })

    it('pages with next_cursor, and answers 400 naming cursor for a stranger’s deposit or a cursor with offset', async () => {
      const first = await list(owner, { limit: 3 })
      expect(first.next_cursor).to.equal(ids[1])
      const rest = await list(owner, { limit: 3, cursor: first.next_cursor! })
      expect(rest.data.map((row) => row.deposit_id)).to.deep.equal([ids[0]])
      expect(rest).to.include({ has_more: false, next_cursor: null })
      const strangers = await list(stranger)
      for (const query of [
        { cursor: strangers.data[0]!.deposit_id },
        { cursor: ids[1]!, offset: 1 },
        { cursor: 'not-a-uuid' },
      ]) {
        const res = await request(chain.app)
          .get('/v1/wallet/deposits')
          .query(query)
          .set('Authorization', bearer(owner.apiKey))
        expectFieldError(res, 'cursor')
      }
    })

    it('filters by status and by token (symbol or address)', async () => {
      const pending = await list(owner, { status: 'pending_deposit' })
      expect(pending.data.map((row) => [row.deposit_id, row.amount])).to.deep.equal([[ids[3], '4']])
      const credited = await list(owner, { status: 'success' })
      expect(credited.data.map((row) => row.amount)).to.deep.equal(['3', '2', '1'])
      expect((await list(owner, { status: 'failed' })).data).to.deep.equal([])
      expect((await list(owner, { token: 'usdc' })).data).to.have.length(4)
      expect((await list(owner, { token: chain.usdc })).data).to.have.length(4)
    })

    it('answers 400 naming the parameter for a bad status, token, limit or offset', async () => {
      const bad: [Record<string, string>, string][] = [
        [{ status: 'done' }, 'status'],
        [{ token: 'DOGE' }, 'token'],
        [{ limit: '0' }, 'limit'],
        [{ limit: '101' }, 'limit'],
        [{ limit: 'ten' }, 'limit'],
        [{ offset: '-1' }, 'offset'],
      ]
      for (const [query, field] of bad) {
        const res = await request(chain.app)
          .get('/v1/wallet/deposits')
          .query(query)
          .set('Authorization', bearer(owner.apiKey))
        expectFieldError(res, field)
      }
    })

    it("shows one deposit of the caller, 404 for another agent's, and 400 naming deposit_id for a malformed id", async () => {
      const shown = await show(owner, ids[0]!)
      expect(shown).to.include({ deposit_id: ids[0], status: 'success', amount: '1' })

      const theirs = await request(chain.app)
        .get(`/v1/wallet/deposits/${ids[0]}`)
        .set('Authorization', bearer(stranger.apiKey))
        .expect(404)
      expect(theirs.body.error.code).to.equal('deposit_not_found')
      await request(chain.app)
        .get('/v1/wallet/deposits/6f9619ff-8b86-4d11-b42d-00c04fc964ff')
        .set('Authorization', bearer(owner.apiKey))
        .expect(404)
      const malformed = await request(chain.app)
        .get('/v1/wallet/deposits/not-a-uuid')
        .set('Authorization', bearer(owner.apiKey))
      expectFieldError(malformed, 'deposit_id')
    })

    it('answers 401 without credentials', async () => {
      for (const path of [
        '/v1/wallet/deposits',
        `/v1/wallet/deposits/${ids[0]}`,
        '/v1/wallet/deposit_address',
      ]) {
        const res = await request(chain.app).get(path)
        expect(res.status, path).to.equal(401)
      }
    })
  })

  describe('GET /v1/wallet/deposit_address', () => {
    it('names the vault, the token and the four ways to deposit for the caller', async () => {
      const agent = await registerAgent(chain.app)
      const res = await request(chain.app)
        .get('/v1/wallet/deposit_address')
        .set('Authorization', bearer(agent.apiKey))
        .expect(200)
      const body = depositAddressResponse.parse(res.body)
      expect(body).to.include({
        chain_id: chain.deployment.chainId,
        vault_address: getAddress(chain.vault),
        account: getAddress(agent.agent.wallet_address),
      })
      expect(body.tokens).to.deep.include({
        symbol: 'USDC',
        address: getAddress(chain.usdc),
        decimals: 6,
        allowed: true,
      })
      expect(body.methods.map((method) => method.method)).to.deep.equal([
        'approve_and_deposit',
        'deposit_for',
        'deposit_with_permit',
        'deposit_with_authorization',
      ])
      const depositFor = body.methods.find((method) => method.method === 'deposit_for')!
      expect(depositFor.calls.join(' ')).to.contain(getAddress(agent.agent.wallet_address))
    })

    it('answers 409 chain_unavailable on a coordinator without a chain', async () => {
      const { app } = await createTestApp(database)
      const agent = await registerAgent(app)
      const res = await request(app)
        .get('/v1/wallet/deposit_address')
        .set('Authorization', bearer(agent.apiKey))
        .expect(409)
      expect(res.body.error.code).to.equal('chain_unavailable')
    })
  })
})
