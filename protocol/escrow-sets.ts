/**
 * Escrow identity and escrow-set Merkle proofs, as the vault computes them (see `IJobEscrow`).
 *
 * An escrow's id is the EIP-712 digest of its `EscrowLock` terms under the vault's domain. Escrows
 * locked together form a set whose root the vault stores; every later call on an escrow passes its
 * position in the set and a proof. The leaves of set `setId` are the `EscrowLocked` logs with that
 * `setId`, ordered by `index`: anyone rebuilds the tree from them.
 */
import { StandardMerkleTree } from '@openzeppelin/merkle-tree'
import { hashTypedData, type Hex } from 'viem'
import { clearhouseTypes, escrowLeafEncoding, type ClearhouseDomain } from './typed-data'

/** The signed terms of an escrow (`EscrowLock`), integers as bigint. */
export interface EscrowLockTerms {
  payer: Hex
  payee: Hex
  token: Hex
  amount: bigint
  resolver: Hex
  feeBps: number
  resolverFeeBps: number
  expiry: bigint
  nonce: bigint
  /** The payer may settle the escrow for any amount up to it (a session's budget); false for a job's escrow. */
  partialRelease: boolean
}

/** Where an escrow was locked: its set and its index in the set. */
export interface EscrowPosition {
  setId: bigint
  index: bigint
}

/** The id the vault gives the escrow with `terms`: the EIP-712 digest of the payer's `EscrowLock`. */
export function escrowIdOf(domain: ClearhouseDomain, terms: EscrowLockTerms): Hex {
  return hashTypedData({
    domain,
    types: { EscrowLock: clearhouseTypes.EscrowLock },
    primaryType: 'EscrowLock',
    message: terms,
  })
}

/** The Merkle tree of an escrow set whose escrows, in index order, are `escrowIds`. */
export function escrowSetTree(escrowIds: readonly Hex[]): StandardMerkleTree<[bigint, Hex]> {
  return StandardMerkleTree.of(
    escrowIds.map((id, index) => [BigInt(index), id] as [bigint, Hex]),
    [...escrowLeafEncoding],
    { sortLeaves: false },
  )
}

/** The proof of the escrow at `index` of the set whose escrows, in index order, are `escrowIds`. */
export function escrowProof(escrowIds: readonly Hex[], index: number): Hex[] {
  return escrowSetTree(escrowIds).getProof(index) as Hex[]
}
