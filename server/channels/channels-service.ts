import { requireTokenAllowed } from '../chain/token-allowlist'
import { randomBytes, randomUUID } from 'node:crypto'
import type { Address, Hex, TypedDataDefinition } from 'viem'
import {
  channelIdOf,
  voucherDomainSeparator,
  type ChannelCallResponse,
  type ChannelResponse,
  type ChannelSettlementResponse,
  type ListChannelsQuery,
  type OpenChannelBody,
} from '../../protocol/channels'
import type { PublicCallRecord } from '../../protocol/settlements'
import { findAgentById } from '../agents/agents-service'
import { forgetCallChannel } from './active-channels'
import type { AppContext } from '../app-context'
import type { Actor } from '../auth/actor'
import { requireTypedDataSigner } from '../auth/signatures'
import { protocolFeeBps } from '../chain/vault-fees'
import { withTransaction, type Queryable } from '../db/pool'
import { ConflictError, fieldError, ForbiddenError, NotFoundError, ValidationError } from '../errors'
import { escrowDomain, toTypedDataJson } from '../escrow/escrow-ops'
import { formatUnits, insufficientBalanceFor, parseTokenAmount } from '../jobs/job-tokens'
import { fundChannelInLedger, returnChannelFunding } from '../ledger/ledger-service'
import { findCallableService } from '../services/services-service'
import { signTypedDataForAgent } from '../wallet/managed-wallets'
import { allocateVaultNonce } from '../wallet/wallet-service'
import {
  channelDomain,
  closeTypedData,
  fundingTypedData,
  queueClose,
  queueFunding,
  queueSettlement,
  recordClose,
} from './channel-ops'
import {
  addToChannelDeposit,
  insertChannel,
  insertFunding,
  selectCallPage,
  selectChannel,
  selectChannelPage,
  selectChannelsToSettle,
  selectIdleChannels,
  selectCloseAwaitingSignature,
  selectOpenFundings,
  selectUnlandedFundingsByCaller,
  selectSettlement,
  selectSettlementPage,
  selectSettledCallRecords,
  setChannelStatus,
  setFundingStatus,
  type ChannelCallRow,
  type ChannelFundingRow,
  type ChannelRow,
  type ChannelSettlementRow,
} from './channels-queries'

/** Seed 004: the settlement interval when neither the caller nor the provider names one. */
export const DEFAULT_SETTLEMENT_INTERVAL = 100

/** Seed 004: a channel without a call for this long is closed by the timers. */
export const CHANNEL_IDLE_CLOSE_SECONDS = 7 * 24 * 60 * 60

/** Seed 004 (and DESIGN): channels with unsettled calls are settled this often. */
export const CHANNEL_SETTLE_EVERY_SECONDS = 30

function format(channel: Pick<ChannelRow, 'token_decimals'>, units: bigint): string {
  return formatUnits(units, channel.token_decimals)
}

/** A channel as the API shows it to its caller or provider. */
export function toChannelResponse(
  channel: ChannelRow,
  pending: { fundingToSign?: ChannelFundingRow | null; closeToSign?: ChannelSettlementRow | null } = {},
): ChannelResponse {
  const domain = channelDomain(channel)
  return {
    channel_id: channel.id,
    caller_agent_id: channel.caller_agent_id,
    service_id: channel.service_id,
    provider_agent_id: channel.provider_agent_id,
    deposit_amount: format(channel, channel.deposit),
    settled_amount: format(channel, channel.settled_amount),
    unsettled_amount: format(channel, channel.cumulative_amount - channel.settled_amount),
    available_balance: format(channel, channel.deposit - channel.cumulative_amount),
    budget_token: channel.token_symbol,
    price_per_call: format(channel, channel.price_per_call),
    price_per_call_base_units: channel.price_per_call.toString(),
    token_decimals: channel.token_decimals,
    settlement_interval: channel.settlement_interval,
    total_call_count: Number(channel.last_sequence),
    unsettled_call_count: Number(channel.last_sequence - channel.settled_sequence),
    status: channel.status,
    vault_channel_id: channel.vault_channel_id,
    config: {
      caller: channel.caller_address,
      provider: channel.provider_address,
      token: channel.token_address,
      fee_bps: channel.fee_bps,
      salt: channel.salt,
    },
    voucher_state: {
      last_sequence: Number(channel.last_sequence),
      cumulative_amount_base_units: channel.cumulative_amount.toString(),
      call_chain: channel.call_chain,
    },
    domain: { ...domain },
    funding_to_sign: pending.fundingToSign
      ? toTypedDataJson(fundingTypedData(channel, pending.fundingToSign) as TypedDataDefinition)
      : null,
    close_to_sign: pending.closeToSign
      ? toTypedDataJson(closeTypedData(channel, pending.closeToSign.cumulative_amount) as TypedDataDefinition)
      : null,
    closes_at: channel.closes_at?.toISOString() ?? null,
    created_at: channel.created_at.toISOString(),
    updated_at: channel.updated_at.toISOString(),
  }
}

async function channelResponseOf(db: Queryable, channel: ChannelRow): Promise<ChannelResponse> {
  const fundingToSign =
    (await selectOpenFundings(db, channel.id)).find((funding) => funding.status === 'awaiting_signature') ??
    null
  const closeToSign = channel.status === 'closing' ? await selectCloseAwaitingSignature(db, channel.id) : null
  return toChannelResponse(channel, { fundingToSign, closeToSign })
}

/**
 * The channel if `actor` is its caller or provider. Anyone else gets the 404 of a missing channel
 * (a channel is its two parties' business alone); the provider doing what is the caller's a 403.
 */
async function findPartyChannel(
  db: Queryable,
  actor: Actor,
  channelId: string,
  options: { forUpdate?: boolean; callerOnly?: boolean } = {},
): Promise<ChannelRow> {
  const channel = await selectChannel(db, channelId, options)
  if (!channel || (channel.caller_agent_id !== actor.id && channel.provider_agent_id !== actor.id)) {
    throw new NotFoundError('channel_not_found', `channel ${channelId} not found`)
  }
  if (options.callerOnly && channel.caller_agent_id !== actor.id) {
    throw new ForbiddenError('not_channel_caller', "only the channel's caller may do this")
  }
  return channel
}

function requireStatus(channel: ChannelRow, statuses: readonly ChannelRow['status'][], action: string): void {
  if (!statuses.includes(channel.status)) {
    throw new ConflictError(
      'channel_not_active',
      `channel ${channel.id} is ${channel.status}; cannot ${action}`,
      {
        details: { status: channel.status },
      },
    )
  }
}

/**
 * Moves `amount` of the caller's available balance into the channel and asks for its
 * `ChannelFunding`: signed at once for a managed wallet (and queued for the vault), left for a
 * self-custody caller to sign. Inside the caller's transaction.
 */
async function fund(
  db: Queryable,
  context: AppContext,
  actor: Actor,
  channel: ChannelRow,
  amount: bigint,
): Promise<void> {
  await requireTokenAllowed(
    db,
    context,
    { address: channel.token_address, symbol: channel.token_symbol },
    'funding a channel',
  )
  const funding = await insertFunding(db, {
    channelId: channel.id,
    amount,
    totalDeposit: channel.deposit + amount,
    nonce: await allocateVaultNonce(db, channel.caller_address),
  })
  try {
    await fundChannelInLedger(db, {
      agentId: actor.id,
      token: channel.token_address,
      amount,
      reference: `channel-funding:${funding.id}`,
    })
  } catch (error) {
    throw insufficientBalanceFor(
      error,
      { symbol: channel.token_symbol, decimals: channel.token_decimals },
      amount,
      `funding the channel needs ${format(channel, amount)} ${channel.token_symbol} available`,
    )
  }
  if (actor.isManagedWallet) {
    const signature = await signTypedDataForAgent(db, context, actor.id, fundingTypedData(channel, funding))
    await applySignedFunding(db, channel, funding, signature)
  }
}

/** A funding with its caller's signature: queued for the vault, and counted in the channel's deposit. */
async function applySignedFunding(
  db: Queryable,
  channel: ChannelRow,
  funding: ChannelFundingRow,
  signature: Hex,
): Promise<void> {
  await queueFunding(db, channel, funding, signature)
  await addToChannelDeposit(db, channel.id, funding.amount)
  forgetCallChannel(channel)
  if (channel.status === 'pending_signature') await setChannelStatus(db, channel.id, 'active')
}

/** Returns the money of the channel's fundings its caller never signed; they are abandoned. */
export async function abandonUnsignedFundings(db: Queryable, channel: ChannelRow): Promise<bigint> {
  let returned = 0n
  for (const funding of await selectOpenFundings(db, channel.id)) {
    if (funding.status !== 'awaiting_signature') continue
    await returnChannelFunding(db, {
      agentId: channel.caller_agent_id,
      token: channel.token_address,
      amount: funding.amount,
      reference: `channel-funding-abandoned:${funding.id}`,
    })
    await setFundingStatus(db, funding.id, 'abandoned')
    returned += funding.amount
  }
  return returned
}

/**
 * `POST /v1/channels`: opens a channel from the caller to a service, funded from the caller's
 * vault balance. The settlement interval is `min(max_settlement_interval, the service's)`, 100 if
 * neither names one; the price per call and the fee rate are fixed for the channel's life.
 */
export async function openChannel(
  context: AppContext,
  actor: Actor,
  body: OpenChannelBody,
): Promise<ChannelResponse> {
  const service = await findCallableService(context.pool, body.service_id, actor.id)
  if (service.agentId === actor.id) {
    throw new ValidationError('self_invocation', 'an agent cannot open a channel to its own service')
  }
  if (service.priceAmount === null) {
    throw new ValidationError('service_not_callable', `service ${service.id} has no price (custom pricing)`)
  }
  if (
    body.budget_token !== undefined &&
    body.budget_token.toUpperCase() !== service.token.symbol.toUpperCase()
  ) {
    throw fieldError('body', 'budget_token', `must be the service's token, ${service.token.symbol}`)
  }
  const deposit = parseTokenAmount(body.deposit_amount, service.token.decimals, 'deposit_amount', {
    positive: true,
  })
  const provider = await findAgentById(context.pool, service.agentId)
  if (!provider) throw new NotFoundError('service_not_found', `service ${service.id} not found`)
  const feeBps = await protocolFeeBps(context)
  const domain = escrowDomain(context)
  const preferences = [body.max_settlement_interval, service.settlementInterval ?? undefined].filter(
    (value): value is number => value !== undefined,
  )
  const id = randomUUID()
  const salt = `0x${randomBytes(32).toString('hex')}` as const
  const config = {
    caller: actor.walletAddress,
    provider: provider.walletAddress,
    token: service.token.address,
    feeBps,
    salt,
  }
  return withTransaction(context.pool, async (db) => {
    try {
      await insertChannel(db, {
        id,
        chainId: domain.chainId,
        vaultAddress: domain.verifyingContract,
        vaultChannelId: channelIdOf(domain, config),
        serviceId: service.id,
        callerAgentId: actor.id,
        providerAgentId: provider.id,
        callerAddress: actor.walletAddress,
        providerAddress: provider.walletAddress,
        token: service.token,
        feeBps,
        salt,
        settlementInterval: preferences.length > 0 ? Math.min(...preferences) : DEFAULT_SETTLEMENT_INTERVAL,
        pricePerCall: service.priceAmount!,
      })
    } catch (error) {
      if ((error as { constraint?: string }).constraint === 'channels_one_open_idx') {
        throw new ConflictError('channel_exists', `you already have an open channel to service ${service.id}`)
      }
      throw error
    }
    await fund(db, context, actor, (await selectChannel(db, id))!, deposit)
    return channelResponseOf(db, (await selectChannel(db, id))!)
  })
}

/** `GET /v1/channels`: the agent's channels as caller (default) or provider, newest first. */
export async function listChannels(
  context: AppContext,
  actor: Actor,
  query: ListChannelsQuery,
): Promise<ChannelResponse[]> {
  const rows = await selectChannelPage(context.pool, { agentId: actor.id, ...query })
  return rows.map((row) => toChannelResponse(row))
}

/** `GET /v1/channels/{channel_id}`: its caller or provider only. */
export async function getChannel(
  context: AppContext,
  actor: Actor,
  channelId: string,
): Promise<ChannelResponse> {
  return channelResponseOf(context.pool, await findPartyChannel(context.pool, actor, channelId))
}

/** `POST /v1/channels/{channel_id}/top-up`: the caller adds to an active channel's deposit. */
export async function topUpChannel(
  context: AppContext,
  actor: Actor,
  channelId: string,
  body: { amount: string },
): Promise<ChannelResponse> {
  return withTransaction(context.pool, async (db) => {
    const channel = await findPartyChannel(db, actor, channelId, { forUpdate: true, callerOnly: true })
    requireStatus(channel, ['active'], 'top up')
    const amount = parseTokenAmount(body.amount, channel.token_decimals, 'amount', { positive: true })
    // A top-up left unsigned is replaced by this one: the deposit it would raise to is stale.
    await abandonUnsignedFundings(db, channel)
    await fund(db, context, actor, channel, amount)
    return channelResponseOf(db, (await selectChannel(db, channelId))!)
  })
}

/** `POST /v1/channels/{channel_id}/funding-signature`: a self-custody caller signs its pending funding. */
export async function signChannelFunding(
  context: AppContext,
  actor: Actor,
  channelId: string,
  signature: Hex,
): Promise<ChannelResponse> {
  return withTransaction(context.pool, async (db) => {
    const channel = await findPartyChannel(db, actor, channelId, { forUpdate: true, callerOnly: true })
    requireStatus(channel, ['pending_signature', 'active'], 'fund')
    const funding = (await selectOpenFundings(db, channel.id)).find(
      (row) => row.status === 'awaiting_signature',
    )
    if (!funding) {
      throw new ConflictError('channel_not_awaiting_signature', `channel ${channelId} has no funding to sign`)
    }
    await requireTypedDataSigner(fundingTypedData(channel, funding), signature, channel.caller_address, {
      field: 'signature',
    })
    await applySignedFunding(db, channel, funding, signature)
    return channelResponseOf(db, (await selectChannel(db, channelId))!)
  })
}

/**
 * `POST /v1/channels/{channel_id}/settle`: either party hands the newest voucher to the settler.
 * The provider is paid when the vault's `ChannelSettled` is indexed.
 */
export async function settleChannel(
  context: AppContext,
  actor: Actor,
  channelId: string,
): Promise<{ settlement: ChannelSettlementResponse | null; message: string }> {
  return withTransaction(context.pool, async (db) => {
    const channel = await findPartyChannel(db, actor, channelId, { forUpdate: true })
    requireStatus(channel, ['active', 'closing'], 'settle')
    const settlementId = await queueSettlement(db, channel)
    if (!settlementId)
      return { settlement: null, message: 'no unsettled calls: every call is settled or queued' }
    const settlement = (await selectSettlement(db, settlementId))!
    return {
      settlement: toSettlementResponse(channel, settlement),
      message: 'settlement queued for the next batch',
    }
  })
}

/**
 * Closes a channel inside the caller's transaction (the channel row locked): a channel never
 * funded on-chain closes at once, its unsigned funding returned; otherwise unsigned top-ups are
 * returned and the newest voucher goes to the vault with the provider's `ChannelClose` (signed at
 * once for a managed provider, `providerSignature` from a self-custody one, or awaited).
 */
export async function closeLockedChannel(
  db: Queryable,
  context: Pick<AppContext, 'walletEncryptionKey'>,
  channel: ChannelRow,
  providerSignature: Hex | null,
): Promise<void> {
  forgetCallChannel(channel)
  const returned = await abandonUnsignedFundings(db, channel)
  if (channel.status === 'pending_signature') {
    await setChannelStatus(db, channel.id, 'closed', { refund: returned })
    return
  }
  const provider = await findAgentById(db, channel.provider_agent_id)
  let signature = providerSignature
  if (!signature && provider?.isManagedWallet) {
    signature = await signTypedDataForAgent(
      db,
      context,
      provider.id,
      closeTypedData(channel, channel.cumulative_amount),
    )
  }
  await recordClose(db, channel, signature)
  await setChannelStatus(db, channel.id, 'closing')
}

/**
 * `POST /v1/channels/{channel_id}/close`: either party closes; the unsettled calls are settled
 * and the rest returns to the caller when the vault's `ChannelClosed` is indexed. A self-custody
 * provider signs the `close_to_sign` it is shown and posts it here as `provider_signature`.
 */
export async function closeChannel(
  context: AppContext,
  actor: Actor,
  channelId: string,
  body: { provider_signature?: string | undefined },
): Promise<ChannelResponse> {
  return withTransaction(context.pool, async (db) => {
    const channel = await findPartyChannel(db, actor, channelId, { forUpdate: true })
    const given = (body.provider_signature as Hex | undefined) ?? null
    if (given && actor.id !== channel.provider_agent_id) {
      throw fieldError('body', 'provider_signature', "is the provider's to give")
    }
    if (channel.status === 'closing') {
      const awaiting = await selectCloseAwaitingSignature(db, channel.id)
      if (awaiting && given) {
        await requireTypedDataSigner(
          closeTypedData(channel, awaiting.cumulative_amount),
          given,
          channel.provider_address,
          {
            field: 'provider_signature',
          },
        )
        await queueClose(db, channel, awaiting.id, given)
      }
      return channelResponseOf(db, (await selectChannel(db, channelId))!)
    }
    requireStatus(channel, ['pending_signature', 'active'], 'close')
    if (given) {
      await requireTypedDataSigner(
        closeTypedData(channel, channel.cumulative_amount),
        given,
        channel.provider_address,
        {
          field: 'provider_signature',
        },
      )
    }
    await closeLockedChannel(db, context, channel, given)
    return channelResponseOf(db, (await selectChannel(db, channelId))!)
  })
}

export function toCallResponse(channel: ChannelRow, call: ChannelCallRow): ChannelCallResponse {
  return {
    call_id: call.id,
    sequence_number: Number(call.sequence),
    call_amount: format(channel, call.amount),
    cumulative_amount: format(channel, call.cumulative_amount),
    request_hash: call.request_hash,
    response_hash: call.response_hash,
    call_record_hash: call.call_record_hash,
    call_chain: call.call_chain,
    voucher_signature: call.voucher_signature,
    settled: call.sequence <= channel.settled_sequence,
    upstream_status: call.upstream_status,
    duration_ms: call.duration_ms,
    created_at: call.created_at.toISOString(),
  }
}

/** `GET /v1/channels/{channel_id}/calls`: the per-call log, newest first. */
export async function listChannelCalls(
  context: AppContext,
  actor: Actor,
  channelId: string,
  page: { limit: number; offset: number },
): Promise<ChannelCallResponse[]> {
  const channel = await findPartyChannel(context.pool, actor, channelId)
  const calls = await selectCallPage(context.pool, channelId, page)
  return calls.map((call) => toCallResponse(channel, call))
}

function toSettlementResponse(
  channel: ChannelRow,
  settlement: ChannelSettlementRow,
): ChannelSettlementResponse {
  return {
    settlement_id: settlement.id,
    channel_id: settlement.channel_id,
    kind: settlement.kind,
    call_count: Number(settlement.to_sequence - settlement.from_sequence + 1n),
    total_amount: format(channel, settlement.amount),
    worker_amount: format(channel, settlement.amount - settlement.fee),
    fee_amount: format(channel, settlement.fee),
    from_sequence: Number(settlement.from_sequence),
    to_sequence: Number(settlement.to_sequence),
    cumulative_amount: format(channel, settlement.cumulative_amount),
    status: settlement.status,
    tx_hash: settlement.tx_hash,
    failure_reason: settlement.failure_reason,
    created_at: settlement.created_at.toISOString(),
    settled_at: settlement.settled_at?.toISOString() ?? null,
  }
}

/** `GET /v1/channels/{channel_id}/settlements`: the vouchers handed to the vault, newest first. */
export async function listChannelSettlements(
  context: AppContext,
  actor: Actor,
  channelId: string,
  page: { limit: number; offset: number },
): Promise<ChannelSettlementResponse[]> {
  const channel = await findPartyChannel(context.pool, actor, channelId)
  const settlements = await selectSettlementPage(context.pool, channelId, page)
  return settlements.map((settlement) => toSettlementResponse(channel, settlement))
}

// Per vault (chain and address): a handful of entries, however many channels there are.
const voucherDomainSeparators = new Map<string, Hex>()

/** The domain separator of a channel's vouchers (see `voucherDigest`), computed once per vault. */
export function channelVoucherDomainSeparator(channel: ChannelRow): Hex {
  const key = `${channel.chain_id}:${channel.vault_address}`
  let separator = voucherDomainSeparators.get(key)
  if (!separator) {
    separator = voucherDomainSeparator(channelDomain(channel))
    voucherDomainSeparators.set(key, separator)
  }
  return separator
}

/** Per caller wallet, the channel fundings of `token` queued for the vault and not yet landed (reconciliation). */
export async function unlandedChannelFundings(
  db: Queryable,
  chainId: number,
  token: string,
): Promise<Map<Address, bigint>> {
  return selectUnlandedFundingsByCaller(db, chainId, token)
}

/**
 * Gives each of `channelIds` that is still active to `act`, each in its own transaction with the
 * channel row locked (a close or a call elsewhere waits for it). Returns how many `act` said it
 * did something for.
 */
export async function forEachActiveChannel(
  pool: AppContext['pool'],
  channelIds: readonly string[],
  act: (db: Queryable, channel: ChannelRow) => Promise<boolean>,
): Promise<number> {
  let acted = 0
  for (const channelId of channelIds) {
    const didAct = await withTransaction(pool, async (db) => {
      const channel = await selectChannel(db, channelId, { forUpdate: true })
      return channel?.status === 'active' ? act(db, channel) : false
    })
    if (didAct) acted += 1
  }
  return acted
}

/** `forEachActiveChannel`'s action that hands a channel's newest voucher to the settler. */
export async function queueNewestVoucher(db: Queryable, channel: ChannelRow): Promise<boolean> {
  return (await queueSettlement(db, channel)) !== null
}

/**
 * For the timers: hands the newest voucher of up to `limit` active channels whose calls have gone
 * unsettled for `CHANNEL_SETTLE_EVERY_SECONDS` to the settler, one transaction per channel.
 * Returns how many it queued.
 */
export async function settleDueChannels(context: AppContext, limit: number): Promise<number> {
  const due = await selectChannelsToSettle(context.pool, CHANNEL_SETTLE_EVERY_SECONDS, limit)
  return forEachActiveChannel(context.pool, due, queueNewestVoucher)
}

/**
 * For the timers: closes up to `limit` active channels without a call for
 * `CHANNEL_IDLE_CLOSE_SECONDS` (seed 004: 7 days), as `POST /close` would. A self-custody
 * provider's close waits for its signature; the caller can also close on-chain on its own.
 */
export async function closeIdleChannels(context: AppContext, limit: number): Promise<number> {
  const idle = await selectIdleChannels(context.pool, CHANNEL_IDLE_CLOSE_SECONDS, limit)
  return forEachActiveChannel(context.pool, idle, async (db, channel) => {
    await closeLockedChannel(db, context, channel, null)
    return true
  })
}

/**
 * For the public settlement records: per channel settlement op (`chainOpIds`), the calls its
 * voucher pays, public fields only, and the call chain they extend.
 */
export async function settledCallRecordsOf(
  db: Queryable,
  chainOpIds: readonly string[],
): Promise<Map<string, { previous_call_chain: Hex; calls: PublicCallRecord[] }>> {
  const records = new Map<string, { previous_call_chain: Hex; calls: PublicCallRecord[] }>()
  if (!chainOpIds.length) return records
  for (const row of await selectSettledCallRecords(db, chainOpIds)) {
    let record = records.get(row.chainOpId)
    if (!record) {
      record = { previous_call_chain: row.previousCallChain, calls: [] }
      records.set(row.chainOpId, record)
    }
    if (row.sequence === null) continue
    record.calls.push({
      sequence: row.sequence,
      amount: row.amount,
      request_hash: row.requestHash,
      response_hash: row.responseHash,
      call_record_hash: row.callRecordHash,
    })
  }
  return records
}
