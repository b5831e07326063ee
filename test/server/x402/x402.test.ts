import { expect } from 'chai'
import type { Express } from 'express'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import request from 'supertest'
import { decodePaymentResponseHeader, wrapFetchWithPayment, x402Client } from '@x402/fetch'
import { encodePaymentSignatureHeader } from '@x402/core/http'
import { ExactEvmScheme } from '@x402/evm'
import {
  createTestClient,
  erc20Abi,
  http,
  parseAbi,
  type Hex,
  type LocalAccount,
  type PrivateKeyAccount,
} from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { formatAmount } from '../../../protocol/amounts'
import { BPS } from '../../../protocol/typed-data'
import {
  X402_REFUSALS,
  decodeX402Header,
  encodeX402Header,
  transferWithAuthorizationTypes,
  type X402EndpointPaymentsPage,
  type X402PaymentRequired,
  type X402PaymentsPage,
} from '../../../protocol/x402'
import { runAudit } from '../../../sdk/audit/auditor'
import { bearer, registerAgent, type RegisteredTestAgent } from '../helpers/agents'
import { coordinatorAccount, createChainTestApp, type ChainTestApp } from '../helpers/chain-app'
import { hardhatRpcUrl, mine, revertTo, snapshot, walletFor } from '../helpers/chain'
import { createTestApp } from '../helpers/app'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { registerStubService, startUpstreamStub, type UpstreamStub } from '../helpers/upstream'

const PRICE = 10_000n
const tokenAbi = parseAbi([
  'function mint(address to, uint256 amount)',
  'function authorizationState(address authorizer, bytes32 nonce) view returns (bool)',
  'function cancelAuthorization(address authorizer, bytes32 nonce, uint8 v, bytes32 r, bytes32 s)',
])

/**
 * x402 (issue 19) with the published client (`@x402/fetch` + `@x402/evm`) and viem accounts on the
 * in-process chain: an unpaid call is a 402 saying what to pay; a paid one is answered, spent
 * through the vault to the provider less the fee, booked in the ledger, listed in the provider's
 * call log and in the receipts the auditor matches with the vault's logs.
 */
describe('x402: any x402 client pays a Clearhouse service', () => {
  let database: TestDatabase
  let chain: ChainTestApp
  let server: Server
  let baseUrl: string
  let upstream: UpstreamStub
  let provider: RegisteredTestAgent
  let echo: string
  let failing: string
  let feeBps: bigint

  before(async function () {
    this.timeout(120_000)
    database = await createTestDatabase()
    chain = await createChainTestApp(database)
    server = chain.app.listen(0, '127.0.0.1')
    await new Promise((resolve) => server.once('listening', resolve))
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    upstream = await startUpstreamStub()
    provider = await registerAgent(chain.app)
    const price = formatAmount(PRICE, 6)
    echo = await registerStubService(chain.app, provider.apiKey, upstream, { path: '/echo', price })
    failing = await registerStubService(chain.app, provider.apiKey, upstream, { path: '/fail', price })
    feeBps = await chain.feeBps()
  })
  after(async () => {
    server.close()
    await upstream.close()
    await chain.stop()
    await database.drop()
  })

  /** A fresh wallet holding `units` of USDC on-chain (not in the vault). */
  async function payerWith(units: bigint): Promise<PrivateKeyAccount> {
    const payer = privateKeyToAccount(generatePrivateKey())
    await mintTo(payer.address, units)
    return payer
  }

  /** Mints `units` of USDC to `account`'s own wallet (the mock token's open mint). */
  async function mintTo(account: Hex, units: bigint): Promise<void> {
    if (units === 0n) return
    const wallet = await walletFor(coordinatorAccount)
    const hash = await wallet.writeContract({
      address: chain.usdc,
      abi: tokenAbi,
      functionName: 'mint',
      args: [account, units],
      chain: null,
    })
    await chain.client.waitForTransactionReceipt({ hash })
  }

  function x402ClientFor(payer: LocalAccount) {
    return new x402Client()
      .register('eip155:31337', new ExactEvmScheme(payer))
      .setSpendControls({ allowedAssets: [{ network: 'eip155:31337', asset: chain.usdc }] })
  }

  /** The agent's available balance of USDC in the ledger. */
  const availableOf = async (agent: RegisteredTestAgent): Promise<string> =>
    (
      await request(chain.app)
        .get('/v1/wallet/balance')
        .set('Authorization', bearer(agent.apiKey))
        .expect(200)
    ).body.balances[0].available

  /** The newest x402 payment in the agent's call log (as a provider). */
  const newestPaymentTo = async (agent: RegisteredTestAgent) =>
    (
      (
        await request(chain.app)
          .get('/v1/x402/payments')
          .set('Authorization', bearer(agent.apiKey))
          .expect(200)
      ).body as X402PaymentsPage
    ).payments[0]

  const tokenBalance = (account: Hex) =>
    chain.client.readContract({
      address: chain.usdc,
      abi: erc20Abi,
      functionName: 'balanceOf',
      args: [account],
    })

  const post = (fetcher: typeof fetch, path: string, input: unknown, headers: Record<string, string> = {}) =>
    fetcher(`${baseUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ input }),
    })

  const paymentRequiredOf = (response: Response) =>
    decodeX402Header(response.headers.get('PAYMENT-REQUIRED') ?? '') as X402PaymentRequired

  /** The payment the published client would send for one call, made but not sent. */
  async function signedPaymentHeader(payer: LocalAccount, path = `/x402/services/${echo}`): Promise<string> {
    const unpaid = await post(fetch, path, { n: 1 })
    const payload = await x402ClientFor(payer).createPaymentPayload(paymentRequiredOf(unpaid) as never)
    return encodePaymentSignatureHeader(payload)
  }

  it('answers a call without payment 402 with PAYMENT-REQUIRED: exact, the price, the token and its EIP-712 domain, payTo the vault', async () => {
    const response = await post(fetch, `/x402/services/${echo}`, { n: 1 })
    expect(response.status).to.equal(402)
    expect(response.headers.get('cache-control')).to.equal('no-store')
    const required = paymentRequiredOf(response)
    expect(required.x402Version).to.equal(2)
    expect(required.resource.url).to.equal(`${baseUrl}/x402/services/${echo}`)
    expect(required.accepts).to.deep.equal([
      {
        scheme: 'exact',
        network: 'eip155:31337',
        asset: chain.usdc.toLowerCase(),
        amount: PRICE.toString(),
        payTo: chain.vault,
        maxTimeoutSeconds: required.accepts[0]!.maxTimeoutSeconds,
        extra: { name: 'USD Coin (mock)', version: '1' },
      },
    ])
    // 300 s, plus however far other suites have moved this chain's clock past the wall clock.
    expect(required.accepts[0]!.maxTimeoutSeconds).to.be.at.least(300)
    expect(required.extensions).to.have.property('payment-identifier')
    expect(response.headers.get('access-control-expose-headers'), 'a browser client may read them').to.equal(
      'PAYMENT-REQUIRED, PAYMENT-RESPONSE, X-PAYMENT-RESPONSE',
    )
    const body = (await response.json()) as { error: { code: string } }
    expect(body.error.code).to.equal('payment_required')
    expect(upstream.hits.get('/echo') ?? 0, 'the provider is not called unpaid').to.equal(0)
  })

  it('lets the published x402 client pay a call: answered, the transaction named, the provider credited the price less the fee', async function () {
    this.timeout(60_000)
    const payer = await payerWith(PRICE * 3n)
    const pay = wrapFetchWithPayment(fetch, x402ClientFor(payer))
    const providerVaultBefore = await chain.vaultBalanceOf(provider.agent.wallet_address as Hex)

    const response = await post(pay, `/x402/services/${echo}`, { n: 1 })
    expect(response.status).to.equal(200)
    const body = (await response.json()) as {
      output: unknown
      cost: string
      tx_hash: string
      payment_id: string
    }
    expect(body.output).to.deep.equal({ echo: { n: 1 } })
    expect(body.cost).to.equal('0.01')
    const settlement = decodePaymentResponseHeader(response.headers.get('PAYMENT-RESPONSE')!)
    expect(settlement).to.include({ success: true, network: 'eip155:31337', transaction: body.tx_hash })
    expect(settlement.payer?.toLowerCase()).to.equal(payer.address.toLowerCase())
    expect(upstream.lastRequest.get('/echo')?.headers['x-clearhouse-caller']).to.equal(
      `x402:${payer.address.toLowerCase()}`,
    )

    const fee = (PRICE * feeBps) / BigInt(BPS)
    expect(await tokenBalance(payer.address)).to.equal(PRICE * 2n)
    expect(await chain.vaultBalanceOf(provider.agent.wallet_address as Hex)).to.equal(
      providerVaultBefore + PRICE - fee,
    )
    await chain.index()
    expect(await availableOf(provider)).to.equal(formatAmount(PRICE - fee, 6))
    expect(await newestPaymentTo(provider)).to.include({
      payment_id: body.payment_id,
      service_id: echo,
      payer: payer.address.toLowerCase(),
      amount: '0.01',
      fee: formatAmount(fee, 6),
      status: 'paid',
      tx_hash: body.tx_hash,
      upstream_status: 200,
    })
    expect(await chain.reconciliationDifference()).to.equal(0n)
  })

  it('serves the invoke endpoint in x402 to a caller without an API key, and as before to one with a key', async function () {
    this.timeout(60_000)
    const payer = await payerWith(PRICE)
    const unpaid = await post(fetch, `/v1/services/${echo}/invoke`, 'x')
    expect(unpaid.status).to.equal(402)
    expect(paymentRequiredOf(unpaid).resource.url).to.equal(`${baseUrl}/v1/services/${echo}/invoke`)
    const response = await post(
      wrapFetchWithPayment(fetch, x402ClientFor(payer)),
      `/v1/services/${echo}/invoke`,
      'x',
    )
    expect(response.status).to.equal(200)
    expect(((await response.json()) as { output: unknown }).output).to.deep.equal({ echo: 'x' })
    const caller = await registerAgent(chain.app)
    const keyed = await request(chain.app)
      .post(`/v1/services/${echo}/invoke`)
      .set('Authorization', bearer(caller.apiKey))
      .send({ input: 'x' })
    expect(
      keyed.status,
      'a managed wallet without funds is refused by the proxy, not asked for x402',
    ).to.equal(409)
    expect(keyed.body.error.code).to.equal('insufficient_balance')
  })

  it('refuses a replay of a spent authorization 402 invalid_exact_evm_nonce_already_used, spending nothing more', async function () {
    this.timeout(60_000)
    const payer = await payerWith(PRICE * 2n)
    const header = await signedPaymentHeader(payer)
    const first = await post(fetch, `/x402/services/${echo}`, { n: 1 }, { 'PAYMENT-SIGNATURE': header })
    expect(first.status).to.equal(200)
    const hits = upstream.hits.get('/echo') ?? 0
    const replay = await post(fetch, `/x402/services/${echo}`, { n: 1 }, { 'PAYMENT-SIGNATURE': header })
    expect(replay.status).to.equal(402)
    expect(paymentRequiredOf(replay).error).to.equal(X402_REFUSALS.nonceUsed)
    expect(upstream.hits.get('/echo') ?? 0).to.equal(hits)
    expect(await tokenBalance(payer.address)).to.equal(PRICE)
  })

  it('spends an authorization sent twice at once only once: one answer, one 402', async function () {
    this.timeout(60_000)
    const payer = await payerWith(PRICE * 2n)
    const header = await signedPaymentHeader(payer)
    const answers = await Promise.all(
      [1, 2].map(() => post(fetch, `/x402/services/${echo}`, { n: 1 }, { 'PAYMENT-SIGNATURE': header })),
    )
    expect(answers.map((answer) => answer.status).sort()).to.deep.equal([200, 402])
    expect(await tokenBalance(payer.address)).to.equal(PRICE)
  })

  it('refuses an underfunded payer 402 invalid_exact_evm_insufficient_balance without calling the provider', async function () {
    this.timeout(60_000)
    const payer = await payerWith(PRICE - 1n)
    const hits = upstream.hits.get('/echo') ?? 0
    const response = await post(
      wrapFetchWithPayment(fetch, x402ClientFor(payer)),
      `/x402/services/${echo}`,
      1,
    )
    expect(response.status).to.equal(402)
    expect(paymentRequiredOf(response).error).to.equal(X402_REFUSALS.insufficientBalance)
    expect(upstream.hits.get('/echo') ?? 0).to.equal(hits)
  })

  it('refuses an expired authorization 402 invalid_exact_evm_payload_authorization_valid_before', async function () {
    this.timeout(60_000)
    const payer = await payerWith(PRICE)
    const header = await signedPaymentHeader(payer)
    const testClient = createTestClient({ mode: 'hardhat', transport: http(await hardhatRpcUrl()) })
    // The chain's clock goes past the authorization, and back after: the published client signs
    // by the wall clock, which the later tests' chain must not outrun.
    const beforeExpiry = await snapshot()
    try {
      await testClient.increaseTime({
        seconds:
          paymentRequiredOf(await post(fetch, `/x402/services/${echo}`, 1)).accepts[0]!.maxTimeoutSeconds +
          100,
      })
      await testClient.mine({ blocks: 1 })
      const response = await post(fetch, `/x402/services/${echo}`, { n: 1 }, { 'PAYMENT-SIGNATURE': header })
      expect(response.status).to.equal(402)
      expect(paymentRequiredOf(response).error).to.equal(X402_REFUSALS.validBefore)
    } finally {
      await revertTo(beforeExpiry)
    }
    expect(await tokenBalance(payer.address)).to.equal(PRICE)
  })

  it('refuses an authorization to another recipient, for another amount or signed by someone else, each 402 with its reason', async function () {
    this.timeout(60_000)
    const payer = await payerWith(PRICE * 2n)
    const unpaid = await post(fetch, `/x402/services/${echo}`, 1)
    const requirement = paymentRequiredOf(unpaid).accepts[0]!
    const latest = await chain.client.getBlock()
    const authorization = (overrides: Record<string, unknown> = {}) => ({
      from: payer.address,
      to: chain.vault,
      value: PRICE.toString(),
      validAfter: '0',
      validBefore: (latest.timestamp + 300n).toString(),
      nonce: generatePrivateKey(),
      ...overrides,
    })
    const sign = (signer: PrivateKeyAccount, message: ReturnType<typeof authorization>) =>
      signer.signTypedData({
        domain: { name: 'USD Coin (mock)', version: '1', chainId: 31337, verifyingContract: chain.usdc },
        types: transferWithAuthorizationTypes,
        primaryType: 'TransferWithAuthorization',
        message: {
          ...message,
          to: message.to as Hex,
          nonce: message.nonce as Hex,
          value: BigInt(message.value),
          validAfter: BigInt(message.validAfter),
          validBefore: BigInt(message.validBefore),
        },
      })
    const attempt = async (
      message: ReturnType<typeof authorization>,
      signer = payer,
      accepted = requirement,
    ) => {
      const header = encodeX402Header({
        x402Version: 2,
        accepted,
        payload: { authorization: message, signature: await sign(signer, message) },
      })
      const response = await post(fetch, `/x402/services/${echo}`, 1, { 'PAYMENT-SIGNATURE': header })
      expect(response.status).to.equal(402)
      return paymentRequiredOf(response).error
    }
    expect(await attempt(authorization({ to: payer.address }))).to.equal(X402_REFUSALS.recipient)
    expect(await attempt(authorization({ value: (PRICE - 1n).toString() }))).to.equal(X402_REFUSALS.value)
    const other = await payerWith(0n)
    expect(await attempt(authorization(), other)).to.equal(X402_REFUSALS.signature)
    expect(await attempt(authorization(), payer, { ...requirement, amount: '1' })).to.equal(
      X402_REFUSALS.requirementsMismatch,
    )
    const garbled = await post(fetch, `/x402/services/${echo}`, 1, { 'PAYMENT-SIGNATURE': 'not base64!' })
    expect(garbled.status).to.equal(402)
    expect(paymentRequiredOf(garbled).error).to.equal(X402_REFUSALS.invalidPayload)
    expect(await tokenBalance(payer.address)).to.equal(PRICE * 2n)
  })

  it("takes v1's X-PAYMENT and answers with X-PAYMENT-RESPONSE", async function () {
    this.timeout(60_000)
    const payer = await payerWith(PRICE)
    const latest = await chain.client.getBlock()
    const message = {
      from: payer.address,
      to: chain.vault,
      value: PRICE,
      validAfter: latest.timestamp - 600n,
      validBefore: latest.timestamp + 300n,
      nonce: generatePrivateKey(),
    }
    const signature = await payer.signTypedData({
      domain: { name: 'USD Coin (mock)', version: '1', chainId: 31337, verifyingContract: chain.usdc },
      types: transferWithAuthorizationTypes,
      primaryType: 'TransferWithAuthorization',
      message,
    })
    const header = encodeX402Header({
      x402Version: 1,
      scheme: 'exact',
      network: 'eip155:31337',
      payload: {
        authorization: Object.fromEntries(
          Object.entries(message).map(([key, value]) => [key, String(value)]),
        ),
        signature,
      },
    })
    const response = await post(fetch, `/x402/services/${echo}`, 'v1', { 'X-PAYMENT': header })
    expect(response.status).to.equal(200)
    const settlement = decodeX402Header(response.headers.get('X-PAYMENT-RESPONSE')!) as { success: boolean }
    expect(settlement.success).to.equal(true)
    expect(await tokenBalance(payer.address)).to.equal(0n)
  })

  it('costs nothing when the provider fails: 502 with charged false, the authorization left unspent', async function () {
    this.timeout(60_000)
    const payer = await payerWith(PRICE)
    let nonce: Hex | undefined
    const client = x402ClientFor(payer).onAfterPaymentCreation(async ({ paymentPayload }) => {
      nonce = (paymentPayload.payload as { authorization: { nonce: Hex } }).authorization.nonce
    })
    const response = await post(wrapFetchWithPayment(fetch, client), `/x402/services/${failing}`, 'boom')
    expect(response.status).to.equal(502)
    const body = (await response.json()) as { error: { code: string; details: { charged: boolean } } }
    expect(body.error.code).to.equal('upstream_error')
    expect(body.error.details.charged).to.equal(false)
    expect(await tokenBalance(payer.address)).to.equal(PRICE)
    expect(
      await chain.client.readContract({
        address: chain.usdc,
        abi: tokenAbi,
        functionName: 'authorizationState',
        args: [payer.address, nonce!],
      }),
    ).to.equal(false)
    expect(await newestPaymentTo(provider)).to.include({
      service_id: failing,
      status: 'failed',
      tx_hash: null,
    })
  })

  it('answers a retry under the same payment identifier with the first answer and spends nothing; another request under it is 409', async function () {
    this.timeout(60_000)
    const payer = await payerWith(PRICE * 3n)
    const id = `pay_${'a'.repeat(24)}${Date.now()}`
    const client = x402ClientFor(payer).onBeforePaymentCreation(async ({ paymentRequired }) => {
      const extension = paymentRequired.extensions?.['payment-identifier'] as {
        info: Record<string, unknown>
      }
      extension.info.id = id
    })
    const pay = wrapFetchWithPayment(fetch, client)
    const first = await post(pay, `/x402/services/${echo}`, { n: 7 })
    expect(first.status).to.equal(200)
    const firstBody = await first.json()
    const retry = await post(pay, `/x402/services/${echo}`, { n: 7 })
    expect(retry.status).to.equal(200)
    expect(await retry.json()).to.deep.equal(firstBody)
    expect(await tokenBalance(payer.address), 'paid once').to.equal(PRICE * 2n)
    const other = await post(pay, `/x402/services/${echo}`, { n: 8 })
    expect(other.status).to.equal(409)
    expect(((await other.json()) as { error: { code: string } }).error.code).to.equal(
      'payment_identifier_reused',
    )
    expect(await tokenBalance(payer.address)).to.equal(PRICE * 2n)
  })

  describe('a service whose endpoint speaks x402', () => {
    /** A service of a fresh managed-wallet agent, priced `price`, whose endpoint is echo's x402 URL. */
    async function resellerService(price: bigint, walletUnits: bigint) {
      const reseller = await registerAgent(chain.app)
      await mintTo(reseller.agent.wallet_address as Hex, walletUnits)
      const service = await registerStubService(chain.app, reseller.apiKey, upstream, {
        price: formatAmount(price, 6),
        fields: { endpoint_url: `${baseUrl}/x402/services/${echo}`, endpoint_payment: 'x402' },
      })
      return { reseller, service }
    }

    /** What the agent's wallet signed to its services' x402 endpoints, newest first. */
    const endpointPaymentsOf = async (agent: RegisteredTestAgent) =>
      (
        (
          await request(chain.app)
            .get('/v1/agents/me/endpoint-payments')
            .set('Authorization', bearer(agent.apiKey))
            .expect(200)
        ).body as X402EndpointPaymentsPage
      ).endpoint_payments

    /** A fresh caller funded with 10 calls' worth in the vault. */
    async function fundedCaller(): Promise<RegisteredTestAgent> {
      const caller = await registerAgent(chain.app)
      await chain.fund(caller.agent.wallet_address as Hex, PRICE * 10n)
      return caller
    }

    /** `caller` calls `service` through the proxy. */
    const invokeAs = (caller: RegisteredTestAgent, service: string, input: string) =>
      request(chain.app)
        .post(`/v1/services/${service}/invoke`)
        .set('Authorization', bearer(caller.apiKey))
        .send({ input })

    /** A fresh funded caller calling `service` through the proxy. */
    async function fundedCallerInvokes(service: string, input: string) {
      const caller = await fundedCaller()
      return { caller, response: await invokeAs(caller, service, input) }
    }

    it("is paid from its agent's wallet when it answers 402, and the caller pays the service as for any call", async function () {
      this.timeout(60_000)
      const { reseller, service } = await resellerService(PRICE * 2n, PRICE * 5n)
      const providerBefore = await chain.vaultBalanceOf(provider.agent.wallet_address as Hex)
      const { response } = await fundedCallerInvokes(service, 'resold')
      expect(response.status, JSON.stringify(response.body)).to.equal(200)
      expect(response.body.output.output).to.deep.equal({ echo: 'resold' })
      expect(response.body.cost).to.equal('0.02')
      const fee = (PRICE * feeBps) / BigInt(BPS)
      expect(
        await tokenBalance(reseller.agent.wallet_address as Hex),
        "the reseller's wallet paid echo",
      ).to.equal(PRICE * 4n)
      expect(await chain.vaultBalanceOf(provider.agent.wallet_address as Hex)).to.equal(
        providerBefore + PRICE - fee,
      )
      const [signed] = await endpointPaymentsOf(reseller)
      expect(signed).to.deep.include({
        service_id: service,
        payer: (reseller.agent.wallet_address as string).toLowerCase(),
        pay_to: chain.vault.toLowerCase(),
        amount: formatAmount(PRICE, 6),
        outcome: 'answered',
        upstream_status: 200,
        tx_hash: (await newestPaymentTo(provider))!.tx_hash,
      })
      expect(await endpointPaymentsOf(provider), "echo's owner signed nothing").to.deep.equal([])
      await chain.settle()
      const resellerFee = (PRICE * 2n * feeBps) / BigInt(BPS)
      expect(
        await chain.vaultBalanceOf(reseller.agent.wallet_address as Hex),
        'the caller paid the reseller',
      ).to.equal(PRICE * 2n - resellerFee)
      expect(await chain.reconciliationDifference()).to.equal(0n)
    })

    it("is paid from its agent's wallet for a caller paying over a channel too; the call is on the channel", async function () {
      this.timeout(60_000)
      const { reseller, service } = await resellerService(PRICE * 2n, PRICE * 5n)
      const caller = await fundedCaller()
      const opened = await request(chain.app)
        .post('/v1/channels')
        .set('Authorization', bearer(caller.apiKey))
        .send({ service_id: service, deposit_amount: formatAmount(PRICE * 6n, 6) })
      expect(opened.status, JSON.stringify(opened.body)).to.equal(201)
      await chain.settle()
      const response = await invokeAs(caller, service, 'over a channel')
      expect(response.status, JSON.stringify(response.body)).to.equal(200)
      expect(response.body.output.output).to.deep.equal({ echo: 'over a channel' })
      expect(response.body).to.include({ channel_id: opened.body.channel_id, cost: '0.02', job_id: null })
      expect(
        await tokenBalance(reseller.agent.wallet_address as Hex),
        "the reseller's wallet paid echo",
      ).to.equal(PRICE * 4n)
      const channel = await request(chain.app)
        .get(`/v1/channels/${opened.body.channel_id}`)
        .set('Authorization', bearer(caller.apiKey))
        .expect(200)
      expect(channel.body).to.include({ total_call_count: 1, unsettled_amount: '0.02' })
    })

    it('is not paid more than the service charges: 502, nothing spent, the caller not charged', async function () {
      this.timeout(60_000)
      const { reseller, service } = await resellerService(PRICE / 2n, PRICE * 5n)
      const { caller, response } = await fundedCallerInvokes(service, 'too dear')
      expect(response.status).to.equal(502)
      expect(response.body.error.code).to.equal('upstream_error')
      expect(response.body.error.details.endpoint_payment).to.equal('x402')
      expect(await tokenBalance(reseller.agent.wallet_address as Hex)).to.equal(PRICE * 5n)
      expect(await availableOf(caller)).to.equal(formatAmount(PRICE * 10n, 6))
      expect(await endpointPaymentsOf(reseller), 'nothing was signed').to.deep.equal([])
    })

    it("is not paid from a wallet without the tokens: 502 naming the wallet's holding", async function () {
      this.timeout(60_000)
      const { service } = await resellerService(PRICE * 2n, 0n)
      const { response } = await fundedCallerInvokes(service, 'unfunded')
      expect(response.status).to.equal(502)
      expect(response.body.error.message).to.match(/holds 0 USDC on-chain/)
    })

    it('takes an endpoint that refuses the payment it was sent as a 502 with its reason; the caller is not charged, and the signed payment was within the price', async function () {
      this.timeout(60_000)
      // A hostile endpoint: it asks for echo's real requirement, then refuses whatever it is paid.
      const unpaid = await post(fetch, `/x402/services/${echo}`, { n: 1 })
      const asked = paymentRequiredOf(unpaid)
      const paymentsSent: string[] = []
      const hostile = createServer((req, res) => {
        req.resume()
        req.on('end', () => {
          const payment = req.headers['payment-signature']
          if (typeof payment === 'string') paymentsSent.push(payment)
          const answer = payment ? { ...asked, error: 'invalid_exact_evm_payload_signature' } : asked
          res.statusCode = 402
          res.setHeader('PAYMENT-REQUIRED', encodeX402Header(answer))
          res.end('{}')
        })
      })
      await new Promise<void>((resolve) => hostile.listen(0, '127.0.0.1', resolve))
      try {
        const reseller = await registerAgent(chain.app)
        await mintTo(reseller.agent.wallet_address as Hex, PRICE * 5n)
        const service = await registerStubService(chain.app, reseller.apiKey, upstream, {
          price: formatAmount(PRICE * 2n, 6),
          fields: {
            endpoint_url: `http://127.0.0.1:${(hostile.address() as AddressInfo).port}/paid`,
            endpoint_payment: 'x402',
          },
        })
        const { caller, response } = await fundedCallerInvokes(service, 'refused')
        expect(response.status, JSON.stringify(response.body)).to.equal(502)
        expect(response.body.error.code).to.equal('upstream_error')
        expect(response.body.error.details).to.deep.include({
          upstream_status: 402,
          reason: 'invalid_exact_evm_payload_signature',
          endpoint_payment: 'x402',
        })
        expect(await availableOf(caller), 'the caller is not charged').to.equal(formatAmount(PRICE * 10n, 6))
        expect(paymentsSent).to.have.length(1)
        const sent = decodeX402Header(paymentsSent[0]!) as {
          payload: { authorization: { value: string; from: string } }
        }
        expect(BigInt(sent.payload.authorization.value), 'the most the wallet can lose').to.equal(PRICE)
        expect(sent.payload.authorization.from.toLowerCase()).to.equal(
          (reseller.agent.wallet_address as string).toLowerCase(),
        )
        expect(await tokenBalance(reseller.agent.wallet_address as Hex), 'nothing spent yet').to.equal(
          PRICE * 5n,
        )
        const [outstanding] = await endpointPaymentsOf(reseller)
        expect(outstanding, 'the reseller sees the authorization the endpoint still holds').to.deep.include({
          outcome: 'refused',
          upstream_status: 402,
          tx_hash: null,
          amount: formatAmount(PRICE, 6),
        })
        expect(BigInt(outstanding!.valid_before)).to.be.greaterThan(BigInt(Math.floor(Date.now() / 1000)))
      } finally {
        hostile.close()
      }
    })

    it('is refused to a self-custody agent, whose wallet the proxy cannot sign for: 409 wallet_not_managed', async () => {
      const selfCustody = await registerAgent(chain.app, {
        account: privateKeyToAccount(generatePrivateKey()),
      })
      const res = await request(chain.app)
        .post('/v1/agents/me/services')
        .set('Authorization', bearer(selfCustody.apiKey))
        .send({
          name: 'Resold',
          category: 'testing',
          pricing_model: 'per_call',
          price_amount: '0.02',
          endpoint_url: `${baseUrl}/x402/services/${echo}`,
          endpoint_payment: 'x402',
        })
      expect(res.status).to.equal(409)
      expect(res.body.error.code).to.equal('wallet_not_managed')
    })
  })

  it("takes the provider's credit back when a reorg drops the payment, and the call is no longer paid", async function () {
    this.timeout(60_000)
    const seller = await registerAgent(chain.app)
    const service = await registerStubService(chain.app, seller.apiKey, upstream, {
      path: '/echo',
      price: formatAmount(PRICE, 6),
    })
    const payer = await payerWith(PRICE)
    await chain.index()
    const beforePayment = await snapshot()
    const paid = await post(
      wrapFetchWithPayment(fetch, x402ClientFor(payer)),
      `/x402/services/${service}`,
      'r',
    )
    expect(paid.status).to.equal(200)
    await chain.index()
    const fee = (PRICE * feeBps) / BigInt(BPS)
    expect(await availableOf(seller)).to.equal(formatAmount(PRICE - fee, 6))

    await revertTo(beforePayment)
    await mine(5)
    await chain.index()
    expect(await availableOf(seller)).to.equal('0')
    expect(await newestPaymentTo(seller)).to.include({ status: 'settling', fee: null })
    expect(await chain.reconciliationDifference()).to.equal(0n)
  })

  it('404s an unknown service and 400s a malformed id, with the error shape', async () => {
    const unknown = await post(fetch, '/x402/services/00000000-0000-4000-8000-000000000000', 1)
    expect(unknown.status).to.equal(404)
    expect(((await unknown.json()) as { error: { code: string } }).error.code).to.equal('service_not_found')
    const malformed = await post(fetch, '/x402/services/not-an-id', 1)
    expect(malformed.status).to.equal(400)
  })

  it("shows the provider's call log only to the provider, and the receipts to anyone", async () => {
    await request(chain.app).get('/v1/x402/payments').expect(401)
    const stranger = await registerAgent(chain.app)
    const theirs = await request(chain.app)
      .get('/v1/x402/payments')
      .set('Authorization', bearer(stranger.apiKey))
      .expect(200)
    expect(theirs.body.payments).to.deep.equal([])
    await request(chain.app)
      .get('/v1/x402/payments?cursor=nope')
      .set('Authorization', bearer(provider.apiKey))
      .expect(400)
    const receipts = await request(chain.app).get('/v1/x402/receipts?limit=1').expect(200)
    expect(receipts.body.receipts).to.have.length(1)
    expect(receipts.body.next_cursor).to.be.a('string')
  })

  it('counts x402 calls by outcome at /metrics', async () => {
    const metrics = await request(chain.app).get('/metrics').expect(200)
    for (const outcome of ['payment_required', 'refused', 'paid', 'replayed', 'upstream_failed']) {
      expect(metrics.text).to.match(new RegExp(`clearhouse_x402_calls_total\\{outcome="${outcome}"\\} [1-9]`))
    }
  })

  it('the auditor matches every paid x402 call with the vault log that paid it', async function () {
    this.timeout(60_000)
    const report = await runAudit({ rpcUrl: await hardhatRpcUrl(), apiUrl: baseUrl, vault: chain.vault })
    expect(report.problems).to.deep.equal([])
    expect(report.x402PaymentsChecked).to.be.at.least(6)
    // Every token this vault holds came in by a deposit or an x402 payment: what its logs say it
    // owes is exactly what it holds only if the PaidWithAuthorization amounts are counted.
    const usdc = report.tokens.find((token) => token.token.toLowerCase() === chain.usdc.toLowerCase())!
    expect(usdc.owed).to.equal(usdc.held)
  })
})

describe('x402 on a coordinator without a chain', () => {
  let database: TestDatabase
  let app: Express

  before(async () => {
    database = await createTestDatabase()
    ;({ app } = await createTestApp(database))
  })
  after(() => database.drop())

  it("answers /x402 503 x402_unavailable, and leaves the invoke endpoint's 401 for a caller without a key", async () => {
    const provider = await registerAgent(app)
    const upstream = await startUpstreamStub()
    try {
      const service = await registerStubService(app, provider.apiKey, upstream, { price: '0.01' })
      const x402 = await request(app).post(`/x402/services/${service}`).send({ input: 1 }).expect(503)
      expect(x402.body.error.code).to.equal('x402_unavailable')
      const invoke = await request(app).post(`/v1/services/${service}/invoke`).send({ input: 1 }).expect(401)
      expect(invoke.body.error.code).to.equal('unauthorized')
      expect(upstream.hits.get('/echo') ?? 0).to.equal(0)
    } finally {
      await upstream.close()
    }
  })
})
