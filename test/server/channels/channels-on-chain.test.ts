import { expect } from 'chai'
import request from 'supertest'
import { createTestClient, http, type Hex } from 'viem'
import { formatAmount } from '../../../protocol/amounts'
import { nextVoucher, voucherTypedData, type ChannelResponse } from '../../../protocol/channels'
import { clearhouseVaultAbi } from '../../../protocol/vault-abi'
import { BPS } from '../../../protocol/typed-data'
import { toViemTypedData } from '../../../server/escrow/escrow-ops'
import { bearer, registerAgent, type RegisteredTestAgent } from '../helpers/agents'
import { hardhatRpcUrl, walletFor } from '../helpers/chain'
import { createChainTestApp, hardhatAccount, type ChainTestApp } from '../helpers/chain-app'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { startUpstreamStub, type UpstreamStub } from '../helpers/upstream'

const USDC = 1_000_000n
const PRICE_UNITS = 10_000n

/**
 * Paid calls end on the vault exactly: every voucher the coordinator recorded is settled in its
 * batches, the provider and the platform get what the calls paid, closed channels return the rest
 * to their callers, and the ledger and the vault agree to the base unit.
 */
describe('payment channels settled on the vault', () => {
  let database: TestDatabase
  let chain: ChainTestApp
  let upstream: UpstreamStub
  let provider: RegisteredTestAgent
  let serviceId: string
  let feeBps: number

  before(async function () {
    this.timeout(120_000)
    database = await createTestDatabase()
    chain = await createChainTestApp(database)
    upstream = await startUpstreamStub()
    provider = await registerAgent(chain.app)
    const service = await request(chain.app)
      .post('/v1/agents/me/services')
      .set('Authorization', bearer(provider.apiKey))
      .send({
        name: 'Echo',
        category: 'testing',
        pricing_model: 'per_call',
        price_amount: formatAmount(PRICE_UNITS, 6),
        settlement_interval: 100,
        endpoint_url: `${upstream.baseUrl}/echo`,
      })
      .expect(201)
    serviceId = service.body.service_id
    feeBps = Number(await chain.feeBps())
  })
  after(async () => {
    await upstream.close()
    await chain.stop()
    await database.drop()
  })

  const fee = (amount: bigint) => (amount * BigInt(feeBps)) / BigInt(BPS)

  async function available(agent: RegisteredTestAgent): Promise<bigint> {
    const res = await request(chain.app).get('/v1/wallet/balance').set('Authorization', bearer(agent.apiKey))
    return BigInt(Math.round(Number(res.body.balances[0].available) * 1e6))
  }

  async function openFunded(agent: RegisteredTestAgent, deposit: string): Promise<ChannelResponse> {
    const res = await request(chain.app)
      .post('/v1/channels')
      .set('Authorization', bearer(agent.apiKey))
      .send({ service_id: serviceId, deposit_amount: deposit })
    expect(res.status, JSON.stringify(res.body)).to.equal(201)
    return res.body as ChannelResponse
  }

  /** A self-custody caller (Hardhat account `index`, 1 USDC in the vault) whose channel of `deposit` is funded on the vault. */
  async function openSignedChannel(index: number, deposit: string) {
    const account = hardhatAccount(index)
    const caller = await registerAgent(chain.app, { account })
    await chain.fund(account.address, 1n * USDC)
    const opened = await openFunded(caller, deposit)
    const signature = await account.signTypedData(toViemTypedData(opened.funding_to_sign!))
    await request(chain.app)
      .post(`/v1/channels/${opened.channel_id}/funding-signature`)
      .set('Authorization', bearer(caller.apiKey))
      .send({ signature })
      .expect(200)
    await chain.settle()
    return { account, caller, opened }
  }

  async function channelAs(agent: RegisteredTestAgent, channelId: string): Promise<ChannelResponse> {
    const res = await request(chain.app)
      .get(`/v1/channels/${channelId}`)
      .set('Authorization', bearer(agent.apiKey))
    expect(res.status, JSON.stringify(res.body)).to.equal(200)
    return res.body as ChannelResponse
  }

  /** The channel's config as the vault's functions take it. */
  function vaultConfig(channel: ChannelResponse) {
    return {
      caller: channel.config.caller as Hex,
      provider: channel.config.provider as Hex,
      token: channel.config.token as Hex,
      feeBps: channel.config.fee_bps,
      salt: channel.config.salt as Hex,
    }
  }

  it('settles 1,000 calls across 10 channels exactly: provider, fee, callers’ refunds, reconciliation zero', async function () {
    this.timeout(300_000)
    const callers: RegisteredTestAgent[] = []
    for (let i = 0; i < 10; i += 1) {
      const agent = await registerAgent(chain.app)
      await chain.fund(agent.agent.wallet_address, 5n * USDC)
      callers.push(agent)
    }
    const providerBefore = await chain.vaultBalanceOf(provider.agent.wallet_address)
    const channels = await Promise.all(callers.map((agent) => openFunded(agent, '2')))
    await chain.settle()
    for (const channel of channels) {
      const onChain = await chain.client.readContract({
        address: chain.vault,
        abi: clearhouseVaultAbi,
        functionName: 'channel',
        args: [channel.vault_channel_id as Hex],
      })
      expect(onChain.deposit).to.equal(2n * USDC)
    }

    // 100 calls on each channel, the channels called concurrently: each reaches its interval once.
    await Promise.all(
      callers.map(async (agent, index) => {
        for (let n = 0; n < 100; n += 1) {
          const res = await request(chain.app)
            .post(`/v1/services/${serviceId}/invoke`)
            .set('Authorization', bearer(agent.apiKey))
            .send({ input: { channel: index, n } })
          if (res.status !== 200)
            throw new Error(`call ${n} of ${index}: ${res.status} ${JSON.stringify(res.body)}`)
        }
      }),
    )
    // Five callers close: their unsettled rest is nothing (the interval settled all 100), the rest returns.
    for (const agent of callers.slice(0, 5)) {
      const channel = channels[callers.indexOf(agent)]!
      await request(chain.app)
        .post(`/v1/channels/${channel.channel_id}/close`)
        .set('Authorization', bearer(agent.apiKey))
        .expect(200)
    }
    const results = await chain.settle()
    expect(results.length).to.be.greaterThan(0)

    const perChannel = 100n * PRICE_UNITS
    const providerGot = (await chain.vaultBalanceOf(provider.agent.wallet_address)) - providerBefore
    expect(providerGot).to.equal(10n * (perChannel - fee(perChannel)))
    expect(await available(provider)).to.equal(providerGot)
    for (const [index, agent] of callers.entries()) {
      const isClosed = index < 5
      const channel = await channelAs(agent, channels[index]!.channel_id)
      expect(channel).to.include({
        status: isClosed ? 'closed' : 'active',
        settled_amount: '1',
        unsettled_amount: '0',
        total_call_count: 100,
        unsettled_call_count: 0,
      })
      expect(await available(agent)).to.equal(5n * USDC - (isClosed ? perChannel : 2n * USDC))
      expect(await chain.vaultBalanceOf(agent.agent.wallet_address)).to.equal(
        5n * USDC - (isClosed ? perChannel : 2n * USDC),
      )
      const settlements = await request(chain.app)
        .get(`/v1/channels/${channels[index]!.channel_id}/settlements`)
        .set('Authorization', bearer(agent.apiKey))
        .expect(200)
      const settled = settlements.body.filter((row: { kind: string }) => row.kind === 'settle')
      expect(settled).to.have.length(1)
      expect(settled[0]).to.include({ status: 'settled', call_count: 100, total_amount: '1' })
      expect(settled[0].tx_hash).to.match(/^0x[0-9a-f]{64}$/)
      const calls = await request(chain.app)
        .get(`/v1/channels/${channels[index]!.channel_id}/calls`)
        .query({ limit: 500 })
        .set('Authorization', bearer(agent.apiKey))
        .expect(200)
      expect(calls.body).to.have.length(100)
      expect(calls.body.every((call: { settled: boolean }) => call.settled)).to.equal(true)
    }
    const logs = await chain.client.getContractEvents({
      address: chain.vault,
      abi: clearhouseVaultAbi,
      eventName: 'ChannelSettled',
      fromBlock: 0n,
    })
    const ours = new Set(channels.map((channel) => channel.vault_channel_id))
    expect(logs.filter((log) => ours.has(log.args.channelId!)).length).to.equal(10)
    expect(await chain.reconciliationDifference()).to.equal(0n)
  })

  it('follows a top-up the caller makes on the vault itself: the channel’s deposit and the ledger, reconciliation zero', async function () {
    this.timeout(120_000)
    const { account, caller, opened } = await openSignedChannel(18, '0.2')

    const wallet = await walletFor(account)
    const config = vaultConfig(opened)
    const zero = `0x${'0'.repeat(64)}` as Hex
    const hash = await wallet.writeContract({
      address: chain.vault,
      abi: clearhouseVaultAbi,
      functionName: 'fundChannel',
      args: [config, 500_000n, 0n, { r: zero, vs: zero }],
      chain: null,
    })
    await chain.client.waitForTransactionReceipt({ hash })
    await chain.index()

    const channel = await channelAs(caller, opened.channel_id)
    expect(channel).to.include({ deposit_amount: '0.5', available_balance: '0.5' })
    expect(await available(caller)).to.equal(500_000n)
    expect(await chain.reconciliationDifference()).to.equal(0n)
  })

  it('pays the provider for the last signed voucher when the caller closes on its own while the coordinator is down', async function () {
    this.timeout(120_000)
    const { account, caller, opened } = await openSignedChannel(17, '0.5')

    // Three paid calls, none settled yet (the interval is 100).
    let channel = opened
    for (let n = 1; n <= 3; n += 1) {
      channel = await channelAs(caller, opened.channel_id)
      const { voucher } = nextVoucher(
        {
          channelId: channel.vault_channel_id as Hex,
          lastSequence: BigInt(channel.voucher_state.last_sequence),
          cumulativeAmount: BigInt(channel.voucher_state.cumulative_amount_base_units),
          callChain: channel.voucher_state.call_chain as Hex,
        },
        { amount: PRICE_UNITS, input: { n } },
      )
      const voucherSignature = await account.signTypedData(
        voucherTypedData(channel.domain as unknown as Parameters<typeof voucherTypedData>[0], voucher),
      )
      await request(chain.app)
        .post(`/v1/services/${serviceId}/invoke`)
        .set('Authorization', bearer(caller.apiKey))
        .send({
          input: { n },
          voucher: {
            sequence: Number(voucher.sequence),
            cumulative_amount: formatAmount(voucher.cumulativeAmount, 6),
            call_chain: voucher.callChain,
            signature: voucherSignature,
          },
        })
        .expect(200)
    }
    const providerBefore = await chain.vaultBalanceOf(provider.agent.wallet_address)

    // The coordinator is down (nothing indexes or settles); the caller asks the vault to close.
    const wallet = await walletFor(account)
    const config = vaultConfig(channel)
    const requested = await wallet.writeContract({
      address: chain.vault,
      abi: clearhouseVaultAbi,
      functionName: 'requestChannelClose',
      args: [config],
      chain: null,
    })
    await chain.client.waitForTransactionReceipt({ hash: requested })

    // The coordinator comes back: indexing the request queues the newest voucher, settled at once.
    await chain.index()
    await chain.settle()
    const closing = await channelAs(caller, opened.channel_id)
    expect(closing.status).to.equal('closing')
    expect(closing.settled_amount).to.equal('0.03')
    const paid = 3n * PRICE_UNITS
    expect((await chain.vaultBalanceOf(provider.agent.wallet_address)) - providerBefore).to.equal(
      paid - fee(paid),
    )

    // After the challenge period the caller finalizes; the rest returns to it.
    const period = await chain.client.readContract({
      address: chain.vault,
      abi: clearhouseVaultAbi,
      functionName: 'challengePeriod',
    })
    const testClient = createTestClient({ mode: 'hardhat', transport: http(await hardhatRpcUrl()) })
    await testClient.increaseTime({ seconds: Number(period) + 1 })
    await testClient.mine({ blocks: 1 })
    const finalized = await wallet.writeContract({
      address: chain.vault,
      abi: clearhouseVaultAbi,
      functionName: 'finalizeChannelClose',
      args: [config],
      chain: null,
    })
    await chain.client.waitForTransactionReceipt({ hash: finalized })
    await chain.index()
    const closed = await channelAs(caller, opened.channel_id)
    expect(closed.status).to.equal('closed')
    expect(await available(caller)).to.equal(1n * USDC - paid)
    expect(await chain.vaultBalanceOf(account.address)).to.equal(1n * USDC - paid)
    expect(await chain.reconciliationDifference()).to.equal(0n)
  })
})
