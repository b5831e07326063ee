import { concat, hashDomain, hashTypedData, keccak256, numberToHex, stringToBytes, type Hex } from 'viem'
import { address as addressSchema, type Address } from './address'
import { decimalAmount } from './amounts'
import { typedDataJson } from './assignments'
import { canonicalJson } from './canonical-json'
import { entityId } from './jobs'
import { clearhouseTypes, type ClearhouseDomain } from './typed-data'
import { z } from './zod'

// Per-call payment channels (seed 004 "Payment Channels") and the call records their vouchers pay for.

/**
 * A channel's config as the vault takes it: its id is the EIP-712 digest of this struct under the
 * vault's domain, so the caller, the provider, the token and the fee rate are fixed for its life.
 */
export interface ChannelConfig {
  caller: Address
  provider: Address
  token: Address
  feeBps: number
  salt: Hex
}

/**
 * One paid call as the caller's voucher commits to it. The caller signs before the provider
 * answers, so the record holds what the caller knows then: which channel, which call, what it
 * pays, and the hash of what it asked. The response's hash is in the call log, not in the chain.
 */
export interface CallRecord {
  channelId: Hex
  sequence: bigint
  amount: bigint
  requestHash: Hex
}

/** ABI of a call record: `callRecordHash = keccak256(abi.encode(channelId, sequence, amount, requestHash))`. */
export const callRecordAbi = [
  { name: 'channelId', type: 'bytes32' },
  { name: 'sequence', type: 'uint64' },
  { name: 'amount', type: 'uint256' },
  { name: 'requestHash', type: 'bytes32' },
] as const

/**
 * A keccak256 implementation: viem's (the default everywhere here) or a faster native one the
 * coordinator passes on its hot path; both take and return the same values.
 */
export type Keccak256 = (data: Hex | Uint8Array) => Hex

/** The call chain before any call: `callChain_0`. */
export const GENESIS_CALL_CHAIN: Hex = `0x${'0'.repeat(64)}`

/** keccak256 of the RFC 8785 canonical JSON of a call's `input`: what the caller asked, as it is hashed. */
export function requestHashOf(input: unknown, keccak: Keccak256 = keccak256): Hex {
  return keccak(stringToBytes(canonicalJson(input ?? null)))
}

/** A channel's id in the vault: the EIP-712 digest of its config under the vault's domain. */
export function channelIdOf(domain: ClearhouseDomain, config: ChannelConfig): Hex {
  return hashTypedData({
    domain,
    types: { ChannelConfig: clearhouseTypes.ChannelConfig },
    primaryType: 'ChannelConfig',
    message: config,
  })
}

/**
 * The hash of one call record: `keccak256(abi.encode(channelId, sequence, amount, requestHash))`
 * (see `callRecordAbi`). Every field is one static word, so the encoding is their concatenation.
 */
export function callRecordHash(record: CallRecord, keccak: Keccak256 = keccak256): Hex {
  return keccak(
    concat([
      record.channelId,
      numberToHex(record.sequence, { size: 32 }),
      numberToHex(record.amount, { size: 32 }),
      record.requestHash,
    ]),
  )
}

/** `callChain_n = keccak256(callChain_{n-1} ‖ callRecordHash_n)`: the chain a voucher commits to. */
export function nextCallChain(previous: Hex, recordHash: Hex, keccak: Keccak256 = keccak256): Hex {
  return keccak(concat([previous, recordHash]))
}

/** What a caller signs for each call: the channel may pay `cumulativeAmount` in total, for the calls `callChain` covers. */
export interface Voucher {
  channelId: Hex
  sequence: bigint
  cumulativeAmount: bigint
  callChain: Hex
}

/** The voucher's EIP-712 definition, as viem's `signTypedData` takes it. */
export function voucherTypedData(domain: ClearhouseDomain, voucher: Voucher) {
  return {
    domain,
    types: { Voucher: clearhouseTypes.Voucher },
    primaryType: 'Voucher' as const,
    message: voucher,
  }
}

const VOUCHER_TYPE_HASH = keccak256(
  stringToBytes('Voucher(bytes32 channelId,uint64 sequence,uint256 cumulativeAmount,bytes32 callChain)'),
)

/**
 * The EIP-712 digest of a voucher, computed from its four static words: the same bytes viem's
 * `hashTypedData(voucherTypedData(…))` hashes, without its per-call schema walk (it runs once per
 * paid call). `domainSeparator` is `voucherDomainSeparator(domain)`.
 */
export function voucherDigest(domainSeparator: Hex, voucher: Voucher, keccak: Keccak256 = keccak256): Hex {
  const structHash = keccak(
    concat([
      VOUCHER_TYPE_HASH,
      voucher.channelId,
      numberToHex(voucher.sequence, { size: 32 }),
      numberToHex(voucher.cumulativeAmount, { size: 32 }),
      voucher.callChain,
    ]),
  )
  return keccak(concat(['0x1901', domainSeparator, structHash]))
}

/** The domain separator vouchers of a vault are hashed under. */
export function voucherDomainSeparator(domain: ClearhouseDomain): Hex {
  return hashDomain({
    domain: { ...domain, chainId: BigInt(domain.chainId) },
    types: {
      EIP712Domain: [
        { name: 'name', type: 'string' },
        { name: 'version', type: 'string' },
        { name: 'chainId', type: 'uint256' },
        { name: 'verifyingContract', type: 'address' },
      ],
    },
  })
}

/**
 * The caller's next voucher after a channel's newest state: one more call of `amount` asking
 * `input`. A client keeps `state` from the channel (`last_sequence`, `cumulative_amount` in base
 * units, `call_chain`) and signs the result's `voucher` (e.g. viem
 * `account.signTypedData(voucherTypedData(domain, voucher))`).
 */
export function nextVoucher(
  state: { channelId: Hex; lastSequence: bigint; cumulativeAmount: bigint; callChain: Hex },
  call: { amount: bigint; input: unknown },
): { voucher: Voucher; record: CallRecord } {
  const record: CallRecord = {
    channelId: state.channelId,
    sequence: state.lastSequence + 1n,
    amount: call.amount,
    requestHash: requestHashOf(call.input),
  }
  return {
    record,
    voucher: {
      channelId: state.channelId,
      sequence: record.sequence,
      cumulativeAmount: state.cumulativeAmount + call.amount,
      callChain: nextCallChain(state.callChain, callRecordHash(record)),
    },
  }
}

// ---- Wire shapes ----

export const bytes32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/, 'must be 32 bytes of hex')
const signatureHex = z
  .string()
  .regex(/^0x[0-9a-fA-F]{130}$/, 'must be a 65-byte signature in hex')
  .openapi({ description: 'r ‖ s ‖ v (65 bytes)' })

export const CHANNEL_STATUSES = ['pending_signature', 'active', 'closing', 'closed', 'failed'] as const
export type ChannelStatus = (typeof CHANNEL_STATUSES)[number]

/** `POST /v1/channels`. */
export const openChannelBody = z
  .object({
    service_id: entityId,
    deposit_amount: decimalAmount,
    max_settlement_interval: z.number().int().min(1).max(1_000_000).optional(),
    budget_token: z.string().min(1).max(20).optional().openapi({ description: "The service's token" }),
  })
  .openapi('OpenChannelBody')
export type OpenChannelBody = z.infer<typeof openChannelBody>

/** `POST /v1/channels/{channel_id}/top-up`. */
export const topUpChannelBody = z.object({ amount: decimalAmount }).openapi('TopUpChannelBody')

/** `POST /v1/channels/{channel_id}/funding-signature`: the caller's signature of its pending `ChannelFunding`. */
export const channelSignatureBody = z.object({ signature: signatureHex }).openapi('ChannelSignatureBody')

/** `POST /v1/channels/{channel_id}/close`: a self-custody provider closing gives its `ChannelClose` signature. */
export const closeChannelBody = z
  .object({ provider_signature: signatureHex.optional() })
  .openapi('CloseChannelBody')

export const channelIdParams = z.object({ channel_id: entityId })

/** `GET /v1/channels`. */
export const listChannelsQuery = z
  .object({
    role: z.enum(['caller', 'provider']).default('caller'),
    status: z.enum(['active', 'closing', 'closed', 'pending_signature', 'failed']).optional(),
    limit: z.coerce.number().int().min(1).max(100).default(20),
    offset: z.coerce.number().int().min(0).max(100_000).default(0),
  })
  .openapi('ListChannelsQuery')
export type ListChannelsQuery = z.infer<typeof listChannelsQuery>

export const pageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  offset: z.coerce.number().int().min(0).max(10_000_000).default(0),
})

export const channelResponse = z
  .object({
    channel_id: z.string(),
    caller_agent_id: z.string(),
    service_id: z.string(),
    provider_agent_id: z.string(),
    deposit_amount: z.string(),
    settled_amount: z.string(),
    unsettled_amount: z.string(),
    available_balance: z.string(),
    budget_token: z.string(),
    price_per_call: z.string(),
    price_per_call_base_units: z
      .string()
      .openapi({ description: 'What each voucher adds to the cumulative amount, in base units' }),
    token_decimals: z
      .number()
      .int()
      .openapi({ description: "The token's decimals: amounts in base units over 10^decimals" }),
    settlement_interval: z.number().int(),
    total_call_count: z.number().int(),
    unsettled_call_count: z.number().int(),
    status: z.enum(CHANNEL_STATUSES),
    vault_channel_id: bytes32.openapi({ description: "The vault's id: the EIP-712 digest of `config`" }),
    config: z.object({
      caller: addressSchema,
      provider: addressSchema,
      token: addressSchema,
      fee_bps: z.number().int(),
      salt: bytes32,
    }),
    voucher_state: z
      .object({
        last_sequence: z.number().int(),
        cumulative_amount_base_units: z.string(),
        call_chain: bytes32,
      })
      .openapi({ description: "What the caller's next voucher builds on (see `nextVoucher`)" }),
    domain: z
      .record(z.string(), z.unknown())
      .openapi({ description: 'The EIP-712 domain vouchers sign under' }),
    funding_to_sign: typedDataJson
      .nullable()
      .openapi({ description: "A self-custody caller's pending ChannelFunding, to sign and post" }),
    close_to_sign: typedDataJson
      .nullable()
      .openapi({ description: "A self-custody provider's pending ChannelClose, to sign and post to close" }),
    closes_at: z
      .string()
      .nullable()
      .openapi({ description: "A caller's unilateral close: when it can finalize" }),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('Channel')
export type ChannelResponse = z.infer<typeof channelResponse>

export const channelCallResponse = z
  .object({
    call_id: z.string(),
    sequence_number: z.number().int(),
    call_amount: z.string(),
    cumulative_amount: z.string(),
    request_hash: bytes32,
    response_hash: bytes32,
    call_record_hash: bytes32,
    call_chain: bytes32,
    voucher_signature: signatureHex,
    settled: z.boolean(),
    upstream_status: z.number().int(),
    duration_ms: z.number().int(),
    created_at: z.string(),
  })
  .openapi('ChannelCall')
export type ChannelCallResponse = z.infer<typeof channelCallResponse>

export const channelSettlementResponse = z
  .object({
    settlement_id: z.string(),
    channel_id: z.string(),
    kind: z.enum(['settle', 'close']),
    call_count: z.number().int(),
    total_amount: z.string(),
    worker_amount: z.string(),
    fee_amount: z.string(),
    from_sequence: z.number().int(),
    to_sequence: z.number().int(),
    cumulative_amount: z.string(),
    status: z.enum(['pending', 'awaiting_signature', 'settled', 'failed']),
    tx_hash: z.string().nullable(),
    failure_reason: z.string().nullable(),
    created_at: z.string(),
    settled_at: z.string().nullable(),
  })
  .openapi('ChannelSettlement')
export type ChannelSettlementResponse = z.infer<typeof channelSettlementResponse>

export const settleChannelResponse = z
  .object({ settlement: channelSettlementResponse.nullable(), message: z.string() })
  .openapi('SettleChannelResponse')

/** A call's voucher on the wire: the caller's signature of `{channelId, sequence, cumulativeAmount, callChain}`. */
export const voucherBody = z
  .object({
    sequence: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
    cumulative_amount: decimalAmount,
    call_chain: bytes32,
    signature: signatureHex,
  })
  .openapi('Voucher')
export type VoucherBody = z.infer<typeof voucherBody>

/** `POST /v1/services/{service_id}/invoke` and `POST /v1/execute`. */
export const invokeBody = z
  .object({
    input: z
      .unknown()
      .optional()
      .openapi({ description: "The provider's input (checked against its input_schema)" }),
    voucher: voucherBody.optional().openapi({
      description: 'With an active channel and a self-custody wallet: the voucher paying this call',
    }),
  })
  .openapi('InvokeBody')
export type InvokeBody = z.infer<typeof invokeBody>

/**
 * `POST /v1/execute`. Seed 001 clients send `task_description` (taken as `input` when `input` is
 * absent) and `budget` (the most the call may cost, in the service's token: a higher price is a
 * 409 `price_over_budget` before any money moves).
 */
export const executeBody = invokeBody
  .extend({
    agent_id: entityId,
    service_id: entityId
      .optional()
      .openapi({ description: "Which of the agent's services; its only one if left out" }),
    task_description: z
      .string()
      .min(1)
      .max(100_000)
      .optional()
      .openapi({ description: "Seed 001's name for the input: sent as `input` when `input` is absent" }),
    budget: decimalAmount.optional().openapi({
      description:
        "The most this call may cost, in the service's token (seed 001): a service priced higher is refused with 409 price_over_budget before any money moves",
    }),
  })
  .superRefine((body, ctx) => {
    if (body.task_description !== undefined && body.input !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['task_description'], message: 'is only allowed without input' })
    }
  })
  .openapi('ExecuteBody')
export type ExecuteBody = z.infer<typeof executeBody>

export const invokeResponse = z
  .object({
    output: z.unknown(),
    result: z
      .unknown()
      .openapi({ description: "Alias of output (seed 001's name, as its /api/execute returns it)" }),
    job_id: z.string().nullable(),
    cost: z.string(),
    channel_id: z.string().nullable(),
    call: channelCallResponse.nullable(),
  })
  .openapi('InvokeResponse')
export type InvokeResponse = z.infer<typeof invokeResponse>
