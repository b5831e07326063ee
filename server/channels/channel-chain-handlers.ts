import type { Logger } from 'pino'
import type { Hex } from 'viem'
import { OpKind } from '../../protocol/typed-data'
import type { ChainEventHandler, IndexedEvent } from '../chain/indexer/indexed-event'
import type { ChainOpFailureHandler } from '../chain/settler/chain-op-failures'
import type { Queryable } from '../db/pool'
import {
  chainBookingReference,
  feeFor,
  findChainBooking,
  followChainChannelFunding,
  fundChannelInLedger,
  payFromChannel,
  refundChannelInLedger,
  returnChannelFunding,
  reverseChainBooking,
} from '../ledger/ledger-service'
import { forgetCallChannel } from './active-channels'
import { queueSettlement } from './channel-ops'
import { abandonUnsignedFundings } from './channels-service'
import {
  addToChannelDeposit,
  markSettlementsSettled,
  resetQueued,
  selectChannel,
  selectChannelByVaultId,
  selectLatestSettled,
  selectFundingByOp,
  selectFundingByTotal,
  selectSettlementByOp,
  setChannelSettled,
  setChannelStatus,
  setFundingStatus,
  setSettlementFailed,
  type ChannelRow,
} from './channels-queries'
import { publishEvent } from '../events/event-bus'
import { formatAmount } from '../../protocol/amounts'

// How the channels room follows the vault: what landed (fundings, settlements, closes, a caller's
// unilateral close) and what the vault refused.

const settledBase = (channel: ChannelRow, sequence: bigint) =>
  `channel-settled:${channel.vault_channel_id}:${sequence}`
const closedBase = (channel: ChannelRow) => `channel-closed:${channel.vault_channel_id}`
const directFundingBase = (channel: ChannelRow, total: bigint) =>
  `channel-funded-directly:${channel.vault_channel_id}:${total}`

interface ChannelEventArgs {
  channelId: Hex
  totalDeposit?: string
  sequence?: string
  cumulativeAmount?: string
  amount?: string
  closesAt?: string
  refund?: string
}

async function channelOf(db: Queryable, event: IndexedEvent): Promise<ChannelRow | null> {
  const args = event.args as unknown as ChannelEventArgs
  return selectChannelByVaultId(db, event.chainId, args.channelId, { forUpdate: true })
}

/**
 * The indexer's side of channels. Money moves here, when the vault has moved it:
 * - `ChannelFunded`: the funding the coordinator queued has landed (reconciliation stops counting
 *   it in flight), or, for one the caller made on the vault itself, its ledger and deposit follow;
 * - `ChannelSettled`: the caller's channel pays the provider `amount − fee` and the platform the fee;
 * - `ChannelCloseRequested` (the caller's unilateral close, perhaps made while the coordinator was
 *   down): the channel stops taking calls and its newest voucher is queued at once, so the
 *   provider is paid inside the challenge period;
 * - `ChannelClosed`: what is left returns to the caller's available balance.
 * A channel the coordinator did not open (two wallets on the vault directly) is the vault
 * mirror's alone. Every posting is a chain booking, so a reorg's `undo` reverses exactly it.
 */
export function channelChainEventHandlers(logger: Logger): ChainEventHandler[] {
  const ofUnknown = (event: IndexedEvent) =>
    logger.debug(
      { event: event.eventName, txHash: event.txHash },
      'log of a channel the coordinator did not open',
    )
  return [
    {
      eventName: 'ChannelFunded',
      async apply(db, event) {
        const channel = await channelOf(db, event)
        if (!channel) return ofUnknown(event)
        const args = event.args as unknown as ChannelEventArgs
        const total = BigInt(args.totalDeposit!)
        const funding = await selectFundingByTotal(db, channel.id, total)
        if (funding) {
          await setFundingStatus(db, funding.id, 'confirmed')
          return
        }
        // The caller funded its channel on the vault itself: the ledger and the deposit follow.
        const added = BigInt(args.amount!)
        await followChainChannelFunding(db, {
          agentId: channel.caller_agent_id,
          token: channel.token_address,
          amount: added,
          reference: await chainBookingReference(db, directFundingBase(channel, total)),
        })
        await addToChannelDeposit(db, channel.id, added)
        forgetCallChannel(channel)
      },
      async undo(db, event) {
        const channel = await channelOf(db, event)
        if (!channel) return
        const args = event.args as unknown as ChannelEventArgs
        const total = BigInt(args.totalDeposit!)
        const funding = await selectFundingByTotal(db, channel.id, total)
        if (funding) {
          if (funding.status === 'confirmed') await setFundingStatus(db, funding.id, 'queued')
          return
        }
        if (!(await findChainBooking(db, directFundingBase(channel, total)))) return
        await reverseChainBooking(db, directFundingBase(channel, total))
        await addToChannelDeposit(db, channel.id, -BigInt(args.amount!))
        forgetCallChannel(channel)
      },
    },
    {
      eventName: 'ChannelSettled',
      async apply(db, event) {
        const channel = await channelOf(db, event)
        if (!channel) return ofUnknown(event)
        const args = event.args as unknown as ChannelEventArgs
        const sequence = BigInt(args.sequence!)
        const amount = BigInt(args.amount!)
        await payFromChannel(db, {
          callerId: channel.caller_agent_id,
          providerId: channel.provider_agent_id,
          token: channel.token_address,
          amount,
          fee: feeFor(amount, channel.fee_bps),
          reference: await chainBookingReference(db, settledBase(channel, sequence)),
        })
        await setChannelSettled(db, channel.id, { sequence, amount: BigInt(args.cumulativeAmount!) })
        await markSettlementsSettled(db, channel.id, sequence, event.txHash)
        await publishEvent(db, {
          type: 'channel_settled',
          audience: [channel.caller_agent_id, channel.provider_agent_id],
          data: {
            channel_id: channel.id,
            sequence: Number(sequence),
            settled_amount: formatAmount(amount, channel.token_decimals),
            cumulative_amount: formatAmount(BigInt(args.cumulativeAmount!), channel.token_decimals),
            tx_hash: event.txHash,
          },
        })
      },
      async undo(db, event) {
        const channel = await channelOf(db, event)
        if (!channel) return
        const sequence = BigInt((event.args as unknown as ChannelEventArgs).sequence!)
        await reverseChainBooking(db, settledBase(channel, sequence))
        await markSettlementsSettled(db, channel.id, sequence, null)
        await setChannelSettled(db, channel.id, await selectLatestSettled(db, channel.id))
      },
    },
    {
      eventName: 'ChannelCloseRequested',
      async apply(db, event) {
        const channel = await channelOf(db, event)
        if (!channel) return ofUnknown(event)
        const closesAt = new Date(Number((event.args as unknown as ChannelEventArgs).closesAt!) * 1000)
        if (channel.status === 'closed') return
        forgetCallChannel(channel)
        await setChannelStatus(db, channel.id, 'closing', { closesAt })
        // The provider's due: the newest voucher goes to the vault before the caller can finalize.
        await queueSettlement(db, channel)
        logger.info({ channelId: channel.id, closesAt }, "a channel's caller asked to close it on-chain")
      },
      async undo(db, event) {
        const channel = await channelOf(db, event)
        if (!channel || channel.status !== 'closing') return
        await setChannelStatus(db, channel.id, 'active', { closesAt: null })
      },
    },
    {
      eventName: 'ChannelClosed',
      async apply(db, event) {
        const channel = await channelOf(db, event)
        if (!channel) return ofUnknown(event)
        const refund = BigInt((event.args as unknown as ChannelEventArgs).refund!)
        await refundChannelInLedger(db, {
          agentId: channel.caller_agent_id,
          token: channel.token_address,
          amount: refund,
          reference: await chainBookingReference(db, closedBase(channel)),
        })
        await markSettlementsSettled(db, channel.id, channel.last_sequence, event.txHash)
        forgetCallChannel(channel)
        await setChannelStatus(db, channel.id, 'closed', { refund })
        // A top-up the caller never signed can no longer land: its money returns.
        await abandonUnsignedFundings(db, channel)
      },
      async undo(db, event) {
        const channel = await channelOf(db, event)
        if (!channel) return
        await reverseChainBooking(db, closedBase(channel))
        await setChannelStatus(db, channel.id, 'closing', { refund: null })
      },
    },
  ]
}

/**
 * What the channels room does when the vault refuses one of its ops:
 * - a funding (the caller's balance was gone): its money returns to the caller's available
 *   balance and leaves the channel's deposit; a channel whose only funding failed has failed;
 * - a settlement: it is marked failed and its calls are queued again with the next one;
 * - a cooperative close: the channel is active again (unless the caller is closing it on-chain).
 * `restored` (a reorg dropped the refusal) puts each back.
 */
export function channelOpFailureHandlers(logger: Logger): ChainOpFailureHandler[] {
  return [
    {
      kind: OpKind.ChannelFund,
      async failed(db, op) {
        const funding = await selectFundingByOp(db, op.id)
        if (!funding || funding.status !== 'queued') return
        const channel = (await lockChannel(db, funding.channel_id))!
        await setFundingStatus(db, funding.id, 'failed', op.reason)
        await returnChannelFunding(db, {
          agentId: channel.caller_agent_id,
          token: channel.token_address,
          amount: funding.amount,
          reference: `channel-funding-failed:${funding.id}`,
        })
        await addToChannelDeposit(db, channel.id, -funding.amount)
        forgetCallChannel(channel)
        if (channel.deposit === funding.amount && channel.status === 'active') {
          await setChannelStatus(db, channel.id, 'failed')
        }
        logger.warn({ channelId: channel.id, reason: op.reason }, 'the vault refused a channel funding')
      },
      async restored(db, op) {
        const funding = await selectFundingByOp(db, op.id)
        if (!funding || funding.status !== 'failed') return
        const channel = (await lockChannel(db, funding.channel_id))!
        await fundChannelInLedger(db, {
          agentId: channel.caller_agent_id,
          token: channel.token_address,
          amount: funding.amount,
          reference: `channel-funding-restored:${funding.id}:${op.id}`,
        })
        await setFundingStatus(db, funding.id, 'queued')
        await addToChannelDeposit(db, channel.id, funding.amount)
        if (channel.status === 'failed') await setChannelStatus(db, channel.id, 'active')
      },
    },
    {
      kind: OpKind.ChannelSettle,
      async failed(db, op) {
        const settlement = await selectSettlementByOp(db, op.id)
        if (!settlement) return
        await setSettlementFailed(db, settlement.id, op.reason)
        await resetQueued(db, settlement.channel_id)
      },
      async restored(db, op) {
        const settlement = await selectSettlementByOp(db, op.id)
        if (settlement) await setSettlementFailed(db, settlement.id, null)
      },
    },
    {
      kind: OpKind.ChannelClose,
      async failed(db, op) {
        const settlement = await selectSettlementByOp(db, op.id)
        if (!settlement) return
        await setSettlementFailed(db, settlement.id, op.reason)
        await resetQueued(db, settlement.channel_id)
        const channel = await lockChannel(db, settlement.channel_id)
        if (channel?.status === 'closing' && channel.closes_at === null) {
          await setChannelStatus(db, channel.id, 'active')
        }
      },
      async restored(db, op) {
        const settlement = await selectSettlementByOp(db, op.id)
        if (!settlement) return
        await setSettlementFailed(db, settlement.id, null)
        const channel = await lockChannel(db, settlement.channel_id)
        if (channel?.status === 'active') await setChannelStatus(db, channel.id, 'closing')
      },
    },
  ]
}

async function lockChannel(db: Queryable, channelId: string): Promise<ChannelRow | null> {
  return selectChannel(db, channelId, { forUpdate: true })
}
