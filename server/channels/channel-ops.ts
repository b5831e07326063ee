import { randomUUID } from 'node:crypto'
import { encodeAbiParameters, type Hex } from 'viem'
import type { ChannelConfig } from '../../protocol/channels'
import {
  clearhouseDomain,
  clearhouseTypes,
  NO_SIGNATURE,
  OpKind,
  opDataAbi,
  toCompactSignature,
  type ClearhouseDomain,
} from '../../protocol/typed-data'
import { queueChainOp } from '../chain/settler/op-queue'
import type { Queryable } from '../db/pool'
import { feeFor } from '../ledger/ledger-service'
import {
  insertSettlement,
  markFundingQueued,
  markSettlementQueued,
  setQueued,
  type ChannelFundingRow,
  type ChannelRow,
} from './channels-queries'

// What a channel asks of the vault: its fundings, settlements and cooperative close, as settlement ops.

/** The channel's config as the vault hashes it into the channel's id. */
export function channelConfigOf(channel: ChannelRow): ChannelConfig {
  return {
    caller: channel.caller_address,
    provider: channel.provider_address,
    token: channel.token_address,
    feeBps: channel.fee_bps,
    salt: channel.salt,
  }
}

/** The EIP-712 domain of the vault the channel lives in. */
export function channelDomain(channel: Pick<ChannelRow, 'chain_id' | 'vault_address'>): ClearhouseDomain {
  return clearhouseDomain(Number(channel.chain_id), channel.vault_address)
}

/** The caller's `ChannelFunding` of `funding`: the deposit raised to its total, spending its nonce. */
export function fundingTypedData(
  channel: ChannelRow,
  funding: Pick<ChannelFundingRow, 'total_deposit' | 'nonce'>,
) {
  return {
    domain: channelDomain(channel),
    types: { ChannelFunding: clearhouseTypes.ChannelFunding },
    primaryType: 'ChannelFunding' as const,
    message: {
      channelId: channel.vault_channel_id,
      totalDeposit: funding.total_deposit,
      nonce: funding.nonce,
    },
  }
}

/** The provider's `ChannelClose` at the channel's newest voucher. */
export function closeTypedData(channel: ChannelRow, cumulativeAmount: bigint) {
  return {
    domain: channelDomain(channel),
    types: { ChannelClose: clearhouseTypes.ChannelClose },
    primaryType: 'ChannelClose' as const,
    message: { channelId: channel.vault_channel_id, cumulativeAmount },
  }
}

/** The channel's newest voucher as the vault takes it (a zero voucher before any call: closing it settles nothing). */
function newestSignedVoucher(channel: ChannelRow) {
  return {
    config: channelConfigOf(channel),
    sequence: channel.last_sequence,
    cumulativeAmount: channel.cumulative_amount,
    callChain: channel.call_chain,
    signature: channel.voucher_signature ? toCompactSignature(channel.voucher_signature) : NO_SIGNATURE,
  }
}

/** Hands a signed funding to the settler inside the caller's transaction. */
export async function queueFunding(
  db: Queryable,
  channel: ChannelRow,
  funding: ChannelFundingRow,
  signature: Hex,
): Promise<void> {
  const data = encodeAbiParameters(opDataAbi[OpKind.ChannelFund], [
    channelConfigOf(channel),
    funding.total_deposit,
    funding.nonce,
    toCompactSignature(signature),
  ])
  const chainOpId = await queueChainOp(db, {
    chainId: Number(channel.chain_id),
    kind: OpKind.ChannelFund,
    data,
    reference: `channel-funding:${funding.id}`,
  })
  await markFundingQueued(db, funding.id, signature, chainOpId)
}

/**
 * Hands the channel's newest voucher to the settler as a settlement of the calls since the last
 * one, inside the caller's transaction (the channel row locked or just advanced by it). Returns
 * the settlement's id, or null when every call is already queued.
 */
export async function queueSettlement(db: Queryable, channel: ChannelRow): Promise<string | null> {
  if (channel.last_sequence <= channel.queued_sequence || channel.voucher_signature === null) return null
  const data = encodeAbiParameters(opDataAbi[OpKind.ChannelSettle], [newestSignedVoucher(channel)])
  const chainOpId = await queueChainOp(db, {
    chainId: Number(channel.chain_id),
    kind: OpKind.ChannelSettle,
    data,
    reference: `channel-settle:${channel.id}:${channel.last_sequence}`,
  })
  const id = randomUUID()
  await insertSettlement(db, {
    id,
    ...settlementAmounts(channel),
    channelId: channel.id,
    kind: 'settle',
    status: 'pending',
    chainOpId,
  })
  await setQueued(db, channel.id, { sequence: channel.last_sequence, amount: channel.cumulative_amount })
  return id
}

/** What a settlement of the channel's newest voucher pays, over the vouchers queued before it. */
function settlementAmounts(channel: ChannelRow) {
  const amount = channel.cumulative_amount - channel.queued_amount
  return {
    fromSequence: channel.queued_sequence + 1n,
    toSequence: channel.last_sequence,
    cumulativeAmount: channel.cumulative_amount,
    amount,
    fee: feeFor(amount, channel.fee_bps),
  }
}

/**
 * Records the cooperative close of the channel at its newest voucher inside the caller's
 * transaction: queued at once with the provider's signature, or left awaiting it.
 */
export async function recordClose(
  db: Queryable,
  channel: ChannelRow,
  providerSignature: Hex | null,
): Promise<string> {
  const id = randomUUID()
  await insertSettlement(db, {
    id,
    ...settlementAmounts(channel),
    channelId: channel.id,
    kind: 'close',
    status: 'awaiting_signature',
    chainOpId: null,
  })
  if (providerSignature) await queueClose(db, channel, id, providerSignature)
  return id
}

/** Hands a close (recorded by `recordClose`) with the provider's signature to the settler. */
export async function queueClose(
  db: Queryable,
  channel: ChannelRow,
  settlementId: string,
  providerSignature: Hex,
): Promise<void> {
  const data = encodeAbiParameters(opDataAbi[OpKind.ChannelClose], [
    newestSignedVoucher(channel),
    toCompactSignature(providerSignature),
  ])
  const chainOpId = await queueChainOp(db, {
    chainId: Number(channel.chain_id),
    kind: OpKind.ChannelClose,
    data,
    reference: `channel-close:${settlementId}`,
  })
  await markSettlementQueued(db, settlementId, chainOpId)
  await setQueued(db, channel.id, { sequence: channel.last_sequence, amount: channel.cumulative_amount })
}
