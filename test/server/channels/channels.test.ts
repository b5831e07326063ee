import { expect } from 'chai'
import type { Express } from 'express'
import request from 'supertest'
import { generatePrivateKey, privateKeyToAccount, type PrivateKeyAccount } from 'viem/accounts'
import type { Hex } from 'viem'
import {
  nextVoucher,
  voucherTypedData,
  type ChannelResponse,
  type InvokeResponse,
} from '../../../protocol/channels'
import { formatAmount } from '../../../protocol/amounts'
import { toViemTypedData } from '../../../server/escrow/escrow-ops'
import { TimersWorker } from '../../../server/workers/timers'
import { createTestApp } from '../helpers/app'
import { shiftDatabaseClock } from '../helpers/clock'
import { bearer, fundAgent, registerAgent, type RegisteredTestAgent } from '../helpers/agents'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { startUpstreamStub, type UpstreamStub } from '../helpers/upstream'

const PRICE = '0.01'
const PRICE_UNITS = 10_000n

describe('payment channels and the invoke proxy', () => {
  let database: TestDatabase
  let app: Express
  let upstream: UpstreamStub
  let provider: RegisteredTestAgent
  let caller: RegisteredTestAgent
  let stranger: RegisteredTestAgent
  let selfCustody: { agent: RegisteredTestAgent; account: PrivateKeyAccount }
  let serviceId: string

  before(async () => {
    database = await createTestDatabase()
    ;({ app } = await createTestApp(database))
    upstream = await startUpstreamStub()
    provider = await registerAgent(app)
    caller = await registerAgent(app)
    stranger = await registerAgent(app)
    const account = privateKeyToAccount(generatePrivateKey())
    selfCustody = { agent: await registerAgent(app, { account }), account }
    for (const agent of [caller, stranger, selfCustody.agent]) await fundAgent(app, agent.apiKey, '100')
    serviceId = await registerService(provider, { endpoint_url: `${upstream.baseUrl}/echo` })
  })
  after(async () => {
    await upstream.close()
    await database.drop()
  })

  async function registerService(
    owner: RegisteredTestAgent,
    fields: Record<string, unknown> = {},
  ): Promise<string> {
    const res = await request(app)
      .post('/v1/agents/me/services')
      .set('Authorization', bearer(owner.apiKey))
      .send({
        name: 'Echo',
        description: 'Echoes its input back',
        category: 'testing',
        pricing_model: 'per_call',
        price_amount: PRICE,
        settlement_interval: 5,
        ...fields,
      })
      .expect(201)
    return res.body.service_id as string
  }

  const open = (agent: RegisteredTestAgent, body: Record<string, unknown>) =>
    request(app).post('/v1/channels').set('Authorization', bearer(agent.apiKey)).send(body)
  const invoke = (agent: RegisteredTestAgent, id: string, body: Record<string, unknown>) =>
    request(app).post(`/v1/services/${id}/invoke`).set('Authorization', bearer(agent.apiKey)).send(body)
  const getChannel = (agent: RegisteredTestAgent, id: string) =>
    request(app).get(`/v1/channels/${id}`).set('Authorization', bearer(agent.apiKey))

  async function balanceOf(agent: RegisteredTestAgent): Promise<string> {
    const res = await request(app)
      .get('/v1/wallet/balance')
      .set('Authorization', bearer(agent.apiKey))
      .expect(200)
    return res.body.balances?.[0]?.available ?? res.body.available
  }

  /** The self-custody caller's signed voucher for one more call on `channel` asking `input`. */
  async function signVoucher(channel: ChannelResponse, input: unknown, account = selfCustody.account) {
    const { voucher } = nextVoucher(
      {
        channelId: channel.vault_channel_id as Hex,
        lastSequence: BigInt(channel.voucher_state.last_sequence),
        cumulativeAmount: BigInt(channel.voucher_state.cumulative_amount_base_units),
        callChain: channel.voucher_state.call_chain as Hex,
      },
      { amount: PRICE_UNITS, input },
    )
    const signature = await account.signTypedData(
      voucherTypedData(channel.domain as unknown as Parameters<typeof voucherTypedData>[0], voucher),
    )
    return {
      sequence: Number(voucher.sequence),
      cumulative_amount: formatAmount(voucher.cumulativeAmount, 6),
      call_chain: voucher.callChain,
      signature,
    }
  }

  describe('opening a channel', () => {
    it('opens a managed caller’s channel funded at once, with the negotiated interval and the deposit out of its balance', async () => {
      const before = await balanceOf(caller)
      const res = await open(caller, {
        service_id: serviceId,
        deposit_amount: '1',
        max_settlement_interval: 200,
      })
      expect(res.status, JSON.stringify(res.body)).to.equal(201)
      const channel = res.body as ChannelResponse
      expect(channel).to.include({
        caller_agent_id: caller.agent.id,
        provider_agent_id: provider.agent.id,
        service_id: serviceId,
        deposit_amount: '1',
        available_balance: '1',
        settled_amount: '0',
        unsettled_amount: '0',
        budget_token: 'USDC',
        price_per_call: PRICE,
        settlement_interval: 5,
        status: 'active',
        total_call_count: 0,
      })
      expect(channel.funding_to_sign).to.equal(null)
      expect(Number(await balanceOf(caller))).to.equal(Number(before) - 1)
    })

    it('refuses a second open channel to the same service (409 channel_exists) and moves nothing', async () => {
      const before = await balanceOf(caller)
      const res = await open(caller, { service_id: serviceId, deposit_amount: '1' }).expect(409)
      expect(res.body.error.code).to.equal('channel_exists')
      expect(await balanceOf(caller)).to.equal(before)
    })

    it('refuses opening a channel to one’s own service (400 self_invocation)', async () => {
      const res = await open(provider, { service_id: serviceId, deposit_amount: '1' }).expect(400)
      expect(res.body.error.code).to.equal('self_invocation')
    })

    it('refuses a deposit over the available balance (409 insufficient_balance)', async () => {
      const res = await open(stranger, { service_id: serviceId, deposit_amount: '1000' }).expect(409)
      expect(res.body.error.code).to.equal('insufficient_balance')
    })

    it('refuses malformed input: no service, a zero or malformed deposit, another token', async () => {
      await open(stranger, { deposit_amount: '1' }).expect(400)
      await open(stranger, { service_id: serviceId, deposit_amount: '0' }).expect(400)
      await open(stranger, { service_id: serviceId, deposit_amount: '-1' }).expect(400)
      await open(stranger, { service_id: serviceId, deposit_amount: '0.0000001' }).expect(400)
      await open(stranger, { service_id: serviceId, deposit_amount: '1', budget_token: 'NEAR' }).expect(400)
      await open(stranger, {
        service_id: '00000000-0000-4000-8000-000000000000',
        deposit_amount: '1',
      }).expect(404)
      await request(app).post('/v1/channels').send({ service_id: serviceId, deposit_amount: '1' }).expect(401)
    })

    it('asks a self-custody caller to sign its funding, and refuses a signature by another key', async () => {
      const res = await open(selfCustody.agent, { service_id: serviceId, deposit_amount: '0.05' }).expect(201)
      const channel = res.body as ChannelResponse
      expect(channel.status).to.equal('pending_signature')
      expect(channel.funding_to_sign?.primaryType).to.equal('ChannelFunding')
      const typed = channel.funding_to_sign!
      const definition = toViemTypedData(typed)
      const forged = await privateKeyToAccount(generatePrivateKey()).signTypedData(definition)
      const sign = (signature: string) =>
        request(app)
          .post(`/v1/channels/${channel.channel_id}/funding-signature`)
          .set('Authorization', bearer(selfCustody.agent.apiKey))
          .send({ signature })
      expect((await sign(forged).expect(400)).body.error.code).to.equal('signature_mismatch')
      const signed = await sign(await selfCustody.account.signTypedData(definition)).expect(200)
      expect(signed.body).to.include({ status: 'active', deposit_amount: '0.05', funding_to_sign: null })
      expect((await sign(forged).expect(409)).body.error.code).to.equal('channel_not_awaiting_signature')
    })
  })

  describe('paid calls', () => {
    let channelId: string

    before(async () => {
      const res = await request(app)
        .get('/v1/channels')
        .query({ role: 'caller', status: 'active' })
        .set('Authorization', bearer(caller.apiKey))
        .expect(200)
      channelId = (res.body as ChannelResponse[]).find(
        (channel) => channel.service_id === serviceId,
      )!.channel_id
    })

    it('pays a managed caller’s call on its channel and logs it with its voucher', async () => {
      const res = await invoke(caller, serviceId, { input: { q: 'hello' } })
      expect(res.status, JSON.stringify(res.body)).to.equal(200)
      const body = res.body as InvokeResponse
      expect(body.output).to.deep.equal({ echo: { q: 'hello' } })
      expect(body).to.include({ cost: PRICE, channel_id: channelId, job_id: null })
      expect(body.call).to.include({
        sequence_number: 1,
        call_amount: PRICE,
        cumulative_amount: PRICE,
        settled: false,
      })
      expect(upstream.lastRequest.get('/echo')!.headers['x-clearhouse-caller']).to.equal(caller.agent.id)
      const channel = (await getChannel(caller, channelId).expect(200)).body as ChannelResponse
      expect(channel).to.include({ total_call_count: 1, unsettled_call_count: 1, unsettled_amount: PRICE })
      expect(channel.available_balance).to.equal('0.99')
      const calls = await request(app)
        .get(`/v1/channels/${channelId}/calls`)
        .set('Authorization', bearer(provider.apiKey))
        .expect(200)
      expect(calls.body).to.have.length(1)
      expect(calls.body[0]).to.include({ call_id: body.call!.call_id, request_hash: body.call!.request_hash })
    })

    it('queues a settlement when the calls reach the settlement interval', async () => {
      for (let i = 0; i < 4; i += 1) await invoke(caller, serviceId, { input: { i } }).expect(200)
      const settlements = await request(app)
        .get(`/v1/channels/${channelId}/settlements`)
        .set('Authorization', bearer(caller.apiKey))
        .expect(200)
      expect(settlements.body).to.have.length(1)
      expect(settlements.body[0]).to.include({
        kind: 'settle',
        call_count: 5,
        from_sequence: 1,
        to_sequence: 5,
        total_amount: '0.05',
        fee_amount: '0.0005',
        worker_amount: '0.0495',
        status: 'pending',
      })
      const { rows } = await database.pool.query(
        "SELECT count(*)::int AS n FROM chain_ops WHERE reference LIKE 'channel-settle:%' AND kind = 6",
      )
      expect(rows[0].n).to.equal(1)
    })

    it('refuses a second call on a channel while one is in flight (409 channel_busy), recording one', async () => {
      const slowService = await registerService(provider, { endpoint_url: `${upstream.baseUrl}/slow?ms=300` })
      await open(stranger, { service_id: slowService, deposit_amount: '1' }).expect(201)
      const [first, second] = await Promise.all([
        invoke(stranger, slowService, { input: 1 }),
        new Promise((resolve) => setTimeout(resolve, 50)).then(() =>
          invoke(stranger, slowService, { input: 2 }),
        ),
      ])
      expect(first.status).to.equal(200)
      expect(second.status).to.equal(409)
      expect(second.body.error.code).to.equal('channel_busy')
      const { rows } = await database.pool.query(
        'SELECT count(*)::int AS n FROM channel_calls AS k JOIN channels AS c ON c.id = k.channel_id WHERE c.service_id = $1',
        [slowService],
      )
      expect(rows[0].n).to.equal(1)
    })

    it('charges nothing when the provider fails (502), times out (504) or answers over 1 MB (502)', async () => {
      const failing = await registerService(provider, { endpoint_url: `${upstream.baseUrl}/fail` })
      const slow = await registerService(provider, {
        endpoint_url: `${upstream.baseUrl}/slow?ms=3000`,
        response_time_seconds: 1,
      })
      const big = await registerService(provider, { endpoint_url: `${upstream.baseUrl}/big?bytes=1048577` })
      const ok = await registerService(provider, { endpoint_url: `${upstream.baseUrl}/big?bytes=1048576` })
      for (const id of [failing, slow, big, ok])
        await open(stranger, { service_id: id, deposit_amount: '1' }).expect(201)
      expect((await invoke(stranger, failing, { input: 1 }).expect(502)).body.error.code).to.equal(
        'upstream_error',
      )
      expect((await invoke(stranger, slow, { input: 1 }).expect(504)).body.error.code).to.equal(
        'upstream_timeout',
      )
      expect((await invoke(stranger, big, { input: 1 }).expect(502)).body.error.code).to.equal(
        'upstream_error',
      )
      await invoke(stranger, ok, { input: 1 }).expect(200)
      const { rows } = await database.pool.query(
        `SELECT c.service_id, c.last_sequence::int AS calls FROM channels AS c WHERE c.service_id = ANY($1)`,
        [[failing, slow, big, ok]],
      )
      const calls = Object.fromEntries(rows.map((row) => [row.service_id, row.calls]))
      expect(calls).to.deep.equal({ [failing]: 0, [slow]: 0, [big]: 0, [ok]: 1 })
    })

    it('validates input against the service’s input_schema (400 invalid_input), calling nothing', async () => {
      const typed = await registerService(provider, {
        endpoint_url: `${upstream.baseUrl}/echo`,
        price_amount: '0',
        input_schema: { type: 'object', properties: { repo: { type: 'string' } }, required: ['repo'] },
      })
      const hits = upstream.hits.get('/echo') ?? 0
      const res = await invoke(stranger, typed, { input: { repo: 42 } }).expect(400)
      expect(res.body.error.code).to.equal('invalid_input')
      expect(res.body.error.details.fields[0].field).to.equal('input.repo')
      expect(upstream.hits.get('/echo') ?? 0).to.equal(hits)
      const free = await invoke(stranger, typed, { input: { repo: 'clearhouse' } }).expect(200)
      expect(free.body).to.include({ cost: '0', channel_id: null })
    })

    it('refuses self-invocation, a service without endpoint, and a priced call without a channel from a self-custody wallet', async () => {
      expect((await invoke(provider, serviceId, {}).expect(400)).body.error.code).to.equal('self_invocation')
      const noEndpoint = await registerService(provider, {})
      expect((await invoke(stranger, noEndpoint, {}).expect(400)).body.error.code).to.equal(
        'service_not_callable',
      )
      const priced = await registerService(provider, { endpoint_url: `${upstream.baseUrl}/echo` })
      expect((await invoke(selfCustody.agent, priced, {}).expect(409)).body.error.code).to.equal(
        'channel_required',
      )
      await invoke(stranger, '00000000-0000-4000-8000-000000000000', {}).expect(404)
      await request(app).post(`/v1/services/${priced}/invoke`).send({}).expect(401)
    })
  })

  describe('vouchers from a self-custody caller', () => {
    let channel: ChannelResponse

    const refresh = async () => {
      channel = (await getChannel(selfCustody.agent, channel.channel_id).expect(200)).body as ChannelResponse
    }

    before(async () => {
      const res = await request(app)
        .get('/v1/channels')
        .query({ status: 'active' })
        .set('Authorization', bearer(selfCustody.agent.apiKey))
        .expect(200)
      channel = (res.body as ChannelResponse[])[0]!
    })

    it('requires a voucher (409 voucher_required) naming the state to build on', async () => {
      const res = await invoke(selfCustody.agent, serviceId, { input: 'x' }).expect(409)
      expect(res.body.error.code).to.equal('voucher_required')
      expect(res.body.error.details).to.include({ last_sequence: 0, price_per_call_base_units: '10000' })
    })

    it('accepts the next voucher and refuses its replay (409 voucher_out_of_order)', async () => {
      const voucher = await signVoucher(channel, { n: 1 })
      await invoke(selfCustody.agent, serviceId, { input: { n: 1 }, voucher }).expect(200)
      const replay = await invoke(selfCustody.agent, serviceId, { input: { n: 1 }, voucher }).expect(409)
      expect(replay.body.error.code).to.equal('voucher_out_of_order')
      await refresh()
      expect(channel.total_call_count).to.equal(1)
    })

    it('refuses a forged voucher, one for another input, one skipping a sequence and one paying the wrong amount (400/409), recording none', async () => {
      const stranger = privateKeyToAccount(generatePrivateKey())
      const forged = await signVoucher(channel, 'a', stranger)
      expect(
        (await invoke(selfCustody.agent, serviceId, { input: 'a', voucher: forged }).expect(400)).body.error
          .code,
      ).to.equal('invalid_voucher')
      const otherInput = await signVoucher(channel, 'b')
      expect(
        (await invoke(selfCustody.agent, serviceId, { input: 'a', voucher: otherInput }).expect(400)).body
          .error.code,
      ).to.equal('invalid_voucher')
      const skipped = {
        ...(await signVoucher(channel, 'a')),
        sequence: channel.voucher_state.last_sequence + 2,
      }
      expect(
        (await invoke(selfCustody.agent, serviceId, { input: 'a', voucher: skipped }).expect(409)).body.error
          .code,
      ).to.equal('voucher_out_of_order')
      const overpaid = { ...(await signVoucher(channel, 'a')), cumulative_amount: '0.03' }
      expect(
        (await invoke(selfCustody.agent, serviceId, { input: 'a', voucher: overpaid }).expect(400)).body.error
          .code,
      ).to.equal('invalid_voucher')
      await refresh()
      expect(channel.total_call_count).to.equal(1)
    })

    it('refuses a voucher signed for another channel of the same caller (400 invalid_voucher)', async () => {
      const other = await registerService(provider, {
        endpoint_url: `${upstream.baseUrl}/echo`,
        name: 'Echo 2',
      })
      const opened = (
        await open(selfCustody.agent, { service_id: other, deposit_amount: '0.02' }).expect(201)
      ).body as ChannelResponse
      const foreign = await signVoucher(opened, 'z')
      const res = await invoke(selfCustody.agent, serviceId, { input: 'z', voucher: foreign })
      expect(res.status).to.be.oneOf([400, 409])
      await refresh()
      expect(channel.total_call_count).to.equal(1)
    })

    it('refuses a voucher over the deposit (409 voucher_over_deposit)', async () => {
      for (let n = 2; n <= 5; n += 1) {
        await refresh()
        const voucher = await signVoucher(channel, { n })
        await invoke(selfCustody.agent, serviceId, { input: { n }, voucher }).expect(200)
      }
      await refresh()
      expect(channel.available_balance).to.equal('0')
      const voucher = await signVoucher(channel, { n: 6 })
      const res = await invoke(selfCustody.agent, serviceId, { input: { n: 6 }, voucher }).expect(409)
      expect(res.body.error.code).to.equal('voucher_over_deposit')
    })

    it('takes a voucher that only a change made elsewhere (another replica’s top-up) allows: the remembered channel is read again', async () => {
      await database.pool.query('UPDATE channels SET deposit = deposit + 10000 WHERE id = $1', [
        channel.channel_id,
      ])
      const voucher = await signVoucher(channel, { n: 6 })
      const sixth = await invoke(selfCustody.agent, serviceId, { input: { n: 6 }, voucher })
      expect(sixth.status, JSON.stringify(sixth.body)).to.equal(200)
      await database.pool.query(
        `UPDATE channels SET last_sequence = last_sequence + 1, cumulative_amount = cumulative_amount + 10000,
           call_chain = $2 WHERE id = $1`,
        [channel.channel_id, `0x${'77'.repeat(32)}`],
      )
      await database.pool.query('UPDATE channels SET deposit = deposit + 20000 WHERE id = $1', [
        channel.channel_id,
      ])
      await refresh()
      expect(channel.voucher_state.last_sequence).to.equal(7)
      const next = await signVoucher(channel, { n: 8 })
      await invoke(selfCustody.agent, serviceId, { input: { n: 8 }, voucher: next }).expect(200)
    })
  })

  describe('who may see and change a channel', () => {
    let channelId: string

    before(async () => {
      const res = await request(app)
        .get('/v1/channels')
        .set('Authorization', bearer(caller.apiKey))
        .expect(200)
      channelId = (res.body as ChannelResponse[])[0]!.channel_id
    })

    it('shows a channel to its caller and provider only (404 to anyone else, as if missing); lists by role', async () => {
      await getChannel(caller, channelId).expect(200)
      await getChannel(provider, channelId).expect(200)
      expect((await getChannel(stranger, channelId).expect(404)).body.error.code).to.equal(
        'channel_not_found',
      )
      await getChannel(stranger, '00000000-0000-4000-8000-000000000000').expect(404)
      await getChannel(stranger, 'not-a-uuid').expect(400)
      const asProvider = await request(app)
        .get('/v1/channels')
        .query({ role: 'provider' })
        .set('Authorization', bearer(provider.apiKey))
        .expect(200)
      expect((asProvider.body as ChannelResponse[]).map((channel) => channel.channel_id)).to.include(
        channelId,
      )
      await request(app)
        .get('/v1/channels')
        .query({ role: 'judge' })
        .set('Authorization', bearer(caller.apiKey))
        .expect(400)
      await request(app)
        .get(`/v1/channels/${channelId}/calls`)
        .set('Authorization', bearer(stranger.apiKey))
        .expect(404)
      await request(app)
        .get(`/v1/channels/${channelId}/settlements`)
        .set('Authorization', bearer(stranger.apiKey))
        .expect(404)
    })

    it('lets only the caller top up; a top-up raises the deposit', async () => {
      const topUp = (agent: RegisteredTestAgent, amount: string) =>
        request(app)
          .post(`/v1/channels/${channelId}/top-up`)
          .set('Authorization', bearer(agent.apiKey))
          .send({ amount })
      expect((await topUp(provider, '1').expect(403)).body.error.code).to.equal('not_channel_caller')
      await topUp(stranger, '1').expect(404)
      await topUp(caller, '0').expect(400)
      const res = await topUp(caller, '0.5').expect(200)
      expect(res.body.deposit_amount).to.equal('1.5')
    })

    it('settles on demand by either party, then says there is nothing left', async () => {
      await invoke(caller, serviceId, { input: 'one more' }).expect(200)
      const settle = (agent: RegisteredTestAgent) =>
        request(app).post(`/v1/channels/${channelId}/settle`).set('Authorization', bearer(agent.apiKey))
      await settle(stranger).expect(404)
      const first = await settle(provider).expect(200)
      expect(first.body.settlement).to.include({
        from_sequence: 6,
        to_sequence: 6,
        call_count: 1,
        status: 'pending',
      })
      const second = await settle(caller).expect(200)
      expect(second.body.settlement).to.equal(null)
    })

    it('closes by either party: no more calls, and a closed channel cannot be topped up or closed again', async () => {
      await request(app)
        .post(`/v1/channels/${channelId}/close`)
        .set('Authorization', bearer(stranger.apiKey))
        .expect(404)
      const res = await request(app)
        .post(`/v1/channels/${channelId}/close`)
        .set('Authorization', bearer(provider.apiKey))
        .expect(200)
      expect(res.body.status).to.equal('closing')
      // Without an active channel the call is a micro-job, paid through escrow.
      const call = await invoke(caller, serviceId, { input: 'late' }).expect(200)
      expect(call.body).to.include({ channel_id: null, cost: PRICE })
      expect(call.body.job_id).to.be.a('string')
      const topUp = await request(app)
        .post(`/v1/channels/${channelId}/top-up`)
        .set('Authorization', bearer(caller.apiKey))
        .send({ amount: '1' })
        .expect(409)
      expect(topUp.body.error.code).to.equal('channel_not_active')
      const { rows } = await database.pool.query(
        "SELECT count(*)::int AS n FROM chain_ops WHERE reference LIKE 'channel-close:%' AND kind = 7",
      )
      expect(rows[0].n).to.equal(1)
    })
  })

  describe('a service with channels', () => {
    it('cannot be deleted (409 service_has_channels) but can be disabled, which stops its calls (404)', async () => {
      const id = await registerService(provider, { endpoint_url: `${upstream.baseUrl}/echo` })
      await open(stranger, { service_id: id, deposit_amount: '0.1' }).expect(201)
      const deleted = await request(app)
        .delete(`/v1/services/${id}`)
        .set('Authorization', bearer(provider.apiKey))
        .expect(409)
      expect(deleted.body.error.code).to.equal('service_has_channels')
      await request(app)
        .patch(`/v1/services/${id}`)
        .set('Authorization', bearer(provider.apiKey))
        .send({ enabled: false })
        .expect(200)
      expect((await invoke(stranger, id, { input: 1 }).expect(404)).body.error.code).to.equal(
        'service_not_found',
      )
    })
  })

  describe('the proxy never calls a private address (SSRF)', () => {
    it('refuses endpoints that are, resolve to, or redirect to loopback, private, link-local or mapped addresses (502 upstream_refused)', async () => {
      const strict = await createTestApp(database, null, { allowLoopbackEndpoints: false })
      const endpoints = [
        'https://127.0.0.1/',
        'https://localhost/',
        'https://10.0.0.1/',
        'https://192.168.1.1/',
        'https://169.254.169.254/latest/meta-data/',
        'https://[::1]/',
        'https://[fe80::1]/',
        'https://[fc00::1]/',
        'https://[::ffff:10.0.0.1]/',
        'https://[::ffff:7f00:1]/',
        'https://2130706433/',
        'https://0x7f.1/',
      ]
      for (const endpoint of endpoints) {
        const registered = await request(strict.app)
          .post('/v1/agents/me/services')
          .set('Authorization', bearer(provider.apiKey))
          .send({
            name: 'Internal',
            category: 'testing',
            pricing_model: 'per_call',
            price_amount: '0',
            endpoint_url: endpoint,
          })
        expect(registered.status, `${endpoint}: ${JSON.stringify(registered.body)}`).to.equal(201)
        const res = await request(strict.app)
          .post(`/v1/services/${registered.body.service_id}/invoke`)
          .set('Authorization', bearer(stranger.apiKey))
          .send({ input: 1 })
        expect(res.status, `${endpoint}: ${JSON.stringify(res.body)}`).to.equal(502)
        expect(res.body.error.code, endpoint).to.equal('upstream_refused')
      }
      // Plain http is refused at registration without the loopback allowance.
      await request(strict.app)
        .post('/v1/agents/me/services')
        .set('Authorization', bearer(provider.apiKey))
        .send({
          name: 'Plain',
          category: 'testing',
          pricing_model: 'custom',
          endpoint_url: `${upstream.baseUrl}/echo`,
        })
        .expect(400)
    })

    it('refuses a loopback endpoint registered on a dev stack once the allowance is off, and a redirect to a private address', async () => {
      const onLoopback = await registerService(provider, {
        endpoint_url: `${upstream.baseUrl}/echo`,
        price_amount: '0',
      })
      const strict = await createTestApp(database, null, { allowLoopbackEndpoints: false })
      const refused = await request(strict.app)
        .post(`/v1/services/${onLoopback}/invoke`)
        .set('Authorization', bearer(stranger.apiKey))
        .send({})
        .expect(502)
      expect(refused.body.error.code).to.equal('upstream_refused')
      const redirecting = await registerService(provider, {
        endpoint_url: `${upstream.baseUrl}/redirect?to=${encodeURIComponent('http://10.0.0.1/')}`,
        price_amount: '0',
      })
      const redirected = await invoke(stranger, redirecting, {}).expect(502)
      expect(redirected.body.error.code).to.equal('upstream_refused')
      const followed = await registerService(provider, {
        endpoint_url: `${upstream.baseUrl}/redirect?to=${encodeURIComponent(`${upstream.baseUrl}/echo`)}`,
        price_amount: '0',
      })
      expect((await invoke(stranger, followed, { input: 'x' }).expect(200)).body.output).to.deep.equal({
        echo: null,
      })
    })
  })

  describe('the timers', () => {
    it('settles a channel whose calls went unsettled for 30 s, and closes one idle for 7 days', async () => {
      const { app: timedApp, context } = await createTestApp(database)
      const timedService = await registerService(provider, { endpoint_url: `${upstream.baseUrl}/echo` })
      const opened = await open(stranger, { service_id: timedService, deposit_amount: '1' }).expect(201)
      const channelId = (opened.body as ChannelResponse).channel_id
      for (let n = 0; n < 2; n += 1) {
        await request(timedApp)
          .post(`/v1/services/${timedService}/invoke`)
          .set('Authorization', bearer(stranger.apiKey))
          .send({ input: n })
          .expect(200)
      }
      const settlements = () =>
        request(app)
          .get(`/v1/channels/${channelId}/settlements`)
          .set('Authorization', bearer(stranger.apiKey))
          .expect(200)
      const timers = new TimersWorker(context, 10_000)
      await timers.runOnce()
      expect((await settlements()).body, 'not before 30 s').to.have.length(0)
      try {
        await shiftDatabaseClock(database.pool, 31)
        const round = await timers.runOnce()
        expect(round.outcome === 'ran' && round.channelsSettled).to.be.greaterThan(0)
        expect((await settlements()).body[0]).to.include({ kind: 'settle', call_count: 2, status: 'pending' })
        expect(await timers.runOnce(), 'settled once').to.include({ channelsSettled: 0 })
        await shiftDatabaseClock(database.pool, 7 * 24 * 3600 + 31)
        const idle = await timers.runOnce()
        expect(idle.outcome === 'ran' && idle.channelsClosed).to.be.greaterThan(0)
        expect((await getChannel(stranger, channelId).expect(200)).body.status).to.equal('closing')
      } finally {
        await shiftDatabaseClock(database.pool, 0)
        await timers.resign()
      }
    })
  })

  describe('the per caller per service rate limit', () => {
    it('answers 429 past INVOKE_RATE_LIMIT_PER_MINUTE calls a minute to one service, not to another', async () => {
      const limited = await createTestApp(database, null, { invokeRateLimitPerMinute: 3 })
      const freeService = await registerService(provider, {
        endpoint_url: `${upstream.baseUrl}/echo`,
        price_amount: '0',
      })
      const other = await registerService(provider, {
        endpoint_url: `${upstream.baseUrl}/echo`,
        price_amount: '0',
      })
      const call = (id: string) =>
        request(limited.app)
          .post(`/v1/services/${id}/invoke`)
          .set('Authorization', bearer(stranger.apiKey))
          .send({})
      for (let i = 0; i < 3; i += 1) await call(freeService).expect(200)
      expect((await call(freeService).expect(429)).body.error.code).to.equal('rate_limited')
      await call(other).expect(200)
    })
  })
})
