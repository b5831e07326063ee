import { requireTokenAllowed } from '../chain/token-allowlist'
import { normalizeAddress, sameAddress } from '../../protocol/address'
import { encodeAbiParameters, zeroAddress, type TypedDataDefinition, type Address, type Hex } from 'viem'
import {
  OP_KIND_OF,
  typedDataFromJson,
  type ChainOpKind,
  type ChainOpResponse,
  type TypedDataJson,
} from '../../protocol/assignments'
import { escrowIdOf, type EscrowLockTerms } from '../../protocol/escrow-sets'
import {
  clearhouseDomain,
  clearhouseTypes,
  type ClearhouseDomain,
  MAX_RESOLVER_FEE_BPS,
  OpKind,
  opDataAbi,
  toCompactSignature,
} from '../../protocol/typed-data'
import type { AppContext } from '../app-context'
import { requireTypedDataSigner } from '../auth/signatures'
import { queueChainOp } from '../chain/settler/op-queue'
import type { Queryable } from '../db/pool'
import { locateEscrow, type LocatedEscrow } from './escrow-sets-service'
import { ConflictError } from '../errors'
import { findChainBooking, lockEscrow, releaseEscrow } from '../ledger/ledger-service'
import { agentWallet } from '../jobs/job-agents'
import { insufficientBalanceFor } from '../jobs/job-tokens'
import { signTypedDataForAgent } from '../wallet/managed-wallets'
import { allocateVaultNonce } from '../wallet/wallet-service'
import {
  insertEscrowOp,
  insertEscrowTerms,
  markEscrowOpQueued,
  markEscrowOpsFailed,
  selectEscrowTerms,
  selectExpiredOpenEscrows,
  setReclaimOp,
  selectEscrowOps,
  setEscrowOpSignature,
  selectSubjectsWaitingFor,
  type EscrowOpRow,
  type EscrowSubject,
} from './escrow-ops-queries'

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

/** The EIP-712 domain escrow signatures bind to: the deployment's vault, or chain 31337 and the zero address without a chain. */
export function escrowDomain(context: Pick<AppContext, 'chain'>): ReturnType<typeof clearhouseDomain> {
  const deployment = context.chain?.deployment
  const vault = deployment?.contracts.ClearhouseVault ?? zeroAddress
  return clearhouseDomain(deployment?.chainId ?? FALLBACK_CHAIN_ID, normalizeAddress(vault))
}

/** An exhaustive switch's unreachable branch: a new op kind fails to compile until it is handled. */
function assertNever(kind: never): never {
  throw new Error(`unknown escrow op kind ${String(kind)}`)
}

/** A new escrow's terms before the payer's nonce is chosen. */
export type NewEscrowTerms = Omit<EscrowLockTerms, 'nonce'>

/**
 * The terms of a new escrow with a fresh nonce of its payer, and its vault id (the digest of the
 * payer's `EscrowLock`), inside the caller's transaction.
 */
export async function newEscrowTerms(
  db: Queryable,
  context: Pick<AppContext, 'chain'>,
  terms: NewEscrowTerms,
): Promise<{ terms: EscrowLockTerms; escrowId: Hex }> {
  // The vault refuses such a lock; refusing here keeps it from being signed at all.
  const [payer, payee, resolver] = [terms.payer, terms.payee, terms.resolver].map((address) =>
    address.toLowerCase(),
  )
  if (payer === payee || resolver === payer || resolver === payee) {
    throw new ConflictError(
      'escrow_parties_not_distinct',
      'an escrow needs a payer, a payee and a resolver that are all different',
    )
  }
  const full = { ...terms, nonce: await allocateVaultNonce(db, terms.payer) }
  return { terms: full, escrowId: escrowIdOf(escrowDomain(context), full) }
}

/** The escrow `lockSubjectEscrow` locks for its subject (an assignment, a micro-job, a session). */
export interface SubjectEscrow {
  subject: EscrowSubject
  payer: EscrowSigner
  payeeAgentId: string
  /** The agent that rules on it, or null for none (the zero address). */
  resolverAgentId: string | null
  token: { address: Address; symbol: string; decimals: number }
  amount: bigint
  feeBps: number
  resolverFeeBps: number
  expiry: bigint
  partialRelease: boolean
  /** What the 409 `insufficient_balance` says needed the amount. */
  shortfall: string
}

/**
 * The first half of every escrow lock, inside the caller's transaction: the payer's available
 * balance is held in the ledger for the subject (409 `insufficient_balance` saying `shortfall`),
 * and the escrow's terms get a fresh payer nonce. The caller then writes its subject's row and
 * `recordEscrowLock`.
 */
export async function lockSubjectEscrow(
  db: Queryable,
  context: Pick<AppContext, 'chain'>,
  escrow: SubjectEscrow,
): Promise<{ terms: EscrowLockTerms; escrowId: Hex }> {
  const { token, amount } = escrow
  try {
    await lockEscrow(db, {
      payerId: escrow.payer.id,
      token: token.address,
      amount,
      reference: chainOpReference('escrow_lock', escrow.subject),
    })
  } catch (error) {
    throw insufficientBalanceFor(error, token, amount, escrow.shortfall)
  }
  return newEscrowTerms(db, context, {
    payer: escrow.payer.walletAddress,
    payee: (await agentWallet(db, escrow.payeeAgentId))!,
    token: token.address,
    amount,
    resolver:
      escrow.resolverAgentId === null ? zeroAddress : (await agentWallet(db, escrow.resolverAgentId))!,
    feeBps: escrow.feeBps,
    resolverFeeBps: escrow.resolverFeeBps,
    expiry: escrow.expiry,
    partialRelease: escrow.partialRelease,
  })
}

/** The terms of escrow `escrowId` on this coordinator's chain, or null for an escrow it never made. */
export async function findEscrowTerms(
  db: Queryable,
  context: Pick<AppContext, 'chain'>,
  escrowId: string,
): Promise<EscrowLockTerms | null> {
  return selectEscrowTerms(db, escrowDomain(context).chainId, escrowId)
}

/** What an op's signed message is built from: its kind, its escrow, and a ruling's share to the payee. */
export interface EscrowOpMessage {
  kind: ChainOpKind
  escrowId: Hex
  terms: EscrowLockTerms
  payeeBps?: number | null
  /** A partial release's part to the payee, in base units. */
  releaseAmount?: bigint | null
}

/** An escrow op's EIP-712 message as viem signs and verifies it, built from the escrow's terms. */
export function escrowTypedData(op: EscrowOpMessage, domain: ClearhouseDomain): TypedDataDefinition {
  const { kind, escrowId, terms } = op
  switch (kind) {
    case 'escrow_lock':
      return {
        domain,
        types: { EscrowLock: clearhouseTypes.EscrowLock },
        primaryType: 'EscrowLock',
        message: { ...terms },
      }
    case 'escrow_release':
      return {
        domain,
        types: { EscrowRelease: clearhouseTypes.EscrowRelease },
        primaryType: 'EscrowRelease',
        message: { escrowId },
      }
    case 'escrow_refund':
      return {
        domain,
        types: { EscrowRefund: clearhouseTypes.EscrowRefund },
        primaryType: 'EscrowRefund',
        message: { escrowId },
      }
    case 'escrow_ruling':
      return {
        domain,
        types: { EscrowRuling: clearhouseTypes.EscrowRuling },
        primaryType: 'EscrowRuling',
        message: { escrowId, payeeBps: op.payeeBps! },
      }
    case 'escrow_partial_release':
      return {
        domain,
        types: { EscrowPartialRelease: clearhouseTypes.EscrowPartialRelease },
        primaryType: 'EscrowPartialRelease',
        message: { escrowId, amount: op.releaseAmount! },
      }
    default:
      return assertNever(kind)
  }
}

/** A stored op's typed data: its kind's message on its escrow, under the domain its terms were signed in. */
export function escrowOpTypedData(op: EscrowOpRow): TypedDataDefinition {
  return escrowTypedData(
    {
      kind: op.kind,
      escrowId: op.escrow_id,
      terms: op.terms,
      payeeBps: op.payee_bps,
      releaseAmount: op.release_amount === null ? null : BigInt(op.release_amount),
    },
    clearhouseDomain(Number(op.chain_id), op.vault_address),
  )
}

/** Typed data in the API's JSON shape: integers as decimal strings (`toViemTypedData` reverses it). */
export function toTypedDataJson(definition: TypedDataDefinition): TypedDataJson {
  const primaryType = definition.primaryType as string
  const types = definition.types as Record<string, readonly { name: string; type: string }[]>
  const fields = types[primaryType] ?? []
  const message = definition.message as Record<string, unknown>
  return {
    domain: definition.domain as ClearhouseDomain,
    types: { [primaryType]: fields.map(({ name, type }) => ({ name, type })) },
    primaryType,
    message: Object.fromEntries(fields.map((field) => [field.name, String(message[field.name])])),
  }
}

/** Typed data in the API's JSON shape back in viem's: integer fields as bigint. */
export const toViemTypedData = typedDataFromJson

/**
 * Who signs an escrow op (the payer of a lock or release, the resolver of a ruling): a managed
 * wallet is signed for at once, a self-custody one signs later.
 */
export interface EscrowSigner {
  id: string
  walletAddress: Address
  isManagedWallet: boolean
}

/**
 * Records a new escrow's terms and its lock op inside the caller's transaction. A managed-wallet
 * payer is signed for at once; a self-custody payer's op waits for the payer to post its signature.
 */
export async function recordEscrowLock(
  db: Queryable,
  context: Pick<AppContext, 'chain' | 'walletEncryptionKey'>,
  lock: { subject: EscrowSubject; escrowId: Hex; terms: EscrowLockTerms; payer: EscrowSigner },
): Promise<void> {
  const domain = escrowDomain(context)
  await requireTokenAllowed(db, context, { address: lock.terms.token }, 'locking an escrow')
  await insertEscrowTerms(db, {
    chainId: domain.chainId,
    escrowId: lock.escrowId,
    vaultAddress: domain.verifyingContract,
    terms: lock.terms,
  })
  await recordEscrowOp(db, context, { ...lock, signer: lock.payer, kind: 'escrow_lock', domain })
}

/** Who signs each op on a locked escrow, as the escrow's terms name them. */
const SIGNER_OF = {
  escrow_release: 'payer',
  escrow_refund: 'payee',
  escrow_ruling: 'resolver',
  escrow_partial_release: 'payer',
} as const

/**
 * Records an op on escrow `escrowId` (whose lock is recorded) inside the caller's transaction,
 * signed by the party the escrow's terms name for it: the payer's release, the payee's refund (the
 * whole escrow back to the payer, no fee) or the resolver's ruling (`payeeBps` of what is left
 * after the resolver's fee to the payee, the rest back to the payer).
 */
async function recordOpOnEscrow(
  db: Queryable,
  context: Pick<AppContext, 'chain' | 'walletEncryptionKey'>,
  op: {
    subject: EscrowSubject
    escrowId: Hex
    kind: keyof typeof SIGNER_OF
    signer: EscrowSigner
    payeeBps?: number
    releaseAmount?: bigint
  },
): Promise<void> {
  const domain = escrowDomain(context)
  const terms = await selectEscrowTerms(db, domain.chainId, op.escrowId)
  if (!terms) throw new Error(`escrow ${op.escrowId} has no recorded terms for its ${op.kind}`)
  const party = SIGNER_OF[op.kind]
  if (!sameAddress(terms[party], op.signer.walletAddress))
    throw new Error(`escrow ${op.escrowId} names another ${party}`)
  // The vault would skip these (JobEscrowPartialReleaseNotAllowed, JobEscrowPartialReleaseTooLarge);
  // refusing here keeps them unsigned.
  if (op.kind === 'escrow_partial_release' && !terms.partialRelease)
    throw new Error(`escrow ${op.escrowId} was not locked for a partial release`)
  if (op.releaseAmount !== undefined && (op.releaseAmount < 0n || op.releaseAmount > terms.amount))
    throw new Error(`escrow ${op.escrowId} holds ${terms.amount}, less than ${op.releaseAmount}`)
  await recordEscrowOp(db, context, { ...op, domain, terms })
}

/** Records the payer's release of escrow `escrowId` (whose lock is recorded) inside the caller's transaction. */
export async function recordEscrowRelease(
  db: Queryable,
  context: Pick<AppContext, 'chain' | 'walletEncryptionKey'>,
  release: { subject: EscrowSubject; escrowId: Hex; payer: EscrowSigner },
): Promise<void> {
  await recordOpOnEscrow(db, context, { ...release, kind: 'escrow_release', signer: release.payer })
}

/** Records the payee's refund of escrow `escrowId` to its payer (see `recordOpOnEscrow`). */
export async function recordEscrowRefund(
  db: Queryable,
  context: Pick<AppContext, 'chain' | 'walletEncryptionKey'>,
  refund: { subject: EscrowSubject; escrowId: Hex; payee: EscrowSigner },
): Promise<void> {
  await recordOpOnEscrow(db, context, { ...refund, kind: 'escrow_refund', signer: refund.payee })
}

/**
 * Records the payer's partial release of escrow `escrowId` (see `recordOpOnEscrow`): `amount` (at
 * most the escrow) to the payee less the fee on it, the rest back to the payer, in one vault op.
 * Only for escrows locked on those terms (`partialRelease` in the signed lock: a session's budget);
 * the vault refuses it on any other escrow, since on a job's escrow it would let the payer pay less
 * than agreed without the payee's word.
 */
export async function recordEscrowPartialRelease(
  db: Queryable,
  context: Pick<AppContext, 'chain' | 'walletEncryptionKey'>,
  release: { subject: { sessionId: string }; escrowId: Hex; payer: EscrowSigner; amount: bigint },
): Promise<void> {
  await recordOpOnEscrow(db, context, {
    subject: release.subject,
    escrowId: release.escrowId,
    kind: 'escrow_partial_release',
    signer: release.payer,
    releaseAmount: release.amount,
  })
}

/** Records the resolver's ruling on escrow `escrowId` (see `recordOpOnEscrow`). */
export async function recordEscrowRuling(
  db: Queryable,
  context: Pick<AppContext, 'chain' | 'walletEncryptionKey'>,
  ruling: { subject: EscrowSubject; escrowId: Hex; resolver: EscrowSigner; payeeBps: number },
): Promise<void> {
  await recordOpOnEscrow(db, context, { ...ruling, kind: 'escrow_ruling', signer: ruling.resolver })
}

async function recordEscrowOp(
  db: Queryable,
  context: Pick<AppContext, 'walletEncryptionKey'>,
  op: {
    subject: EscrowSubject
    kind: ChainOpKind
    domain: ClearhouseDomain
    escrowId: Hex
    terms: EscrowLockTerms
    signer: EscrowSigner
    payeeBps?: number
    releaseAmount?: bigint
  },
): Promise<void> {
  const signature = op.signer.isManagedWallet
    ? await signTypedDataForAgent(db, context, op.signer.id, escrowTypedData(op, op.domain))
    : null
  await insertEscrowOp(db, {
    subject: op.subject,
    kind: op.kind,
    escrowId: op.escrowId,
    chainId: op.domain.chainId,
    signerAddress: op.signer.walletAddress,
    payeeBps: op.payeeBps,
    releaseAmount: op.releaseAmount,
    signature,
  })
}

/** Checks that `signature` over the op's typed data recovers to its signer, or throws a 400 naming `signature`. */
export async function verifyEscrowOpSignature(op: EscrowOpRow, signature: Hex): Promise<void> {
  await requireTypedDataSigner(escrowOpTypedData(op), signature, op.signer_address, {
    field: 'signature',
    mismatch: `must be signed by the payer wallet ${op.signer_address}`,
  })
}

/** The settlement op of a lock: its terms and the payer's signature. */
function encodeLockOp(lock: EscrowOpRow): { kind: OpKind; data: Hex } {
  return {
    kind: OP_KIND_OF.escrow_lock,
    data: encodeAbiParameters(opDataAbi[OpKind.EscrowLock], [
      lock.terms,
      toCompactSignature(lock.signature!),
    ]),
  }
}

/**
 * The settlement op of an op on a locked escrow: the lock's terms, where the escrow sits, the
 * signer's signature (the payer's release, the payee's refund, the resolver's ruling with the
 * payee's share) and the escrow's Merkle proof.
 */
function encodeOpOnLockedEscrow(
  op: EscrowOpRow,
  lock: EscrowOpRow,
  located: LocatedEscrow,
): { kind: OpKind; data: Hex } {
  const signature = toCompactSignature(op.signature!)
  const kind = OP_KIND_OF[op.kind]
  switch (op.kind) {
    case 'escrow_release':
    case 'escrow_refund':
      return {
        kind,
        data: encodeAbiParameters(
          opDataAbi[op.kind === 'escrow_release' ? OpKind.EscrowRelease : OpKind.EscrowRefund],
          [lock.terms, located.position, signature, located.proof],
        ),
      }
    case 'escrow_ruling':
      return {
        kind,
        data: encodeAbiParameters(opDataAbi[OpKind.EscrowRuling], [
          lock.terms,
          located.position,
          op.payee_bps!,
          signature,
          located.proof,
        ]),
      }
    case 'escrow_partial_release':
      return {
        kind,
        data: encodeAbiParameters(opDataAbi[OpKind.EscrowPartialRelease], [
          lock.terms,
          located.position,
          BigInt(op.release_amount!),
          signature,
          located.proof,
        ]),
      }
    case 'escrow_lock':
      throw new Error(`op ${op.id} is the lock itself`)
    default:
      return assertNever(op.kind)
  }
}

/** The ledger reference of the booked release of a subject's escrow (see `bookSignedRelease`). */
export function ledgerReleaseReference(subject: EscrowSubject): string {
  if ('entryId' in subject) return `competition-prize:${subject.entryId}`
  // An assignment's and a micro-job's release are booked under their op's reference; a deposit
  // escrow is never released, only ruled on, so its reference is never booked.
  return chainOpReference('escrow_release', subject)
}

/**
 * Books a signed release in the ledger: the payer's escrow to the payee's unsettled balance (less
 * the fee), spendable once the vault carries the release out. Called when the payer's release is
 * signed (at once for a managed wallet, when a self-custody payer posts its signature), never
 * before: credit follows the signature. Skipped when the chain already settled the escrow some
 * other way and the indexer booked that.
 */
export async function bookSignedRelease(
  db: Queryable,
  subject: EscrowSubject,
  release: { payerId: string; payeeId: string; token: Address; amount: bigint; feeBps: number },
  escrowId: string,
): Promise<void> {
  if (await findChainBooking(db, `escrow-outcome:${escrowId.toLowerCase()}`)) return
  await releaseEscrow(db, { ...release, reference: ledgerReleaseReference(subject) })
}

/**
 * The settler queue's (and the ledger's) reference of an op: `escrow-lock:<assignment id>`,
 * `escrow-release:<assignment id>`, `escrow-ruling:<assignment id>`, `prize-escrow-lock:<entry id>`
 * and so on for a prize, `dispute-escrow-lock:<dispute id>` and so on for a dispute's deposit,
 * `micro-job-escrow-lock:<micro-job id>` and so on for a micro-job.
 */
export function chainOpReference(kind: ChainOpKind, subject: EscrowSubject): string {
  const name = kind.replace('_', '-')
  if ('assignmentId' in subject) return `${name}:${subject.assignmentId}`
  if ('entryId' in subject) return `prize-${name}:${subject.entryId}`
  if ('microJobId' in subject) return `micro-job-${name}:${subject.microJobId}`
  if ('sessionId' in subject) return `session-${name}:${subject.sessionId}`
  return `dispute-${name}:${subject.disputeId}`
}

/**
 * Hands a subject's signed ops to the settler queue in order, stopping at the first op that still
 * awaits its signature, or, for an op on a locked escrow (a release), at one whose escrow the
 * indexer has not yet seen committed to the vault: such an op names the escrow's position and
 * Merkle proof, which exist only once its lock settled. `queueEscrowOpsWaitingFor` resumes it then.
 */
export async function queueSignedEscrowOps(db: Queryable, subject: EscrowSubject): Promise<void> {
  const ops = await selectEscrowOps(db, subject, { forUpdate: true })
  const lock = ops.find((op) => op.kind === 'escrow_lock')
  for (const op of ops) {
    if (op.status === 'queued') continue
    if (op.status === 'awaiting_signature' || op.status === 'failed') return
    let encoded: { kind: OpKind; data: Hex }
    switch (op.kind) {
      case 'escrow_lock':
        encoded = encodeLockOp(op)
        break
      case 'escrow_release':
      case 'escrow_ruling':
      case 'escrow_refund':
      case 'escrow_partial_release': {
        const located =
          lock && op.escrow_id ? await locateEscrow(db, Number(op.chain_id), op.escrow_id) : null
        if (!lock || !located) return
        encoded = encodeOpOnLockedEscrow(op, lock, located)
        break
      }
      default:
        return assertNever(op.kind)
    }
    const reference = chainOpReference(op.kind, subject)
    const chainOpId = await queueChainOp(db, { chainId: Number(op.chain_id), ...encoded, reference })
    await markEscrowOpQueued(db, op.id, chainOpId)
  }
}

/**
 * For the indexer, once the escrows `escrowIds` are committed on-chain: queues the signed ops that
 * were waiting for their positions, inside the indexer's transaction.
 */
export async function queueEscrowOpsWaitingFor(
  db: Queryable,
  chainId: number,
  escrowIds: readonly Hex[],
): Promise<void> {
  for (const subject of await selectSubjectsWaitingFor(db, chainId, escrowIds)) {
    await queueSignedEscrowOps(db, subject)
  }
}

/**
 * Gives up on a subject's escrow whose lock never reached the settler queue (its payer never
 * signed it, or a micro-job held it back until the call was answered), so nothing reached the
 * vault: its ops are `failed` with `reason` and will never be signed or queued. False (and nothing
 * changed) when the lock was queued. The caller returns what the ledger holds for it.
 */
export async function abandonUnqueuedEscrow(
  db: Queryable,
  subject: EscrowSubject,
  reason: string,
): Promise<boolean> {
  const ops = await selectEscrowOps(db, subject, { forUpdate: true })
  const lock = ops.find((op) => op.kind === 'escrow_lock')
  if (!lock || (lock.status !== 'awaiting_signature' && lock.status !== 'signed')) return false
  await markEscrowOpsFailed(db, subject, reason)
  return true
}

/**
 * For the timers: queues the vault's reclaim of up to `limit` escrows the coordinator made that
 * expired by `nowSeconds` (the chain's clock) and are still open, inside one transaction. The
 * vault returns such an escrow to its payer without a signature; the indexer books the
 * `EscrowExpired` like any outcome. An escrow someone closes first makes the op fail harmlessly.
 * Returns how many it queued.
 */
export async function reclaimExpiredEscrows(
  db: Queryable,
  context: Pick<AppContext, 'chain'>,
  nowSeconds: bigint,
  limit: number,
): Promise<number> {
  const chainId = escrowDomain(context).chainId
  let queued = 0
  for (const { escrowId, terms } of await selectExpiredOpenEscrows(db, chainId, nowSeconds, limit)) {
    const located = await locateEscrow(db, chainId, escrowId)
    if (!located) continue
    const chainOpId = await queueChainOp(db, {
      chainId,
      kind: OpKind.EscrowReclaim,
      data: encodeAbiParameters(opDataAbi[OpKind.EscrowReclaim], [terms, located.position, located.proof]),
      reference: `escrow-reclaim:${escrowId}`,
    })
    await setReclaimOp(db, chainId, escrowId, chainOpId)
    queued += 1
  }
  return queued
}

/** An escrow op as the API shows it; once queued, its status is the settler queue's. */
export function toChainOpResponse(op: EscrowOpRow): ChainOpResponse {
  const status = op.status === 'queued' ? (op.chain_op_status ?? 'pending') : op.status
  return {
    op_id: op.id,
    kind: op.kind,
    status: status as ChainOpResponse['status'],
    signer_address: op.signer_address,
    typed_data: toTypedDataJson(escrowOpTypedData(op)),
    signature: op.signature,
    failure_reason: op.failure_reason ?? op.chain_op_failure_reason,
    created_at: op.created_at.toISOString(),
  }
}

export type { EscrowOpRow, EscrowSubject }

/** A subject's escrow ops in the order they settle, with the settler queue's status; `forUpdate` locks them. */
export async function listEscrowOps(
  db: Queryable,
  subject: EscrowSubject,
  options: { forUpdate?: boolean } = {},
): Promise<EscrowOpRow[]> {
  return selectEscrowOps(db, subject, options)
}

/** Stores the payer's verified signature on an op awaiting it (`verifyEscrowOpSignature` first). */
export async function saveEscrowOpSignature(db: Queryable, opId: string, signature: Hex): Promise<void> {
  await setEscrowOpSignature(db, opId, signature)
}
