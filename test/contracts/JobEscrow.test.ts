import { expect } from 'chai'
import { ethers } from 'hardhat'
import { loadFixture, time } from '@nomicfoundation/hardhat-network-helpers'
import fc from 'fast-check'
import {
  FEE_BPS,
  INITIAL_DEPOSIT,
  NO_SIGNATURE,
  USDC,
  deployVaultFixture,
  escrowIdOf,
  nextBlockAt,
} from './fixtures'

const Status = { None: 0n, Locked: 1n, Released: 2n, Refunded: 3n, Ruled: 4n, Expired: 5n }

describe('JobEscrow', function () {
  describe('lockEscrow', function () {
    it('locks the payer funds with the payer signature, relayed by anyone', async function () {
      const f = await loadFixture(deployVaultFixture)
      const terms = await f.escrowTerms()
      const signature = await f.sign(f.alice, 'EscrowLock', { ...terms })
      await expect(f.vault.connect(f.relayer).lockEscrow(terms, signature))
        .to.emit(f.vault, 'EscrowLocked')
        .withArgs(
          terms.escrowId,
          terms.payer,
          terms.payee,
          terms.token,
          terms.amount,
          terms.resolver,
          terms.feeBps,
          terms.resolverFeeBps,
          terms.expiry,
        )
      expect(await f.vault.balanceOf(f.alice.address, f.usdcAddress)).to.equal(INITIAL_DEPOSIT - terms.amount)
      const stored = await f.vault.escrow(terms.escrowId)
      expect(stored.payer).to.equal(terms.payer)
      expect(stored.payee).to.equal(terms.payee)
      expect(stored.token).to.equal(terms.token)
      expect(stored.amount).to.equal(terms.amount)
      expect(stored.resolver).to.equal(terms.resolver)
      expect(stored.feeBps).to.equal(BigInt(terms.feeBps))
      expect(stored.resolverFeeBps).to.equal(BigInt(terms.resolverFeeBps))
      expect(stored.expiry).to.equal(terms.expiry)
      expect(stored.status).to.equal(Status.Locked)
    })

    it('takes no signature when the payer sends it', async function () {
      const f = await loadFixture(deployVaultFixture)
      const terms = await f.escrowTerms()
      await expect(f.vault.connect(f.alice).lockEscrow(terms, NO_SIGNATURE)).to.emit(f.vault, 'EscrowLocked')
    })

    it('reverts when the escrow id was used before', async function () {
      const f = await loadFixture(deployVaultFixture)
      const terms = await f.lockEscrow()
      await expect(f.vault.connect(f.alice).lockEscrow(terms, NO_SIGNATURE))
        .to.be.revertedWithCustomError(f.vault, 'JobEscrowAlreadyExists')
        .withArgs(terms.escrowId)
    })

    it('reverts when the payee is zero or the payer', async function () {
      const f = await loadFixture(deployVaultFixture)
      for (const payee of [ethers.ZeroAddress, f.alice.address]) {
        const terms = await f.escrowTerms({ payee })
        await expect(f.vault.connect(f.alice).lockEscrow(terms, NO_SIGNATURE))
          .to.be.revertedWithCustomError(f.vault, 'JobEscrowInvalidParties')
          .withArgs(f.alice.address, payee)
      }
    })

    it('reverts for a token off the allowlist', async function () {
      const f = await loadFixture(deployVaultFixture)
      const terms = await f.escrowTerms({ token: f.stranger.address })
      await expect(f.vault.connect(f.alice).lockEscrow(terms, NO_SIGNATURE))
        .to.be.revertedWithCustomError(f.vault, 'VaultTokenNotAllowed')
        .withArgs(f.stranger.address)
    })

    it('reverts when the amount does not fit 96 bits', async function () {
      const f = await loadFixture(deployVaultFixture)
      const terms = await f.escrowTerms({ amount: 2n ** 96n })
      await expect(f.vault.connect(f.alice).lockEscrow(terms, NO_SIGNATURE))
        .to.be.revertedWithCustomError(f.vault, 'JobEscrowAmountTooLarge')
        .withArgs(2n ** 96n)
    })

    it('reverts when the fee exceeds the protocol fee', async function () {
      const f = await loadFixture(deployVaultFixture)
      const terms = await f.escrowTerms({ feeBps: FEE_BPS + 1 })
      await expect(f.vault.connect(f.alice).lockEscrow(terms, NO_SIGNATURE))
        .to.be.revertedWithCustomError(f.vault, 'JobEscrowFeeTooHigh')
        .withArgs(FEE_BPS + 1, FEE_BPS)
    })

    it('reverts when the resolver fee exceeds its cap', async function () {
      const f = await loadFixture(deployVaultFixture)
      const terms = await f.escrowTerms({ resolverFeeBps: 1001 })
      await expect(f.vault.connect(f.alice).lockEscrow(terms, NO_SIGNATURE))
        .to.be.revertedWithCustomError(f.vault, 'JobEscrowResolverFeeTooHigh')
        .withArgs(1001, 1000)
    })

    it('reverts when the expiry is not in the future', async function () {
      const f = await loadFixture(deployVaultFixture)
      const terms = await f.escrowTerms()
      const at = await nextBlockAt()
      await expect(f.vault.connect(f.alice).lockEscrow({ ...terms, expiry: at }, NO_SIGNATURE))
        .to.be.revertedWithCustomError(f.vault, 'JobEscrowExpiryInPast')
        .withArgs(at, at)
    })

    it('reverts when the signature is not the payer', async function () {
      const f = await loadFixture(deployVaultFixture)
      const terms = await f.escrowTerms()
      const signature = await f.sign(f.bob, 'EscrowLock', { ...terms })
      await expect(f.vault.connect(f.relayer).lockEscrow(terms, signature))
        .to.be.revertedWithCustomError(f.vault, 'JobEscrowInvalidSignature')
        .withArgs(terms.escrowId, f.alice.address, f.bob.address)
    })

    it('reverts when a signed term is changed', async function () {
      const f = await loadFixture(deployVaultFixture)
      const terms = await f.escrowTerms()
      const signature = await f.sign(f.alice, 'EscrowLock', { ...terms })
      await expect(
        f.vault.connect(f.relayer).lockEscrow({ ...terms, payee: f.stranger.address }, signature),
      ).to.be.revertedWithCustomError(f.vault, 'JobEscrowInvalidSignature')
    })

    it('reverts when the payer balance is short', async function () {
      const f = await loadFixture(deployVaultFixture)
      const terms = await f.escrowTerms({ amount: INITIAL_DEPOSIT + 1n })
      await expect(f.vault.connect(f.alice).lockEscrow(terms, NO_SIGNATURE))
        .to.be.revertedWithCustomError(f.vault, 'VaultInsufficientBalance')
        .withArgs(f.alice.address, f.usdcAddress, INITIAL_DEPOSIT, INITIAL_DEPOSIT + 1n)
    })
  })

  describe('releaseEscrow', function () {
    it('pays the payee less the fee and the treasury the fee, on the payer signature', async function () {
      const f = await loadFixture(deployVaultFixture)
      const terms = await f.lockEscrow()
      const fee = (terms.amount * BigInt(terms.feeBps)) / 10_000n
      const signature = await f.sign(f.alice, 'EscrowRelease', { escrowId: terms.escrowId })
      await expect(f.vault.connect(f.relayer).releaseEscrow(terms.escrowId, signature))
        .to.emit(f.vault, 'EscrowReleased')
        .withArgs(terms.escrowId, f.bob.address, terms.amount - fee, fee)
      expect(await f.vault.balanceOf(f.bob.address, f.usdcAddress)).to.equal(
        INITIAL_DEPOSIT + terms.amount - fee,
      )
      expect(await f.vault.balanceOf(f.treasury.address, f.usdcAddress)).to.equal(fee)
      expect((await f.vault.escrow(terms.escrowId)).status).to.equal(Status.Released)
    })

    it('takes no signature when the payer sends it', async function () {
      const f = await loadFixture(deployVaultFixture)
      const terms = await f.lockEscrow()
      await expect(f.vault.connect(f.alice).releaseEscrow(terms.escrowId, NO_SIGNATURE)).to.emit(
        f.vault,
        'EscrowReleased',
      )
    })

    it('reverts when the caller is not the payer', async function () {
      const f = await loadFixture(deployVaultFixture)
      const terms = await f.lockEscrow()
      await expect(f.vault.connect(f.bob).releaseEscrow(terms.escrowId, NO_SIGNATURE))
        .to.be.revertedWithCustomError(f.vault, 'JobEscrowInvalidSignature')
        .withArgs(terms.escrowId, f.alice.address, ethers.ZeroAddress)
    })

    it('reverts when the signature is the payee', async function () {
      const f = await loadFixture(deployVaultFixture)
      const terms = await f.lockEscrow()
      const signature = await f.sign(f.bob, 'EscrowRelease', { escrowId: terms.escrowId })
      await expect(f.vault.connect(f.bob).releaseEscrow(terms.escrowId, signature))
        .to.be.revertedWithCustomError(f.vault, 'JobEscrowInvalidSignature')
        .withArgs(terms.escrowId, f.alice.address, f.bob.address)
    })

    it('reverts for an unknown or settled escrow', async function () {
      const f = await loadFixture(deployVaultFixture)
      const unknown = escrowIdOf('unknown')
      await expect(f.vault.connect(f.alice).releaseEscrow(unknown, NO_SIGNATURE))
        .to.be.revertedWithCustomError(f.vault, 'JobEscrowNotLocked')
        .withArgs(unknown, Status.None)
      const terms = await f.lockEscrow()
      await f.vault.connect(f.alice).releaseEscrow(terms.escrowId, NO_SIGNATURE)
      await expect(f.vault.connect(f.alice).releaseEscrow(terms.escrowId, NO_SIGNATURE))
        .to.be.revertedWithCustomError(f.vault, 'JobEscrowNotLocked')
        .withArgs(terms.escrowId, Status.Released)
    })
  })

  describe('refundEscrow', function () {
    it('returns the whole escrow to the payer on the payee signature', async function () {
      const f = await loadFixture(deployVaultFixture)
      const terms = await f.lockEscrow()
      const signature = await f.sign(f.bob, 'EscrowRefund', { escrowId: terms.escrowId })
      await expect(f.vault.connect(f.relayer).refundEscrow(terms.escrowId, signature))
        .to.emit(f.vault, 'EscrowRefunded')
        .withArgs(terms.escrowId, f.alice.address, terms.amount)
      expect(await f.vault.balanceOf(f.alice.address, f.usdcAddress)).to.equal(INITIAL_DEPOSIT)
      expect((await f.vault.escrow(terms.escrowId)).status).to.equal(Status.Refunded)
    })

    it('takes no signature when the payee sends it', async function () {
      const f = await loadFixture(deployVaultFixture)
      const terms = await f.lockEscrow()
      await expect(f.vault.connect(f.bob).refundEscrow(terms.escrowId, NO_SIGNATURE)).to.emit(
        f.vault,
        'EscrowRefunded',
      )
    })

    it('reverts when the signature is the payer', async function () {
      const f = await loadFixture(deployVaultFixture)
      const terms = await f.lockEscrow()
      const signature = await f.sign(f.alice, 'EscrowRefund', { escrowId: terms.escrowId })
      await expect(f.vault.connect(f.alice).refundEscrow(terms.escrowId, signature))
        .to.be.revertedWithCustomError(f.vault, 'JobEscrowInvalidSignature')
        .withArgs(terms.escrowId, f.bob.address, f.alice.address)
    })

    it('reverts for an escrow that is not locked', async function () {
      const f = await loadFixture(deployVaultFixture)
      const terms = await f.lockEscrow()
      await f.vault.connect(f.bob).refundEscrow(terms.escrowId, NO_SIGNATURE)
      await expect(f.vault.connect(f.bob).refundEscrow(terms.escrowId, NO_SIGNATURE))
        .to.be.revertedWithCustomError(f.vault, 'JobEscrowNotLocked')
        .withArgs(terms.escrowId, Status.Refunded)
    })
  })

  describe('ruleEscrow', function () {
    for (const [label, payeeBps] of [
      ['the payee wins', 10_000],
      ['the payer wins', 0],
      ['a split', 3_333],
    ] as const) {
      it(`applies ${label}, with parts that sum to the escrow`, async function () {
        const f = await loadFixture(deployVaultFixture)
        const terms = await f.lockEscrow({ amount: 100_000_007n })
        const resolverFee = (terms.amount * BigInt(terms.resolverFeeBps)) / 10_000n
        const rest = terms.amount - resolverFee
        const payeeGross = (rest * BigInt(payeeBps)) / 10_000n
        const fee = (payeeGross * BigInt(terms.feeBps)) / 10_000n
        const payeeNet = payeeGross - fee
        const payerAmount = rest - payeeGross
        expect(payeeNet + payerAmount + fee + resolverFee).to.equal(terms.amount)
        const signature = await f.sign(f.resolver, 'EscrowRuling', { escrowId: terms.escrowId, payeeBps })
        await expect(f.vault.connect(f.relayer).ruleEscrow(terms.escrowId, payeeBps, signature))
          .to.emit(f.vault, 'EscrowRuled')
          .withArgs(terms.escrowId, payeeBps, payeeNet, payerAmount, fee, resolverFee)
        expect(await f.vault.balanceOf(f.bob.address, f.usdcAddress)).to.equal(INITIAL_DEPOSIT + payeeNet)
        expect(await f.vault.balanceOf(f.alice.address, f.usdcAddress)).to.equal(
          INITIAL_DEPOSIT - terms.amount + payerAmount,
        )
        expect(await f.vault.balanceOf(f.treasury.address, f.usdcAddress)).to.equal(fee)
        expect(await f.vault.balanceOf(f.resolver.address, f.usdcAddress)).to.equal(resolverFee)
        expect((await f.vault.escrow(terms.escrowId)).status).to.equal(Status.Ruled)
      })
    }

    it('takes no signature when the resolver sends it', async function () {
      const f = await loadFixture(deployVaultFixture)
      const terms = await f.lockEscrow()
      await expect(f.vault.connect(f.resolver).ruleEscrow(terms.escrowId, 5_000, NO_SIGNATURE)).to.emit(
        f.vault,
        'EscrowRuled',
      )
    })

    it('reverts for a share above 10000 bps', async function () {
      const f = await loadFixture(deployVaultFixture)
      const terms = await f.lockEscrow()
      await expect(f.vault.connect(f.resolver).ruleEscrow(terms.escrowId, 10_001, NO_SIGNATURE))
        .to.be.revertedWithCustomError(f.vault, 'JobEscrowInvalidRuling')
        .withArgs(terms.escrowId, 10_001)
    })

    it('reverts when the escrow has no resolver', async function () {
      const f = await loadFixture(deployVaultFixture)
      const terms = await f.lockEscrow({ resolver: ethers.ZeroAddress })
      await expect(f.vault.connect(f.resolver).ruleEscrow(terms.escrowId, 1, NO_SIGNATURE))
        .to.be.revertedWithCustomError(f.vault, 'JobEscrowNoResolver')
        .withArgs(terms.escrowId)
    })

    it('reverts when the signature is not the resolver', async function () {
      const f = await loadFixture(deployVaultFixture)
      const terms = await f.lockEscrow()
      const signature = await f.sign(f.bob, 'EscrowRuling', { escrowId: terms.escrowId, payeeBps: 10_000 })
      await expect(f.vault.connect(f.bob).ruleEscrow(terms.escrowId, 10_000, signature))
        .to.be.revertedWithCustomError(f.vault, 'JobEscrowInvalidSignature')
        .withArgs(terms.escrowId, f.resolver.address, f.bob.address)
    })

    it('reverts when the signed share is changed', async function () {
      const f = await loadFixture(deployVaultFixture)
      const terms = await f.lockEscrow()
      const signature = await f.sign(f.resolver, 'EscrowRuling', { escrowId: terms.escrowId, payeeBps: 0 })
      await expect(
        f.vault.connect(f.bob).ruleEscrow(terms.escrowId, 10_000, signature),
      ).to.be.revertedWithCustomError(f.vault, 'JobEscrowInvalidSignature')
    })

    it('reverts for an escrow that is not locked', async function () {
      const f = await loadFixture(deployVaultFixture)
      const id = escrowIdOf('none')
      await expect(f.vault.connect(f.resolver).ruleEscrow(id, 1, NO_SIGNATURE))
        .to.be.revertedWithCustomError(f.vault, 'JobEscrowNotLocked')
        .withArgs(id, Status.None)
    })
  })

  describe('reclaimExpiredEscrow', function () {
    it('returns an expired escrow to the payer, called by anyone', async function () {
      const f = await loadFixture(deployVaultFixture)
      const terms = await f.lockEscrow()
      await time.increaseTo(terms.expiry)
      await expect(f.vault.connect(f.stranger).reclaimExpiredEscrow(terms.escrowId))
        .to.emit(f.vault, 'EscrowExpired')
        .withArgs(terms.escrowId, f.alice.address, terms.amount)
      expect(await f.vault.balanceOf(f.alice.address, f.usdcAddress)).to.equal(INITIAL_DEPOSIT)
      expect((await f.vault.escrow(terms.escrowId)).status).to.equal(Status.Expired)
    })

    it('reverts before the expiry', async function () {
      const f = await loadFixture(deployVaultFixture)
      const terms = await f.lockEscrow()
      const at = await nextBlockAt()
      await expect(f.vault.reclaimExpiredEscrow(terms.escrowId))
        .to.be.revertedWithCustomError(f.vault, 'JobEscrowNotExpired')
        .withArgs(terms.escrowId, terms.expiry, at)
    })

    it('reverts once the escrow was settled', async function () {
      const f = await loadFixture(deployVaultFixture)
      const terms = await f.lockEscrow()
      await f.vault.connect(f.alice).releaseEscrow(terms.escrowId, NO_SIGNATURE)
      await time.increaseTo(terms.expiry)
      await expect(f.vault.reclaimExpiredEscrow(terms.escrowId))
        .to.be.revertedWithCustomError(f.vault, 'JobEscrowNotLocked')
        .withArgs(terms.escrowId, Status.Released)
    })
  })

  describe('fee math', function () {
    it('splits always sum to the whole, remainder to the payer (property)', async function () {
      const harness = await ethers.deployContract('FeeMathHarness')
      await fc.assert(
        fc.asyncProperty(
          fc.bigInt({ min: 0n, max: 2n ** 96n - 1n }),
          fc.integer({ min: 0, max: 10_000 }),
          fc.integer({ min: 0, max: 1_000 }),
          fc.integer({ min: 0, max: 1_000 }),
          async (amount, payeeBps, feeBps, resolverFeeBps) => {
            const [payeeNet, payerAmount, fee, resolverFee] = await harness.splitRuling(
              amount,
              payeeBps,
              feeBps,
              resolverFeeBps,
            )
            expect(payeeNet + payerAmount + fee + resolverFee).to.equal(amount)
            expect(resolverFee).to.equal((amount * BigInt(resolverFeeBps)) / 10_000n)
            const [net, takeFee] = await harness.takeFee(amount, feeBps)
            expect(net + takeFee).to.equal(amount)
            expect(takeFee).to.equal((amount * BigInt(feeBps)) / 10_000n)
          },
        ),
        { numRuns: 50 },
      )
    })

    it('charges no fee on a zero amount', async function () {
      const harness = await ethers.deployContract('FeeMathHarness')
      expect(await harness.takeFee(0n, 1_000)).to.deep.equal([0n, 0n])
      void USDC
    })
  })
})
