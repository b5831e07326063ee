import type { Hex } from 'viem'
import { formatAmount } from '../protocol/amounts'
import {
  nextVoucher,
  voucherTypedData,
  type ChannelResponse,
  type InvokeResponse,
} from '../protocol/channels'
import type { ClearhouseDomain } from '../protocol/typed-data'
import type { ClearhouseClient } from './client'
import { ClearhouseApiError } from './errors'

/** What the caller's next voucher builds on. */
interface VoucherState {
  lastSequence: bigint
  cumulativeAmount: bigint
  callChain: Hex
}

/**
 * Pays calls on one channel. With a self-custody wallet (the client's wallet is the channel's
 * caller) it signs each call's voucher itself and keeps the call chain: each voucher extends the
 * chain by the call's record, so the caller has signed exactly the calls it made. A managed
 * wallet's vouchers are signed by the coordinator, so the calls are plain invokes. Calls on one
 * channel are ordered: make the next after the previous one answered.
 */
export class ChannelCaller {
  private state: VoucherState

  private constructor(
    private readonly client: ClearhouseClient,
    private channel: ChannelResponse,
  ) {
    this.state = stateOf(channel)
  }

  /** A caller for an existing channel. */
  static async attach(client: ClearhouseClient, channelId: string): Promise<ChannelCaller> {
    return new ChannelCaller(client, await client.channels.get(channelId))
  }

  /**
   * Opens a channel to `serviceId` with `deposit` (a decimal amount) and, for a self-custody
   * wallet, signs and posts its `ChannelFunding`.
   */
  static async open(
    client: ClearhouseClient,
    body: Parameters<ClearhouseClient['channels']['open']>[0],
  ): Promise<ChannelCaller> {
    const opened = await client.channels.open(body)
    const channel = opened.funding_to_sign ? await client.channels.signFunding(opened.channel_id) : opened
    return new ChannelCaller(client, channel)
  }

  get id(): string {
    return this.channel.channel_id
  }

  /** Whether this client's wallet signs the vouchers (a self-custody caller). */
  get isSigningVouchers(): boolean {
    return this.client.walletAddress?.toLowerCase() === this.channel.config.caller.toLowerCase()
  }

  /** Calls the service with `input`, paid by the channel's next voucher. */
  async call(input: unknown): Promise<InvokeResponse> {
    if (!this.isSigningVouchers) return this.client.services.invoke(this.channel.service_id, { input })
    try {
      return await this.signedCall(input)
    } catch (error) {
      // Another process of this caller used the channel meanwhile: build on what the coordinator holds.
      if (!(error instanceof ClearhouseApiError) || error.code !== 'voucher_out_of_order') throw error
      await this.refresh()
      return this.signedCall(input)
    }
  }

  /** Reads the channel again (deposit, status, the newest voucher). */
  async refresh(): Promise<ChannelResponse> {
    this.channel = await this.client.channels.get(this.channel.channel_id)
    this.state = stateOf(this.channel)
    return this.channel
  }

  private async signedCall(input: unknown): Promise<InvokeResponse> {
    const { voucher } = nextVoucher(
      { channelId: this.channel.vault_channel_id as Hex, ...this.state },
      { amount: BigInt(this.channel.price_per_call_base_units), input },
    )
    const typedData = voucherTypedData(this.channel.domain as unknown as ClearhouseDomain, voucher)
    const signature = await this.client.signer.signTypedData({ ...typedData, message: { ...voucher } })
    const response = await this.client.services.invoke(this.channel.service_id, {
      input,
      voucher: {
        sequence: Number(voucher.sequence),
        cumulative_amount: formatAmount(voucher.cumulativeAmount, this.channel.token_decimals),
        call_chain: voucher.callChain,
        signature,
      },
    })
    this.state = {
      lastSequence: voucher.sequence,
      cumulativeAmount: voucher.cumulativeAmount,
      callChain: voucher.callChain,
    }
    return response
  }
}

function stateOf(channel: ChannelResponse): VoucherState {
  return {
    lastSequence: BigInt(channel.voucher_state.last_sequence),
    cumulativeAmount: BigInt(channel.voucher_state.cumulative_amount_base_units),
    callChain: channel.voucher_state.call_chain as Hex,
  }
}
