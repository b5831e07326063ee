import { ethers } from 'hardhat'
import { time } from '@nomicfoundation/hardhat-network-helpers'
import { StandardMerkleTree } from '@openzeppelin/merkle-tree'
import type { HardhatEthersSigner } from '@nomicfoundation/hardhat-ethers/signers'
import type { BaseContract, ContractRunner, JsonFragmentType, TypedDataDomain, TypedDataField } from 'ethers'
import { parseSignature, type Address, type Hex } from 'viem'
import { mnemonicToAccount, type HDAccount, type LocalAccount } from 'viem/accounts'
import { escrowSetTree } from '../../protocol/escrow-sets'
import {
  clearhouseDomain,
  clearhouseTypes,
  DIRECT_ESCROW_SET_BASE,
  eip2612PermitTypes,
  NO_SIGNATURE,
  opDataAbi,
  OpKind,
  opsLeafEncoding,
  toCompactSignature,
  withdrawalApprovalTypes,
  type ClearhouseTypeName,
} from '../../protocol/typed-data'
import { transferWithAuthorizationTypes } from '../../protocol/x402'

export { OpKind, NO_SIGNATURE, DIRECT_ESCROW_SET_BASE }

/** One USDC in base units (6 decimals). */
export const USDC = 1_000_000n
export const FEE_BPS = 100
export const WITHDRAWAL_DELAY = 24 * 60 * 60
export const CHALLENGE_PERIOD = 24 * 60 * 60
export const ADMIN_DELAY = 2 * 24 * 60 * 60
export const INITIAL_DEPOSIT = 1_000n * USDC
export const ZERO_BYTES32 = ethers.ZeroHash
export const DISPUTE_RULING_PERIOD = 14 * 24 * 60 * 60

// Contracts are untyped here (no typechain): methods are looked up by name at run time.
export type AnyContract = Omit<BaseContract, 'connect'> & {
  connect(runner: ContractRunner | null): AnyContract
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
} & Record<string, any>

export interface EscrowTerms {
  payer: string
  payee: string
  token: string
  amount: bigint
  resolver: string
  feeBps: number
  resolverFeeBps: number
  expiry: bigint
  nonce: bigint
  /** The payer may settle it for any amount up to it (a session's budget); false for a job's escrow. */
  partialRelease: boolean
}

/** Where an escrow was locked: its set and its index in the set's tree. */
export interface EscrowPosition {
  setId: bigint
  index: bigint
}

/** A locked escrow as a test holds it: everything a later call on it passes back. */
export interface LockedEscrow {
  terms: EscrowTerms
  id: string
  position: EscrowPosition
  proof: string[]
}

export interface ChannelConfig {
  caller: string
  provider: string
  token: string
  feeBps: number
  salt: string
}

export interface Withdrawal {
  account: string
  token: string
  amount: bigint
  to: string
  nonce: bigint
  deadline: bigint
}

export interface Op {
  kind: number
  data: string
}

/** An EIP-2098 compact signature as the vault takes it. */
export interface Sig {
  r: string
  vs: string
}

export interface SignedVoucher {
  config: ChannelConfig
  sequence: bigint
  cumulativeAmount: bigint
  callChain: string
  signature: Sig
}

/** Mutable copy of the protocol's `as const` types, in the shape ethers takes. */
export function typesFor(name: ClearhouseTypeName): Record<string, TypedDataField[]> {
  return { [name]: clearhouseTypes[name].map((field) => ({ ...field })) }
}

/** Signs `message` as EIP-712 `primaryType` under `domain`; returns the compact `{ r, vs }`. */
export async function signTyped(
  signer: HardhatEthersSigner,
  domain: TypedDataDomain,
  primaryType: ClearhouseTypeName,
  message: Record<string, unknown>,
): Promise<Sig> {
  return toCompactSignature((await signTypedRaw(signer, domain, primaryType, message)) as `0x${string}`)
}

/** Signs `message` as EIP-712 `primaryType` under `domain`; returns the 65-byte signature. */
export async function signTypedRaw(
  signer: HardhatEthersSigner,
  domain: TypedDataDomain,
  primaryType: ClearhouseTypeName,
  message: Record<string, unknown>,
): Promise<string> {
  if (primaryType === 'WithdrawalApproval') {
    const types = Object.fromEntries(
      Object.entries(withdrawalApprovalTypes).map(([k, v]) => [k, v.map((f) => ({ ...f }))]),
    )
    return signer.signTypedData(domain, types, message)
  }
  return signer.signTypedData(domain, typesFor(primaryType), message)
}

/** The ABI encoding of an op's data, per `opDataAbi` in protocol/typed-data.ts. */
export function encodeOpData(kind: OpKind, values: unknown[]): string {
  const params = opDataAbi[kind].map((p) => ethers.ParamType.from(p as unknown as JsonFragmentType))
  return ethers.AbiCoder.defaultAbiCoder().encode(params, values)
}

/** The amount fields of a `TokenTotals` entry of `BatchSettled`, in ABI order (after `token`). */
export const TOKEN_TOTALS_FIELDS = [
  'escrowLocked',
  'escrowToPayees',
  'escrowToPayers',
  'resolverFees',
  'channelFunded',
  'channelSettled',
  'channelRefunded',
  'withdrawn',
  'fees',
] as const
export type TokenTotalsField = (typeof TOKEN_TOTALS_FIELDS)[number]
/** One `TokenTotals` entry of `BatchSettled`. */
export type TokenTotals = { token: string } & Record<TokenTotalsField, bigint>

/**
 * `owner`'s EIP-2612 permit of `value` of the fixture's MockUSDC to the vault, signed by `signer`
 * (the owner itself unless a forger is given), valid for an hour.
 */
export async function signUsdcPermit(
  f: { chainId: number; usdc: AnyContract; usdcAddress: string; vaultAddress: string },
  owner: HardhatEthersSigner,
  value: bigint,
  signer: HardhatEthersSigner = owner,
): Promise<{ deadline: bigint; v: number; r: string; s: string }> {
  const deadline = BigInt(await time.latest()) + 3600n
  const domain = {
    name: 'USD Coin (mock)',
    version: '1',
    chainId: f.chainId,
    verifyingContract: f.usdcAddress,
  }
  const types = { Permit: [...eip2612PermitTypes.Permit] }
  const nonce = await f.usdc.nonces(owner.address)
  const message = { owner: owner.address, spender: f.vaultAddress, value, nonce, deadline }
  const sig = ethers.Signature.from(await signer.signTypedData(domain, types, message))
  return { deadline, v: sig.v, r: sig.r, s: sig.s }
}

/** Hardhat's default mnemonic: signer `i` of `ethers.getSigners()` is its account `i`. */
export const HARDHAT_MNEMONIC = 'test test test test test test test test test test test junk'

/** The viem account holding the same key as Hardhat signer `index`, for signing as a viem client does. */
export function viemAccountOf(index: number): HDAccount {
  return mnemonicToAccount(HARDHAT_MNEMONIC, { addressIndex: index })
}

/** The two EIP-3009 authorization types of the token; they share their fields. */
export type Eip3009TypeName = 'TransferWithAuthorization' | 'ReceiveWithAuthorization'

/** EIP-3009 `primaryType` as the token's own typed data (under the token's EIP-712 domain). */
export function eip3009Types(primaryType: Eip3009TypeName) {
  // A mutable copy: ethers' signTypedData takes no readonly field list.
  return { [primaryType]: [...transferWithAuthorizationTypes.TransferWithAuthorization] }
}

/** `IVault.TransferAuthorization`: the signed fields but `to` (always the vault), with v, r, s. */
export interface TransferAuthorization {
  from: Address
  value: bigint
  validAfter: bigint
  validBefore: bigint
  nonce: Hex
  v: number
  r: Hex
  s: Hex
}

/** What a test may change in an EIP-3009 authorization it signs. */
export interface TransferAuthorizationOverrides {
  to?: string
  validAfter?: bigint
  validBefore?: bigint
  nonce?: Hex
  primaryType?: Eip3009TypeName
}

/**
 * `from`'s EIP-3009 authorization of `value` of the fixture's MockUSDC, signed with viem as an x402
 * `exact` client signs its payment: `TransferWithAuthorization` to `payTo` = the vault, valid from 0
 * for an hour (chain time), a random nonce, under the domain the token reports in `eip712Domain()`.
 */
export async function signTransferAuthorization(
  f: { usdc: AnyContract; vaultAddress: string },
  from: LocalAccount,
  value: bigint,
  overrides: TransferAuthorizationOverrides = {},
): Promise<TransferAuthorization> {
  const [, name, version, chainId, verifyingContract] = await f.usdc.eip712Domain()
  const primaryType = overrides.primaryType ?? 'TransferWithAuthorization'
  const message = {
    from: from.address,
    to: (overrides.to ?? f.vaultAddress) as Address,
    value,
    validAfter: overrides.validAfter ?? 0n,
    validBefore: overrides.validBefore ?? BigInt(await time.latest()) + 3600n,
    nonce: overrides.nonce ?? (ethers.hexlify(ethers.randomBytes(32)) as Hex),
  }
  const signature = await from.signTypedData({
    domain: { name, version, chainId: Number(chainId), verifyingContract },
    types: eip3009Types(primaryType),
    primaryType,
    message,
  })
  const { v, yParity, r, s } = parseSignature(signature)
  const { to: _to, ...signed } = message
  return { ...signed, v: v === undefined ? 27 + yParity : Number(v), r, s }
}

export function op(kind: OpKind, values: unknown[]): Op {
  return { kind, data: encodeOpData(kind, values) }
}

/** The ops root exactly as an auditor computes it with `@openzeppelin/merkle-tree`. */
export function opsTree(ops: Op[]): StandardMerkleTree<[bigint, number, string]> {
  const leaves: [bigint, number, string][] = ops.map((o, i) => [BigInt(i), o.kind, ethers.keccak256(o.data)])
  return StandardMerkleTree.of(leaves, [...opsLeafEncoding], { sortLeaves: false })
}

/** Fixes the next block's timestamp a little ahead and returns it, for exact time assertions. */
export async function nextBlockAt(): Promise<bigint> {
  const at = BigInt(await time.latest()) + 5n
  await time.setNextBlockTimestamp(at)
  return at
}

/** secp256k1's group order n. */
export const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n

/**
 * `sig` with its s moved into the upper half of the curve order (n / 2 + 1; r and the y-parity bit
 * kept): the form a signature's malleable twin takes, which EIP-2 (and OpenZeppelin's ECDSA) refuse
 * before recovering anyone.
 */
export function withHighS(sig: Sig): Sig {
  const yParityBit = BigInt(sig.vs) & (1n << 255n)
  return { r: sig.r, vs: ethers.toBeHex(yParityBit | (SECP256K1_N / 2n + 1n), 32) }
}

/** Hex `data` with the first byte of its 32-byte word `word` set to 0x01: dirty high bits. */
export function withDirtyWord(data: string, word: number, offset = 0): string {
  const bytes = ethers.getBytes(data)
  bytes[offset + 32 * word] = 0x01
  return ethers.hexlify(bytes)
}

export function saltOf(n: number): string {
  return ethers.zeroPadValue(ethers.toBeHex(n), 32)
}

export function callChainOf(n: number): string {
  return ethers.id(`call-chain:${n}`)
}

/** A ClearhouseVault with the fixture's parameters (`FEE_BPS` and the delays) for `roles`, allowing `tokens`. */
export async function deployClearhouseVault(
  roles: { owner: HardhatEthersSigner; coordinator: HardhatEthersSigner; treasury: HardhatEthersSigner },
  tokens: string[],
): Promise<AnyContract> {
  return (await ethers.deployContract('ClearhouseVault', [
    {
      owner: roles.owner.address,
      coordinator: roles.coordinator.address,
      treasury: roles.treasury.address,
      feeBps: FEE_BPS,
      withdrawalDelay: WITHDRAWAL_DELAY,
      challengePeriod: CHALLENGE_PERIOD,
      adminDelay: ADMIN_DELAY,
      tokens,
    },
  ])) as unknown as AnyContract
}

export async function deployVaultFixture() {
  const signers = await ethers.getSigners()
  const [owner, coordinator, treasury, resolver, alice, bob, carol, dave, relayer, stranger] = signers
  const usdc = (await ethers.deployContract('MockUSDC')) as unknown as AnyContract
  const usdcAddress = await usdc.getAddress()
  const vault = await deployClearhouseVault({ owner, coordinator, treasury }, [usdcAddress])
  const vaultAddress = await vault.getAddress()
  const { chainId } = await ethers.provider.getNetwork()
  const domain = clearhouseDomain(Number(chainId), vaultAddress as `0x${string}`)

  for (const account of [alice, bob, carol, dave]) {
    await usdc.mint(account.address, 10n * INITIAL_DEPOSIT)
    await usdc.connect(account).approve(vaultAddress, ethers.MaxUint256)
    await vault.connect(account).deposit(usdcAddress, INITIAL_DEPOSIT)
  }

  const sign = (
    signer: HardhatEthersSigner,
    primaryType: ClearhouseTypeName,
    message: Record<string, unknown>,
  ) => signTyped(signer, domain, primaryType, message)

  // Nonces handed out per account, so each new escrow of a payer gets an unused one.
  const nextNonces = new Map<string, bigint>()
  function freshNonce(account: string): bigint {
    const nonce = nextNonces.get(account) ?? 1_000n
    nextNonces.set(account, nonce + 1n)
    return nonce
  }

  /**
   * Escrow terms: alice pays bob 100 USDC, the resolver rules, 7 days to expiry, a fresh nonce, a
   * job's escrow (no partial release).
   */
  async function escrowTerms(overrides: Partial<EscrowTerms> = {}): Promise<EscrowTerms> {
    const payer = overrides.payer ?? alice.address
    return {
      payer,
      payee: bob.address,
      token: usdcAddress,
      amount: 100n * USDC,
      resolver: resolver.address,
      feeBps: FEE_BPS,
      resolverFeeBps: 200,
      expiry: BigInt(await time.latest()) + 7n * 24n * 3600n,
      nonce: overrides.nonce ?? freshNonce(payer),
      partialRelease: false,
      ...overrides,
    }
  }

  /** The escrow id of `terms`: the EIP-712 digest of the payer's `EscrowLock`. */
  function escrowIdOf(terms: EscrowTerms): string {
    return ethers.TypedDataEncoder.hash(domain, typesFor('EscrowLock'), terms)
  }

  /** The payer's `EscrowLock` signature of `terms`. */
  function signLock(terms: EscrowTerms, payer?: HardhatEthersSigner): Promise<Sig> {
    return sign(payer ?? signers.find((s) => s.address === terms.payer)!, 'EscrowLock', { ...terms })
  }

  /** Locks an escrow alone with the payer's signature, submitted by the relayer. */
  async function lockEscrow(
    overrides: Partial<EscrowTerms> = {},
    payer: HardhatEthersSigner = alice,
  ): Promise<LockedEscrow> {
    const terms = await escrowTerms({ payer: payer.address, ...overrides })
    const receipt = await (
      await vault.connect(relayer).lockEscrow(terms, await signLock(terms, payer))
    ).wait()
    const [locked] = escrowsLockedIn(receipt)
    return locked
  }

  /**
   * The escrows locked by a transaction, each with its position and proof, rebuilt from its
   * `EscrowLocked` logs as an auditor or an exiting payer would (one set per transaction).
   */
  function escrowsLockedIn(receipt: {
    logs: ReadonlyArray<{ topics: ReadonlyArray<string>; data: string }>
  }) {
    const locked: LockedEscrow[] = []
    for (const log of receipt.logs) {
      const parsed = vault.interface.parseLog(log)
      if (parsed?.name !== 'EscrowLocked') continue
      const a = parsed.args
      locked.push({
        id: a.escrowId,
        position: { setId: a.setId, index: a.index },
        proof: [],
        terms: {
          payer: a.payer,
          payee: a.payee,
          token: a.token,
          amount: a.amount,
          resolver: a.resolver,
          feeBps: Number(a.feeBps),
          resolverFeeBps: Number(a.resolverFeeBps),
          expiry: a.expiry,
          nonce: a.nonce,
          partialRelease: a.partialRelease,
        },
      })
    }
    if (locked.length === 0) return locked
    locked.sort((x, y) => Number(x.position.index - y.position.index))
    const tree = escrowSetTree(locked.map((e) => e.id as `0x${string}`))
    return locked.map((e, i) => ({ ...e, proof: tree.getProof(i) }))
  }

  /** Locks every `terms` in one batch (payer-signed); returns the escrows with positions and proofs. */
  async function lockEscrowsInBatch(termsList: EscrowTerms[]): Promise<LockedEscrow[]> {
    const ops = await Promise.all(
      termsList.map(async (terms) => op(OpKind.EscrowLock, [terms, await signLock(terms)])),
    )
    return escrowsLockedIn(await (await settle(ops)).wait())
  }

  /** The values a release, refund or reclaim of `escrow` passes before its signature. */
  function escrowArgs(escrow: LockedEscrow) {
    return [escrow.terms, escrow.position] as const
  }

  function channelConfig(overrides: Partial<ChannelConfig> = {}): ChannelConfig {
    return {
      caller: alice.address,
      provider: bob.address,
      token: usdcAddress,
      feeBps: FEE_BPS,
      salt: saltOf(1),
      ...overrides,
    }
  }

  /** Opens (funds) a channel by the caller itself. */
  async function openChannel(
    overrides: Partial<ChannelConfig> = {},
    totalDeposit: bigint = 50n * USDC,
    caller: HardhatEthersSigner = alice,
  ) {
    const config = channelConfig({ caller: caller.address, ...overrides })
    await vault.connect(caller).fundChannel(config, totalDeposit, 0n, NO_SIGNATURE)
    const id: string = await vault.channelId(config)
    return { config, id }
  }

  /** A voucher on the channel with `config`, signed by `signer` (the caller by default). */
  async function signedVoucher(
    config: ChannelConfig,
    sequence: bigint,
    cumulativeAmount: bigint,
    signer?: HardhatEthersSigner,
    callChain: string = callChainOf(Number(sequence)),
  ): Promise<SignedVoucher> {
    const channelId: string = await vault.channelId(config)
    const by = signer ?? signers.find((s) => s.address === config.caller)!
    const signature = await sign(by, 'Voucher', { channelId, sequence, cumulativeAmount, callChain })
    return { config, sequence, cumulativeAmount, callChain, signature }
  }

  async function withdrawal(overrides: Partial<Withdrawal> = {}): Promise<Withdrawal> {
    return {
      account: alice.address,
      token: usdcAddress,
      amount: 10n * USDC,
      to: alice.address,
      nonce: 1n,
      deadline: BigInt(await time.latest()) + 3600n,
      ...overrides,
    }
  }

  async function signBatch(batchNumber: bigint, ops: Op[], signer: HardhatEthersSigner = coordinator) {
    return sign(signer, 'Batch', { batchNumber, opsRoot: opsTree(ops).root })
  }

  /** Signs and submits `ops` as the next batch, from the relayer. */
  async function settle(ops: Op[]) {
    const batchNumber = (await vault.lastBatchNumber()) + 1n
    const signature = await signBatch(batchNumber, ops)
    return vault.connect(relayer).settleBatch(batchNumber, ops, signature)
  }

  /** The ops `settle(ops)` would skip, from a simulation: `[index, decoded reason name]`. */
  async function simulateSkipped(ops: Op[]): Promise<Array<[number, string]>> {
    const batchNumber = (await vault.lastBatchNumber()) + 1n
    const signature = await signBatch(batchNumber, ops)
    const skipped = await vault.connect(relayer).settleBatch.staticCall(batchNumber, ops, signature)
    return skipped.map((s: { index: bigint; reason: string }) => [
      Number(s.index),
      vault.interface.parseError(s.reason)?.name ?? s.reason,
    ])
  }

  return {
    vault,
    vaultAddress,
    usdc,
    usdcAddress,
    domain,
    chainId: Number(chainId),
    owner,
    coordinator,
    treasury,
    resolver,
    alice,
    bob,
    carol,
    dave,
    relayer,
    stranger,
    signers,
    sign,
    freshNonce,
    escrowTerms,
    escrowIdOf,
    signLock,
    lockEscrow,
    escrowsLockedIn,
    lockEscrowsInBatch,
    escrowArgs,
    channelConfig,
    openChannel,
    signedVoucher,
    withdrawal,
    signBatch,
    settle,
    simulateSkipped,
  }
}

export type VaultFixture = Awaited<ReturnType<typeof deployVaultFixture>>
