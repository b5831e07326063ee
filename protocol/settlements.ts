import { StandardMerkleTree } from '@openzeppelin/merkle-tree'
import { decodeAbiParameters, keccak256, type Hex } from 'viem'
import type { Address } from './address'
import { bigintsToDecimalStrings } from './amounts'
import { callRecordHash, channelIdOf, nextCallChain, type ChannelConfig } from './channels'
import { escrowIdOf, type EscrowLockTerms } from './escrow-sets'
import { clearhouseTypes, opDataAbi, OpKind, opsLeafEncoding, type ClearhouseDomain } from './typed-data'
import { z } from './zod'

// The public record of every settlement batch (issue 15): what an auditor needs to recompute each
// batch's ops root, check the coordinator's and every user's signature, and recompute each settled
// channel's call chain, with nothing private in it (no request or response bodies, no references).

/** Op kinds by their `Op.kind` code, as the API names them. */
export const SETTLEMENT_OP_KIND_NAMES = {
  [OpKind.EscrowLock]: 'escrow_lock',
  [OpKind.EscrowRelease]: 'escrow_release',
  [OpKind.EscrowRefund]: 'escrow_refund',
  [OpKind.EscrowRuling]: 'escrow_ruling',
  [OpKind.EscrowReclaim]: 'escrow_reclaim',
  [OpKind.ChannelFund]: 'channel_fund',
  [OpKind.ChannelSettle]: 'channel_settle',
  [OpKind.ChannelClose]: 'channel_close',
  [OpKind.ChannelFinalize]: 'channel_finalize',
  [OpKind.Withdrawal]: 'withdrawal',
  [OpKind.EscrowPartialRelease]: 'escrow_partial_release',
} as const satisfies Record<OpKind, string>
export type SettlementOpKindName = (typeof SETTLEMENT_OP_KIND_NAMES)[OpKind]
const OP_KIND_NAMES = Object.values(SETTLEMENT_OP_KIND_NAMES) as [
  SettlementOpKindName,
  ...SettlementOpKindName[],
]

/** The ops root `BatchSettled` carries: the Merkle root of `[index, kind, keccak256(data)]` leaves in batch order. */
export function computeOpsRoot(ops: ReadonlyArray<{ kind: number; data: Hex }>): Hex {
  const leaves = ops.map((op, index) => [BigInt(index), op.kind, keccak256(op.data)])
  return StandardMerkleTree.of(leaves, [...opsLeafEncoding], { sortLeaves: false }).root as Hex
}

/** The coordinator's signed message for a batch: `Batch(batchNumber, opsRoot)` under the vault's domain. */
export function batchTypedData(domain: ClearhouseDomain, batchNumber: bigint, opsRoot: Hex) {
  return {
    domain,
    types: { Batch: clearhouseTypes.Batch },
    primaryType: 'Batch' as const,
    message: { batchNumber, opsRoot },
  }
}

/** `{ r, vs }` (EIP-2098, as ops carry signatures) back to the 65-byte `r ‖ s ‖ v` form. */
export function fromCompactSignature(compact: { r: Hex; vs: Hex }): Hex {
  const vs = BigInt(compact.vs)
  const s = vs & ((1n << 255n) - 1n)
  const v = 27n + (vs >> 255n)
  return `0x${compact.r.slice(2)}${s.toString(16).padStart(64, '0')}${v.toString(16)}` as Hex
}

/** An EIP-712 message an op's signer signed (viem's `TypedDataDefinition`, loosely typed). */
export interface OpTypedData {
  domain: ClearhouseDomain
  types: Record<string, readonly { name: string; type: string }[]>
  primaryType: string
  message: Record<string, unknown>
}

/** One user signature an op carries: who had to sign what (`typedData`), and the signature. */
export interface OpSignedMessage {
  /** The signer's part: `payer`, `payee`, `resolver`, `caller`, `provider` or `owner`. */
  role: 'payer' | 'payee' | 'resolver' | 'caller' | 'provider' | 'owner'
  signer: Address
  typedData: OpTypedData
  signature: Hex
}

/** A decoded settlement op: its fields as the ABI names them, and the signatures inside it. */
export interface DecodedSettlementOp {
  kind: SettlementOpKindName
  /** Every argument of the op, by its ABI name, integers as decimal strings. */
  fields: Record<string, unknown>
  signedMessages: OpSignedMessage[]
  /** The vault's channel id, for the channel ops. */
  channelId: Hex | null
  /** The vault's escrow id, for the escrow ops. */
  escrowId: Hex | null
}

type CompactSignature = { r: Hex; vs: Hex }
type SignedVoucher = {
  config: ChannelConfig
  sequence: bigint
  cumulativeAmount: bigint
  callChain: Hex
  signature: CompactSignature
}

function voucherMessage(domain: ClearhouseDomain, voucher: SignedVoucher): OpSignedMessage {
  const channelId = channelIdOf(domain, voucher.config)
  return {
    role: 'caller',
    signer: voucher.config.caller,
    typedData: {
      domain,
      types: { Voucher: clearhouseTypes.Voucher },
      primaryType: 'Voucher',
      message: {
        channelId,
        sequence: voucher.sequence,
        cumulativeAmount: voucher.cumulativeAmount,
        callChain: voucher.callChain,
      },
    },
    signature: fromCompactSignature(voucher.signature),
  }
}

function escrowMessage(
  domain: ClearhouseDomain,
  terms: EscrowLockTerms,
  primaryType: 'EscrowRelease' | 'EscrowRefund' | 'EscrowRuling' | 'EscrowPartialRelease',
  signature: CompactSignature,
  payeeBps?: number,
  amount?: bigint,
): OpSignedMessage {
  const escrowId = escrowIdOf(domain, terms)
  const role =
    primaryType === 'EscrowRelease' || primaryType === 'EscrowPartialRelease'
      ? 'payer'
      : primaryType === 'EscrowRefund'
        ? 'payee'
        : 'resolver'
  return {
    role,
    signer: terms[role],
    typedData: {
      domain,
      types: { [primaryType]: clearhouseTypes[primaryType] },
      primaryType,
      message:
        primaryType === 'EscrowRuling'
          ? { escrowId, payeeBps }
          : primaryType === 'EscrowPartialRelease'
            ? { escrowId, amount }
            : { escrowId },
    },
    signature: fromCompactSignature(signature),
  }
}

/**
 * Decodes an op of a batch settled by the vault of `domain`: its fields, the vault's escrow or
 * channel id it acts on, and every user signature it carries with the message it must sign.
 * Throws on data that does not decode as its kind.
 */
export function decodeSettlementOp(domain: ClearhouseDomain, kind: number, data: Hex): DecodedSettlementOp {
  const name = SETTLEMENT_OP_KIND_NAMES[kind as OpKind]
  if (!name) throw new Error(`unknown op kind ${kind}`)
  const abi = opDataAbi[kind as OpKind]
  const values = decodeAbiParameters(abi, data) as readonly unknown[]
  const fields = Object.fromEntries(
    abi.map((parameter, index) => [parameter.name, bigintsToDecimalStrings(values[index])]),
  )
  const decoded: DecodedSettlementOp = {
    kind: name,
    fields,
    signedMessages: [],
    channelId: null,
    escrowId: null,
  }
  switch (kind) {
    case OpKind.EscrowLock: {
      const [terms, signature] = values as [EscrowLockTerms, CompactSignature]
      decoded.escrowId = escrowIdOf(domain, terms)
      decoded.signedMessages.push({
        role: 'payer',
        signer: terms.payer,
        typedData: {
          domain,
          types: { EscrowLock: clearhouseTypes.EscrowLock },
          primaryType: 'EscrowLock',
          message: { ...terms },
        },
        signature: fromCompactSignature(signature),
      })
      break
    }
    case OpKind.EscrowRelease:
    case OpKind.EscrowRefund: {
      const [terms, , signature] = values as [EscrowLockTerms, unknown, CompactSignature]
      decoded.escrowId = escrowIdOf(domain, terms)
      const type = kind === OpKind.EscrowRelease ? 'EscrowRelease' : 'EscrowRefund'
      decoded.signedMessages.push(escrowMessage(domain, terms, type, signature))
      break
    }
    case OpKind.EscrowRuling: {
      const [terms, , payeeBps, signature] = values as [EscrowLockTerms, unknown, number, CompactSignature]
      decoded.escrowId = escrowIdOf(domain, terms)
      decoded.signedMessages.push(escrowMessage(domain, terms, 'EscrowRuling', signature, payeeBps))
      break
    }
    case OpKind.EscrowPartialRelease: {
      const [terms, , amount, signature] = values as [EscrowLockTerms, unknown, bigint, CompactSignature]
      decoded.escrowId = escrowIdOf(domain, terms)
      decoded.signedMessages.push(
        escrowMessage(domain, terms, 'EscrowPartialRelease', signature, undefined, amount),
      )
      break
    }
    case OpKind.EscrowReclaim: {
      decoded.escrowId = escrowIdOf(domain, values[0] as EscrowLockTerms)
      break
    }
    case OpKind.ChannelFund: {
      const [config, totalDeposit, nonce, signature] = values as [
        ChannelConfig,
        bigint,
        bigint,
        CompactSignature,
      ]
      decoded.channelId = channelIdOf(domain, config)
      decoded.signedMessages.push({
        role: 'caller',
        signer: config.caller,
        typedData: {
          domain,
          types: { ChannelFunding: clearhouseTypes.ChannelFunding },
          primaryType: 'ChannelFunding',
          message: { channelId: decoded.channelId, totalDeposit, nonce },
        },
        signature: fromCompactSignature(signature),
      })
      break
    }
    case OpKind.ChannelSettle: {
      const [voucher] = values as [SignedVoucher]
      decoded.channelId = channelIdOf(domain, voucher.config)
      decoded.signedMessages.push(voucherMessage(domain, voucher))
      break
    }
    case OpKind.ChannelClose: {
      const [voucher, providerSignature] = values as [SignedVoucher, CompactSignature]
      decoded.channelId = channelIdOf(domain, voucher.config)
      decoded.signedMessages.push(voucherMessage(domain, voucher), {
        role: 'provider',
        signer: voucher.config.provider,
        typedData: {
          domain,
          types: { ChannelClose: clearhouseTypes.ChannelClose },
          primaryType: 'ChannelClose',
          message: { channelId: decoded.channelId, cumulativeAmount: voucher.cumulativeAmount },
        },
        signature: fromCompactSignature(providerSignature),
      })
      break
    }
    case OpKind.ChannelFinalize: {
      decoded.channelId = channelIdOf(domain, values[0] as ChannelConfig)
      break
    }
    case OpKind.Withdrawal: {
      const [withdrawal, signature] = values as [
        { account: Address; token: Address; amount: bigint; to: Address; nonce: bigint; deadline: bigint },
        CompactSignature,
      ]
      decoded.signedMessages.push({
        role: 'owner',
        signer: withdrawal.account,
        typedData: {
          domain,
          types: { Withdrawal: clearhouseTypes.Withdrawal },
          primaryType: 'Withdrawal',
          message: { ...withdrawal },
        },
        signature: fromCompactSignature(signature),
      })
      break
    }
  }
  return decoded
}

/** A settled call as its public record shows it: the fields of its call record, and its hashes. */
export interface PublicCallRecord {
  sequence: number
  amount: string
  request_hash: Hex
  response_hash: Hex
  call_record_hash: Hex
}

/**
 * The call chain the records extend `previousCallChain` to, checking each record's hash: null
 * when a record's `call_record_hash` is not the hash of its fields (or the sequence skips).
 */
export function recomputeCallChain(
  channelId: Hex,
  previousCallChain: Hex,
  fromSequence: number,
  calls: readonly { sequence: number; amount: string; request_hash: string; call_record_hash: string }[],
): Hex | null {
  let chain = previousCallChain
  let expected = fromSequence
  for (const call of calls) {
    if (call.sequence !== expected) return null
    const recordHash = callRecordHash({
      channelId,
      sequence: BigInt(call.sequence),
      amount: BigInt(call.amount),
      requestHash: call.request_hash as Hex,
    })
    if (recordHash !== call.call_record_hash.toLowerCase()) return null
    chain = nextCallChain(chain, recordHash)
    expected += 1
  }
  return chain
}

const hex32 = z.string().regex(/^0x[0-9a-f]{64}$/)

export const publicCallRecord = z
  .object({
    sequence: z.number().int(),
    amount: z.string().openapi({ description: 'Base units' }),
    request_hash: hex32,
    response_hash: hex32,
    call_record_hash: hex32,
  })
  .openapi('PublicCallRecord')

export const settlementOpRecord = z
  .object({
    index: z.number().int().openapi({ description: "The op's index in its batch (its ops-root leaf)" }),
    kind: z.enum(OP_KIND_NAMES),
    kind_code: z.number().int().openapi({ description: '`Op.kind` as the vault takes it' }),
    data: z.string().openapi({
      description: '`Op.data`: the ABI encoding of the fields (opDataAbi in protocol/typed-data.ts)',
    }),
    status: z.enum(['applied', 'skipped', 'pending']).openapi({
      description: '`skipped`: the vault emitted `OpSkipped` for it; `pending`: its batch has not landed',
    }),
    skip_reason: z.string().nullable(),
    fields: z
      .record(z.string(), z.unknown())
      .openapi({ description: 'The decoded fields, integers as decimal strings' }),
    signatures: z.array(
      z.object({
        role: z.enum(['payer', 'payee', 'resolver', 'caller', 'provider', 'owner']),
        signer: z.string(),
        signature: z.string(),
      }),
    ),
    escrow_id: z.string().nullable(),
    channel_id: z.string().nullable(),
    call_records: z
      .object({
        previous_call_chain: hex32.openapi({
          description:
            "The call chain of the channel's voucher before these calls (zero before its first call)",
        }),
        calls: z.array(publicCallRecord),
      })
      .nullable()
      .openapi({
        description: 'For a channel settlement or close: the calls its voucher pays for, in sequence order',
      }),
  })
  .openapi('SettlementOp')
export type SettlementOpRecord = z.infer<typeof settlementOpRecord>

export const settlementRecord = z
  .object({
    chain_id: z.number().int(),
    vault_address: z.string(),
    batch_number: z.number().int(),
    ops_root: z.string(),
    op_count: z.number().int(),
    coordinator_signature: z.string(),
    status: z.enum(['prepared', 'sent', 'confirmed']),
    tx_hash: z.string().nullable(),
    block_number: z.number().int().nullable(),
    totals: z.array(z.record(z.string(), z.string())).nullable().openapi({
      description:
        "Per token, what the batch moved, as the vault's `BatchSettled` log says (null before it is indexed)",
    }),
    created_at: z.string(),
    confirmed_at: z.string().nullable(),
    ops: z.array(settlementOpRecord),
  })
  .openapi('Settlement')
export type SettlementRecord = z.infer<typeof settlementRecord>

/** `GET /v1/settlements`: batches in ascending order after `after`. */
export const listSettlementsQuery = z
  .object({
    after: z.coerce.number().int().min(0).default(0).openapi({ description: 'Batches numbered above this' }),
    limit: z.coerce.number().int().min(1).max(50).default(10),
  })
  .openapi('ListSettlementsQuery')
export type ListSettlementsQuery = z.infer<typeof listSettlementsQuery>

export const settlementPage = z
  .object({
    settlements: z.array(settlementRecord),
    next_after: z
      .number()
      .int()
      .nullable()
      .openapi({ description: 'Pass as `after` for the next page; null at the end' }),
  })
  .openapi('SettlementPage')
export type SettlementPage = z.infer<typeof settlementPage>

export const batchNumberParams = z.object({ batch_number: z.coerce.number().int().min(1) })
