import {
  encodeAbiParameters,
  keccak256,
  recoverTypedDataAddress,
  stringToHex,
  zeroAddress,
  type TypedDataDefinition,
} from 'viem'
import type { ChainOpKind, ChainOpResponse } from '../../protocol/assignments'
import {
  clearhouseDomain,
  clearhouseTypes,
  MAX_RESOLVER_FEE_BPS,
  OpKind,
  opDataAbi,
  toCompactSignature,
} from '../../protocol/typed-data'
import type { AppContext } from '../app-context'
import { enqueueChainOp } from '../chain/settler/chain-ops-queries'
import type { Queryable } from '../db/pool'
import { fieldError } from '../jobs/job-tokens'
import { signTypedDataForAgent } from '../wallet/managed-wallets'
import {
  insertEscrowOp,
  markEscrowOpQueued,
  selectEscrowOps,
  type EscrowOpRow,
  type EscrowSubject,
  type StoredTypedData,
} from './assignments-queries'

/** Chain id the typed data is bound to when the coordinator runs without a chain (tests, tools): Hardhat's. */
export const FALLBACK_CHAIN_ID = 31337

/**
 * How long after the worker's ETA the payer can reclaim an escrow on-chain alone: long enough for
 * the overdue grace (24 h), the review window (24 h) and a dispute, so the coordinator's
 * off-chain decisions always settle first; short enough that a vanished coordinator does not trap
 * the payer's funds for long (DESIGN trust property 4).
 */
export const ESCROW_EXPIRY_MARGIN_SECONDS = 30 * 24 * 60 * 60

/** Resolver fee written into an escrow that names a resolver (seed 004's example: 2 %). */
export const ESCROW_RESOLVER_FEE_BPS = 200
if (ESCROW_RESOLVER_FEE_BPS > MAX_RESOLVER_FEE_BPS) throw new Error('resolver fee above the vault cap')

/** The vault escrow id of an assignment (or a prize's entry): keccak256 of its id's UTF-8 bytes. */
export function escrowIdOf(id: string): `0x${string}` {
  return keccak256(stringToHex(id))
}

/** The EIP-712 domain escrow signatures bind to: the deployment's vault, or chain 31337 and the zero address without a chain. */
export function escrowDomain(context: Pick<AppContext, 'chain'>): ReturnType<typeof clearhouseDomain> {
  const deployment = context.chain?.deployment
  const vault = deployment?.contracts.ClearhouseVault ?? zeroAddress
  return clearhouseDomain(deployment?.chainId ?? FALLBACK_CHAIN_ID, vault.toLowerCase() as `0x${string}`)
}

/** The terms of the vault's `EscrowLock` for an award, as the payer signs them. */
export interface EscrowTerms {
  escrowId: `0x${string}`
  payer: `0x${string}`
  payee: `0x${string}`
  token: `0x${string}`
  amount: bigint
  resolver: `0x${string}`
  feeBps: number
  resolverFeeBps: number
  expiry: bigint
}

/** The payer's `EscrowLock` typed data, in the stored JSON shape. */
export function escrowLockTypedData(context: Pick<AppContext, 'chain'>, terms: EscrowTerms): StoredTypedData {
  return {
    domain: escrowDomain(context),
    types: { EscrowLock: [...clearhouseTypes.EscrowLock] },
    primaryType: 'EscrowLock',
    message: {
      escrowId: terms.escrowId,
      payer: terms.payer,
      payee: terms.payee,
      token: terms.token,
      amount: terms.amount.toString(),
      resolver: terms.resolver,
      feeBps: String(terms.feeBps),
      resolverFeeBps: String(terms.resolverFeeBps),
      expiry: terms.expiry.toString(),
    },
  }
}

/** The payer's `EscrowRelease` typed data, in the stored JSON shape. */
export function escrowReleaseTypedData(
  context: Pick<AppContext, 'chain'>,
  escrowId: `0x${string}`,
): StoredTypedData {
  return {
    domain: escrowDomain(context),
    types: { EscrowRelease: [...clearhouseTypes.EscrowRelease] },
    primaryType: 'EscrowRelease',
    message: { escrowId },
  }
}

/** Stored typed data back in viem's shape: integer fields as bigint. */
export function toViemTypedData(stored: StoredTypedData): TypedDataDefinition {
  const fields = stored.types[stored.primaryType] ?? []
  const message: Record<string, unknown> = {}
  for (const field of fields) {
    const value = stored.message[field.name]!
    message[field.name] = /^u?int\d*$/.test(field.type) ? BigInt(value) : value
  }
  return {
    domain: { ...stored.domain },
    types: stored.types,
    primaryType: stored.primaryType,
    message,
  } as unknown as TypedDataDefinition
}

/**
 * Records an escrow op inside the caller's transaction. A managed-wallet payer is signed for at
 * once; a self-custody payer's op waits for the payer to post its signature.
 */
export async function recordEscrowOp(
  db: Queryable,
  context: Pick<AppContext, 'walletEncryptionKey'>,
  op: {
    subject: EscrowSubject
    kind: ChainOpKind
    payer: { id: string; walletAddress: `0x${string}`; isManagedWallet: boolean }
    typedData: StoredTypedData
  },
): Promise<void> {
  const signature = op.payer.isManagedWallet
    ? await signTypedDataForAgent(db, context, op.payer.id, toViemTypedData(op.typedData))
    : null
  await insertEscrowOp(db, {
    subject: op.subject,
    kind: op.kind,
    chainId: op.typedData.domain.chainId,
    signerAddress: op.payer.walletAddress,
    typedData: op.typedData,
    signature,
  })
}

/** Checks that `signature` over the op's typed data recovers to its signer, or throws a 400 naming `signature`. */
export async function verifyEscrowOpSignature(op: EscrowOpRow, signature: `0x${string}`): Promise<void> {
  let recovered: string
  try {
    recovered = await recoverTypedDataAddress({ ...toViemTypedData(op.typed_data), signature })
  } catch {
    throw fieldError('body', 'signature', 'is not a valid secp256k1 signature')
  }
  if (recovered.toLowerCase() !== op.signer_address.toLowerCase()) {
    throw fieldError('body', 'signature', `must be signed by the payer wallet ${op.signer_address}`)
  }
}

function encodeOp(op: EscrowOpRow): { kind: OpKind; data: `0x${string}` } {
  const signature = toCompactSignature(op.signature!)
  const message = op.typed_data.message
  if (op.kind === 'escrow_lock') {
    const terms = {
      escrowId: message.escrowId as `0x${string}`,
      payer: message.payer as `0x${string}`,
      payee: message.payee as `0x${string}`,
      token: message.token as `0x${string}`,
      amount: BigInt(message.amount!),
      resolver: message.resolver as `0x${string}`,
      feeBps: Number(message.feeBps),
      resolverFeeBps: Number(message.resolverFeeBps),
      expiry: BigInt(message.expiry!),
    }
    return {
      kind: OpKind.EscrowLock,
      data: encodeAbiParameters(opDataAbi[OpKind.EscrowLock], [terms, signature]),
    }
  }
  return {
    kind: OpKind.EscrowRelease,
    data: encodeAbiParameters(opDataAbi[OpKind.EscrowRelease], [
      message.escrowId as `0x${string}`,
      signature,
    ]),
  }
}

/**
 * The settler queue's (and the ledger's) reference of an op: `escrow-lock:<assignment id>`,
 * `escrow-release:<assignment id>`, or `prize-escrow-lock:<entry id>` and so on for a prize.
 */
export function chainOpReference(kind: ChainOpKind, subject: EscrowSubject): string {
  const name = kind.replace('_', '-')
  return 'assignmentId' in subject ? `${name}:${subject.assignmentId}` : `prize-${name}:${subject.entryId}`
}

/**
 * Hands a subject's signed ops to the settler queue in order, stopping at the first op that still
 * awaits its signature: the vault rejects a release before its lock, so order is kept here.
 */
export async function queueSignedEscrowOps(db: Queryable, subject: EscrowSubject): Promise<void> {
  const ops = await selectEscrowOps(db, subject, { forUpdate: true })
  for (const op of ops) {
    if (op.status === 'queued') continue
    if (op.status === 'awaiting_signature') return
    const reference = chainOpReference(op.kind, subject)
    await enqueueChainOp(db, { chainId: Number(op.chain_id), ...encodeOp(op), reference })
    await markEscrowOpQueued(db, op.id, reference)
  }
}

/** An escrow op as the API shows it; once queued, its status is the settler queue's. */
export function toChainOpResponse(op: EscrowOpRow): ChainOpResponse {
  const status = op.status === 'queued' ? (op.chain_op_status ?? 'pending') : op.status
  return {
    op_id: op.id,
    kind: op.kind,
    status: status as ChainOpResponse['status'],
    signer_address: op.signer_address,
    typed_data: op.typed_data,
    signature: op.signature,
    created_at: op.created_at.toISOString(),
  }
}
