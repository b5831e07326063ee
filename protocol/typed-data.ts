import type { Address, Hex } from './address'
/**
 * Every EIP-712 struct the Clearhouse vault verifies, and the ABI shapes of settlement batch ops.
 *
 * This file is the one place a signed message is defined: the contracts' type hashes, the tests,
 * the server's settler and the SDK all follow it. It imports nothing from the rest of the repo.
 *
 * Types are in the shape viem and ethers v6 both take:
 *   viem:   walletClient.signTypedData({ domain, types: { Voucher: clearhouseTypes.Voucher }, primaryType: 'Voucher', message })
 *   ethers: signer.signTypedData(domain, { Voucher: clearhouseTypes.Voucher }, message)
 * `WithdrawalApproval` nests `Withdrawal`, so pass both (see `withdrawalApprovalTypes`).
 */

/** EIP-712 domain name of the vault (`ClearhouseVault`'s `EIP712` constructor argument). */
export const CLEARHOUSE_DOMAIN_NAME = 'Clearhouse'
/** EIP-712 domain version of the vault. */
export const CLEARHOUSE_DOMAIN_VERSION = '1'

/** The EIP-712 domain of a vault deployment: binds every signature to one chain and one contract. */
export interface ClearhouseDomain {
  name: typeof CLEARHOUSE_DOMAIN_NAME
  version: typeof CLEARHOUSE_DOMAIN_VERSION
  chainId: number
  verifyingContract: Address
}

/** The domain to sign against for the vault at `verifyingContract` on chain `chainId`. */
export function clearhouseDomain(chainId: number, verifyingContract: Address): ClearhouseDomain {
  return { name: CLEARHOUSE_DOMAIN_NAME, version: CLEARHOUSE_DOMAIN_VERSION, chainId, verifyingContract }
}

/**
 * Every signed struct, keyed by primary type. Who signs what:
 * - `Withdrawal`: the account owner (fast withdrawal; `nonce` is an unordered nonce, `deadline` a unix time).
 * - `WithdrawalApproval`: the coordinator, co-signing a `Withdrawal` outside a batch.
 * - `EscrowLock`: the payer (funds leave the payer's vault balance into a new escrow whose id is the
 *   EIP-712 digest of this message; `nonce` is one of the payer's unordered nonces, consumed by the lock;
 *   `partialRelease` lets the payer settle the escrow for any amount up to it, a session's budget, and
 *   is false for every other escrow).
 * - `EscrowRelease`: the payer (escrow pays the payee, less the fee).
 * - `EscrowPartialRelease`: the payer (`amount` of the escrow pays the payee, less the fee on it; the
 *   rest returns to the payer; settles a session, relayed only inside a batch, and refused by the
 *   vault unless the escrow's `EscrowLock` set `partialRelease`).
 * - `EscrowRefund`: the payee (escrow returns to the payer).
 * - `EscrowRuling`: the escrow's resolver (`payeeBps` of what is left after the resolver fee goes to the payee).
 * - `EscrowDispute`: the payee (keeps the payer from reclaiming until the ruling period ends).
 * - `ChannelConfig`: nobody signs it; a channel's id is the EIP-712 digest of its config.
 * - `ChannelFunding`: the channel's caller (deposit raised to `totalDeposit` from its vault balance;
 *   `nonce` is one of the caller's unordered nonces, consumed by the funding).
 * - `Voucher`: the channel's caller (provider may settle `cumulativeAmount` in total; vouchers are
 *   ordered by that amount, `sequence` is for the record).
 * - `ChannelClose`: the channel's provider (cooperative close at that final amount).
 * - `Batch`: the coordinator (orders and authorizes a settlement batch).
 */
export const clearhouseTypes = {
  Withdrawal: [
    { name: 'account', type: 'address' },
    { name: 'token', type: 'address' },
    { name: 'amount', type: 'uint256' },
    { name: 'to', type: 'address' },
    { name: 'nonce', type: 'uint256' },
    { name: 'deadline', type: 'uint256' },
  ],
  WithdrawalApproval: [{ name: 'withdrawal', type: 'Withdrawal' }],
  EscrowLock: [
    { name: 'payer', type: 'address' },
    { name: 'payee', type: 'address' },
    { name: 'token', type: 'address' },
    { name: 'amount', type: 'uint256' },
    { name: 'resolver', type: 'address' },
    { name: 'feeBps', type: 'uint16' },
    { name: 'resolverFeeBps', type: 'uint16' },
    { name: 'expiry', type: 'uint64' },
    { name: 'nonce', type: 'uint256' },
    { name: 'partialRelease', type: 'bool' },
  ],
  EscrowRelease: [{ name: 'escrowId', type: 'bytes32' }],
  EscrowPartialRelease: [
    { name: 'escrowId', type: 'bytes32' },
    { name: 'amount', type: 'uint256' },
  ],
  EscrowRefund: [{ name: 'escrowId', type: 'bytes32' }],
  EscrowRuling: [
    { name: 'escrowId', type: 'bytes32' },
    { name: 'payeeBps', type: 'uint16' },
  ],
  EscrowDispute: [{ name: 'escrowId', type: 'bytes32' }],
  ChannelConfig: [
    { name: 'caller', type: 'address' },
    { name: 'provider', type: 'address' },
    { name: 'token', type: 'address' },
    { name: 'feeBps', type: 'uint16' },
    { name: 'salt', type: 'bytes32' },
  ],
  ChannelFunding: [
    { name: 'channelId', type: 'bytes32' },
    { name: 'totalDeposit', type: 'uint256' },
    { name: 'nonce', type: 'uint256' },
  ],
  Voucher: [
    { name: 'channelId', type: 'bytes32' },
    { name: 'sequence', type: 'uint64' },
    { name: 'cumulativeAmount', type: 'uint256' },
    { name: 'callChain', type: 'bytes32' },
  ],
  ChannelClose: [
    { name: 'channelId', type: 'bytes32' },
    { name: 'cumulativeAmount', type: 'uint256' },
  ],
  Batch: [
    { name: 'batchNumber', type: 'uint64' },
    { name: 'opsRoot', type: 'bytes32' },
  ],
} as const

/** The type set for signing a `WithdrawalApproval` (it nests `Withdrawal`). */
export const withdrawalApprovalTypes = {
  WithdrawalApproval: clearhouseTypes.WithdrawalApproval,
  Withdrawal: clearhouseTypes.Withdrawal,
} as const

/**
 * EIP-2612 `Permit`, the token's own typed data (under the token's EIP-712 domain, not the
 * vault's): what the vault's `depositWithPermit` and `fundChannelWithPermit` spend.
 */
export const eip2612PermitTypes = {
  Permit: [
    { name: 'owner', type: 'address' },
    { name: 'spender', type: 'address' },
    { name: 'value', type: 'uint256' },
    { name: 'nonce', type: 'uint256' },
    { name: 'deadline', type: 'uint256' },
  ],
} as const

/** Primary type names of the signed structs. */
export type ClearhouseTypeName = keyof typeof clearhouseTypes

/** Upper bound of every fee in basis points, enforced by the contract. */
export const MAX_FEE_BPS = 1_000
/** Upper bound of an escrow's resolver fee in basis points, enforced by the contract. */
export const MAX_RESOLVER_FEE_BPS = 1_000
/** Basis-point denominator. */
export const BPS = 10_000

/**
 * Settlement op kinds: `Op.kind` in `settleBatch(batchNumber, ops, coordinatorSignature)`.
 * `Op.data` is the ABI encoding (`encodeAbiParameters(opDataAbi[kind], values)`) of that kind's values.
 */
export const OpKind = {
  EscrowLock: 0,
  EscrowRelease: 1,
  EscrowRefund: 2,
  EscrowRuling: 3,
  EscrowReclaim: 4,
  ChannelFund: 5,
  ChannelSettle: 6,
  ChannelClose: 7,
  ChannelFinalize: 8,
  Withdrawal: 9,
  // Appended after the others so no kind is renumbered.
  EscrowPartialRelease: 10,
} as const
export type OpKind = (typeof OpKind)[keyof typeof OpKind]

/**
 * ABI of a signature argument: EIP-2098 compact `{ r, vs }` (`vs` = y-parity bit on top of `s`).
 * viem: `signatureToCompactSignature(parseSignature(sig))` gives `{ r, yParityAndS }`;
 * ethers: `Signature.from(sig)` gives `.r` and `.yParityAndS`. All-zero means "no signature",
 * accepted only when the signer itself sends the transaction (never inside a batch).
 */
export const signatureAbi = {
  type: 'tuple',
  components: [
    { name: 'r', type: 'bytes32' },
    { name: 'vs', type: 'bytes32' },
  ],
} as const

/** Splits a 65-byte `r || s || v` signature into the compact `{ r, vs }` the vault takes. */
export function toCompactSignature(signature: Hex): { r: Hex; vs: Hex } {
  const hex = signature.slice(2)
  if (hex.length !== 130) throw new Error(`expected a 65-byte signature, got ${hex.length / 2} bytes`)
  const r = `0x${hex.slice(0, 64)}` as const
  const s = BigInt(`0x${hex.slice(64, 128)}`)
  const v = parseInt(hex.slice(128, 130), 16)
  const yParity = v === 0 || v === 27 ? 0n : 1n
  const vs = `0x${((yParity << 255n) | s).toString(16).padStart(64, '0')}` as const
  return { r, vs }
}

/** The all-zero signature: "the signer sends this transaction itself". */
export const NO_SIGNATURE = {
  r: '0x0000000000000000000000000000000000000000000000000000000000000000',
  vs: '0x0000000000000000000000000000000000000000000000000000000000000000',
} as const

const escrowTermsAbi = {
  name: 'terms',
  type: 'tuple',
  components: clearhouseTypes.EscrowLock,
} as const

const escrowPositionAbi = {
  name: 'position',
  type: 'tuple',
  components: [
    { name: 'setId', type: 'uint256' },
    { name: 'index', type: 'uint256' },
  ],
} as const

const proofAbi = { name: 'proof', type: 'bytes32[]' } as const

const channelConfigAbi = {
  name: 'config',
  type: 'tuple',
  components: [
    { name: 'caller', type: 'address' },
    { name: 'provider', type: 'address' },
    { name: 'token', type: 'address' },
    { name: 'feeBps', type: 'uint16' },
    { name: 'salt', type: 'bytes32' },
  ],
} as const

const signedVoucherComponents = [
  channelConfigAbi,
  { name: 'sequence', type: 'uint64' },
  { name: 'cumulativeAmount', type: 'uint256' },
  { name: 'callChain', type: 'bytes32' },
  { ...signatureAbi, name: 'signature' },
] as const

const withdrawalAbi = {
  name: 'withdrawal',
  type: 'tuple',
  components: [
    { name: 'account', type: 'address' },
    { name: 'token', type: 'address' },
    { name: 'amount', type: 'uint256' },
    { name: 'to', type: 'address' },
    { name: 'nonce', type: 'uint256' },
    { name: 'deadline', type: 'uint256' },
  ],
} as const

/**
 * ABI parameters of `Op.data` per op kind (viem `AbiParameter[]`; ethers takes the same through
 * `ParamType.from`): the same arguments as the vault's direct function for that op (`withdraw`
 * without its coordinator signature, which the batch signature replaces). All are static but the
 * escrow proof that ends the ops naming a locked escrow, so `Op.data` is their 32-byte words
 * (then the proof's offset, length and elements). A channel voucher's `channelId` is not in the
 * op: the vault derives it from `config`. Inside a batch every user signature is required.
 */
export const opDataAbi = {
  [OpKind.EscrowLock]: [escrowTermsAbi, { ...signatureAbi, name: 'payerSignature' }],
  [OpKind.EscrowRelease]: [
    escrowTermsAbi,
    escrowPositionAbi,
    { ...signatureAbi, name: 'payerSignature' },
    proofAbi,
  ],
  [OpKind.EscrowRefund]: [
    escrowTermsAbi,
    escrowPositionAbi,
    { ...signatureAbi, name: 'payeeSignature' },
    proofAbi,
  ],
  [OpKind.EscrowRuling]: [
    escrowTermsAbi,
    escrowPositionAbi,
    { name: 'payeeBps', type: 'uint16' },
    { ...signatureAbi, name: 'resolverSignature' },
    proofAbi,
  ],
  [OpKind.EscrowReclaim]: [escrowTermsAbi, escrowPositionAbi, proofAbi],
  [OpKind.ChannelFund]: [
    channelConfigAbi,
    { name: 'totalDeposit', type: 'uint256' },
    { name: 'nonce', type: 'uint256' },
    { ...signatureAbi, name: 'callerSignature' },
  ],
  [OpKind.ChannelSettle]: [{ name: 'voucher', type: 'tuple', components: signedVoucherComponents }],
  [OpKind.ChannelClose]: [
    { name: 'finalVoucher', type: 'tuple', components: signedVoucherComponents },
    { ...signatureAbi, name: 'providerSignature' },
  ],
  [OpKind.ChannelFinalize]: [channelConfigAbi],
  [OpKind.Withdrawal]: [withdrawalAbi, { ...signatureAbi, name: 'ownerSignature' }],
  [OpKind.EscrowPartialRelease]: [
    escrowTermsAbi,
    escrowPositionAbi,
    { name: 'amount', type: 'uint256' },
    { ...signatureAbi, name: 'payerSignature' },
    proofAbi,
  ],
} as const

/**
 * Leaf encoding of the ops Merkle tree that `BatchSettled.opsRoot` commits to:
 *   StandardMerkleTree.of(ops.map((op, i) => [i, op.kind, keccak256(op.data)]), opsLeafEncoding, { sortLeaves: false }).root
 * Leaves keep batch order (`sortLeaves: false`) and carry their index, so the root commits to the order too.
 */
export const opsLeafEncoding = ['uint256', 'uint8', 'bytes32'] as const

/**
 * Leaf encoding of an escrow set's Merkle tree (`escrowSetRoot(setId)`): leaf `i` = `[i, escrowId]`
 * in lock order, `StandardMerkleTree.of(leaves, escrowLeafEncoding, { sortLeaves: false })`. The
 * leaves of a set are the `EscrowLocked` logs with its `setId`, by `index`.
 */
export const escrowLeafEncoding = ['uint256', 'bytes32'] as const

/** Escrow set ids from here on belong to direct `lockEscrow` calls; below it they are batch numbers. */
export const DIRECT_ESCROW_SET_BASE = 1n << 64n
