import { expect } from 'chai'
import { ethers } from 'hardhat'
import { loadFixture, time } from '@nomicfoundation/hardhat-network-helpers'
import fc from 'fast-check'
import type { HardhatEthersSigner } from '@nomicfoundation/hardhat-ethers/signers'
import { escrowSetTree } from '../../protocol/escrow-sets'
import type { ClearhouseTypeName } from '../../protocol/typed-data'
import {
  DIRECT_ESCROW_SET_BASE,
  DISPUTE_RULING_PERIOD,
  FEE_BPS,
  INITIAL_DEPOSIT,
  NO_SIGNATURE,
  OpKind,
  USDC,
  deployVaultFixture,
  nextBlockAt,
  op,
  typesFor,
  type AnyContract,
  type EscrowPosition,
  type EscrowTerms,
  type LockedEscrow,
  type Sig,
  type VaultFixture,
} from './fixtures'

const BPS = 10_000n
const MAX_RESOLVER_FEE_BPS = 1_000
const MAX_AMOUNT = 2n ** 96n - 1n
const DAY = 24n * 60n * 60n
const DISPUTE_PERIOD = BigInt(DISPUTE_RULING_PERIOD)

// ---------------------------------------------------------------- helpers

/** The fee of `amount` at `bps`, rounded down, as IJobEscrow documents it. */
function feeOf(amount: bigint, bps: number | bigint): bigint {
  return (amount * BigInt(bps)) / BPS
}

/** A ruling's split as IJobEscrow documents it: resolver fee off the top, then the payee's share less the fee. */
function rulingSplit(amount: bigint, payeeBps: number, feeBps: number, resolverFeeBps: number) {
  const resolverFee = feeOf(amount, resolverFeeBps)
  const rest = amount - resolverFee
  const payeeGross = feeOf(rest, payeeBps)
  const fee = feeOf(payeeGross, feeBps)
  return { payeeAmount: payeeGross - fee, payerAmount: rest - payeeGross, fee, resolverFee }
}

/** The root of a one-escrow set: the OpenZeppelin standard leaf of `[0, escrowId]`, written out by hand. */
function singleLeafRoot(escrowId: string): string {
  const encoded = ethers.AbiCoder.defaultAbiCoder().encode(['uint256', 'bytes32'], [0n, escrowId])
  return ethers.keccak256(ethers.keccak256(encoded))
}

function signerOf(f: VaultFixture, address: string): HardhatEthersSigner {
  const signer = f.signers.find((s) => s.address === address)
  if (!signer) throw new Error(`no signer for ${address}`)
  return signer
}

async function balanceOf(f: VaultFixture, account: string): Promise<bigint> {
  return f.vault.balanceOf(account, f.usdcAddress)
}

/** The vault balances of `accounts`, in order. */
async function balancesOf(f: VaultFixture, accounts: string[]): Promise<bigint[]> {
  return Promise.all(accounts.map((a) => balanceOf(f, a)))
}

/** Who the vault recovers from `signature` over `message` typed as `primaryType`. */
function recoveredFrom(
  f: VaultFixture,
  primaryType: ClearhouseTypeName,
  message: Record<string, unknown>,
  signature: Sig,
): string {
  const full = ethers.Signature.from({ r: signature.r, yParityAndS: signature.vs })
  return ethers.verifyTypedData(f.domain, typesFor(primaryType), message, full)
}

const signRelease = (f: VaultFixture, e: LockedEscrow, by?: HardhatEthersSigner) =>
  f.sign(by ?? signerOf(f, e.terms.payer), 'EscrowRelease', { escrowId: e.id })
const signRefund = (f: VaultFixture, e: LockedEscrow, by?: HardhatEthersSigner) =>
  f.sign(by ?? signerOf(f, e.terms.payee), 'EscrowRefund', { escrowId: e.id })
const signRuling = (f: VaultFixture, e: LockedEscrow, payeeBps: number, by?: HardhatEthersSigner) =>
  f.sign(by ?? signerOf(f, e.terms.resolver), 'EscrowRuling', { escrowId: e.id, payeeBps })
const signDispute = (f: VaultFixture, e: LockedEscrow, by?: HardhatEthersSigner) =>
  f.sign(by ?? signerOf(f, e.terms.payee), 'EscrowDispute', { escrowId: e.id })

/**
 * Three escrows locked in one settlement batch, by three payers (alice, carol, dave), so every
 * proof has two or more nodes. Payees: bob, bob, alice.
 */
async function lockThreeInBatch(f: VaultFixture): Promise<LockedEscrow[]> {
  const escrows = await f.lockEscrowsInBatch([
    await f.escrowTerms({ payer: f.alice.address, amount: 100n * USDC }),
    await f.escrowTerms({ payer: f.carol.address, amount: 40n * USDC, resolverFeeBps: 500 }),
    await f.escrowTerms({
      payer: f.dave.address,
      payee: f.alice.address,
      amount: 7n * USDC + 3n,
      feeBps: 50,
    }),
  ])
  expect(escrows).to.have.length(3)
  for (const e of escrows) expect(e.proof.length).to.be.greaterThan(0)
  return escrows
}

const PAYOUTS = ['releaseEscrow', 'refundEscrow', 'ruleEscrow', 'reclaimExpiredEscrow'] as const
type Payout = (typeof PAYOUTS)[number]

/**
 * Calls payout `kind` on `terms` at `position` with `proof`, sent by the party whose word it takes
 * (payer, payee, resolver; a stranger for a reclaim), with no signature. A ruling gives the payee half.
 */
function payoutBySender(
  f: VaultFixture,
  kind: Payout,
  terms: EscrowTerms,
  position: EscrowPosition,
  proof: string[],
) {
  switch (kind) {
    case 'releaseEscrow':
      return f.vault.connect(signerOf(f, terms.payer)).releaseEscrow(terms, position, NO_SIGNATURE, proof)
    case 'refundEscrow':
      return f.vault.connect(signerOf(f, terms.payee)).refundEscrow(terms, position, NO_SIGNATURE, proof)
    case 'ruleEscrow':
      return f.vault
        .connect(signerOf(f, terms.resolver))
        .ruleEscrow(terms, position, 5_000, NO_SIGNATURE, proof)
    case 'reclaimExpiredEscrow':
      return f.vault.connect(f.stranger).reclaimExpiredEscrow(terms, position, proof)
  }
}

/** The event each payout emits. */
const PAYOUT_EVENT: Record<Payout, string> = {
  releaseEscrow: 'EscrowReleased',
  refundEscrow: 'EscrowRefunded',
  ruleEscrow: 'EscrowRuled',
  reclaimExpiredEscrow: 'EscrowExpired',
}

describe('JobEscrow', function () {
  // ---------------------------------------------------------------- lockEscrow

  describe('lockEscrow', function () {
    it("locks the payer's balance on the payer's signature relayed by anyone, alone in set DIRECT_SET_BASE + 1", async function () {
      const f = await loadFixture(deployVaultFixture)
      const terms = await f.escrowTerms()
      const signature = await f.signLock(terms)
      const id = f.escrowIdOf(terms)
      const setId = DIRECT_ESCROW_SET_BASE + 1n
      expect(await f.vault.DIRECT_SET_BASE()).to.equal(DIRECT_ESCROW_SET_BASE)
      expect(await f.vault.escrowId(terms)).to.equal(id)
      expect(await f.vault.isNonceUsed(f.alice.address, terms.nonce)).to.equal(false)

      const [returnedId, position] = await f.vault.connect(f.relayer).lockEscrow.staticCall(terms, signature)
      expect(returnedId).to.equal(id)
      expect(position.setId).to.equal(setId)
      expect(position.index).to.equal(0n)

      const tx = f.vault.connect(f.relayer).lockEscrow(terms, signature)
      await expect(tx)
        .to.emit(f.vault, 'EscrowLocked')
        .withArgs(
          id,
          f.alice.address,
          f.bob.address,
          setId,
          0n,
          f.usdcAddress,
          terms.amount,
          f.resolver.address,
          terms.feeBps,
          terms.resolverFeeBps,
          terms.expiry,
          terms.nonce,
          terms.partialRelease,
        )
      await expect(tx).to.emit(f.vault, 'EscrowSetCommitted').withArgs(setId, singleLeafRoot(id), 1n)
      expect(await f.vault.escrowSetRoot(setId)).to.equal(singleLeafRoot(id))
      expect(await balanceOf(f, f.alice.address)).to.equal(INITIAL_DEPOSIT - terms.amount)
      expect(await balanceOf(f, f.relayer.address)).to.equal(0n)
      expect(await f.vault.isNonceUsed(f.alice.address, terms.nonce)).to.equal(true)
      expect(await f.vault.isEscrowClosed(setId, 0n)).to.equal(false)
    })

    it('takes NO_SIGNATURE when the payer sends it', async function () {
      const f = await loadFixture(deployVaultFixture)
      const terms = await f.escrowTerms()
      const setId = DIRECT_ESCROW_SET_BASE + 1n
      const tx = f.vault.connect(f.alice).lockEscrow(terms, NO_SIGNATURE)
      await expect(tx)
        .to.emit(f.vault, 'EscrowLocked')
        .withArgs(
          f.escrowIdOf(terms),
          f.alice.address,
          f.bob.address,
          setId,
          0n,
          f.usdcAddress,
          terms.amount,
          f.resolver.address,
          terms.feeBps,
          terms.resolverFeeBps,
          terms.expiry,
          terms.nonce,
          terms.partialRelease,
        )
      await expect(tx)
        .to.emit(f.vault, 'EscrowSetCommitted')
        .withArgs(setId, singleLeafRoot(f.escrowIdOf(terms)), 1n)
      expect(await balanceOf(f, f.alice.address)).to.equal(INITIAL_DEPOSIT - terms.amount)
      expect(await f.vault.isNonceUsed(f.alice.address, terms.nonce)).to.equal(true)
    })

    it('numbers direct sets DIRECT_SET_BASE + n, one per lock, each escrow at index 0, batches aside', async function () {
      const f = await loadFixture(deployVaultFixture)
      const first = await f.lockEscrow()
      const [batched] = await f.lockEscrowsInBatch([await f.escrowTerms({ payer: f.carol.address })])
      const second = await f.lockEscrow({}, f.dave)
      expect(first.position).to.deep.equal({ setId: DIRECT_ESCROW_SET_BASE + 1n, index: 0n })
      expect(batched.position).to.deep.equal({ setId: await f.vault.lastBatchNumber(), index: 0n })
      expect(second.position).to.deep.equal({ setId: DIRECT_ESCROW_SET_BASE + 2n, index: 0n })
      expect(await f.vault.escrowSetRoot(DIRECT_ESCROW_SET_BASE + 2n)).to.equal(singleLeafRoot(second.id))
      expect(await f.vault.escrowSetRoot(DIRECT_ESCROW_SET_BASE + 3n)).to.equal(ethers.ZeroHash)
    })

    it('gives the escrows of one batch one set, numbered by the batch, whose root is the tree of [index, id]', async function () {
      const f = await loadFixture(deployVaultFixture)
      const escrows = await lockThreeInBatch(f)
      const batchNumber = await f.vault.lastBatchNumber()
      expect(escrows.map((e) => e.position)).to.deep.equal(
        [0n, 1n, 2n].map((index) => ({ setId: batchNumber, index })),
      )
      expect(await f.vault.escrowSetRoot(batchNumber)).to.equal(
        escrowSetTree(escrows.map((e) => e.id as `0x${string}`)).root,
      )
      for (const e of escrows) {
        expect(e.id).to.equal(f.escrowIdOf(e.terms))
        expect(await f.vault.isEscrowClosed(batchNumber, e.position.index)).to.equal(false)
      }
      expect(await balancesOf(f, [f.alice.address, f.carol.address, f.dave.address])).to.deep.equal([
        INITIAL_DEPOSIT - 100n * USDC,
        INITIAL_DEPOSIT - 40n * USDC,
        INITIAL_DEPOSIT - 7n * USDC - 3n,
      ])
    })

    it('gives an escrow id of the payer-bound terms: changing any term changes the id', async function () {
      const f = await loadFixture(deployVaultFixture)
      const terms = await f.escrowTerms()
      const id = await f.vault.escrowId(terms)
      expect(id).to.equal(f.escrowIdOf(terms))
      const changes: Partial<EscrowTerms>[] = [
        { payer: f.carol.address },
        { payee: f.carol.address },
        { token: f.stranger.address },
        { amount: terms.amount + 1n },
        { resolver: f.carol.address },
        { feeBps: terms.feeBps - 1 },
        { resolverFeeBps: terms.resolverFeeBps + 1 },
        { expiry: terms.expiry + 1n },
        { nonce: terms.nonce + 1n },
      ]
      for (const change of changes) {
        const changed = { ...terms, ...change }
        expect(await f.vault.escrowId(changed))
          .to.equal(f.escrowIdOf(changed))
          .and.not.equal(id)
      }
    })

    it('accepts the bounds: amount 2^96 - 1, fee = vault fee, resolver fee 1000, expiry one second ahead', async function () {
      const f = await loadFixture(deployVaultFixture)
      await f.usdc.mint(f.alice.address, MAX_AMOUNT)
      await f.vault.connect(f.alice).deposit(f.usdcAddress, MAX_AMOUNT)
      const at = BigInt(await time.latest()) + 5n
      const terms = await f.escrowTerms({
        amount: MAX_AMOUNT,
        feeBps: FEE_BPS,
        resolverFeeBps: MAX_RESOLVER_FEE_BPS,
        expiry: at + 1n,
      })
      await time.setNextBlockTimestamp(at)
      await expect(f.vault.connect(f.alice).lockEscrow(terms, NO_SIGNATURE)).to.emit(f.vault, 'EscrowLocked')
      expect(await balanceOf(f, f.alice.address)).to.equal(INITIAL_DEPOSIT)
    })

    it('accepts an escrow without a resolver', async function () {
      const f = await loadFixture(deployVaultFixture)
      const e = await f.lockEscrow({ resolver: ethers.ZeroAddress })
      expect(e.terms.resolver).to.equal(ethers.ZeroAddress)
      expect(await balanceOf(f, f.alice.address)).to.equal(INITIAL_DEPOSIT - e.terms.amount)
    })

    const invalidParties: Array<[string, (f: VaultFixture) => Partial<EscrowTerms>]> = [
      ['the payee is zero', () => ({ payee: ethers.ZeroAddress })],
      ['the payee is the payer', (f) => ({ payee: f.alice.address })],
      ['the resolver is the payer', (f) => ({ resolver: f.alice.address })],
      ['the resolver is the payee', (f) => ({ resolver: f.bob.address })],
    ]
    for (const [label, override] of invalidParties) {
      it(`reverts JobEscrowInvalidParties when ${label}`, async function () {
        const f = await loadFixture(deployVaultFixture)
        const terms = await f.escrowTerms(override(f))
        await expect(f.vault.connect(f.relayer).lockEscrow(terms, await f.signLock(terms)))
          .to.be.revertedWithCustomError(f.vault, 'JobEscrowInvalidParties')
          .withArgs(terms.payer, terms.payee, terms.resolver)
        expect(await f.vault.isNonceUsed(f.alice.address, terms.nonce)).to.equal(false)
      })
    }

    for (const amount of [0n, 2n ** 96n, ethers.MaxUint256]) {
      it(`reverts JobEscrowInvalidAmount for an amount of ${amount}`, async function () {
        const f = await loadFixture(deployVaultFixture)
        const terms = await f.escrowTerms({ amount })
        await expect(f.vault.connect(f.alice).lockEscrow(terms, NO_SIGNATURE))
          .to.be.revertedWithCustomError(f.vault, 'JobEscrowInvalidAmount')
          .withArgs(amount)
      })
    }

    it('reverts VaultTokenNotAllowed for a token off the allowlist', async function () {
      const f = await loadFixture(deployVaultFixture)
      const other = await ethers.deployContract('MockUSDC')
      const token = await other.getAddress()
      const terms = await f.escrowTerms({ token })
      await expect(f.vault.connect(f.alice).lockEscrow(terms, NO_SIGNATURE))
        .to.be.revertedWithCustomError(f.vault, 'VaultTokenNotAllowed')
        .withArgs(token)
    })

    it('reverts JobEscrowFeeTooHigh for a fee above the vault fee', async function () {
      const f = await loadFixture(deployVaultFixture)
      const terms = await f.escrowTerms({ feeBps: FEE_BPS + 1 })
      await expect(f.vault.connect(f.alice).lockEscrow(terms, NO_SIGNATURE))
        .to.be.revertedWithCustomError(f.vault, 'JobEscrowFeeTooHigh')
        .withArgs(FEE_BPS + 1, FEE_BPS)
    })

    it('reverts JobEscrowResolverFeeTooHigh for a resolver fee above 1000 bps', async function () {
      const f = await loadFixture(deployVaultFixture)
      expect(await f.vault.MAX_RESOLVER_FEE_BPS()).to.equal(MAX_RESOLVER_FEE_BPS)
      const terms = await f.escrowTerms({ resolverFeeBps: MAX_RESOLVER_FEE_BPS + 1 })
      await expect(f.vault.connect(f.alice).lockEscrow(terms, NO_SIGNATURE))
        .to.be.revertedWithCustomError(f.vault, 'JobEscrowResolverFeeTooHigh')
        .withArgs(MAX_RESOLVER_FEE_BPS + 1, MAX_RESOLVER_FEE_BPS)
    })

    it('reverts JobEscrowExpiryInPast for an expiry at the block time', async function () {
      const f = await loadFixture(deployVaultFixture)
      const at = BigInt(await time.latest()) + 5n
      const terms = await f.escrowTerms({ expiry: at })
      await time.setNextBlockTimestamp(at)
      await expect(f.vault.connect(f.alice).lockEscrow(terms, NO_SIGNATURE))
        .to.be.revertedWithCustomError(f.vault, 'JobEscrowExpiryInPast')
        .withArgs(at, at)
    })

    it('reverts JobEscrowExpiryInPast for an expiry before the block time', async function () {
      const f = await loadFixture(deployVaultFixture)
      const at = BigInt(await time.latest()) + 5n
      const terms = await f.escrowTerms({ expiry: at - 2n })
      await time.setNextBlockTimestamp(at)
      await expect(f.vault.connect(f.alice).lockEscrow(terms, NO_SIGNATURE))
        .to.be.revertedWithCustomError(f.vault, 'JobEscrowExpiryInPast')
        .withArgs(at - 2n, at)
    })

    it('reverts JobEscrowInvalidSignature when another account signed the lock', async function () {
      const f = await loadFixture(deployVaultFixture)
      const terms = await f.escrowTerms()
      const signature = await f.signLock(terms, f.bob)
      await expect(f.vault.connect(f.relayer).lockEscrow(terms, signature))
        .to.be.revertedWithCustomError(f.vault, 'JobEscrowInvalidSignature')
        .withArgs(f.escrowIdOf(terms), f.alice.address, f.bob.address)
    })

    it('reverts JobEscrowInvalidSignature when someone else than the payer sends NO_SIGNATURE', async function () {
      const f = await loadFixture(deployVaultFixture)
      const terms = await f.escrowTerms()
      await expect(f.vault.connect(f.bob).lockEscrow(terms, NO_SIGNATURE))
        .to.be.revertedWithCustomError(f.vault, 'JobEscrowInvalidSignature')
        .withArgs(f.escrowIdOf(terms), f.alice.address, ethers.ZeroAddress)
      expect(await balanceOf(f, f.alice.address)).to.equal(INITIAL_DEPOSIT)
    })

    it('reverts JobEscrowInvalidSignature when a signed term is changed', async function () {
      const f = await loadFixture(deployVaultFixture)
      const terms = await f.escrowTerms()
      const signature = await f.signLock(terms)
      const changes: Partial<EscrowTerms>[] = [
        { payee: f.carol.address },
        { amount: terms.amount * 2n },
        { resolver: f.carol.address },
        { feeBps: 0 },
        { resolverFeeBps: 0 },
        { expiry: terms.expiry + DAY },
        { nonce: terms.nonce + 1n },
        { payer: f.carol.address },
      ]
      for (const change of changes) {
        const changed = { ...terms, ...change }
        const recovered = recoveredFrom(f, 'EscrowLock', { ...changed }, signature)
        expect(recovered).to.not.equal(changed.payer)
        await expect(f.vault.connect(f.relayer).lockEscrow(changed, signature))
          .to.be.revertedWithCustomError(f.vault, 'JobEscrowInvalidSignature')
          .withArgs(f.escrowIdOf(changed), changed.payer, recovered)
      }
      // The signature still locks the terms it was made for.
      await expect(f.vault.connect(f.relayer).lockEscrow(terms, signature)).to.emit(f.vault, 'EscrowLocked')
    })

    it("reverts VaultInsufficientBalance when the payer's balance is short", async function () {
      const f = await loadFixture(deployVaultFixture)
      const terms = await f.escrowTerms({ amount: INITIAL_DEPOSIT + 1n })
      await expect(f.vault.connect(f.relayer).lockEscrow(terms, await f.signLock(terms)))
        .to.be.revertedWithCustomError(f.vault, 'VaultInsufficientBalance')
        .withArgs(f.alice.address, f.usdcAddress, INITIAL_DEPOSIT, INITIAL_DEPOSIT + 1n)
      expect(await f.vault.isNonceUsed(f.alice.address, terms.nonce)).to.equal(false)
    })

    it('reverts VaultNonceUsed for other terms under a nonce a lock already used', async function () {
      const f = await loadFixture(deployVaultFixture)
      const first = await f.lockEscrow()
      const terms = await f.escrowTerms({
        nonce: first.terms.nonce,
        amount: 1n * USDC,
        payee: f.carol.address,
      })
      await expect(f.vault.connect(f.relayer).lockEscrow(terms, await f.signLock(terms)))
        .to.be.revertedWithCustomError(f.vault, 'VaultNonceUsed')
        .withArgs(f.alice.address, first.terms.nonce)
      expect(await balanceOf(f, f.alice.address)).to.equal(INITIAL_DEPOSIT - first.terms.amount)
    })

    it("does not take another account's used nonce: nonces are per payer", async function () {
      const f = await loadFixture(deployVaultFixture)
      const first = await f.lockEscrow()
      const terms = await f.escrowTerms({ payer: f.carol.address, nonce: first.terms.nonce })
      await expect(f.vault.connect(f.carol).lockEscrow(terms, NO_SIGNATURE)).to.emit(f.vault, 'EscrowLocked')
      expect(await f.vault.isNonceUsed(f.carol.address, first.terms.nonce)).to.equal(true)
    })

    it("is not cancelled by another account's invalidateNonce of the same number", async function () {
      const f = await loadFixture(deployVaultFixture)
      const terms = await f.escrowTerms()
      const signature = await f.signLock(terms)
      await f.vault.connect(f.stranger).invalidateNonce(terms.nonce)
      expect(await f.vault.isNonceUsed(f.stranger.address, terms.nonce)).to.equal(true)
      await expect(f.vault.connect(f.relayer).lockEscrow(terms, signature)).to.emit(f.vault, 'EscrowLocked')
    })
  })

  // ---------------------------------------------------------------- releaseEscrow

  describe('releaseEscrow', function () {
    it("pays the payee the amount less the fee and the treasury the fee, on the payer's signature relayed by anyone", async function () {
      const f = await loadFixture(deployVaultFixture)
      const e = await f.lockEscrow()
      const fee = feeOf(e.terms.amount, e.terms.feeBps)
      expect(fee).to.equal(1n * USDC)
      await expect(
        f.vault.connect(f.relayer).releaseEscrow(...f.escrowArgs(e), await signRelease(f, e), e.proof),
      )
        .to.emit(f.vault, 'EscrowReleased')
        .withArgs(e.id, f.bob.address, e.terms.amount - fee, fee)
      expect(
        await balancesOf(f, [f.alice.address, f.bob.address, f.treasury.address, f.relayer.address]),
      ).to.deep.equal([INITIAL_DEPOSIT - e.terms.amount, INITIAL_DEPOSIT + e.terms.amount - fee, fee, 0n])
      expect(await f.vault.isEscrowClosed(e.position.setId, e.position.index)).to.equal(true)
    })

    it('takes NO_SIGNATURE when the payer sends it', async function () {
      const f = await loadFixture(deployVaultFixture)
      const e = await f.lockEscrow()
      const fee = feeOf(e.terms.amount, e.terms.feeBps)
      await expect(f.vault.connect(f.alice).releaseEscrow(...f.escrowArgs(e), NO_SIGNATURE, e.proof))
        .to.emit(f.vault, 'EscrowReleased')
        .withArgs(e.id, f.bob.address, e.terms.amount - fee, fee)
      expect(await balanceOf(f, f.bob.address)).to.equal(INITIAL_DEPOSIT + e.terms.amount - fee)
    })

    it('pays an escrow locked in a batch with its proof, closing only its own bit', async function () {
      const f = await loadFixture(deployVaultFixture)
      const escrows = await lockThreeInBatch(f)
      const e = escrows[1]
      const fee = feeOf(e.terms.amount, e.terms.feeBps)
      const before = await balancesOf(f, [f.carol.address, f.bob.address, f.treasury.address])
      await expect(
        f.vault.connect(f.relayer).releaseEscrow(...f.escrowArgs(e), await signRelease(f, e), e.proof),
      )
        .to.emit(f.vault, 'EscrowReleased')
        .withArgs(e.id, f.bob.address, e.terms.amount - fee, fee)
      expect(await balancesOf(f, [f.carol.address, f.bob.address, f.treasury.address])).to.deep.equal([
        before[0],
        before[1] + e.terms.amount - fee,
        before[2] + fee,
      ])
      const closed = await Promise.all(
        escrows.map((x) => f.vault.isEscrowClosed(x.position.setId, x.position.index)),
      )
      expect(closed).to.deep.equal([false, true, false])
    })

    it('pays every escrow of a batch, each to its own payee at its own fee', async function () {
      const f = await loadFixture(deployVaultFixture)
      const escrows = await lockThreeInBatch(f)
      for (const e of escrows) {
        const fee = feeOf(e.terms.amount, e.terms.feeBps)
        const before = await balanceOf(f, e.terms.payee)
        await expect(
          f.vault.connect(f.relayer).releaseEscrow(...f.escrowArgs(e), await signRelease(f, e), e.proof),
        )
          .to.emit(f.vault, 'EscrowReleased')
          .withArgs(e.id, e.terms.payee, e.terms.amount - fee, fee)
        expect(await balanceOf(f, e.terms.payee)).to.equal(before + e.terms.amount - fee)
      }
      const fees = escrows.reduce((sum, e) => sum + feeOf(e.terms.amount, e.terms.feeBps), 0n)
      expect(await balanceOf(f, f.treasury.address)).to.equal(fees)
    })

    it('still pays after the expiry while nobody reclaimed', async function () {
      const f = await loadFixture(deployVaultFixture)
      const e = await f.lockEscrow()
      await time.increaseTo(e.terms.expiry + DAY)
      await expect(f.vault.connect(f.alice).releaseEscrow(...f.escrowArgs(e), NO_SIGNATURE, e.proof)).to.emit(
        f.vault,
        'EscrowReleased',
      )
    })

    it("reverts JobEscrowInvalidSignature for the payee's signature", async function () {
      const f = await loadFixture(deployVaultFixture)
      const e = await f.lockEscrow()
      await expect(
        f.vault.connect(f.bob).releaseEscrow(...f.escrowArgs(e), await signRelease(f, e, f.bob), e.proof),
      )
        .to.be.revertedWithCustomError(f.vault, 'JobEscrowInvalidSignature')
        .withArgs(e.id, f.alice.address, f.bob.address)
    })

    it('reverts JobEscrowInvalidSignature when the payee sends NO_SIGNATURE', async function () {
      const f = await loadFixture(deployVaultFixture)
      const e = await f.lockEscrow()
      await expect(f.vault.connect(f.bob).releaseEscrow(...f.escrowArgs(e), NO_SIGNATURE, e.proof))
        .to.be.revertedWithCustomError(f.vault, 'JobEscrowInvalidSignature')
        .withArgs(e.id, f.alice.address, ethers.ZeroAddress)
    })

    it("reverts JobEscrowInvalidSignature for the payer's signature of another message (a refund)", async function () {
      const f = await loadFixture(deployVaultFixture)
      const e = await f.lockEscrow()
      const refundSignature = await f.sign(f.alice, 'EscrowRefund', { escrowId: e.id })
      const recovered = recoveredFrom(f, 'EscrowRelease', { escrowId: e.id }, refundSignature)
      expect(recovered).to.not.equal(f.alice.address)
      await expect(f.vault.connect(f.relayer).releaseEscrow(...f.escrowArgs(e), refundSignature, e.proof))
        .to.be.revertedWithCustomError(f.vault, 'JobEscrowInvalidSignature')
        .withArgs(e.id, f.alice.address, recovered)
    })

    it("reverts JobEscrowInvalidSignature for the payer's release of another escrow", async function () {
      const f = await loadFixture(deployVaultFixture)
      const e = await f.lockEscrow()
      const other = await f.lockEscrow()
      const signature = await signRelease(f, other)
      const recovered = recoveredFrom(f, 'EscrowRelease', { escrowId: e.id }, signature)
      await expect(f.vault.connect(f.relayer).releaseEscrow(...f.escrowArgs(e), signature, e.proof))
        .to.be.revertedWithCustomError(f.vault, 'JobEscrowInvalidSignature')
        .withArgs(e.id, f.alice.address, recovered)
    })
  })

  // ---------------------------------------------------------------- refundEscrow

  describe('refundEscrow', function () {
    it("returns the whole escrow to the payer on the payee's signature relayed by anyone, no fee", async function () {
      const f = await loadFixture(deployVaultFixture)
      const e = await f.lockEscrow()
      await expect(
        f.vault.connect(f.relayer).refundEscrow(...f.escrowArgs(e), await signRefund(f, e), e.proof),
      )
        .to.emit(f.vault, 'EscrowRefunded')
        .withArgs(e.id, f.alice.address, e.terms.amount)
      expect(await balancesOf(f, [f.alice.address, f.bob.address, f.treasury.address])).to.deep.equal([
        INITIAL_DEPOSIT,
        INITIAL_DEPOSIT,
        0n,
      ])
      expect(await f.vault.isEscrowClosed(e.position.setId, e.position.index)).to.equal(true)
    })

    it('takes NO_SIGNATURE when the payee sends it', async function () {
      const f = await loadFixture(deployVaultFixture)
      const e = await f.lockEscrow()
      await expect(f.vault.connect(f.bob).refundEscrow(...f.escrowArgs(e), NO_SIGNATURE, e.proof))
        .to.emit(f.vault, 'EscrowRefunded')
        .withArgs(e.id, f.alice.address, e.terms.amount)
      expect(await balanceOf(f, f.alice.address)).to.equal(INITIAL_DEPOSIT)
    })

    it('refunds an escrow locked in a batch with its proof', async function () {
      const f = await loadFixture(deployVaultFixture)
      const escrows = await lockThreeInBatch(f)
      const e = escrows[2]
      await expect(
        f.vault.connect(f.relayer).refundEscrow(...f.escrowArgs(e), await signRefund(f, e), e.proof),
      )
        .to.emit(f.vault, 'EscrowRefunded')
        .withArgs(e.id, f.dave.address, e.terms.amount)
      expect(await balanceOf(f, f.dave.address)).to.equal(INITIAL_DEPOSIT)
      const closed = await Promise.all(
        escrows.map((x) => f.vault.isEscrowClosed(x.position.setId, x.position.index)),
      )
      expect(closed).to.deep.equal([false, false, true])
    })

    it("reverts JobEscrowInvalidSignature for the payer's signature", async function () {
      const f = await loadFixture(deployVaultFixture)
      const e = await f.lockEscrow()
      await expect(
        f.vault.connect(f.relayer).refundEscrow(...f.escrowArgs(e), await signRefund(f, e, f.alice), e.proof),
      )
        .to.be.revertedWithCustomError(f.vault, 'JobEscrowInvalidSignature')
        .withArgs(e.id, f.bob.address, f.alice.address)
    })

    it('reverts JobEscrowInvalidSignature when the payer sends NO_SIGNATURE', async function () {
      const f = await loadFixture(deployVaultFixture)
      const e = await f.lockEscrow()
      await expect(f.vault.connect(f.alice).refundEscrow(...f.escrowArgs(e), NO_SIGNATURE, e.proof))
        .to.be.revertedWithCustomError(f.vault, 'JobEscrowInvalidSignature')
        .withArgs(e.id, f.bob.address, ethers.ZeroAddress)
    })
  })

  // ---------------------------------------------------------------- ruleEscrow

  describe('ruleEscrow', function () {
    const splits: Array<[string, bigint, number, number, number]> = [
      // label, amount, payeeBps, feeBps, resolverFeeBps
      ['the payee wins', 100_000_007n, 10_000, FEE_BPS, 200],
      ['the payer wins', 100_000_007n, 0, FEE_BPS, 200],
      ['an even split', 100_000_007n, 5_000, FEE_BPS, 200],
      ['an odd split', 100_000_007n, 3_333, FEE_BPS, 200],
      [
        'a split at the highest resolver fee and no protocol fee',
        99_999_999n,
        7_001,
        0,
        MAX_RESOLVER_FEE_BPS,
      ],
      ['a split of one unit (rounding goes to the payer)', 1n, 9_999, FEE_BPS, 200],
    ]
    for (const [label, amount, payeeBps, feeBps, resolverFeeBps] of splits) {
      it(`applies ${label}: parts sum to the amount, fee to the treasury, resolver fee to the resolver`, async function () {
        const f = await loadFixture(deployVaultFixture)
        const e = await f.lockEscrow({ amount, feeBps, resolverFeeBps })
        const split = rulingSplit(amount, payeeBps, feeBps, resolverFeeBps)
        expect(split.payeeAmount + split.payerAmount + split.fee + split.resolverFee).to.equal(amount)
        await expect(
          f.vault
            .connect(f.relayer)
            .ruleEscrow(...f.escrowArgs(e), payeeBps, await signRuling(f, e, payeeBps), e.proof),
        )
          .to.emit(f.vault, 'EscrowRuled')
          .withArgs(e.id, payeeBps, split.payeeAmount, split.payerAmount, split.fee, split.resolverFee)
        expect(
          await balancesOf(f, [f.bob.address, f.alice.address, f.treasury.address, f.resolver.address]),
        ).to.deep.equal([
          INITIAL_DEPOSIT + split.payeeAmount,
          INITIAL_DEPOSIT - amount + split.payerAmount,
          split.fee,
          split.resolverFee,
        ])
        expect(await f.vault.isEscrowClosed(e.position.setId, e.position.index)).to.equal(true)
      })
    }

    it('takes NO_SIGNATURE when the resolver sends it', async function () {
      const f = await loadFixture(deployVaultFixture)
      const e = await f.lockEscrow()
      const split = rulingSplit(e.terms.amount, 2_500, e.terms.feeBps, e.terms.resolverFeeBps)
      await expect(f.vault.connect(f.resolver).ruleEscrow(...f.escrowArgs(e), 2_500, NO_SIGNATURE, e.proof))
        .to.emit(f.vault, 'EscrowRuled')
        .withArgs(e.id, 2_500, split.payeeAmount, split.payerAmount, split.fee, split.resolverFee)
      expect(await balanceOf(f, f.resolver.address)).to.equal(split.resolverFee)
    })

    it('rules an escrow locked in a batch with its proof', async function () {
      const f = await loadFixture(deployVaultFixture)
      const escrows = await lockThreeInBatch(f)
      const e = escrows[1]
      const split = rulingSplit(e.terms.amount, 6_000, e.terms.feeBps, e.terms.resolverFeeBps)
      const before = await balancesOf(f, [
        f.bob.address,
        f.carol.address,
        f.treasury.address,
        f.resolver.address,
      ])
      await expect(
        f.vault
          .connect(f.stranger)
          .ruleEscrow(...f.escrowArgs(e), 6_000, await signRuling(f, e, 6_000), e.proof),
      )
        .to.emit(f.vault, 'EscrowRuled')
        .withArgs(e.id, 6_000, split.payeeAmount, split.payerAmount, split.fee, split.resolverFee)
      expect(
        await balancesOf(f, [f.bob.address, f.carol.address, f.treasury.address, f.resolver.address]),
      ).to.deep.equal([
        before[0] + split.payeeAmount,
        before[1] + split.payerAmount,
        before[2] + split.fee,
        before[3] + split.resolverFee,
      ])
    })

    it('reverts JobEscrowInvalidRuling for a share above 10000 bps', async function () {
      const f = await loadFixture(deployVaultFixture)
      const e = await f.lockEscrow()
      await expect(f.vault.connect(f.resolver).ruleEscrow(...f.escrowArgs(e), 10_001, NO_SIGNATURE, e.proof))
        .to.be.revertedWithCustomError(f.vault, 'JobEscrowInvalidRuling')
        .withArgs(e.id, 10_001)
    })

    it('reverts JobEscrowNoResolver for an escrow without a resolver', async function () {
      const f = await loadFixture(deployVaultFixture)
      const e = await f.lockEscrow({ resolver: ethers.ZeroAddress })
      const signature = await f.sign(f.resolver, 'EscrowRuling', { escrowId: e.id, payeeBps: 0 })
      await expect(f.vault.connect(f.relayer).ruleEscrow(...f.escrowArgs(e), 0, signature, e.proof))
        .to.be.revertedWithCustomError(f.vault, 'JobEscrowNoResolver')
        .withArgs(e.id)
    })

    it('reverts JobEscrowInvalidSignature when another account signed the ruling', async function () {
      const f = await loadFixture(deployVaultFixture)
      const e = await f.lockEscrow()
      for (const by of [f.alice, f.bob, f.coordinator]) {
        await expect(
          f.vault
            .connect(f.relayer)
            .ruleEscrow(...f.escrowArgs(e), 0, await signRuling(f, e, 0, by), e.proof),
        )
          .to.be.revertedWithCustomError(f.vault, 'JobEscrowInvalidSignature')
          .withArgs(e.id, f.resolver.address, by.address)
      }
    })

    it('reverts JobEscrowInvalidSignature when someone else than the resolver sends NO_SIGNATURE', async function () {
      const f = await loadFixture(deployVaultFixture)
      const e = await f.lockEscrow()
      await expect(f.vault.connect(f.alice).ruleEscrow(...f.escrowArgs(e), 0, NO_SIGNATURE, e.proof))
        .to.be.revertedWithCustomError(f.vault, 'JobEscrowInvalidSignature')
        .withArgs(e.id, f.resolver.address, ethers.ZeroAddress)
    })

    it('reverts JobEscrowInvalidSignature when the signed share is changed', async function () {
      const f = await loadFixture(deployVaultFixture)
      const e = await f.lockEscrow()
      const signature = await signRuling(f, e, 0)
      const recovered = recoveredFrom(f, 'EscrowRuling', { escrowId: e.id, payeeBps: 10_000 }, signature)
      expect(recovered).to.not.equal(f.resolver.address)
      await expect(f.vault.connect(f.bob).ruleEscrow(...f.escrowArgs(e), 10_000, signature, e.proof))
        .to.be.revertedWithCustomError(f.vault, 'JobEscrowInvalidSignature')
        .withArgs(e.id, f.resolver.address, recovered)
      await expect(f.vault.connect(f.alice).ruleEscrow(...f.escrowArgs(e), 0, signature, e.proof)).to.emit(
        f.vault,
        'EscrowRuled',
      )
    })

    it('credits exactly the FeeMath split for any amount, share and fees (property)', async function () {
      await fc.assert(
        fc.asyncProperty(
          fc.bigInt({ min: 1n, max: INITIAL_DEPOSIT }),
          fc.integer({ min: 0, max: 10_000 }),
          fc.integer({ min: 0, max: FEE_BPS }),
          fc.integer({ min: 0, max: MAX_RESOLVER_FEE_BPS }),
          async (amount, payeeBps, feeBps, resolverFeeBps) => {
            const f = await loadFixture(deployVaultFixture)
            const e = await f.lockEscrow({ amount, feeBps, resolverFeeBps })
            const split = rulingSplit(amount, payeeBps, feeBps, resolverFeeBps)
            await expect(
              f.vault.connect(f.resolver).ruleEscrow(...f.escrowArgs(e), payeeBps, NO_SIGNATURE, e.proof),
            )
              .to.emit(f.vault, 'EscrowRuled')
              .withArgs(e.id, payeeBps, split.payeeAmount, split.payerAmount, split.fee, split.resolverFee)
            const after = await balancesOf(f, [
              f.bob.address,
              f.alice.address,
              f.treasury.address,
              f.resolver.address,
            ])
            expect(after[0] + after[1] + after[2] + after[3]).to.equal(2n * INITIAL_DEPOSIT)
          },
        ),
        { numRuns: 20 },
      )
    })
  })

  // ---------------------------------------------------------------- reclaimExpiredEscrow

  describe('reclaimExpiredEscrow', function () {
    it('returns the escrow to the payer from its expiry, called by anyone with no signature', async function () {
      const f = await loadFixture(deployVaultFixture)
      const e = await f.lockEscrow()
      await time.setNextBlockTimestamp(e.terms.expiry)
      await expect(f.vault.connect(f.stranger).reclaimExpiredEscrow(...f.escrowArgs(e), e.proof))
        .to.emit(f.vault, 'EscrowExpired')
        .withArgs(e.id, f.alice.address, e.terms.amount)
      expect(await balancesOf(f, [f.alice.address, f.bob.address, f.treasury.address])).to.deep.equal([
        INITIAL_DEPOSIT,
        INITIAL_DEPOSIT,
        0n,
      ])
      expect(await f.vault.isEscrowClosed(e.position.setId, e.position.index)).to.equal(true)
    })

    it('reclaims an escrow locked in a batch with its proof', async function () {
      const f = await loadFixture(deployVaultFixture)
      const escrows = await lockThreeInBatch(f)
      const e = escrows[0]
      await time.increaseTo(e.terms.expiry)
      await expect(f.vault.connect(f.stranger).reclaimExpiredEscrow(...f.escrowArgs(e), e.proof))
        .to.emit(f.vault, 'EscrowExpired')
        .withArgs(e.id, f.alice.address, e.terms.amount)
      expect(await balanceOf(f, f.alice.address)).to.equal(INITIAL_DEPOSIT)
      const closed = await Promise.all(
        escrows.map((x) => f.vault.isEscrowClosed(x.position.setId, x.position.index)),
      )
      expect(closed).to.deep.equal([true, false, false])
    })

    it('reverts JobEscrowNotReclaimable one second before the expiry', async function () {
      const f = await loadFixture(deployVaultFixture)
      const e = await f.lockEscrow()
      await time.setNextBlockTimestamp(e.terms.expiry - 1n)
      await expect(f.vault.connect(f.alice).reclaimExpiredEscrow(...f.escrowArgs(e), e.proof))
        .to.be.revertedWithCustomError(f.vault, 'JobEscrowNotReclaimable')
        .withArgs(e.id, e.terms.expiry, e.terms.expiry - 1n)
    })

    it('reverts JobEscrowNotReclaimable right after the lock', async function () {
      const f = await loadFixture(deployVaultFixture)
      const e = await f.lockEscrow()
      const at = await nextBlockAt()
      await expect(f.vault.connect(f.alice).reclaimExpiredEscrow(...f.escrowArgs(e), e.proof))
        .to.be.revertedWithCustomError(f.vault, 'JobEscrowNotReclaimable')
        .withArgs(e.id, e.terms.expiry, at)
    })

    it('works while the vault is paused and after the token left the allowlist', async function () {
      const f = await loadFixture(deployVaultFixture)
      const e = await f.lockEscrow()
      await f.vault.connect(f.owner).pause()
      await f.vault.connect(f.owner).setTokenAllowed(f.usdcAddress, false)
      await time.increaseTo(e.terms.expiry)
      await expect(f.vault.connect(f.stranger).reclaimExpiredEscrow(...f.escrowArgs(e), e.proof))
        .to.emit(f.vault, 'EscrowExpired')
        .withArgs(e.id, f.alice.address, e.terms.amount)
      expect(await balanceOf(f, f.alice.address)).to.equal(INITIAL_DEPOSIT)
    })
  })

  // ---------------------------------------------------------------- refusals every payout shares

  for (const kind of PAYOUTS) {
    describe(`${kind}: locating the escrow`, function () {
      /** Three batch escrows and one direct one, at the escrows' expiry so that a reclaim is due. */
      async function setup() {
        const f = await loadFixture(deployVaultFixture)
        const escrows = await lockThreeInBatch(f)
        const direct = await f.lockEscrow({}, f.carol)
        await time.increaseTo(direct.terms.expiry)
        return { f, escrows, direct }
      }

      it('reverts JobEscrowUnknown for the proof of another escrow of the set', async function () {
        const { f, escrows } = await setup()
        const e = escrows[1]
        for (const proof of [escrows[0].proof, escrows[2].proof, [], [...e.proof].reverse()]) {
          await expect(payoutBySender(f, kind, e.terms, e.position, proof))
            .to.be.revertedWithCustomError(f.vault, 'JobEscrowUnknown')
            .withArgs(e.id, e.position.setId, e.position.index)
        }
        await expect(payoutBySender(f, kind, e.terms, e.position, e.proof)).to.emit(
          f.vault,
          PAYOUT_EVENT[kind],
        )
      })

      it('reverts JobEscrowUnknown for a wrong index', async function () {
        const { f, escrows } = await setup()
        const e = escrows[0]
        for (const index of [1n, 2n, 3n, 2n ** 32n - 1n, 2n ** 32n, ethers.MaxUint256]) {
          await expect(payoutBySender(f, kind, e.terms, { ...e.position, index }, e.proof))
            .to.be.revertedWithCustomError(f.vault, 'JobEscrowUnknown')
            .withArgs(e.id, e.position.setId, index)
        }
        await expect(payoutBySender(f, kind, e.terms, e.position, e.proof)).to.emit(
          f.vault,
          PAYOUT_EVENT[kind],
        )
      })

      it('reverts JobEscrowUnknown for a wrong set', async function () {
        const { f, escrows, direct } = await setup()
        const e = escrows[2]
        const batchNumber = e.position.setId
        for (const setId of [batchNumber + 1n, direct.position.setId, DIRECT_ESCROW_SET_BASE + 7n, 0n]) {
          await expect(payoutBySender(f, kind, e.terms, { ...e.position, setId }, e.proof))
            .to.be.revertedWithCustomError(f.vault, 'JobEscrowUnknown')
            .withArgs(e.id, setId, e.position.index)
        }
        // The direct escrow is not in the batch's set either, at any index, nor in another direct set.
        for (const position of [
          { setId: batchNumber, index: 0n },
          { setId: DIRECT_ESCROW_SET_BASE + 2n, index: 0n },
        ]) {
          await expect(payoutBySender(f, kind, direct.terms, position, []))
            .to.be.revertedWithCustomError(f.vault, 'JobEscrowUnknown')
            .withArgs(direct.id, position.setId, position.index)
        }
        await expect(payoutBySender(f, kind, direct.terms, direct.position, direct.proof)).to.emit(
          f.vault,
          PAYOUT_EVENT[kind],
        )
      })

      it('reverts JobEscrowUnknown for changed terms', async function () {
        const { f, escrows, direct } = await setup()
        for (const e of [escrows[1], direct]) {
          const changes: Partial<EscrowTerms>[] = [
            { amount: e.terms.amount + 1n },
            { feeBps: 0 },
            { resolverFeeBps: 0 },
            { payee: f.stranger.address },
            { expiry: e.terms.expiry - DAY },
            { nonce: e.terms.nonce + 1n },
          ]
          for (const change of changes) {
            const changed = { ...e.terms, ...change }
            await expect(payoutBySender(f, kind, changed, e.position, e.proof))
              .to.be.revertedWithCustomError(f.vault, 'JobEscrowUnknown')
              .withArgs(f.escrowIdOf(changed), e.position.setId, e.position.index)
          }
          await expect(payoutBySender(f, kind, e.terms, e.position, e.proof)).to.emit(
            f.vault,
            PAYOUT_EVENT[kind],
          )
        }
      })

      it('reverts JobEscrowClosed once the escrow was paid out by any payout, and isEscrowClosed says so', async function () {
        const { f, escrows } = await setup()
        const e = escrows[1]
        expect(await f.vault.isEscrowClosed(e.position.setId, e.position.index)).to.equal(false)
        await payoutBySender(f, kind, e.terms, e.position, e.proof)
        expect(await f.vault.isEscrowClosed(e.position.setId, e.position.index)).to.equal(true)
        const balances = await balancesOf(f, [
          f.carol.address,
          f.bob.address,
          f.treasury.address,
          f.resolver.address,
        ])
        for (const then of PAYOUTS) {
          await expect(payoutBySender(f, then, e.terms, e.position, e.proof))
            .to.be.revertedWithCustomError(f.vault, 'JobEscrowClosed')
            .withArgs(e.id)
        }
        await expect(f.vault.connect(f.bob).openEscrowDispute(...f.escrowArgs(e), NO_SIGNATURE, e.proof))
          .to.be.revertedWithCustomError(f.vault, 'JobEscrowClosed')
          .withArgs(e.id)
        expect(
          await balancesOf(f, [f.carol.address, f.bob.address, f.treasury.address, f.resolver.address]),
        ).to.deep.equal(balances)
        // The set's other escrows are still open.
        expect(await f.vault.isEscrowClosed(e.position.setId, 0n)).to.equal(false)
        expect(await f.vault.isEscrowClosed(e.position.setId, 2n)).to.equal(false)
      })
    })
  }

  describe('isEscrowClosed', function () {
    it('is false for every escrow of a fresh set, for unknown sets and for indexes past the set', async function () {
      const f = await loadFixture(deployVaultFixture)
      const escrows = await lockThreeInBatch(f)
      const setId = escrows[0].position.setId
      // A second set of several escrows right after it, so that its marker bit sits next to the first set's bits.
      const next = await lockThreeInBatch(f)
      expect(next[0].position.setId).to.equal(setId + 1n)
      for (const index of [0n, 1n, 2n, 3n, 2n ** 32n - 2n, 2n ** 32n - 1n, 2n ** 32n, ethers.MaxUint256]) {
        expect(await f.vault.isEscrowClosed(setId, index)).to.equal(false)
      }
      expect(await f.vault.isEscrowClosed(setId + 2n, 0n)).to.equal(false)
      expect(await f.vault.isEscrowClosed(DIRECT_ESCROW_SET_BASE + 1n, 0n)).to.equal(false)
    })
  })

  // ---------------------------------------------------------------- openEscrowDispute

  describe('openEscrowDispute', function () {
    it("opens a dispute on the payee's signature relayed by anyone, with a ruling deadline 14 days on", async function () {
      const f = await loadFixture(deployVaultFixture)
      const e = await f.lockEscrow()
      expect(await f.vault.DISPUTE_RULING_PERIOD()).to.equal(DISPUTE_PERIOD)
      expect(await f.vault.escrowRulingDeadline(e.id)).to.equal(0n)
      const at = await nextBlockAt()
      await expect(
        f.vault.connect(f.relayer).openEscrowDispute(...f.escrowArgs(e), await signDispute(f, e), e.proof),
      )
        .to.emit(f.vault, 'EscrowDisputed')
        .withArgs(e.id, at + DISPUTE_PERIOD)
      expect(await f.vault.escrowRulingDeadline(e.id)).to.equal(at + DISPUTE_PERIOD)
      expect(await f.vault.isEscrowClosed(e.position.setId, e.position.index)).to.equal(false)
      expect(await balanceOf(f, f.alice.address)).to.equal(INITIAL_DEPOSIT - e.terms.amount)
    })

    it('takes NO_SIGNATURE when the payee sends it', async function () {
      const f = await loadFixture(deployVaultFixture)
      const e = await f.lockEscrow()
      const at = await nextBlockAt()
      await expect(f.vault.connect(f.bob).openEscrowDispute(...f.escrowArgs(e), NO_SIGNATURE, e.proof))
        .to.emit(f.vault, 'EscrowDisputed')
        .withArgs(e.id, at + DISPUTE_PERIOD)
    })

    it('disputes an escrow locked in a batch with its proof', async function () {
      const f = await loadFixture(deployVaultFixture)
      const escrows = await lockThreeInBatch(f)
      const e = escrows[2]
      const at = await nextBlockAt()
      await expect(
        f.vault.connect(f.relayer).openEscrowDispute(...f.escrowArgs(e), await signDispute(f, e), e.proof),
      )
        .to.emit(f.vault, 'EscrowDisputed')
        .withArgs(e.id, at + DISPUTE_PERIOD)
      expect(await f.vault.escrowRulingDeadline(escrows[0].id)).to.equal(0n)
    })

    it('opens a dispute one second before the expiry', async function () {
      const f = await loadFixture(deployVaultFixture)
      const e = await f.lockEscrow()
      await time.setNextBlockTimestamp(e.terms.expiry - 1n)
      await expect(f.vault.connect(f.bob).openEscrowDispute(...f.escrowArgs(e), NO_SIGNATURE, e.proof))
        .to.emit(f.vault, 'EscrowDisputed')
        .withArgs(e.id, e.terms.expiry - 1n + DISPUTE_PERIOD)
    })

    it('reverts JobEscrowDisputeTooLate at the expiry', async function () {
      const f = await loadFixture(deployVaultFixture)
      const e = await f.lockEscrow()
      await time.setNextBlockTimestamp(e.terms.expiry)
      await expect(f.vault.connect(f.bob).openEscrowDispute(...f.escrowArgs(e), NO_SIGNATURE, e.proof))
        .to.be.revertedWithCustomError(f.vault, 'JobEscrowDisputeTooLate')
        .withArgs(e.id, e.terms.expiry, e.terms.expiry)
    })

    it('reverts JobEscrowDisputeTooLate after the expiry', async function () {
      const f = await loadFixture(deployVaultFixture)
      const e = await f.lockEscrow()
      await time.setNextBlockTimestamp(e.terms.expiry + DAY)
      await expect(
        f.vault.connect(f.relayer).openEscrowDispute(...f.escrowArgs(e), await signDispute(f, e), e.proof),
      )
        .to.be.revertedWithCustomError(f.vault, 'JobEscrowDisputeTooLate')
        .withArgs(e.id, e.terms.expiry, e.terms.expiry + DAY)
    })

    it('reverts JobEscrowAlreadyDisputed the second time, keeping the first deadline', async function () {
      const f = await loadFixture(deployVaultFixture)
      const e = await f.lockEscrow()
      const at = await nextBlockAt()
      await f.vault.connect(f.bob).openEscrowDispute(...f.escrowArgs(e), NO_SIGNATURE, e.proof)
      await time.increase(DAY)
      await expect(f.vault.connect(f.bob).openEscrowDispute(...f.escrowArgs(e), NO_SIGNATURE, e.proof))
        .to.be.revertedWithCustomError(f.vault, 'JobEscrowAlreadyDisputed')
        .withArgs(e.id, at + DISPUTE_PERIOD)
      expect(await f.vault.escrowRulingDeadline(e.id)).to.equal(at + DISPUTE_PERIOD)
    })

    it('reverts JobEscrowNoResolver for an escrow without a resolver', async function () {
      const f = await loadFixture(deployVaultFixture)
      const e = await f.lockEscrow({ resolver: ethers.ZeroAddress })
      await expect(f.vault.connect(f.bob).openEscrowDispute(...f.escrowArgs(e), NO_SIGNATURE, e.proof))
        .to.be.revertedWithCustomError(f.vault, 'JobEscrowNoResolver')
        .withArgs(e.id)
    })

    it('reverts JobEscrowInvalidSignature when someone other than the payee signed', async function () {
      const f = await loadFixture(deployVaultFixture)
      const e = await f.lockEscrow()
      for (const by of [f.alice, f.resolver, f.stranger]) {
        await expect(
          f.vault
            .connect(f.relayer)
            .openEscrowDispute(...f.escrowArgs(e), await signDispute(f, e, by), e.proof),
        )
          .to.be.revertedWithCustomError(f.vault, 'JobEscrowInvalidSignature')
          .withArgs(e.id, f.bob.address, by.address)
      }
      expect(await f.vault.escrowRulingDeadline(e.id)).to.equal(0n)
    })

    it('reverts JobEscrowInvalidSignature when the payer or a stranger sends NO_SIGNATURE', async function () {
      const f = await loadFixture(deployVaultFixture)
      const e = await f.lockEscrow()
      for (const sender of [f.alice, f.stranger]) {
        await expect(f.vault.connect(sender).openEscrowDispute(...f.escrowArgs(e), NO_SIGNATURE, e.proof))
          .to.be.revertedWithCustomError(f.vault, 'JobEscrowInvalidSignature')
          .withArgs(e.id, f.bob.address, ethers.ZeroAddress)
      }
    })

    it('reverts JobEscrowUnknown for a wrong proof, index or terms', async function () {
      const f = await loadFixture(deployVaultFixture)
      const escrows = await lockThreeInBatch(f)
      const e = escrows[0]
      await expect(
        f.vault.connect(f.bob).openEscrowDispute(...f.escrowArgs(e), NO_SIGNATURE, escrows[1].proof),
      )
        .to.be.revertedWithCustomError(f.vault, 'JobEscrowUnknown')
        .withArgs(e.id, e.position.setId, 0n)
      await expect(
        f.vault
          .connect(f.bob)
          .openEscrowDispute(e.terms, { ...e.position, index: 1n }, NO_SIGNATURE, e.proof),
      )
        .to.be.revertedWithCustomError(f.vault, 'JobEscrowUnknown')
        .withArgs(e.id, e.position.setId, 1n)
      const later = { ...e.terms, expiry: e.terms.expiry + 30n * DAY }
      await expect(f.vault.connect(f.bob).openEscrowDispute(later, e.position, NO_SIGNATURE, e.proof))
        .to.be.revertedWithCustomError(f.vault, 'JobEscrowUnknown')
        .withArgs(f.escrowIdOf(later), e.position.setId, 0n)
    })

    it('blocks the reclaim until the ruling deadline when it ends after the expiry, then lets the payer reclaim with no ruling', async function () {
      const f = await loadFixture(deployVaultFixture)
      const e = await f.lockEscrow()
      const at = await nextBlockAt()
      await f.vault.connect(f.bob).openEscrowDispute(...f.escrowArgs(e), NO_SIGNATURE, e.proof)
      const deadline = at + DISPUTE_PERIOD
      expect(deadline).to.be.greaterThan(e.terms.expiry)
      for (const now of [e.terms.expiry, deadline - 1n]) {
        await time.setNextBlockTimestamp(now)
        await expect(f.vault.connect(f.alice).reclaimExpiredEscrow(...f.escrowArgs(e), e.proof))
          .to.be.revertedWithCustomError(f.vault, 'JobEscrowNotReclaimable')
          .withArgs(e.id, deadline, now)
      }
      await time.setNextBlockTimestamp(deadline)
      await expect(f.vault.connect(f.alice).reclaimExpiredEscrow(...f.escrowArgs(e), e.proof))
        .to.emit(f.vault, 'EscrowExpired')
        .withArgs(e.id, f.alice.address, e.terms.amount)
      expect(await balanceOf(f, f.alice.address)).to.equal(INITIAL_DEPOSIT)
    })

    it('blocks the reclaim until the expiry when the ruling deadline ends before it', async function () {
      const f = await loadFixture(deployVaultFixture)
      const expiry = BigInt(await time.latest()) + 30n * DAY
      const e = await f.lockEscrow({ expiry })
      const at = await nextBlockAt()
      await f.vault.connect(f.bob).openEscrowDispute(...f.escrowArgs(e), NO_SIGNATURE, e.proof)
      const deadline = at + DISPUTE_PERIOD
      expect(deadline).to.be.lessThan(expiry)
      for (const now of [deadline, expiry - 1n]) {
        await time.setNextBlockTimestamp(now)
        await expect(f.vault.connect(f.alice).reclaimExpiredEscrow(...f.escrowArgs(e), e.proof))
          .to.be.revertedWithCustomError(f.vault, 'JobEscrowNotReclaimable')
          .withArgs(e.id, expiry, now)
      }
      await time.setNextBlockTimestamp(expiry)
      await expect(f.vault.connect(f.alice).reclaimExpiredEscrow(...f.escrowArgs(e), e.proof)).to.emit(
        f.vault,
        'EscrowExpired',
      )
    })

    it('lets the resolver rule after the expiry while disputed, and the reclaim then finds the escrow closed', async function () {
      const f = await loadFixture(deployVaultFixture)
      const e = await f.lockEscrow()
      await f.vault.connect(f.bob).openEscrowDispute(...f.escrowArgs(e), NO_SIGNATURE, e.proof)
      const deadline: bigint = await f.vault.escrowRulingDeadline(e.id)
      await time.increaseTo(e.terms.expiry + DAY)
      const split = rulingSplit(e.terms.amount, 8_000, e.terms.feeBps, e.terms.resolverFeeBps)
      await expect(
        f.vault
          .connect(f.relayer)
          .ruleEscrow(...f.escrowArgs(e), 8_000, await signRuling(f, e, 8_000), e.proof),
      )
        .to.emit(f.vault, 'EscrowRuled')
        .withArgs(e.id, 8_000, split.payeeAmount, split.payerAmount, split.fee, split.resolverFee)
      await time.increaseTo(deadline + 1n)
      await expect(f.vault.connect(f.alice).reclaimExpiredEscrow(...f.escrowArgs(e), e.proof))
        .to.be.revertedWithCustomError(f.vault, 'JobEscrowClosed')
        .withArgs(e.id)
      expect(await balanceOf(f, f.bob.address)).to.equal(INITIAL_DEPOSIT + split.payeeAmount)
    })

    it('leaves release and refund open while disputed', async function () {
      const f = await loadFixture(deployVaultFixture)
      const released = await f.lockEscrow()
      const refunded = await f.lockEscrow()
      for (const e of [released, refunded]) {
        await f.vault.connect(f.bob).openEscrowDispute(...f.escrowArgs(e), NO_SIGNATURE, e.proof)
      }
      await time.increaseTo(released.terms.expiry + DAY)
      await expect(
        f.vault.connect(f.alice).releaseEscrow(...f.escrowArgs(released), NO_SIGNATURE, released.proof),
      ).to.emit(f.vault, 'EscrowReleased')
      await expect(
        f.vault.connect(f.bob).refundEscrow(...f.escrowArgs(refunded), NO_SIGNATURE, refunded.proof),
      )
        .to.emit(f.vault, 'EscrowRefunded')
        .withArgs(refunded.id, f.alice.address, refunded.terms.amount)
    })
  })

  // ---------------------------------------------------------------- the fee decision

  describe('fees', function () {
    it('decision: a lock with feeBps below the vault fee (even 0) is accepted and its release charges only that fee', async function () {
      const f = await loadFixture(deployVaultFixture)
      const free = await f.lockEscrow({ feeBps: 0 })
      const cheap = await f.lockEscrow({ feeBps: 25 })
      expect(await f.vault.feeBps()).to.equal(FEE_BPS)
      await expect(f.vault.connect(f.alice).releaseEscrow(...f.escrowArgs(free), NO_SIGNATURE, free.proof))
        .to.emit(f.vault, 'EscrowReleased')
        .withArgs(free.id, f.bob.address, free.terms.amount, 0n)
      expect(await balanceOf(f, f.treasury.address)).to.equal(0n)
      const cheapFee = feeOf(cheap.terms.amount, 25)
      expect(cheapFee).to.be.greaterThan(0n).and.lessThan(feeOf(cheap.terms.amount, FEE_BPS))
      await expect(f.vault.connect(f.alice).releaseEscrow(...f.escrowArgs(cheap), NO_SIGNATURE, cheap.proof))
        .to.emit(f.vault, 'EscrowReleased')
        .withArgs(cheap.id, f.bob.address, cheap.terms.amount - cheapFee, cheapFee)
      expect(await balancesOf(f, [f.bob.address, f.treasury.address])).to.deep.equal([
        INITIAL_DEPOSIT + free.terms.amount + cheap.terms.amount - cheapFee,
        cheapFee,
      ])
    })

    it('a ruling on a zero-fee escrow charges the treasury nothing, and the resolver its own fee', async function () {
      const f = await loadFixture(deployVaultFixture)
      const e = await f.lockEscrow({ feeBps: 0 })
      const resolverFee = feeOf(e.terms.amount, e.terms.resolverFeeBps)
      const payeeAmount = e.terms.amount - resolverFee
      await expect(f.vault.connect(f.resolver).ruleEscrow(...f.escrowArgs(e), 10_000, NO_SIGNATURE, e.proof))
        .to.emit(f.vault, 'EscrowRuled')
        .withArgs(e.id, 10_000, payeeAmount, 0n, 0n, resolverFee)
      expect(await balancesOf(f, [f.treasury.address, f.resolver.address])).to.deep.equal([0n, resolverFee])
    })

    it('charges the fee fixed by the lock even after the vault fee changes', async function () {
      const f = await loadFixture(deployVaultFixture)
      const e = await f.lockEscrow({ feeBps: FEE_BPS })
      await f.vault.connect(f.owner).proposeFee(10)
      await time.increase(Number(await f.vault.adminDelay()))
      await f.vault.connect(f.owner).applyFee()
      expect(await f.vault.feeBps()).to.equal(10)
      const fee = feeOf(e.terms.amount, FEE_BPS)
      await expect(f.vault.connect(f.alice).releaseEscrow(...f.escrowArgs(e), NO_SIGNATURE, e.proof))
        .to.emit(f.vault, 'EscrowReleased')
        .withArgs(e.id, f.bob.address, e.terms.amount - fee, fee)
    })
  })

  // ---------------------------------------------------------------- regressions: issue 9

  describe('attacks of issue 9', function () {
    it("attack: a stranger squats a victim's escrow id with a zero-amount lock", async function () {
      const f = await loadFixture(deployVaultFixture)
      const victim = await f.escrowTerms()
      const victimSignature = await f.signLock(victim)
      const victimId = f.escrowIdOf(victim)
      // The stranger, who holds nothing, copies the victim's terms at zero: refused, as itself or as the payer.
      for (const payer of [f.alice.address, f.stranger.address]) {
        await expect(f.vault.connect(f.stranger).lockEscrow({ ...victim, payer, amount: 0n }, NO_SIGNATURE))
          .to.be.revertedWithCustomError(f.vault, 'JobEscrowInvalidAmount')
          .withArgs(0n)
      }
      // Paying for a copy of the terms (same payee, resolver, expiry and nonce) yields another id.
      await f.usdc.mint(f.stranger.address, 1n)
      await f.usdc.connect(f.stranger).approve(f.vaultAddress, 1n)
      await f.vault.connect(f.stranger).deposit(f.usdcAddress, 1n)
      const copy = { ...victim, payer: f.stranger.address, amount: 1n }
      const copyId = f.escrowIdOf(copy)
      expect(copyId).to.not.equal(victimId)
      await expect(f.vault.connect(f.stranger).lockEscrow(copy, NO_SIGNATURE))
        .to.emit(f.vault, 'EscrowLocked')
        .withArgs(
          copyId,
          f.stranger.address,
          f.bob.address,
          DIRECT_ESCROW_SET_BASE + 1n,
          0n,
          f.usdcAddress,
          1n,
          f.resolver.address,
          victim.feeBps,
          victim.resolverFeeBps,
          victim.expiry,
          victim.nonce,
          victim.partialRelease,
        )
      // The victim's lock still lands, under its own id.
      await expect(f.vault.connect(f.relayer).lockEscrow(victim, victimSignature))
        .to.emit(f.vault, 'EscrowLocked')
        .withArgs(
          victimId,
          f.alice.address,
          f.bob.address,
          DIRECT_ESCROW_SET_BASE + 2n,
          0n,
          f.usdcAddress,
          victim.amount,
          f.resolver.address,
          victim.feeBps,
          victim.resolverFeeBps,
          victim.expiry,
          victim.nonce,
          victim.partialRelease,
        )
      expect(await balanceOf(f, f.alice.address)).to.equal(INITIAL_DEPOSIT - victim.amount)
    })

    it("attack: replaying a payer's lock signature locks its money twice", async function () {
      const f = await loadFixture(deployVaultFixture)
      const terms = await f.escrowTerms()
      const signature = await f.signLock(terms)
      await f.vault.connect(f.relayer).lockEscrow(terms, signature)
      await expect(f.vault.connect(f.stranger).lockEscrow(terms, signature))
        .to.be.revertedWithCustomError(f.vault, 'VaultNonceUsed')
        .withArgs(f.alice.address, terms.nonce)
      await expect(f.vault.connect(f.alice).lockEscrow(terms, NO_SIGNATURE))
        .to.be.revertedWithCustomError(f.vault, 'VaultNonceUsed')
        .withArgs(f.alice.address, terms.nonce)
      expect(await f.simulateSkipped([op(OpKind.EscrowLock, [terms, signature])])).to.deep.equal([
        [0, 'VaultNonceUsed'],
      ])
      expect(await balanceOf(f, f.alice.address)).to.equal(INITIAL_DEPOSIT - terms.amount)
    })

    it('attack: a payer revives an abandoned signed lock', async function () {
      const f = await loadFixture(deployVaultFixture)
      const terms = await f.escrowTerms()
      const signature = await f.signLock(terms)
      // Until cancelled, the signed lock would land.
      const [id] = await f.vault.connect(f.relayer).lockEscrow.staticCall(terms, signature)
      expect(id).to.equal(f.escrowIdOf(terms))
      await expect(f.vault.connect(f.alice).invalidateNonce(terms.nonce))
        .to.emit(f.vault, 'NonceInvalidated')
        .withArgs(f.alice.address, terms.nonce)
      // Topping the balance up does not revive it, for any submitter, directly or in a batch.
      await f.vault.connect(f.alice).deposit(f.usdcAddress, INITIAL_DEPOSIT)
      await expect(f.vault.connect(f.relayer).lockEscrow(terms, signature))
        .to.be.revertedWithCustomError(f.vault, 'VaultNonceUsed')
        .withArgs(f.alice.address, terms.nonce)
      await expect(f.vault.connect(f.alice).lockEscrow(terms, NO_SIGNATURE))
        .to.be.revertedWithCustomError(f.vault, 'VaultNonceUsed')
        .withArgs(f.alice.address, terms.nonce)
      expect(await f.simulateSkipped([op(OpKind.EscrowLock, [terms, signature])])).to.deep.equal([
        [0, 'VaultNonceUsed'],
      ])
      expect(await balanceOf(f, f.alice.address)).to.equal(2n * INITIAL_DEPOSIT)
    })

    it('attack: the payer names itself (or the payee) resolver and rules itself a refund', async function () {
      const f = await loadFixture(deployVaultFixture)
      for (const resolver of [f.alice.address, f.bob.address]) {
        const terms = await f.escrowTerms({ resolver })
        const signature = await f.signLock(terms)
        await expect(f.vault.connect(f.alice).lockEscrow(terms, NO_SIGNATURE))
          .to.be.revertedWithCustomError(f.vault, 'JobEscrowInvalidParties')
          .withArgs(f.alice.address, f.bob.address, resolver)
        await expect(f.vault.connect(f.relayer).lockEscrow(terms, signature))
          .to.be.revertedWithCustomError(f.vault, 'JobEscrowInvalidParties')
          .withArgs(f.alice.address, f.bob.address, resolver)
        expect(await f.simulateSkipped([op(OpKind.EscrowLock, [terms, signature])])).to.deep.equal([
          [0, 'JobEscrowInvalidParties'],
        ])
      }
      expect(await balanceOf(f, f.alice.address)).to.equal(INITIAL_DEPOSIT)
    })

    it('attack: the coordinator delays a ruling signed before expiry past it so the payer reclaims first', async function () {
      const f = await loadFixture(deployVaultFixture)
      const e = await f.lockEscrow()
      // The resolver rules for the payee before expiry; the coordinator sits on the ruling.
      const ruling = await signRuling(f, e, 10_000)
      await time.increaseTo(e.terms.expiry - DAY)
      const at = await nextBlockAt()
      await f.vault.connect(f.relayer).openEscrowDispute(...f.escrowArgs(e), await signDispute(f, e), e.proof)
      const deadline = at + DISPUTE_PERIOD
      // Past the expiry the payer's reclaim waits for the ruling deadline.
      for (const now of [e.terms.expiry, e.terms.expiry + 3n * DAY]) {
        await time.setNextBlockTimestamp(now)
        await expect(f.vault.connect(f.alice).reclaimExpiredEscrow(...f.escrowArgs(e), e.proof))
          .to.be.revertedWithCustomError(f.vault, 'JobEscrowNotReclaimable')
          .withArgs(e.id, deadline, now)
      }
      // The delayed ruling lands and pays the payee.
      const split = rulingSplit(e.terms.amount, 10_000, e.terms.feeBps, e.terms.resolverFeeBps)
      await expect(f.vault.connect(f.bob).ruleEscrow(...f.escrowArgs(e), 10_000, ruling, e.proof))
        .to.emit(f.vault, 'EscrowRuled')
        .withArgs(e.id, 10_000, split.payeeAmount, 0n, split.fee, split.resolverFee)
      expect(await balancesOf(f, [f.alice.address, f.bob.address])).to.deep.equal([
        INITIAL_DEPOSIT - e.terms.amount,
        INITIAL_DEPOSIT + split.payeeAmount,
      ])
      await time.increaseTo(deadline)
      await expect(f.vault.connect(f.alice).reclaimExpiredEscrow(...f.escrowArgs(e), e.proof))
        .to.be.revertedWithCustomError(f.vault, 'JobEscrowClosed')
        .withArgs(e.id)
    })

    it('attack: a proof moves an escrow to another index (another bit) to be paid twice', async function () {
      const f = await loadFixture(deployVaultFixture)
      const escrows = await lockThreeInBatch(f)
      const [e, ...others] = escrows
      const setId = e.position.setId
      await f.vault.connect(f.alice).releaseEscrow(...f.escrowArgs(e), NO_SIGNATURE, e.proof)
      const paid = await balancesOf(f, [f.alice.address, f.bob.address, f.treasury.address])
      const proofs = [...escrows.map((x) => x.proof), []]
      for (const index of [0n, 1n, 2n, 3n, 2n ** 32n, (1n << 32n) + 1n]) {
        for (const proof of proofs) {
          if (index === 0n && proof === e.proof) continue
          await expect(f.vault.connect(f.alice).releaseEscrow(e.terms, { setId, index }, NO_SIGNATURE, proof))
            .to.be.revertedWithCustomError(f.vault, 'JobEscrowUnknown')
            .withArgs(e.id, setId, index)
        }
      }
      await expect(f.vault.connect(f.alice).releaseEscrow(...f.escrowArgs(e), NO_SIGNATURE, e.proof))
        .to.be.revertedWithCustomError(f.vault, 'JobEscrowClosed')
        .withArgs(e.id)
      expect(await balancesOf(f, [f.alice.address, f.bob.address, f.treasury.address])).to.deep.equal(paid)
      // The other escrows' bits are untouched: each is still paid once, to its own payee.
      for (const other of others) {
        expect(await f.vault.isEscrowClosed(setId, other.position.index)).to.equal(false)
        await expect(
          f.vault
            .connect(signerOf(f, other.terms.payer))
            .releaseEscrow(...f.escrowArgs(other), NO_SIGNATURE, other.proof),
        )
          .to.emit(f.vault, 'EscrowReleased')
          .withArgs(
            other.id,
            other.terms.payee,
            other.terms.amount - feeOf(other.terms.amount, other.terms.feeBps),
            feeOf(other.terms.amount, other.terms.feeBps),
          )
      }
    })
  })

  // ---------------------------------------------------------------- FeeMath

  describe('FeeMath', function () {
    it('splits a ruling into parts that sum to the amount, remainder to the payer (property)', async function () {
      const harness = (await ethers.deployContract('FeeMathHarness')) as unknown as AnyContract
      await fc.assert(
        fc.asyncProperty(
          fc.bigInt({ min: 0n, max: MAX_AMOUNT }),
          fc.integer({ min: 0, max: 10_000 }),
          fc.integer({ min: 0, max: 10_000 }),
          fc.integer({ min: 0, max: 10_000 }),
          async (amount, payeeBps, feeBps, resolverFeeBps) => {
            const [payeeAmount, payerAmount, fee, resolverFee] = await harness.splitRuling(
              amount,
              payeeBps,
              feeBps,
              resolverFeeBps,
            )
            expect(payeeAmount + payerAmount + fee + resolverFee).to.equal(amount)
            expect({ payeeAmount, payerAmount, fee, resolverFee }).to.deep.equal(
              rulingSplit(amount, payeeBps, feeBps, resolverFeeBps),
            )
            const [net, takenFee] = await harness.takeFee(amount, feeBps)
            expect(takenFee).to.equal(feeOf(amount, feeBps))
            expect(net + takenFee).to.equal(amount)
          },
        ),
        { numRuns: 60 },
      )
    })

    it('splits the edges exactly: all to the payee, all to the payer, zero amount', async function () {
      const harness = (await ethers.deployContract('FeeMathHarness')) as unknown as AnyContract
      expect(await harness.splitRuling(10_000n, 10_000, 100, 200)).to.deep.equal([9_702n, 0n, 98n, 200n])
      expect(await harness.splitRuling(10_000n, 0, 100, 200)).to.deep.equal([0n, 9_800n, 0n, 200n])
      expect(await harness.splitRuling(0n, 5_000, 100, 200)).to.deep.equal([0n, 0n, 0n, 0n])
      expect(await harness.takeFee(0n, 1_000)).to.deep.equal([0n, 0n])
    })
  })
})
