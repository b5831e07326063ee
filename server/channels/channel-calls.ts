import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import type pg from 'pg'
import { hexToBytes, type Hex } from 'viem'
import {
  callRecordHash,
  nextCallChain,
  nextVoucher,
  requestHashOf,
  voucherDigest,
  voucherTypedData,
  type VoucherBody,
} from '../../protocol/channels'
import type { AppContext } from '../app-context'
import type { Actor } from '../auth/actor'
import { recoverDigestSigner } from '../auth/signatures'
import { nativeKeccak256 } from '../crypto/native-keccak'
import { ConflictError, ValidationError } from '../errors'
import { parseTokenAmount } from '../jobs/job-tokens'
import { signTypedDataForAgent } from '../wallet/managed-wallets'
import { channelDomain } from './channel-ops'
import { recordCalls, selectOpenChannel, type CallToRecord, type ChannelRow } from './channels-queries'
import { forgetCallChannel, remember, rememberedChannel } from './active-channels'
import {
  channelVoucherDomainSeparator,
  forEachActiveChannel,
  queueNewestVoucher,
  toCallResponse,
} from './channels-service'

// The fast path: a call paid by a voucher on an open channel, checked in memory and recorded in
// Postgres with many others in one commit.

/** A paid call checked against its channel, waiting for the provider's answer to be recorded. */
export interface PreparedChannelCall {
  channel: ChannelRow
  call: Omit<CallToRecord, 'responseHash' | 'upstreamStatus' | 'durationMs'>
  /** Frees the channel for its next call; call it once, whatever happens. */
  release(): void
}

// The channels with a call in flight in this process: a channel's calls are paid in sequence, so
// the next may only be checked once this one is recorded or dropped. Another replica is held off
// by the recording itself, which advances a channel only from the state its call was checked on.
const callsInFlight = new Set<string>()

function invalidVoucher(message: string): ValidationError {
  return new ValidationError('invalid_voucher', `voucher: ${message}`, {
    details: { where: 'body', fields: [{ field: 'voucher', message }] },
  })
}

/** The codes a call is refused with because of the channel's state, which a fresh read may change. */
const STATE_REFUSALS = new Set(['channel_not_active', 'voucher_out_of_order', 'voucher_over_deposit'])

/**
 * The caller's open channel to the service, checked for this call (see `prepareChannelCall`), or
 * null when it has none. The channel comes from memory when this process knows it; a refusal on
 * a remembered state is re-checked against the database's.
 */
export async function prepareCallOnChannel(
  context: Pick<AppContext, 'pool' | 'walletEncryptionKey'>,
  actor: Actor,
  serviceId: string,
  input: unknown,
  voucher: VoucherBody | undefined,
): Promise<PreparedChannelCall | null> {
  const remembered = rememberedChannel(actor.id, serviceId)
  if (remembered) {
    try {
      return await prepareChannelCall(context, actor, remembered, input, voucher)
    } catch (error) {
      if (!(error instanceof ConflictError) || !STATE_REFUSALS.has(error.code)) throw error
      forgetCallChannel(remembered)
    }
  }
  const channel = await selectOpenChannel(context.pool, actor.id, serviceId)
  if (!channel) return null
  remember(channel)
  return prepareChannelCall(context, actor, channel, input, voucher)
}

/**
 * Checks a call's voucher against its channel's newest state: the next sequence, exactly one price
 * more, a call chain extended by this call's record (over `input`), within the deposit, and signed
 * by the caller (native libsecp256k1). A managed-wallet caller that sends none has one signed for
 * it. Refusals record nothing: a forged or foreign voucher is a 400, a replayed or skipped one, one
 * over the deposit, or a second call while one is in flight a 409.
 */
export async function prepareChannelCall(
  context: Pick<AppContext, 'pool' | 'walletEncryptionKey'>,
  actor: Actor,
  channel: ChannelRow,
  input: unknown,
  voucher: VoucherBody | undefined,
): Promise<PreparedChannelCall> {
  if (channel.status !== 'active') {
    throw new ConflictError('channel_not_active', `channel ${channel.id} is ${channel.status}`, {
      details: { channel_id: channel.id, status: channel.status },
    })
  }
  if (callsInFlight.has(channel.id)) {
    throw new ConflictError(
      'channel_busy',
      `a call on channel ${channel.id} is in flight; send the next after it`,
    )
  }
  callsInFlight.add(channel.id)
  const release = () => callsInFlight.delete(channel.id)
  try {
    const call = voucher
      ? checkVoucher(channel, input, voucher)
      : await signForManagedCaller(context, actor, channel, input)
    if (call.cumulativeAmount > channel.deposit) {
      throw new ConflictError(
        'voucher_over_deposit',
        `the channel holds ${channel.deposit - channel.cumulative_amount} base units; top it up`,
        { details: { channel_id: channel.id, deposit: channel.deposit.toString() } },
      )
    }
    return { channel, call, release }
  } catch (error) {
    release()
    throw error
  }
}

function checkVoucher(
  channel: ChannelRow,
  input: unknown,
  voucher: VoucherBody,
): PreparedChannelCall['call'] {
  const sequence = BigInt(voucher.sequence)
  const cumulativeAmount = parseTokenAmount(
    voucher.cumulative_amount,
    channel.token_decimals,
    'voucher.cumulative_amount',
  )
  const expectedSequence = channel.last_sequence + 1n
  if (sequence !== expectedSequence || cumulativeAmount <= channel.cumulative_amount) {
    throw new ConflictError(
      'voucher_out_of_order',
      `the channel's next voucher is sequence ${expectedSequence} above ${channel.cumulative_amount} base units`,
      {
        details: {
          channel_id: channel.id,
          last_sequence: Number(channel.last_sequence),
          cumulative_amount_base_units: channel.cumulative_amount.toString(),
          call_chain: channel.call_chain,
        },
      },
    )
  }
  const amount = cumulativeAmount - channel.cumulative_amount
  if (amount !== channel.price_per_call) {
    throw invalidVoucher(`must pay exactly the price per call (${channel.price_per_call} base units) more`)
  }
  const requestHash = requestHashOf(input, nativeKeccak256)
  const recordHash = callRecordHash(
    { channelId: channel.vault_channel_id, sequence, amount, requestHash },
    nativeKeccak256,
  )
  const callChain = nextCallChain(channel.call_chain, recordHash, nativeKeccak256)
  if (voucher.call_chain.toLowerCase() !== callChain) {
    throw invalidVoucher("call_chain is not the channel's chain extended by this call's record")
  }
  const digest = voucherDigest(
    channelVoucherDomainSeparator(channel),
    { channelId: channel.vault_channel_id, sequence, cumulativeAmount, callChain },
    nativeKeccak256,
  )
  const signer = recoverDigestSigner(hexToBytes(digest), voucher.signature)
  if (signer === null || signer.toLowerCase() !== channel.caller_address) {
    throw invalidVoucher(`is not signed by the channel's caller ${channel.caller_address} for this channel`)
  }
  return {
    id: randomUUID(),
    channelId: channel.id,
    sequence,
    previousCumulative: channel.cumulative_amount,
    amount,
    cumulativeAmount,
    requestHash,
    callRecordHash: recordHash,
    callChain,
    voucherSignature: voucher.signature.toLowerCase() as Hex,
    startedAt: new Date(),
  }
}

async function signForManagedCaller(
  context: Pick<AppContext, 'pool' | 'walletEncryptionKey'>,
  actor: Actor,
  channel: ChannelRow,
  input: unknown,
): Promise<PreparedChannelCall['call']> {
  if (!actor.isManagedWallet) {
    throw new ConflictError(
      'voucher_required',
      'your wallet is your own: sign the voucher paying this call',
      {
        details: {
          channel_id: channel.id,
          last_sequence: Number(channel.last_sequence),
          cumulative_amount_base_units: channel.cumulative_amount.toString(),
          call_chain: channel.call_chain,
          price_per_call_base_units: channel.price_per_call.toString(),
        },
      },
    )
  }
  const { voucher, record } = nextVoucher(
    {
      channelId: channel.vault_channel_id,
      lastSequence: channel.last_sequence,
      cumulativeAmount: channel.cumulative_amount,
      callChain: channel.call_chain,
    },
    { amount: channel.price_per_call, input },
  )
  const signature = await signTypedDataForAgent(
    context.pool,
    context,
    actor.id,
    voucherTypedData(channelDomain(channel), voucher),
  )
  return {
    id: randomUUID(),
    channelId: channel.id,
    sequence: voucher.sequence,
    previousCumulative: channel.cumulative_amount,
    amount: record.amount,
    cumulativeAmount: voucher.cumulativeAmount,
    requestHash: record.requestHash,
    callRecordHash: callRecordHash(record),
    callChain: voucher.callChain,
    voucherSignature: signature.toLowerCase() as Hex,
    startedAt: new Date(),
  }
}

/** keccak256 of the provider's answer as it was received: the call log's `response_hash`. */
export function responseHashOf(body: Uint8Array): Hex {
  return nativeKeccak256(body)
}

interface PendingRecord {
  call: CallToRecord
  resolve(recorded: boolean): void
  reject(error: unknown): void
}

/** Group commits in flight at once: one fills while another commits. */
const MAX_GROUPS_IN_FLIGHT = 2

/**
 * Group commit of paid calls: calls that arrive while a commit is running wait and go together in
 * the next, so the rate is not bounded by one commit per call. Each group is one statement (one
 * round trip, one commit). A call is answered only after the statement holding its record
 * committed (an acknowledged call is never lost), and a call whose statement failed is answered
 * with the error (none is acknowledged that was not kept). A channel has one call in flight in
 * this process, so two groups never touch the same channel. Channels that reached their
 * settlement interval have their newest voucher queued before the group is answered (the timers'
 * 30 s pass is the backstop should that fail).
 */
export class CallRecorder {
  private queue: PendingRecord[] = []
  private groupsInFlight = 0

  constructor(
    private readonly pool: pg.Pool,
    private readonly logger: Logger,
    private readonly maxGroupSize = 512,
  ) {}

  /** Resolves true once the call is durable, false if its channel moved on meanwhile (nothing recorded). */
  record(call: CallToRecord): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.queue.push({ call, resolve, reject })
      this.startGroup()
    })
  }

  private startGroup(): void {
    if (this.groupsInFlight >= MAX_GROUPS_IN_FLIGHT || this.queue.length === 0) return
    this.groupsInFlight += 1
    void this.commitGroup(this.queue.splice(0, this.maxGroupSize)).finally(() => {
      this.groupsInFlight -= 1
      this.startGroup()
    })
  }

  private async commitGroup(group: PendingRecord[]): Promise<void> {
    let result: Awaited<ReturnType<typeof recordCalls>>
    try {
      result = await recordCalls(
        this.pool,
        group.map((pending) => pending.call),
      )
    } catch (error) {
      this.logger.warn({ err: error, calls: group.length }, 'recording a group of paid calls failed')
      for (const pending of group) pending.reject(error)
      return
    }
    // Before the answers, so a caller that settles or closes next finds the settlement queued.
    await this.queueDueSettlements(result.dueForSettlement)
    for (const pending of group) pending.resolve(result.recorded.has(pending.call.id))
  }

  private async queueDueSettlements(channelIds: readonly string[]): Promise<void> {
    try {
      await forEachActiveChannel(this.pool, channelIds, queueNewestVoucher)
    } catch (error) {
      this.logger.warn({ err: error, channelIds }, 'queueing due channel settlements failed; the timers will')
    }
  }
}

const recorders = new WeakMap<pg.Pool, CallRecorder>()

/** The process's call recorder for the app's database. */
export function callRecorderFor(context: Pick<AppContext, 'pool' | 'logger'>): CallRecorder {
  let recorder = recorders.get(context.pool)
  if (!recorder) {
    recorder = new CallRecorder(context.pool, context.logger.child({ component: 'call-recorder' }))
    recorders.set(context.pool, recorder)
  }
  return recorder
}

/**
 * Records a prepared call with the provider's answer and frees its channel. Throws 409
 * `voucher_out_of_order` when the channel moved on meanwhile (another replica recorded a call, or
 * it closed): the provider answered, but nothing is charged.
 */
export async function recordChannelCall(
  context: Pick<AppContext, 'pool' | 'logger'>,
  prepared: PreparedChannelCall,
  answer: { responseHash: Hex; upstreamStatus: number; durationMs: number },
) {
  try {
    const call: CallToRecord = { ...prepared.call, ...answer }
    const isRecorded = await callRecorderFor(context)
      .record(call)
      .catch((error: unknown) => {
        // Whether it committed is unknown: the next call reads the channel again.
        forgetCallChannel(prepared.channel)
        throw error
      })
    if (!isRecorded) {
      forgetCallChannel(prepared.channel)
      throw new ConflictError(
        'voucher_out_of_order',
        `channel ${prepared.channel.id} changed while the call ran`,
      )
    }
    const channel: ChannelRow = {
      ...prepared.channel,
      last_sequence: call.sequence,
      cumulative_amount: call.cumulativeAmount,
      call_chain: call.callChain,
      voucher_signature: call.voucherSignature,
    }
    remember(channel)
    return toCallResponse(channel, {
      id: call.id,
      channel_id: channel.id,
      sequence: call.sequence,
      amount: call.amount,
      cumulative_amount: call.cumulativeAmount,
      request_hash: call.requestHash,
      response_hash: call.responseHash,
      call_record_hash: call.callRecordHash,
      call_chain: call.callChain,
      voucher_signature: call.voucherSignature,
      upstream_status: call.upstreamStatus,
      started_at: call.startedAt,
      duration_ms: call.durationMs,
      created_at: new Date(),
    })
  } finally {
    prepared.release()
  }
}
