import { expect } from 'chai'
import { loadFixture } from '@nomicfoundation/hardhat-network-helpers'
import type { HardhatEthersSigner } from '@nomicfoundation/hardhat-ethers/signers'
import {
  FEE_BPS,
  INITIAL_DEPOSIT,
  NO_SIGNATURE,
  OpKind,
  USDC,
  deployVaultFixture,
  op,
  type LockedEscrow,
  type Op,
  type Sig,
  type VaultFixture,
  withDirtyWord,
} from './fixtures'

const BPS = 10_000n

function feeOf(amount: bigint, bps: number | bigint): bigint {
  return (amount * BigInt(bps)) / BPS
}

async function balancesOf(f: VaultFixture, accounts: string[]): Promise<bigint[]> {
  return Promise.all(accounts.map((a) => f.vault.balanceOf(a, f.usdcAddress) as Promise<bigint>))
}

/** `signer`'s `EscrowPartialRelease` of `amount` of escrow `e` (the payer's unless told). */
function signPartial(
  f: VaultFixture,
  e: LockedEscrow,
  amount: bigint,
  signer: HardhatEthersSigner = f.alice,
) {
  return f.sign(signer, 'EscrowPartialRelease', { escrowId: e.id, amount })
}

function partialOp(e: LockedEscrow, amount: bigint, signature: Sig): Op {
  return op(OpKind.EscrowPartialRelease, [e.terms, e.position, amount, signature, e.proof])
}

/** The events of `name` in the receipt of settling `ops`, and what it skipped as `[index, error name]`. */
async function settleAndRead(f: VaultFixture, ops: Op[]) {
  const receipt = await (await f.settle(ops)).wait()
  const parsed = receipt.logs.map((l: never) => f.vault.interface.parseLog(l))
  const skipped = parsed
    .filter((e: { name: string } | null) => e?.name === 'OpSkipped')
    .map((e: { args: { index: bigint; reason: string } }) => [
      Number(e.args.index),
      f.vault.interface.parseError(e.args.reason)?.name,
    ])
  const named = (name: string) =>
    parsed.filter((e: { name: string } | null) => e?.name === name).map((e: { args: unknown }) => e.args)
  return { skipped, named }
}

/** A 20 USDC escrow from alice to bob, as a session's budget: its signed lock allows a partial release. */
async function lockBudget(f: VaultFixture): Promise<LockedEscrow> {
  return f.lockEscrow({ amount: 20n * USDC, partialRelease: true })
}

/** A 20 USDC escrow from alice to bob for a job: its signed lock does not allow a partial release. */
async function lockJobEscrow(f: VaultFixture): Promise<LockedEscrow> {
  return f.lockEscrow({ amount: 20n * USDC, partialRelease: false })
}

function releaseOp(f: VaultFixture, e: LockedEscrow) {
  return f
    .sign(f.alice, 'EscrowRelease', { escrowId: e.id })
    .then((signature) => op(OpKind.EscrowRelease, [e.terms, e.position, signature, e.proof]))
}

describe('EscrowPartialRelease', function () {
  describe('settleBatch with an EscrowPartialRelease op', function () {
    it('pays the payee 14 of a 20 escrow locked with partialRelease less the fee on 14, and returns 6 to the payer, in one op', async function () {
      const f = await loadFixture(deployVaultFixture)
      const e = await lockBudget(f)
      expect(e.terms.partialRelease, 'EscrowLocked carries the flag the payee reads').to.equal(true)
      const amount = 14n * USDC
      const fee = feeOf(amount, FEE_BPS)
      expect(fee).to.equal(140_000n)
      const tx = f.settle([partialOp(e, amount, await signPartial(f, e, amount))])
      await expect(tx)
        .to.emit(f.vault, 'EscrowPartiallyReleased')
        .withArgs(e.id, f.bob.address, amount - fee, fee, 6n * USDC)
      expect(await balancesOf(f, [f.alice.address, f.bob.address, f.treasury.address])).to.deep.equal([
        INITIAL_DEPOSIT - 20n * USDC + 6n * USDC,
        INITIAL_DEPOSIT + 13_860_000n,
        140_000n,
      ])
      expect(await f.vault.isEscrowClosed(e.position.setId, e.position.index)).to.equal(true)
    })

    it('reports the payee net, the payer rest and the fee in the batch totals', async function () {
      const f = await loadFixture(deployVaultFixture)
      const e = await lockBudget(f)
      const amount = 14n * USDC
      const { named } = await settleAndRead(f, [partialOp(e, amount, await signPartial(f, e, amount))])
      const [settled] = named('BatchSettled') as Array<{
        totals: Array<{ toObject(): Record<string, unknown> }>
      }>
      const totals = settled.totals.map((t) => t.toObject())
      expect(totals).to.have.length(1)
      expect(totals[0]).to.include({
        token: f.usdcAddress,
        escrowToPayees: 13_860_000n,
        escrowToPayers: 6n * USDC,
        fees: 140_000n,
        escrowLocked: 0n,
      })
    })

    it('with amount 0 returns the whole escrow to the payer and charges no fee', async function () {
      const f = await loadFixture(deployVaultFixture)
      const e = await lockBudget(f)
      await expect(f.settle([partialOp(e, 0n, await signPartial(f, e, 0n))]))
        .to.emit(f.vault, 'EscrowPartiallyReleased')
        .withArgs(e.id, f.bob.address, 0n, 0n, 20n * USDC)
      expect(await balancesOf(f, [f.alice.address, f.bob.address, f.treasury.address])).to.deep.equal([
        INITIAL_DEPOSIT,
        INITIAL_DEPOSIT,
        0n,
      ])
    })

    it('with amount = all pays exactly as a full release would, nothing back to the payer', async function () {
      const f = await loadFixture(deployVaultFixture)
      const e = await lockBudget(f)
      const amount = 20n * USDC
      const fee = feeOf(amount, FEE_BPS)
      await expect(f.settle([partialOp(e, amount, await signPartial(f, e, amount))]))
        .to.emit(f.vault, 'EscrowPartiallyReleased')
        .withArgs(e.id, f.bob.address, amount - fee, fee, 0n)
      expect(await balancesOf(f, [f.alice.address, f.bob.address, f.treasury.address])).to.deep.equal([
        INITIAL_DEPOSIT - amount,
        INITIAL_DEPOSIT + amount - fee,
        fee,
      ])
    })

    it('rounds the fee down on an odd amount and loses no base unit', async function () {
      const f = await loadFixture(deployVaultFixture)
      const e = await lockBudget(f)
      const amount = 99n
      await expect(f.settle([partialOp(e, amount, await signPartial(f, e, amount))]))
        .to.emit(f.vault, 'EscrowPartiallyReleased')
        .withArgs(e.id, f.bob.address, 99n, 0n, 20n * USDC - 99n)
    })

    it('pays an escrow locked in a batch with its proof', async function () {
      const f = await loadFixture(deployVaultFixture)
      const [, e] = await f.lockEscrowsInBatch([
        await f.escrowTerms({ payer: f.carol.address }),
        await f.escrowTerms({ amount: 20n * USDC, partialRelease: true }),
      ])
      const amount = 14n * USDC
      await expect(f.settle([partialOp(e, amount, await signPartial(f, e, amount))])).to.emit(
        f.vault,
        'EscrowPartiallyReleased',
      )
    })
  })

  describe('attacks', function () {
    it('a payer cannot claw back a job escrow with a partial release of 0', async function () {
      const f = await loadFixture(deployVaultFixture)
      const e = await lockJobEscrow(f)
      const ruled = await lockJobEscrow(f)
      const before = await balancesOf(f, [f.alice.address, f.bob.address, f.treasury.address])
      for (const job of [e, ruled]) {
        const clawBack = partialOp(job, 0n, await signPartial(f, job, 0n))
        expect(await f.simulateSkipped([clawBack])).to.deep.equal([[0, 'JobEscrowPartialReleaseNotAllowed']])
        const { skipped, named } = await settleAndRead(f, [clawBack])
        expect(skipped).to.deep.equal([[0, 'JobEscrowPartialReleaseNotAllowed']])
        expect(named('EscrowPartiallyReleased')).to.have.length(0)
        expect(await f.vault.isEscrowClosed(job.position.setId, job.position.index)).to.equal(false)
      }
      expect(await balancesOf(f, [f.alice.address, f.bob.address, f.treasury.address])).to.deep.equal(before)
      // Still locked for the payee: the payer's release pays it in full, and so does a ruling.
      const fee = feeOf(20n * USDC, FEE_BPS)
      await expect(f.settle([await releaseOp(f, e)]))
        .to.emit(f.vault, 'EscrowReleased')
        .withArgs(e.id, f.bob.address, 20n * USDC - fee, fee)
      const ruling = await f.sign(f.resolver, 'EscrowRuling', { escrowId: ruled.id, payeeBps: 10_000 })
      await expect(
        f.settle([op(OpKind.EscrowRuling, [ruled.terms, ruled.position, 10_000, ruling, ruled.proof])]),
      ).to.emit(f.vault, 'EscrowRuled')
      expect(await f.vault.isEscrowClosed(ruled.position.setId, ruled.position.index)).to.equal(true)
    })

    it("the coordinator key alone cannot partially release a managed payer's job escrow", async function () {
      // The coordinator signs the batch and, for a managed payer, holds the payer's key too: every
      // signature such an attacker can make, at every amount, is refused on a job's escrow.
      const f = await loadFixture(deployVaultFixture)
      const e = await lockJobEscrow(f)
      const before = await balancesOf(f, [f.alice.address, f.bob.address, f.treasury.address])
      const amounts = [0n, 1n, 19n * USDC, 20n * USDC]
      const ops: Op[] = []
      for (const amount of amounts) {
        ops.push(partialOp(e, amount, await signPartial(f, e, amount, f.alice)))
        ops.push(partialOp(e, amount, await signPartial(f, e, amount, f.coordinator)))
      }
      const { skipped } = await settleAndRead(f, ops)
      expect(skipped).to.deep.equal(ops.map((_, i) => [i, 'JobEscrowPartialReleaseNotAllowed']))
      expect(await balancesOf(f, [f.alice.address, f.bob.address, f.treasury.address])).to.deep.equal(before)
      expect(await f.vault.isEscrowClosed(e.position.setId, e.position.index)).to.equal(false)
      // The payer's only way back without the payee or a ruling is expiry.
      await expect(
        f.vault.connect(f.alice).reclaimExpiredEscrow(e.terms, e.position, e.proof),
      ).to.be.revertedWithCustomError(f.vault, 'JobEscrowNotReclaimable')
    })

    it("a job escrow's flag word rewritten in the op data: 1 finds no escrow, anything above 1 is skipped with EscrowCodecNonCanonical", async function () {
      const f = await loadFixture(deployVaultFixture)
      const e = await lockJobEscrow(f)
      const clean = partialOp(e, 0n, await signPartial(f, e, 0n))
      // Word 9 of the op data is the terms' `partialRelease`: 0 for this escrow, made 1, then 0x0100.
      const dirty = { kind: clean.kind, data: withDirtyWord(clean.data, 9, 31) }
      const bytes = dirty.data.slice(2 + 9 * 64, 2 + 10 * 64)
      expect(BigInt('0x' + bytes)).to.equal(1n)
      const twice = { kind: clean.kind, data: withDirtyWord(clean.data, 9, 30) }
      expect(await f.simulateSkipped([dirty, twice])).to.deep.equal([
        [0, 'JobEscrowUnknown'],
        [1, 'EscrowCodecNonCanonical'],
      ])
      expect(await f.vault.isEscrowClosed(e.position.setId, e.position.index)).to.equal(false)
    })

    it('flipping the flag after the lock changes the escrow id, so the forged terms find no escrow', async function () {
      const f = await loadFixture(deployVaultFixture)
      const e = await lockJobEscrow(f)
      const forged = { ...e.terms, partialRelease: true }
      const forgedId = f.escrowIdOf(forged)
      expect(forgedId).to.not.equal(e.id)
      // The relayer submits the flipped terms at the real escrow's position, with a payer signature
      // over the id they hash to.
      const signature = await f.sign(f.alice, 'EscrowPartialRelease', { escrowId: forgedId, amount: 0n })
      const forgedOp = op(OpKind.EscrowPartialRelease, [forged, e.position, 0n, signature, e.proof])
      const before = await balancesOf(f, [f.alice.address, f.bob.address, f.treasury.address])
      const { skipped } = await settleAndRead(f, [forgedOp])
      expect(skipped).to.deep.equal([[0, 'JobEscrowUnknown']])
      expect(await balancesOf(f, [f.alice.address, f.bob.address, f.treasury.address])).to.deep.equal(before)
      expect(await f.vault.isEscrowClosed(e.position.setId, e.position.index)).to.equal(false)
      expect(await f.vault.escrowId(forged)).to.equal(forgedId)
    })

    it('an amount over the escrow is skipped with JobEscrowPartialReleaseTooLarge and moves nothing', async function () {
      const f = await loadFixture(deployVaultFixture)
      const e = await lockBudget(f)
      const amount = 20n * USDC + 1n
      const before = await balancesOf(f, [f.alice.address, f.bob.address, f.treasury.address])
      expect(await f.simulateSkipped([partialOp(e, amount, await signPartial(f, e, amount))])).to.deep.equal([
        [0, 'JobEscrowPartialReleaseTooLarge'],
      ])
      await f.settle([partialOp(e, amount, await signPartial(f, e, amount))])
      expect(await balancesOf(f, [f.alice.address, f.bob.address, f.treasury.address])).to.deep.equal(before)
      expect(await f.vault.isEscrowClosed(e.position.setId, e.position.index)).to.equal(false)
    })

    for (const who of ['payee', 'coordinator', 'resolver', 'owner', 'stranger'] as const) {
      it(`a partial release signed by the ${who} instead of the payer is skipped with JobEscrowInvalidSignature`, async function () {
        const f = await loadFixture(deployVaultFixture)
        const e = await lockBudget(f)
        const signer = {
          payee: f.bob,
          coordinator: f.coordinator,
          resolver: f.resolver,
          owner: f.owner,
          stranger: f.stranger,
        }[who]
        const amount = 20n * USDC
        expect(
          await f.simulateSkipped([partialOp(e, amount, await signPartial(f, e, amount, signer))]),
        ).to.deep.equal([[0, 'JobEscrowInvalidSignature']])
      })
    }

    it('a partial release with no signature inside a batch is skipped (the vault is never a signer)', async function () {
      const f = await loadFixture(deployVaultFixture)
      const e = await lockBudget(f)
      expect(await f.simulateSkipped([partialOp(e, 0n, NO_SIGNATURE)])).to.deep.equal([
        [0, 'JobEscrowInvalidSignature'],
      ])
    })

    it("the payer's partial release raised to another amount is skipped (the amount is signed)", async function () {
      const f = await loadFixture(deployVaultFixture)
      const e = await lockBudget(f)
      const signature = await signPartial(f, e, 1n * USDC)
      expect(await f.simulateSkipped([partialOp(e, 20n * USDC, signature)])).to.deep.equal([
        [0, 'JobEscrowInvalidSignature'],
      ])
    })

    it("the payer's full EscrowRelease signature passed as a partial release is skipped (distinct type hash)", async function () {
      const f = await loadFixture(deployVaultFixture)
      const e = await lockBudget(f)
      const release = await f.sign(f.alice, 'EscrowRelease', { escrowId: e.id })
      expect(await f.simulateSkipped([partialOp(e, 20n * USDC, release)])).to.deep.equal([
        [0, 'JobEscrowInvalidSignature'],
      ])
    })

    it('a replay of a landed partial release in a later batch is skipped with JobEscrowClosed', async function () {
      const f = await loadFixture(deployVaultFixture)
      const e = await lockBudget(f)
      const amount = 14n * USDC
      const settled = partialOp(e, amount, await signPartial(f, e, amount))
      await f.settle([settled])
      const before = await balancesOf(f, [f.alice.address, f.bob.address, f.treasury.address])
      const { skipped } = await settleAndRead(f, [settled])
      expect(skipped).to.deep.equal([[0, 'JobEscrowClosed']])
      expect(await balancesOf(f, [f.alice.address, f.bob.address, f.treasury.address])).to.deep.equal(before)
    })

    it('a front-runner racing a full release and a partial release in one batch gets only the first to close the escrow', async function () {
      const f = await loadFixture(deployVaultFixture)
      for (const partialFirst of [true, false]) {
        const e = await lockBudget(f)
        const partial = partialOp(e, 14n * USDC, await signPartial(f, e, 14n * USDC))
        const full = op(OpKind.EscrowRelease, [
          e.terms,
          e.position,
          await f.sign(f.alice, 'EscrowRelease', { escrowId: e.id }),
          e.proof,
        ])
        const before = await balancesOf(f, [f.alice.address, f.bob.address])
        const { skipped, named } = await settleAndRead(f, partialFirst ? [partial, full] : [full, partial])
        expect(skipped).to.deep.equal([[1, 'JobEscrowClosed']])
        expect(named('EscrowPartiallyReleased')).to.have.length(partialFirst ? 1 : 0)
        expect(named('EscrowReleased')).to.have.length(partialFirst ? 0 : 1)
        const after = await balancesOf(f, [f.alice.address, f.bob.address])
        // Exactly one payout of the 20 left the escrow.
        const paidToBob = after[1] - before[1]
        const backToAlice = after[0] - before[0]
        expect(paidToBob).to.equal(partialFirst ? 13_860_000n : 19_800_000n)
        expect(backToAlice).to.equal(partialFirst ? 6n * USDC : 0n)
      }
    })

    it('a partial release racing a refund in separate batches lands only if it comes first', async function () {
      const f = await loadFixture(deployVaultFixture)
      const e = await lockBudget(f)
      const refund = op(OpKind.EscrowRefund, [
        e.terms,
        e.position,
        await f.sign(f.bob, 'EscrowRefund', { escrowId: e.id }),
        e.proof,
      ])
      await f.settle([refund])
      const { skipped } = await settleAndRead(f, [
        partialOp(e, 14n * USDC, await signPartial(f, e, 14n * USDC)),
      ])
      expect(skipped).to.deep.equal([[0, 'JobEscrowClosed']])
    })

    it('has no direct entry point: a payer cannot settle in part without the coordinator batch', async function () {
      const f = await loadFixture(deployVaultFixture)
      expect(f.vault.interface.getFunction('partiallyReleaseEscrow')).to.equal(null)
    })
  })
})
