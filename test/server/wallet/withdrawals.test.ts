import { expect } from 'chai'
import request from 'supertest'
import { createTestClient, erc20Abi, getAddress, http, type TestClient } from 'viem'
import { generatePrivateKey, privateKeyToAccount, type LocalAccount } from 'viem/accounts'
import { balanceResponse, withdrawal, withdrawalsPage, type Withdrawal } from '../../../protocol/wallet'
import { clearhouseVaultAbi } from '../../../protocol/vault-abi'
import { chainNow } from '../../../server/chain/clients'
import { findChainOp } from '../../../server/chain/settler/chain-ops-queries'
import { selectEntrySumsByToken } from '../../../server/ledger/ledger-queries'
import { reconcileWithdrawals } from '../../../server/wallet/withdrawal-refunds-worker'
import { bearer, registerAgent, type RegisteredTestAgent } from '../helpers/agents'
import { createTestApp } from '../helpers/app'
import { createChainTestApp, hardhatAccount, type ChainTestApp } from '../helpers/chain-app'
import { hardhatRpcUrl, revertTo, snapshot, walletFor } from '../helpers/chain'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { expectFieldError, postBid, postJob } from '../helpers/jobs'

const USDC = 1_000_000n

function freshAddress(): `0x${string}` {
  return privateKeyToAccount(generatePrivateKey()).address
}

/**
 * Issue 5, the chain bridge's way out: fast withdrawals through the settler (managed wallets
 * signed for by the coordinator, self-custody wallets signing typed data themselves), refunds of
 * ops that fail on-chain, and slow-path exits made on the vault while the coordinator is down,
 * which the indexer books when it catches up. The vault and the ledger must agree at every step.
 */
describe('withdrawals', () => {
  let database: TestDatabase
  let chain: ChainTestApp
  let testClient: TestClient

  before(async function () {
    this.timeout(120_000)
    database = await createTestDatabase()
    chain = await createChainTestApp(database)
    testClient = createTestClient({ mode: 'hardhat', transport: http(await hardhatRpcUrl()) })
  })
  after(async () => {
    await chain.stop()
    await database.drop()
  })

  function withdraw(agent: RegisteredTestAgent, body: Record<string, unknown>) {
    return request(chain.app)
      .post('/v1/wallet/withdraw')
      .set('Authorization', bearer(agent.apiKey))
      .send(body)
  }

  async function requestWithdrawal(
    agent: RegisteredTestAgent,
    body: Record<string, unknown>,
  ): Promise<Withdrawal> {
    const res = await withdraw(agent, body)
    expect(res.status, JSON.stringify(res.body)).to.equal(201)
    return withdrawal.parse(res.body)
  }

  async function show(agent: RegisteredTestAgent, id: string): Promise<Withdrawal> {
    const res = await request(chain.app)
      .get(`/v1/withdrawals/${id}`)
      .set('Authorization', bearer(agent.apiKey))
      .expect(200)
    return withdrawal.parse(res.body)
  }

  async function list(agent: RegisteredTestAgent, query: Record<string, string | number> = {}) {
    const res = await request(chain.app)
      .get('/v1/withdrawals')
      .query(query)
      .set('Authorization', bearer(agent.apiKey))
      .expect(200)
    return withdrawalsPage.parse(res.body)
  }

  async function balance(agent: RegisteredTestAgent) {
    const res = await request(chain.app)
      .get('/v1/wallet/balance')
      .set('Authorization', bearer(agent.apiKey))
      .expect(200)
    return balanceResponse.parse(res.body).balances[0]!
  }

  function postSignature(agent: RegisteredTestAgent, id: string, signature: string) {
    return request(chain.app)
      .post(`/v1/withdrawals/${id}/signature`)
      .set('Authorization', bearer(agent.apiKey))
      .send({ signature })
  }

  /** The owner's EIP-712 signature over the typed data the API handed out. */
  function signWithdrawal(account: LocalAccount, pending: Withdrawal): Promise<`0x${string}`> {
    const typed = pending.typed_data!
    return account.signTypedData({
      domain: { ...typed.domain, verifyingContract: typed.domain.verifyingContract as `0x${string}` },
      types: typed.types,
      primaryType: 'Withdrawal',
      message: {
        account: typed.message.account,
        token: typed.message.token,
        amount: BigInt(typed.message.amount),
        to: typed.message.to,
        nonce: BigInt(typed.message.nonce),
        deadline: BigInt(typed.message.deadline),
      },
    })
  }

  /** The ERC-20 balance of `address` outside the vault. */
  function tokenBalanceOf(address: `0x${string}`): Promise<bigint> {
    return chain.client.readContract({
      address: chain.usdc,
      abi: erc20Abi,
      functionName: 'balanceOf',
      args: [address],
    })
  }

  async function expectReconciled(step: string): Promise<void> {
    expect(await chain.reconciliationDifference(), `reconciliation ${step}`).to.equal(0n)
  }

  async function expectLedgerBalanced(): Promise<void> {
    for (const [token, total] of await selectEntrySumsByToken(database.pool)) {
      expect(total, `ledger entries of ${token}`).to.equal(0n)
    }
  }

  /** Moves the chain's clock (and the next block) `seconds` ahead. */
  async function advanceChainTime(seconds: bigint): Promise<void> {
    await testClient.increaseTime({ seconds: Number(seconds) })
    await testClient.mine({ blocks: 1 })
  }

  /**
   * The slow path's first half, with no coordinator in the loop: the owner asks the vault itself
   * and waits out the withdrawal delay on the chain's clock.
   */
  async function requestExit(account: LocalAccount, units: bigint, to: `0x${string}`): Promise<void> {
    const wallet = await walletFor(account)
    const requested = await wallet.writeContract({
      address: chain.vault,
      abi: clearhouseVaultAbi,
      functionName: 'requestWithdrawal',
      args: [chain.usdc, units, to],
      chain: null,
    })
    await chain.client.waitForTransactionReceipt({ hash: requested })
    const delay = await chain.client.readContract({
      address: chain.vault,
      abi: clearhouseVaultAbi,
      functionName: 'withdrawalDelay',
    })
    await advanceChainTime(BigInt(delay))
  }

  /** The slow path's second half: executes the owner's ripe request; returns the `Withdrawn` transaction. */
  async function executeExit(account: LocalAccount): Promise<`0x${string}`> {
    const wallet = await walletFor(account)
    const executed = await wallet.writeContract({
      address: chain.vault,
      abi: clearhouseVaultAbi,
      functionName: 'executeWithdrawal',
      args: [account.address, chain.usdc],
      chain: null,
    })
    const receipt = await chain.client.waitForTransactionReceipt({ hash: executed })
    expect(receipt.status).to.equal('success')
    return executed
  }

  async function exitOnChain(
    account: LocalAccount,
    units: bigint,
    to: `0x${string}`,
  ): Promise<`0x${string}`> {
    await requestExit(account, units, to)
    return executeExit(account)
  }

  /** A wallet no test has used, with gas money, for a self-custody agent or none. */
  async function freshWallet(): Promise<LocalAccount> {
    const account = privateKeyToAccount(generatePrivateKey())
    await testClient.setBalance({ address: account.address, value: 10n ** 18n })
    return account
  }

  async function refundCount(id: string): Promise<number> {
    const { rows } = await database.pool.query(
      'SELECT count(*)::int AS n FROM ledger_transactions WHERE reference = $1',
      [`withdrawal-refund:${id}`],
    )
    return rows[0].n as number
  }

  describe('fast path, managed wallet', () => {
    it('withdraw fast path end to end: debits at once, settles on the vault, pays the outside address as ERC-20', async function () {
      this.timeout(120_000)
      const agent = await registerAgent(chain.app)
      await chain.fund(agent.agent.wallet_address, 50n * USDC)
      await expectReconciled('after the deposit')
      const outside = freshAddress()

      const pending = await requestWithdrawal(agent, { amount: '20', to: outside })
      expect(pending).to.include({
        path: 'fast',
        status: 'pending',
        amount: '20',
        token: 'USDC',
        to: outside,
        account: getAddress(agent.agent.wallet_address),
        withdrawal_address_id: null,
        tx_hash: null,
        typed_data: null,
        failure_reason: null,
      })
      expect(await balance(agent)).to.include({
        available: '30',
        withdrawing: '20',
        debt: '0',
        on_chain: '50',
      })
      await expectReconciled('after the debit')

      await chain.settler.drain()
      expect((await show(agent, pending.withdrawal_id)).status, 'sent, not yet indexed').to.equal(
        'processing',
      )
      await expectReconciled('after the batch, before the indexer')

      await chain.index()
      const settled = await show(agent, pending.withdrawal_id)
      expect(settled.status).to.equal('success')
      expect(settled.tx_hash).to.match(/^0x[0-9a-f]{64}$/)
      expect(settled.completed_at).to.be.a('string')
      const receipt = await chain.client.getTransactionReceipt({ hash: settled.tx_hash as `0x${string}` })
      expect(receipt.to?.toLowerCase()).to.equal(chain.vault.toLowerCase())
      expect(await tokenBalanceOf(outside)).to.equal(20n * USDC)
      expect(await chain.vaultBalanceOf(agent.agent.wallet_address)).to.equal(30n * USDC)
      expect(await balance(agent)).to.include({ available: '30', withdrawing: '0', on_chain: '30' })
      await expectReconciled('after the indexer confirmed it')
      await expectLedgerBalanced()
    })

    it('pays the default saved address when no destination is given, and a saved address by address_id', async function () {
      this.timeout(120_000)
      const agent = await registerAgent(chain.app)
      await chain.fund(agent.agent.wallet_address, 10n * USDC)
      const [firstAddress, secondAddress] = [freshAddress(), freshAddress()]
      const saved = async (address: string) =>
        (
          await request(chain.app)
            .post('/v1/withdrawal-addresses')
            .set('Authorization', bearer(agent.apiKey))
            .send({ address })
            .expect(201)
        ).body as { address_id: string; is_default: boolean }
      const first = await saved(firstAddress)
      const second = await saved(secondAddress)
      expect(first.is_default).to.equal(true)
      expect(second.is_default).to.equal(false)

      const toDefault = await requestWithdrawal(agent, { amount: '3' })
      expect(toDefault).to.include({ to: firstAddress, withdrawal_address_id: first.address_id })
      const bySavedId = await requestWithdrawal(agent, { amount: '4', address_id: second.address_id })
      expect(bySavedId).to.include({ to: secondAddress, withdrawal_address_id: second.address_id })
      await expectReconciled('with both queued')

      await chain.settle()
      expect((await show(agent, toDefault.withdrawal_id)).status).to.equal('success')
      expect((await show(agent, bySavedId.withdrawal_id)).status).to.equal('success')
      expect(await tokenBalanceOf(firstAddress)).to.equal(3n * USDC)
      expect(await tokenBalanceOf(secondAddress)).to.equal(4n * USDC)
      expect(await chain.vaultBalanceOf(agent.agent.wallet_address)).to.equal(3n * USDC)
      await expectReconciled('after settling both')
    })

    it("pays the caller's own wallet when there is no destination and no saved address", async function () {
      this.timeout(120_000)
      const agent = await registerAgent(chain.app)
      await chain.fund(agent.agent.wallet_address, 8n * USDC)
      const own = await requestWithdrawal(agent, { amount: '5' })
      expect(own).to.include({ to: getAddress(agent.agent.wallet_address), withdrawal_address_id: null })
      await chain.settle()
      expect((await show(agent, own.withdrawal_id)).status).to.equal('success')
      expect(await tokenBalanceOf(agent.agent.wallet_address)).to.equal(5n * USDC)
      expect(await chain.vaultBalanceOf(agent.agent.wallet_address)).to.equal(3n * USDC)
      await expectReconciled('after paying the own wallet')
    })

    it("takes seed 004's to_account_id for to, and refuses it together with to", async function () {
      this.timeout(120_000)
      const agent = await registerAgent(chain.app)
      await chain.fund(agent.agent.wallet_address, 4n * USDC)
      const destination = freshAddress()
      const seedShaped = await requestWithdrawal(agent, { amount: '3', to_account_id: destination })
      expect(seedShaped.to).to.equal(getAddress(destination))
      expectFieldError(
        await withdraw(agent, { amount: '1', to: freshAddress(), to_account_id: freshAddress() }),
        'to_account_id',
      )
      expectFieldError(
        await withdraw(agent, { amount: '1', to_account_id: 'your-wallet.near' }),
        'to_account_id',
      )
      await chain.settle()
      expect(await tokenBalanceOf(destination)).to.equal(3n * USDC)
      await expectReconciled('after a seed-shaped withdrawal')
    })

    it('answers 404 naming address_id for an address the caller never saved, and 400 for to with address_id', async () => {
      const agent = await registerAgent(chain.app)
      const stranger = await registerAgent(chain.app)
      await chain.fund(agent.agent.wallet_address, 2n * USDC)
      const theirs = (
        await request(chain.app)
          .post('/v1/withdrawal-addresses')
          .set('Authorization', bearer(stranger.apiKey))
          .send({ address: freshAddress() })
          .expect(201)
      ).body as { address_id: string }
      const res = await withdraw(agent, { amount: '1', address_id: theirs.address_id }).expect(404)
      expect(res.body.error.details.field).to.equal('address_id')
      expectFieldError(
        await withdraw(agent, { amount: '1', to: freshAddress(), address_id: theirs.address_id }),
        'address_id',
      )
      expect((await list(agent)).data).to.deep.equal([])
      expect(await balance(agent)).to.include({ available: '2', withdrawing: '0' })
    })
  })

  describe('refusals', () => {
    let agent: RegisteredTestAgent

    before(async function () {
      this.timeout(120_000)
      agent = await registerAgent(chain.app)
      await chain.fund(agent.agent.wallet_address, 5n * USDC)
    })

    it('answers 409 insufficient_balance past the available balance and queues nothing', async () => {
      const res = await withdraw(agent, { amount: '5.000001', to: freshAddress() }).expect(409)
      expect(res.body.error.code).to.equal('insufficient_balance')
      expect((await list(agent)).data).to.deep.equal([])
      const { rows } = await database.pool.query(
        `SELECT count(*)::int AS n FROM withdrawals WHERE agent_id = $1`,
        [agent.agent.id],
      )
      expect(rows[0].n).to.equal(0)
      expect(await balance(agent)).to.include({ available: '5', withdrawing: '0' })
      await expectReconciled('after a refusal')
    })

    it('answers 400 naming amount for too many decimals, zero, a negative or a malformed amount, as a string or a JSON number', async () => {
      for (const amount of ['1.0000001', '0', '0.000000', '-1', '1e6', '', 0.0000001, -5, 0]) {
        expectFieldError(await withdraw(agent, { amount, to: freshAddress() }), 'amount')
      }
      expectFieldError(await withdraw(agent, { to: freshAddress() }), 'amount')
    })

    it('answers 400 naming to for a malformed, zero or badly checksummed address', async () => {
      const good = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8'
      for (const to of [
        '0x1234',
        'alice.near',
        '0x0000000000000000000000000000000000000000',
        good.replace('C5', 'c5'),
      ]) {
        expectFieldError(await withdraw(agent, { amount: '1', to }), 'to')
      }
    })

    it('answers 400 naming token for a token that is not allowlisted, and accepts the token by address', async () => {
      const res = await withdraw(agent, { amount: '1', token: 'DOGE', to: freshAddress() })
      expectFieldError(res, 'token')
      expect(res.body.error.code).to.equal('unknown_token')
      const byAddress = await requestWithdrawal(agent, { amount: '1', token: chain.usdc, to: freshAddress() })
      expect(byAddress).to.include({ token: 'USDC', token_address: chain.usdc.toLowerCase() })
      await chain.settle()
      expect((await show(agent, byAddress.withdrawal_id)).status).to.equal('success')
    })

    it('answers 401 without credentials on every withdrawal route', async () => {
      await request(chain.app).post('/v1/wallet/withdraw').send({ amount: '1' }).expect(401)
      await request(chain.app).get('/v1/withdrawals').expect(401)
      const id = '00000000-0000-4000-8000-000000000000'
      await request(chain.app).get(`/v1/withdrawals/${id}`).expect(401)
      await request(chain.app).post(`/v1/withdrawals/${id}/signature`).send({ signature: '0x' }).expect(401)
    })

    it("answers 404 for another agent's withdrawal and 400 naming withdrawal_id for a malformed id", async () => {
      const mine = await requestWithdrawal(agent, { amount: '1', to: freshAddress() })
      const stranger = await registerAgent(chain.app)
      await request(chain.app)
        .get(`/v1/withdrawals/${mine.withdrawal_id}`)
        .set('Authorization', bearer(stranger.apiKey))
        .expect(404)
      expect((await list(stranger)).data).to.deep.equal([])
      await postSignature(stranger, mine.withdrawal_id, `0x${'11'.repeat(65)}`).expect(404)
      const malformed = await request(chain.app)
        .get('/v1/withdrawals/not-a-uuid')
        .set('Authorization', bearer(agent.apiKey))
      expectFieldError(malformed, 'withdrawal_id')
      expectFieldError(await postSignature(agent, 'not-a-uuid', `0x${'11'.repeat(65)}`), 'withdrawal_id')
      await chain.settle()
      await expectReconciled('after the refusals')
    })

    it('answers 400 naming to for the vault itself as the destination, which would strand the tokens in it', async () => {
      const res = await withdraw(agent, { amount: '1', to: chain.vault })
      expectFieldError(res, 'to')
      expect(await balance(agent)).to.include({ withdrawing: '0' })
    })

    it('moves money once for a repeated Idempotency-Key and replays the first answer', async () => {
      const body = { amount: '0.5', to: freshAddress() }
      const send = () =>
        request(chain.app)
          .post('/v1/wallet/withdraw')
          .set('Authorization', bearer(agent.apiKey))
          .set('Idempotency-Key', `withdraw-${body.to}`)
          .send(body)
      const first = await send().expect(201)
      const second = await send().expect(201)
      expect(second.body.withdrawal_id).to.equal(first.body.withdrawal_id)
      expect((await list(agent, { status: 'pending' })).data).to.have.length(1)
      await chain.settle()
      await expectReconciled('after the replayed request')
    })

    it('answers 409 chain_unavailable on a coordinator without a chain', async () => {
      const offline = await createTestDatabase()
      try {
        const { app } = await createTestApp(offline)
        const lonely = await registerAgent(app)
        const res = await request(app)
          .post('/v1/wallet/withdraw')
          .set('Authorization', bearer(lonely.apiKey))
          .send({ amount: '1', to: freshAddress() })
          .expect(409)
        expect(res.body.error.code).to.equal('chain_unavailable')
      } finally {
        await offline.drop()
      }
    })
  })

  describe('self-custody wallet', () => {
    const owner = hardhatAccount(10)
    const impostor = hardhatAccount(11)
    let agent: RegisteredTestAgent

    before(async function () {
      this.timeout(120_000)
      agent = await registerAgent(chain.app, { account: owner })
      await chain.fund(owner.address, 50n * USDC)
    })

    it('hands out typed data and debits nothing, then debits and settles once the owner signs', async function () {
      this.timeout(120_000)
      const outside = freshAddress()
      const asked = await requestWithdrawal(agent, { amount: '20', to: outside })
      expect(asked).to.include({ status: 'awaiting_signature', amount: '20', to: outside })
      expect(asked.typed_data).to.not.equal(null)
      expect(asked.typed_data!.primaryType).to.equal('Withdrawal')
      expect(asked.typed_data!.domain).to.include({ chainId: chain.deployment.chainId })
      expect(asked.typed_data!.domain.verifyingContract.toLowerCase()).to.equal(chain.vault.toLowerCase())
      expect(asked.typed_data!.message).to.include({
        account: owner.address,
        to: outside,
        amount: String(20n * USDC),
        nonce: asked.nonce,
      })
      expect(await balance(agent)).to.include({ available: '50', withdrawing: '0' })
      await expectReconciled('while it awaits a signature')
      await chain.settle()
      expect((await show(agent, asked.withdrawal_id)).status, 'nothing to settle yet').to.equal(
        'awaiting_signature',
      )

      const signed = await postSignature(
        agent,
        asked.withdrawal_id,
        await signWithdrawal(owner, asked),
      ).expect(200)
      expect(withdrawal.parse(signed.body)).to.include({ status: 'pending', typed_data: null })
      expect(await balance(agent)).to.include({ available: '30', withdrawing: '20' })
      await expectReconciled('after the signature')

      await chain.settle()
      const settled = await show(agent, asked.withdrawal_id)
      expect(settled.status).to.equal('success')
      expect(settled.tx_hash).to.match(/^0x[0-9a-f]{64}$/)
      expect(await tokenBalanceOf(outside)).to.equal(20n * USDC)
      expect(await chain.vaultBalanceOf(owner.address)).to.equal(30n * USDC)
      await expectReconciled('after settling')
    })

    it("answers 400 naming signature for another wallet's signature or a malformed one, and 409 to a second signature", async () => {
      const asked = await requestWithdrawal(agent, { amount: '1', to: freshAddress() })
      const wrong = await postSignature(agent, asked.withdrawal_id, await signWithdrawal(impostor, asked))
      expectFieldError(wrong, 'signature')
      expect(wrong.body.error.code).to.equal('signature_mismatch')
      expectFieldError(await postSignature(agent, asked.withdrawal_id, '0x1234'), 'signature')
      // A signature over other values (here a different amount) recovers to someone else.
      const tampered = {
        ...asked,
        typed_data: { ...asked.typed_data!, message: { ...asked.typed_data!.message, amount: '2000000' } },
      }
      expectFieldError(
        await postSignature(agent, asked.withdrawal_id, await signWithdrawal(owner, tampered)),
        'signature',
      )
      expect((await show(agent, asked.withdrawal_id)).status).to.equal('awaiting_signature')
      expect(await balance(agent)).to.include({ available: '30', withdrawing: '0' })

      const signature = await signWithdrawal(owner, asked)
      await postSignature(agent, asked.withdrawal_id, signature).expect(200)
      const again = await postSignature(agent, asked.withdrawal_id, signature).expect(409)
      expect(again.body.error.code).to.equal('withdrawal_not_awaiting_signature')
      expect(await balance(agent)).to.include({ available: '29', withdrawing: '1' })
      await chain.settle()
      expect((await show(agent, asked.withdrawal_id)).status).to.equal('success')
      await expectReconciled('after the signed one settled')
    })

    it('closes a withdrawal never signed by its deadline as failed, debiting nothing', async () => {
      const asked = await requestWithdrawal(agent, { amount: '2', to: freshAddress() })
      const deadline = BigInt(asked.typed_data!.message.deadline)
      expect(
        await reconcileWithdrawals(database.pool, { agentId: agent.agent.id, nowSeconds: deadline }),
      ).to.equal(0)
      expect(
        await reconcileWithdrawals(database.pool, { agentId: agent.agent.id, nowSeconds: deadline + 1n }),
      ).to.equal(1)
      const closed = await show(agent, asked.withdrawal_id)
      expect(closed).to.include({ status: 'failed', failure_reason: 'signature_expired', typed_data: null })
      const late = await postSignature(agent, asked.withdrawal_id, await signWithdrawal(owner, asked)).expect(
        409,
      )
      expect(late.body.error.code).to.equal('withdrawal_not_awaiting_signature')
      expect(await balance(agent)).to.include({ available: '29', withdrawing: '0' })
      await expectReconciled('after the expiry')
    })

    it('refuses a signature posted after the chain clock passed the deadline, and fails the withdrawal', async function () {
      this.timeout(120_000)
      const asked = await requestWithdrawal(agent, { amount: '2', to: freshAddress() })
      const signature = await signWithdrawal(owner, asked)
      await advanceChainTime(3601n)
      const res = await postSignature(agent, asked.withdrawal_id, signature).expect(409)
      expect(res.body.error.code).to.equal('withdrawal_expired')
      expect(await show(agent, asked.withdrawal_id)).to.include({
        status: 'failed',
        failure_reason: 'signature_expired',
      })
      expect(await balance(agent)).to.include({ available: '29', withdrawing: '0' })
      await chain.settle()
      expect(await chain.vaultBalanceOf(owner.address)).to.equal(29n * USDC)
      await expectReconciled('after the late signature')
    })
  })

  describe('ops that fail on-chain', () => {
    it('marks a withdrawal whose signature expired before the settler ran failed, and refunds it exactly once', async function () {
      this.timeout(120_000)
      const agent = await registerAgent(chain.app)
      await chain.fund(agent.agent.wallet_address, 10n * USDC)
      const outside = freshAddress()
      const stalled = await requestWithdrawal(agent, { amount: '4', to: outside })
      // The settler was down for longer than the signature lives.
      await advanceChainTime(3601n)
      const results = await chain.settle()
      expect(results.map((result) => result.outcome)).to.include('op-failed')
      await expectLedgerBalanced()

      const closed = await Promise.all([
        reconcileWithdrawals(database.pool),
        reconcileWithdrawals(database.pool),
        reconcileWithdrawals(database.pool, { agentId: agent.agent.id }),
      ])
      expect(closed.reduce((sum, count) => sum + count, 0)).to.equal(1)
      expect(await refundCount(stalled.withdrawal_id)).to.equal(1)
      const failed = await show(agent, stalled.withdrawal_id)
      expect(failed.status).to.equal('failed')
      expect(failed.failure_reason).to.contain('VaultSignatureExpired')
      expect(await balance(agent)).to.include({ available: '10', withdrawing: '0', on_chain: '10' })
      expect(await tokenBalanceOf(outside)).to.equal(0n)
      await expectReconciled('after the refund')
      await chain.settle()
      expect(await refundCount(stalled.withdrawal_id)).to.equal(1)
      await expectLedgerBalanced()
    })

    it('refunds a signed withdrawal whose vault balance a slow-path exit took first, without double-debiting', async function () {
      this.timeout(120_000)
      const owner = hardhatAccount(12)
      const agent = await registerAgent(chain.app, { account: owner })
      await chain.fund(owner.address, 30n * USDC)
      const asked = await requestWithdrawal(agent, { amount: '20', to: freshAddress() })
      await postSignature(agent, asked.withdrawal_id, await signWithdrawal(owner, asked)).expect(200)
      expect(await balance(agent)).to.include({ available: '10', withdrawing: '20' })

      // The owner empties its vault account on its own before the settler sends the op.
      const exitTo = freshAddress()
      await exitOnChain(owner, 30n * USDC, exitTo)
      await expectReconciled('with the exit not yet indexed')
      const results = await chain.settle()
      expect(results.map((result) => result.outcome)).to.include('op-failed')
      await expectReconciled('after the op failed and the exit was indexed')

      const failed = await show(agent, asked.withdrawal_id)
      expect(failed.status).to.equal('failed')
      expect(failed.failure_reason).to.be.a('string').and.not.equal('')
      expect(await refundCount(asked.withdrawal_id)).to.equal(1)
      const slow = (await list(agent, { status: 'success' })).data
      expect(slow).to.have.length(1)
      expect(slow[0]).to.include({ path: 'slow', amount: '30', to: exitTo })
      expect(await tokenBalanceOf(exitTo)).to.equal(30n * USDC)
      expect(await balance(agent)).to.include({ available: '0', withdrawing: '0', debt: '0', on_chain: '0' })
      await expectReconciled('after the refund repaid the debt')
      await expectLedgerBalanced()
    })

    it('attack: the owner front-runs the settled batch to empty the balance its withdrawal needs -> only that op is skipped, marked failed and refunded once', async function () {
      this.timeout(120_000)
      const owner = hardhatAccount(16)
      const agent = await registerAgent(chain.app, { account: owner })
      await chain.fund(owner.address, 30n * USDC)
      const exitTo = freshAddress()
      await requestExit(owner, 30n * USDC, exitTo)
      const bystander = await registerAgent(chain.app)
      await chain.fund(bystander.agent.wallet_address, 5n * USDC)
      const asked = await requestWithdrawal(agent, { amount: '20', to: freshAddress() })
      await postSignature(agent, asked.withdrawal_id, await signWithdrawal(owner, asked)).expect(200)
      const other = await requestWithdrawal(bystander, { amount: '5', to: freshAddress() })

      // The settler simulates (both ops apply) and sends; before the block, the owner's own exit,
      // paying a higher tip, lands first and takes the balance the withdrawal needs.
      const result = await chain.frontRunNextBatch(owner, {
        functionName: 'executeWithdrawal',
        args: [owner.address, chain.usdc],
      })
      expect(result.outcome, 'the batch lands').to.equal('confirmed')
      await chain.index()

      const failed = await show(agent, asked.withdrawal_id)
      expect(failed.status).to.equal('failed')
      expect(failed.failure_reason).to.match(/^VaultInsufficientBalance\(/)
      // GETs no longer refund (issue 12): the refunds worker's round does.
      await reconcileWithdrawals(database.pool)
      expect(await refundCount(asked.withdrawal_id)).to.equal(1)
      expect((await show(bystander, other.withdrawal_id)).status, "the other user's op applied").to.equal(
        'success',
      )
      expect(await tokenBalanceOf(exitTo)).to.equal(30n * USDC)
      expect(await balance(agent)).to.include({ available: '0', withdrawing: '0', debt: '0', on_chain: '0' })
      await expectReconciled('after the skipped op was refunded')
      await expectLedgerBalanced()
    })

    it('refunds a queued withdrawal of a deposit that a reorg took away, into the debt the reorg left', async function () {
      this.timeout(120_000)
      const agent = await registerAgent(chain.app)
      const before = await snapshot()
      await chain.fund(agent.agent.wallet_address, 10n * USDC)
      const queued = await requestWithdrawal(agent, { amount: '6', to: freshAddress() })
      expect(await balance(agent)).to.include({ available: '4', withdrawing: '6' })

      await revertTo(before)
      await testClient.mine({ blocks: 3 })
      await chain.index()
      expect(await balance(agent)).to.include({ available: '0', debt: '6' })
      await expectReconciled('after the deposit was reorganised away')

      const results = await chain.settle()
      expect(results.map((result) => result.outcome)).to.include('op-failed')
      const failed = await show(agent, queued.withdrawal_id)
      expect(failed.status).to.equal('failed')
      expect(failed.failure_reason).to.contain('VaultInsufficientBalance')
      // GETs no longer refund (issue 12): the refunds worker's round does.
      await reconcileWithdrawals(database.pool)
      expect(await refundCount(queued.withdrawal_id)).to.equal(1)
      expect(await balance(agent)).to.include({ available: '0', withdrawing: '0', debt: '0', on_chain: '0' })
      await expectReconciled('after the refund repaid the debt')
      await expectLedgerBalanced()
    })
  })

  describe('reads write nothing (issue 12)', () => {
    /** Everything a read that wrote would change: the ledger, and every withdrawal row as stored. */
    async function writeTrace(): Promise<unknown> {
      const { rows } = await database.pool.query(
        `SELECT (SELECT count(*)::int FROM ledger_transactions) AS transactions,
           (SELECT count(*)::int FROM ledger_entries) AS entries,
           (SELECT coalesce(json_agg(w ORDER BY w.id), '[]'::json) FROM withdrawals AS w) AS withdrawals`,
      )
      return rows[0]
    }

    it('shows a fast withdrawal whose op failed as failed and its amount as pending, writing nothing until the refunds worker runs', async function () {
      this.timeout(120_000)
      const agent = await registerAgent(chain.app)
      await chain.fund(agent.agent.wallet_address, 10n * USDC)
      const stalled = await requestWithdrawal(agent, { amount: '4', to: freshAddress() })
      await advanceChainTime(3601n)
      const results = await chain.settle()
      expect(results.map((result) => result.outcome)).to.include('op-failed')

      const before = await writeTrace()
      const shown = await show(agent, stalled.withdrawal_id)
      expect(shown).to.include({ status: 'failed', completed_at: null })
      expect(shown.failure_reason).to.contain('VaultSignatureExpired')
      expect((await list(agent, { status: 'failed' })).data.map((row) => row.withdrawal_id)).to.deep.equal([
        stalled.withdrawal_id,
      ])
      expect((await list(agent, { status: 'pending' })).data).to.deep.equal([])
      expect(await balance(agent), 'the amount is on its way back').to.include({
        available: '6',
        pending: '4',
        withdrawing: '0',
        on_chain: '10',
      })
      expect(await writeTrace(), 'the GETs wrote nothing').to.deep.equal(before)
      expect(await refundCount(stalled.withdrawal_id)).to.equal(0)

      expect(await reconcileWithdrawals(database.pool, { agentId: agent.agent.id })).to.equal(1)
      expect(await refundCount(stalled.withdrawal_id)).to.equal(1)
      const closed = await show(agent, stalled.withdrawal_id)
      expect(closed).to.include({ status: 'failed', failure_reason: shown.failure_reason })
      expect(closed.completed_at).to.be.a('string')
      expect(await balance(agent)).to.include({
        available: '10',
        pending: '0',
        withdrawing: '0',
        on_chain: '10',
      })
      await expectReconciled('after the worker refunded it')
      await expectLedgerBalanced()
    })

    it("shows an unsigned withdrawal past its deadline by the chain's clock as failed, without typed_data, writing nothing until the worker expires it", async function () {
      this.timeout(120_000)
      const owner = await freshWallet()
      const agent = await registerAgent(chain.app, { account: owner })
      await chain.fund(owner.address, 3n * USDC)
      const asked = await requestWithdrawal(agent, { amount: '2', to: freshAddress() })
      expect(asked.status).to.equal('awaiting_signature')
      await advanceChainTime(3601n)

      const before = await writeTrace()
      expect(await show(agent, asked.withdrawal_id)).to.include({
        status: 'failed',
        failure_reason: 'signature_expired',
        typed_data: null,
      })
      expect((await list(agent, { status: 'awaiting_signature' })).data).to.deep.equal([])
      expect(await balance(agent)).to.include({ available: '3', pending: '0', withdrawing: '0' })
      expect(await writeTrace(), 'the GETs wrote nothing').to.deep.equal(before)

      const nowSeconds = await chainNow(chain.client)
      expect(await reconcileWithdrawals(database.pool, { agentId: agent.agent.id, nowSeconds })).to.equal(1)
      const { rows } = await database.pool.query(
        'SELECT status, failure_reason FROM withdrawals WHERE id = $1',
        [asked.withdrawal_id],
      )
      expect(rows[0]).to.deep.equal({ status: 'failed', failure_reason: 'signature_expired' })
      expect(await refundCount(asked.withdrawal_id), 'nothing was debited').to.equal(0)
      await expectReconciled('after the expiry')
    })
  })

  describe('races', () => {
    it('never overdraws one balance with 20 concurrent withdrawals, and the ledger sums to zero', async function () {
      this.timeout(120_000)
      const agent = await registerAgent(chain.app)
      await chain.fund(agent.agent.wallet_address, 10n * USDC)
      const outside = freshAddress()
      const responses = await Promise.all(
        Array.from({ length: 20 }, () => withdraw(agent, { amount: '1', to: outside })),
      )
      const statuses = responses.map((res) => res.status)
      expect(statuses.filter((status) => status === 201)).to.have.length(10)
      expect(statuses.filter((status) => status === 409)).to.have.length(10)
      for (const res of responses.filter((response) => response.status === 409)) {
        expect(res.body.error.code).to.equal('insufficient_balance')
      }
      expect(await balance(agent)).to.include({ available: '0', withdrawing: '10' })
      expect((await list(agent)).data).to.have.length(10)
      await expectLedgerBalanced()
      await expectReconciled('with ten queued')

      await chain.settle()
      expect((await list(agent, { status: 'success' })).data).to.have.length(10)
      expect(await tokenBalanceOf(outside)).to.equal(10n * USDC)
      expect(await chain.vaultBalanceOf(agent.agent.wallet_address)).to.equal(0n)
      await expectReconciled('after settling them')
      await expectLedgerBalanced()
    })

    it('lets only as many concurrent self-custody signatures through as the balance covers', async function () {
      this.timeout(120_000)
      const owner = hardhatAccount(11)
      const agent = await registerAgent(chain.app, { account: owner })
      await chain.fund(owner.address, 5n * USDC)
      const asked = await Promise.all(
        Array.from({ length: 8 }, () => requestWithdrawal(agent, { amount: '1', to: freshAddress() })),
      )
      expect(asked.map((entry) => entry.status)).to.deep.equal(Array(8).fill('awaiting_signature'))
      const signed = await Promise.all(
        asked.map(async (entry) =>
          postSignature(agent, entry.withdrawal_id, await signWithdrawal(owner, entry)),
        ),
      )
      expect(signed.filter((res) => res.status === 200)).to.have.length(5)
      const refused = signed.filter((res) => res.status !== 200)
      expect(refused.map((res) => res.status)).to.deep.equal([409, 409, 409])
      for (const res of refused) expect(res.body.error.code).to.equal('insufficient_balance')
      expect(await balance(agent)).to.include({ available: '0', withdrawing: '5' })
      await expectLedgerBalanced()
      await chain.settle()
      expect(await chain.vaultBalanceOf(owner.address)).to.equal(0n)
      await expectReconciled('after settling the five')
    })
  })

  describe('slow path', () => {
    it('slow-path withdrawal while the coordinator is down, then the indexer catches up and the ledger agrees', async function () {
      this.timeout(120_000)
      const owner = hardhatAccount(13)
      const agent = await registerAgent(chain.app, { account: owner })
      await chain.fund(owner.address, 25n * USDC)
      await expectReconciled('after the deposit')

      // Nothing of the coordinator runs from here until `index()`.
      const exitTo = freshAddress()
      const txHash = await exitOnChain(owner, 15n * USDC, exitTo)
      expect(await tokenBalanceOf(exitTo)).to.equal(15n * USDC)
      expect(await chain.vaultBalanceOf(owner.address)).to.equal(10n * USDC)

      await chain.index()
      const page = await list(agent)
      expect(page.data).to.have.length(1)
      expect(page.data[0]).to.include({
        path: 'slow',
        status: 'success',
        amount: '15',
        to: exitTo,
        account: owner.address,
        tx_hash: txHash,
        nonce: null,
        deadline: null,
        typed_data: null,
      })
      expect(await balance(agent)).to.include({
        available: '10',
        withdrawing: '0',
        debt: '0',
        on_chain: '10',
      })
      await expectReconciled('after the indexer caught up')
      await expectLedgerBalanced()
      // Indexing again changes nothing.
      await chain.index()
      expect((await list(agent)).data).to.have.length(1)
      expect(await balance(agent)).to.include({ available: '10' })
    })

    it('books an exit of money the agent had escrowed off-chain as debt, repaid by its next deposit', async function () {
      this.timeout(120_000)
      const owner = hardhatAccount(14)
      const agent = await registerAgent(chain.app, { account: owner })
      const worker = await registerAgent(chain.app)
      await chain.fund(owner.address, 50n * USDC)
      const job = await postJob(chain.app, agent.apiKey)
      const bid = await postBid(chain.app, worker.apiKey, job.job_id, { amount: '10' })
      await request(chain.app)
        .post(`/v1/jobs/${job.job_id}/award`)
        .set('Authorization', bearer(agent.apiKey))
        .send({ bid_id: bid.bid_id })
        .expect(200)
      expect(await balance(agent)).to.include({ available: '40', escrowed: '10' })

      // The escrow lock waits for the owner's signature, so on-chain all 50 are still its to take.
      await exitOnChain(owner, 50n * USDC, freshAddress())
      await chain.index()
      expect(await balance(agent)).to.include({ available: '0', escrowed: '10', debt: '10', on_chain: '0' })
      const [slow] = (await list(agent)).data
      expect(slow).to.include({ path: 'slow', status: 'success', amount: '50' })
      await expectReconciled('with the agent in debt')
      await expectLedgerBalanced()

      // A fast withdrawal cannot take out what the agent owes.
      await chain.fund(owner.address, 15n * USDC)
      expect(await balance(agent)).to.include({ available: '5', debt: '0' })
      expect((await withdraw(agent, { amount: '6', to: freshAddress() })).status).to.equal(409)
      await expectReconciled('after the debt was repaid')
    })

    it('credits a slow exit back when a reorg drops its block, and books it again if it returns', async function () {
      this.timeout(120_000)
      const owner = hardhatAccount(15)
      const agent = await registerAgent(chain.app, { account: owner })
      await chain.fund(owner.address, 20n * USDC)
      const before = await snapshot()
      const exitTo = freshAddress()

      await exitOnChain(owner, 8n * USDC, exitTo)
      await chain.index()
      expect(await balance(agent)).to.include({ available: '12' })
      await expectReconciled('with the exit indexed')

      await revertTo(before)
      // The replacement chain grows past the old head, without the exit.
      await testClient.mine({ blocks: 5 })
      await chain.index()
      expect(await chain.vaultBalanceOf(owner.address)).to.equal(20n * USDC)
      expect(await balance(agent)).to.include({ available: '20', debt: '0', on_chain: '20' })
      const [dropped] = (await list(agent)).data
      expect(dropped).to.include({ path: 'slow', status: 'failed' })
      expect(dropped!.failure_reason).to.contain('reorganised')
      expect((await list(agent, { status: 'success' })).data).to.deep.equal([])
      await expectReconciled('after the reorg')
      await expectLedgerBalanced()

      // The owner sends the exit again on the new chain: booked once more, under a new reference.
      await exitOnChain(owner, 8n * USDC, exitTo)
      await chain.index()
      expect(await balance(agent)).to.include({ available: '12', debt: '0', on_chain: '12' })
      expect((await list(agent, { status: 'success' })).data).to.have.length(1)
      await expectReconciled('after the exit came back')
      await expectLedgerBalanced()
    })

    it('revives the same exit when a reorg drops it and the same transactions land again', async function () {
      this.timeout(120_000)
      const owner = await freshWallet()
      const agent = await registerAgent(chain.app, { account: owner })
      await chain.fund(owner.address, 20n * USDC)
      const before = await snapshot()
      const exitTo = freshAddress()
      const first = await exitOnChain(owner, 5n * USDC, exitTo)
      await chain.index()
      const [booked] = (await list(agent)).data
      expect(booked).to.include({ status: 'success', tx_hash: first })

      // Same chain state, same signer, same nonces: the replayed exit has the same hashes.
      await revertTo(before)
      const again = await exitOnChain(owner, 5n * USDC, exitTo)
      await chain.index()
      const rows = (await list(agent)).data
      expect(await balance(agent)).to.include({ available: '15', debt: '0', on_chain: '15' })
      expect(rows.filter((row) => row.status === 'success')).to.have.length(1)
      expect(again, 'the replayed exit').to.equal(first)
      expect(rows, 'revived, not booked as a second exit').to.have.length(1)
      await expectReconciled('after the replayed exit')
      await expectLedgerBalanced()
    })

    it('books an exit by a wallet no agent holds yet on the unclaimed account, and moves it to the agent that registers it', async function () {
      this.timeout(120_000)
      const owner = await freshWallet()
      await chain.fund(owner.address, 10n * USDC)
      const exitTo = freshAddress()
      await exitOnChain(owner, 4n * USDC, exitTo)
      await chain.index()
      await expectReconciled('with the exit on the unclaimed account')

      const agent = await registerAgent(chain.app, { account: owner })
      expect(await balance(agent)).to.include({ available: '6', debt: '0', on_chain: '6' })
      const [exit] = (await list(agent)).data
      expect(exit).to.include({ path: 'slow', status: 'success', amount: '4', to: exitTo })
      await expectReconciled('after the claim')
      await expectLedgerBalanced()
    })

    it('tells a slow exit from a queued fast withdrawal with the same account, token, destination and amount', async function () {
      this.timeout(120_000)
      const owner = await freshWallet()
      const agent = await registerAgent(chain.app, { account: owner })
      await chain.fund(owner.address, 40n * USDC)
      const to = freshAddress()
      // The request ripens first: the fast withdrawal's signature lives an hour, the delay a day.
      await requestExit(owner, 10n * USDC, to)
      const fast = await requestWithdrawal(agent, { amount: '10', to })
      await postSignature(agent, fast.withdrawal_id, await signWithdrawal(owner, fast)).expect(200)
      const slowTx = await executeExit(owner)
      // The exit is indexed while the fast one is still queued, then the settler sends it.
      await chain.index()
      expect((await show(agent, fast.withdrawal_id)).status).to.equal('pending')
      await expectReconciled('with the exit indexed and the fast one queued')
      await chain.settle()
      const rows = (await list(agent)).data
      expect(rows.map((row) => [row.path, row.status]).sort()).to.deep.equal([
        ['fast', 'success'],
        ['slow', 'success'],
      ])
      expect(rows.find((row) => row.path === 'slow')!.tx_hash).to.equal(slowTx)
      expect(rows.find((row) => row.path === 'fast')!.tx_hash).to.not.equal(slowTx)
      expect(await tokenBalanceOf(to)).to.equal(20n * USDC)
      expect(await balance(agent)).to.include({ available: '20', withdrawing: '0', on_chain: '20' })
      await expectReconciled('after both')
      await expectLedgerBalanced()
    })
  })

  describe('GET /v1/withdrawals', () => {
    let agent: RegisteredTestAgent
    let ids: string[]

    before(async function () {
      this.timeout(120_000)
      agent = await registerAgent(chain.app)
      await chain.fund(agent.agent.wallet_address, 10n * USDC)
      ids = []
      for (let i = 0; i < 3; i += 1) {
        ids.push((await requestWithdrawal(agent, { amount: `0.${i + 1}`, to: freshAddress() })).withdrawal_id)
      }
      await chain.settle()
      for (let i = 3; i < 5; i += 1) {
        ids.push((await requestWithdrawal(agent, { amount: `0.${i + 1}`, to: freshAddress() })).withdrawal_id)
      }
    })
    after(async function () {
      this.timeout(120_000)
      await chain.settle()
      await expectReconciled('after the listing tests')
    })

    it('pages newest first with limit and offset and says whether there is more', async () => {
      const newestFirst = [...ids].reverse()
      const first = await list(agent, { limit: 2 })
      expect(first.data.map((row) => row.withdrawal_id)).to.deep.equal(newestFirst.slice(0, 2))
      expect(first.has_more).to.equal(true)
      const second = await list(agent, { limit: 2, offset: 2 })
      expect(second.data.map((row) => row.withdrawal_id)).to.deep.equal(newestFirst.slice(2, 4))
      expect(second.has_more).to.equal(true)
      const last = await list(agent, { limit: 2, offset: 4 })
      expect(last.data.map((row) => row.withdrawal_id)).to.deep.equal(newestFirst.slice(4))
      expect(last.has_more).to.equal(false)
      const all = await list(agent)
      expect(all.data).to.have.length(5)
      expect(all.has_more).to.equal(false)
    })

    it('walks every withdrawal with next_cursor, newest first, then answers next_cursor null', async () => {
      const seen: string[] = []
      let page = await list(agent, { limit: 2 })
      seen.push(...page.data.map((row) => row.withdrawal_id))
      while (page.next_cursor) {
        page = await list(agent, { limit: 2, cursor: page.next_cursor })
        seen.push(...page.data.map((row) => row.withdrawal_id))
      }
      expect(seen).to.deep.equal([...ids].reverse())
      expect(page.has_more).to.equal(false)
    })

    it('filters by status and by token (symbol or address)', async () => {
      const settled = await list(agent, { status: 'success' })
      expect(settled.data.map((row) => row.withdrawal_id)).to.have.members(ids.slice(0, 3))
      const pending = await list(agent, { status: 'pending' })
      expect(pending.data.map((row) => row.withdrawal_id)).to.have.members(ids.slice(3))
      expect((await list(agent, { status: 'failed' })).data).to.deep.equal([])
      expect((await list(agent, { token: 'usdc' })).data).to.have.length(5)
      expect((await list(agent, { token: chain.usdc, status: 'pending', limit: 1 })).data).to.have.length(1)
    })

    it('answers 400 naming the parameter for a bad status, token, limit or offset', async () => {
      const get = (query: Record<string, string>) =>
        request(chain.app).get('/v1/withdrawals').query(query).set('Authorization', bearer(agent.apiKey))
      expectFieldError(await get({ status: 'done' }), 'status')
      expectFieldError(await get({ token: 'DOGE' }), 'token')
      expectFieldError(await get({ limit: '0' }), 'limit')
      expectFieldError(await get({ limit: '101' }), 'limit')
      expectFieldError(await get({ offset: '-1' }), 'offset')
    })
  })

  it('queues exactly one op per withdrawal under its reference', async () => {
    const agent = await registerAgent(chain.app)
    await chain.fund(agent.agent.wallet_address, 1n * USDC)
    const queued = await requestWithdrawal(agent, { amount: '1', to: freshAddress() })
    const op = await findChainOp(database.pool, `withdrawal:${queued.withdrawal_id}`)
    expect(op).to.not.equal(null)
    await chain.settle()
    expect((await show(agent, queued.withdrawal_id)).status).to.equal('success')
    await expectReconciled('at the end')
  })
})

describe('withdrawals across a reorg of the settled batch', () => {
  let database: TestDatabase
  let chain: ChainTestApp
  let testClient: TestClient

  before(async function () {
    this.timeout(120_000)
    database = await createTestDatabase()
    chain = await createChainTestApp(database)
    testClient = createTestClient({ mode: 'hardhat', transport: http(await hardhatRpcUrl()) })
  })
  after(async () => {
    await chain.stop()
    await database.drop()
  })

  it('sends a fast withdrawal again when a reorg drops the batch that paid it, and reconciles to zero', async function () {
    this.timeout(120_000)
    const agent = await registerAgent(chain.app)
    await chain.fund(agent.agent.wallet_address, 10n * USDC)
    const to = freshAddress()
    const res = await request(chain.app)
      .post('/v1/wallet/withdraw')
      .set('Authorization', bearer(agent.apiKey))
      .send({ amount: '4', to })
      .expect(201)
    const before = await snapshot()
    await chain.settle()
    const show = async () =>
      withdrawal.parse(
        (
          await request(chain.app)
            .get(`/v1/withdrawals/${res.body.withdrawal_id}`)
            .set('Authorization', bearer(agent.apiKey))
            .expect(200)
        ).body,
      )
    expect((await show()).status).to.equal('success')

    await revertTo(before)
    await testClient.mine({ blocks: 3 })
    await chain.index()
    expect(await chain.vaultBalanceOf(agent.agent.wallet_address)).to.equal(10n * USDC)
    expect((await show()).status).to.not.equal('success')
    expect(await chain.reconciliationDifference(), 'after the reorg').to.equal(0n)

    await chain.settle()
    expect((await show()).status).to.equal('success')
    expect(await chain.vaultBalanceOf(agent.agent.wallet_address)).to.equal(6n * USDC)
    expect(
      await chain.client.readContract({
        address: chain.usdc,
        abi: erc20Abi,
        functionName: 'balanceOf',
        args: [to],
      }),
    ).to.equal(4n * USDC)
    expect(await chain.reconciliationDifference(), 'after it was sent again').to.equal(0n)
  })
})
