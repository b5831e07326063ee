import { expect } from 'chai'
import { ethers } from 'hardhat'
import { loadFixture, time } from '@nomicfoundation/hardhat-network-helpers'
import type { HardhatEthersSigner } from '@nomicfoundation/hardhat-ethers/signers'
import type { JsonFragmentType, TypedDataDomain } from 'ethers'
import { escrowSetTree } from '../../protocol/escrow-sets'
import { clearhouseDomain, opDataAbi } from '../../protocol/typed-data'
import {
  CHALLENGE_PERIOD,
  DISPUTE_RULING_PERIOD,
  FEE_BPS,
  INITIAL_DEPOSIT,
  NO_SIGNATURE,
  OpKind,
  USDC,
  WITHDRAWAL_DELAY,
  deployClearhouseVault,
  deployVaultFixture,
  nextBlockAt,
  op,
  opsTree,
  saltOf,
  signTyped,
  typesFor,
  type AnyContract,
  type EscrowTerms,
  type LockedEscrow,
  type Op,
  type Sig,
  type VaultFixture,
  TOKEN_TOTALS_FIELDS,
  type TokenTotals,
  withHighS,
} from './fixtures'

// ------------------------------------------------------------------ helpers

const feeOf = (amount: bigint, bps: number | bigint = FEE_BPS) => (amount * BigInt(bps)) / 10_000n

function splitRuling(amount: bigint, payeeBps: number, feeBps: number, resolverFeeBps: number) {
  const resolverFee = feeOf(amount, resolverFeeBps)
  const rest = amount - resolverFee
  const gross = feeOf(rest, payeeBps)
  const fee = feeOf(gross, feeBps)
  return { payeeAmount: gross - fee, payerAmount: rest - gross, fee, resolverFee }
}

/** Who signed `message` as EIP-712 `primaryType` under `domain`, with compact signature `sig`. */
function signerOfTyped(
  domain: TypedDataDomain,
  primaryType: Parameters<typeof typesFor>[0],
  message: Record<string, unknown>,
  sig: Sig,
): string {
  return ethers.verifyTypedData(
    domain,
    typesFor(primaryType),
    message,
    ethers.Signature.from({ r: sig.r, yParityAndS: sig.vs }),
  )
}

/** Internal balances of every named account in `token` (USDC by default), to compare before and after. */
async function balances(f: VaultFixture, token: string = f.usdcAddress) {
  const accounts = [
    f.alice,
    f.bob,
    f.carol,
    f.dave,
    f.coordinator,
    f.treasury,
    f.resolver,
    f.relayer,
    f.stranger,
    f.owner,
  ]
  const entries = await Promise.all(
    accounts.map(async (a) => [a.address, (await f.vault.balanceOf(a.address, token)) as bigint] as const),
  )
  return Object.fromEntries(entries) as Record<string, bigint>
}

function changes(before: Record<string, bigint>, after: Record<string, bigint>) {
  return Object.fromEntries(
    Object.keys(after)
      .filter((k) => after[k] !== before[k])
      .map((k) => [k, after[k] - before[k]]),
  )
}

interface Receipt {
  logs: ReadonlyArray<{ topics: ReadonlyArray<string>; data: string }>
  hash: string
  blockNumber: number
}

function eventsNamed(f: VaultFixture, receipt: Receipt, name: string) {
  return receipt.logs
    .map((log) => f.vault.interface.parseLog(log))
    .filter((parsed): parsed is NonNullable<typeof parsed> => parsed?.name === name)
}

function errorData(f: VaultFixture, name: string, args: unknown[]): string {
  return f.vault.interface.encodeErrorResult(name, args)
}

/** Settles `ops` as the next batch; returns its receipt and what it skipped as `[index, reason]`. */
async function settleAndSkipped(f: VaultFixture, ops: Op[]) {
  const receipt = (await (await f.settle(ops)).wait()) as Receipt
  const skipped = eventsNamed(f, receipt, 'OpSkipped').map((e): [number, string] => [
    Number(e.args.index),
    e.args.reason,
  ])
  return { receipt, skipped }
}

async function releaseOp(f: VaultFixture, e: LockedEscrow, by: HardhatEthersSigner) {
  const signature = await f.sign(by, 'EscrowRelease', { escrowId: e.id })
  return op(OpKind.EscrowRelease, [e.terms, e.position, signature, e.proof])
}

async function refundOp(f: VaultFixture, e: LockedEscrow, by: HardhatEthersSigner) {
  const signature = await f.sign(by, 'EscrowRefund', { escrowId: e.id })
  return op(OpKind.EscrowRefund, [e.terms, e.position, signature, e.proof])
}

async function rulingOp(f: VaultFixture, e: LockedEscrow, payeeBps: number, by: HardhatEthersSigner) {
  const signature = await f.sign(by, 'EscrowRuling', { escrowId: e.id, payeeBps })
  return op(OpKind.EscrowRuling, [e.terms, e.position, payeeBps, signature, e.proof])
}

/** A second vault with the same parameters, funded by alice. */
async function secondVault(f: VaultFixture): Promise<AnyContract> {
  const second = await deployClearhouseVault(f, [f.usdcAddress])
  await f.usdc.connect(f.alice).approve(await second.getAddress(), ethers.MaxUint256)
  await second.connect(f.alice).deposit(f.usdcAddress, 100n * USDC)
  return second
}

// ------------------------------------------------------------------ properties

describe('Trust property 1: a coordinator key alone cannot move funds anywhere the owner did not sign', function () {
  it('cannot lock a payer balance into an escrow the payer did not sign', async function () {
    const f = await loadFixture(deployVaultFixture)
    const terms = await f.escrowTerms({ payee: f.coordinator.address })
    const id = f.escrowIdOf(terms)
    const forged = op(OpKind.EscrowLock, [terms, await f.sign(f.coordinator, 'EscrowLock', { ...terms })])
    const { skipped } = await settleAndSkipped(f, [forged])
    expect(skipped).to.deep.equal([
      [0, errorData(f, 'JobEscrowInvalidSignature', [id, f.alice.address, f.coordinator.address])],
    ])
    // Sending it itself with no signature does not stand in for the payer either.
    await expect(f.vault.connect(f.coordinator).lockEscrow(terms, NO_SIGNATURE))
      .to.be.revertedWithCustomError(f.vault, 'JobEscrowInvalidSignature')
      .withArgs(id, f.alice.address, ethers.ZeroAddress)
    expect(await f.vault.balanceOf(f.alice.address, f.usdcAddress)).to.equal(INITIAL_DEPOSIT)
    expect(await f.vault.isNonceUsed(f.alice.address, terms.nonce)).to.equal(false)
  })

  it('cannot redirect a payer-signed escrow to another payee, resolver or amount', async function () {
    const f = await loadFixture(deployVaultFixture)
    const terms = await f.escrowTerms()
    const signature = await f.signLock(terms)
    const ops: Op[] = []
    const expected: Array<[number, string]> = []
    for (const [i, change] of [
      { payee: f.coordinator.address },
      { resolver: f.coordinator.address },
      { amount: terms.amount * 2n },
      { feeBps: 0 },
    ].entries()) {
      const altered: EscrowTerms = { ...terms, ...change }
      ops.push(op(OpKind.EscrowLock, [altered, signature]))
      const id = f.escrowIdOf(altered)
      const recovered = signerOfTyped(f.domain, 'EscrowLock', { ...altered }, signature)
      expect(recovered).to.not.equal(f.alice.address)
      expected.push([i, errorData(f, 'JobEscrowInvalidSignature', [id, f.alice.address, recovered])])
    }
    const { skipped } = await settleAndSkipped(f, ops)
    expect(skipped).to.deep.equal(expected)
    expect(await f.vault.balanceOf(f.alice.address, f.usdcAddress)).to.equal(INITIAL_DEPOSIT)
  })

  it('cannot release, refund or rule an escrow without the party that must sign, nor reclaim it early', async function () {
    const f = await loadFixture(deployVaultFixture)
    const e = await f.lockEscrow()
    const ops = [
      await releaseOp(f, e, f.coordinator),
      await refundOp(f, e, f.coordinator),
      await rulingOp(f, e, 10_000, f.coordinator),
      op(OpKind.EscrowReclaim, [e.terms, e.position, e.proof]),
    ]
    const at = await nextBlockAt()
    const { skipped } = await settleAndSkipped(f, ops)
    expect(skipped).to.deep.equal([
      [0, errorData(f, 'JobEscrowInvalidSignature', [e.id, f.alice.address, f.coordinator.address])],
      [1, errorData(f, 'JobEscrowInvalidSignature', [e.id, f.bob.address, f.coordinator.address])],
      [2, errorData(f, 'JobEscrowInvalidSignature', [e.id, f.resolver.address, f.coordinator.address])],
      [3, errorData(f, 'JobEscrowNotReclaimable', [e.id, e.terms.expiry, at])],
    ])
    expect(await f.vault.isEscrowClosed(e.position.setId, e.position.index)).to.equal(false)
    // Nor can it pass terms that name itself as resolver: they do not prove against the set.
    const asResolver = { ...e.terms, resolver: f.coordinator.address }
    const asResolverId = f.escrowIdOf(asResolver)
    await expect(
      f.vault.connect(f.coordinator).ruleEscrow(asResolver, e.position, 10_000, NO_SIGNATURE, e.proof),
    )
      .to.be.revertedWithCustomError(f.vault, 'JobEscrowUnknown')
      .withArgs(asResolverId, e.position.setId, e.position.index)
  })

  it('cannot fund a channel, settle a voucher, close a channel or withdraw without the owner signature', async function () {
    const f = await loadFixture(deployVaultFixture)
    const { config, id } = await f.openChannel()
    const w = await f.withdrawal({ to: f.coordinator.address })
    const nonce = f.freshNonce(f.alice.address)
    const forgedVoucher = await f.signedVoucher(config, 1n, 10n * USDC, f.coordinator)
    const ops: Op[] = [
      op(OpKind.ChannelFund, [
        config,
        100n * USDC,
        nonce,
        await f.sign(f.coordinator, 'ChannelFunding', { channelId: id, totalDeposit: 100n * USDC, nonce }),
      ]),
      op(OpKind.ChannelSettle, [forgedVoucher]),
      op(OpKind.ChannelClose, [
        await f.signedVoucher(config, 1n, 0n),
        await f.sign(f.coordinator, 'ChannelClose', { channelId: id, cumulativeAmount: 0n }),
      ]),
      op(OpKind.Withdrawal, [w, await f.sign(f.coordinator, 'Withdrawal', { ...w })]),
    ]
    const { skipped } = await settleAndSkipped(f, ops)
    expect(skipped).to.deep.equal([
      [0, errorData(f, 'PaymentChannelsInvalidSignature', [id, f.alice.address, f.coordinator.address])],
      [1, errorData(f, 'PaymentChannelsInvalidSignature', [id, f.alice.address, f.coordinator.address])],
      [2, errorData(f, 'PaymentChannelsInvalidSignature', [id, f.bob.address, f.coordinator.address])],
      [3, errorData(f, 'VaultInvalidSignature', [f.alice.address, f.coordinator.address])],
    ])
    // Its co-signature on a fast withdrawal is not enough either.
    const approval = await f.sign(f.coordinator, 'WithdrawalApproval', { withdrawal: { ...w } })
    await expect(f.vault.connect(f.coordinator).withdraw(w, NO_SIGNATURE, approval))
      .to.be.revertedWithCustomError(f.vault, 'VaultInvalidSignature')
      .withArgs(f.alice.address, ethers.ZeroAddress)
    // Nor can it apply an op outside a signed batch.
    await expect(f.vault.connect(f.coordinator).applyBatchOp(1n, 0n, ops[3]))
      .to.be.revertedWithCustomError(f.vault, 'SettlementOnlySelf')
      .withArgs(f.coordinator.address)
    const view = await f.vault.channel(id)
    expect([view.deposit, view.settled, view.isClosed]).to.deep.equal([50n * USDC, 0n, false])
  })

  it('cannot change where an owner-signed withdrawal pays', async function () {
    const f = await loadFixture(deployVaultFixture)
    const w = await f.withdrawal({ to: f.alice.address })
    const ownerSignature = await f.sign(f.alice, 'Withdrawal', { ...w })
    const redirected = { ...w, to: f.coordinator.address }
    const recovered = signerOfTyped(f.domain, 'Withdrawal', redirected, ownerSignature)
    const { skipped } = await settleAndSkipped(f, [op(OpKind.Withdrawal, [redirected, ownerSignature])])
    expect(skipped).to.deep.equal([[0, errorData(f, 'VaultInvalidSignature', [f.alice.address, recovered])]])
    expect(await f.usdc.balanceOf(f.coordinator.address)).to.equal(0n)
  })

  it('leaves every balance untouched after a batch of forged ops lands', async function () {
    const f = await loadFixture(deployVaultFixture)
    const e = await f.lockEscrow()
    const { config } = await f.openChannel()
    const before = await balances(f)
    const held: bigint = await f.usdc.balanceOf(f.vaultAddress)
    const terms = await f.escrowTerms({ payee: f.coordinator.address })
    const w = await f.withdrawal({ account: f.bob.address, to: f.coordinator.address })
    const ops = [
      op(OpKind.EscrowLock, [terms, await f.sign(f.coordinator, 'EscrowLock', { ...terms })]),
      await releaseOp(f, e, f.coordinator),
      op(OpKind.ChannelSettle, [await f.signedVoucher(config, 1n, 50n * USDC, f.coordinator)]),
      op(OpKind.Withdrawal, [w, await f.sign(f.coordinator, 'Withdrawal', { ...w })]),
    ]
    const { skipped, receipt } = await settleAndSkipped(f, ops)
    expect(skipped.map(([i]) => i)).to.deep.equal([0, 1, 2, 3])
    expect(eventsNamed(f, receipt, 'BatchSettled')[0].args.totals).to.have.length(0)
    expect(await balances(f)).to.deep.equal(before)
    expect(await f.usdc.balanceOf(f.vaultAddress)).to.equal(held)
  })
})

describe('Trust property 2: escrow goes only to the payer or the payee', function () {
  const AMOUNT = 123_456_789n

  async function resolve(f: VaultFixture, how: string) {
    const inBatch = how.startsWith('batch:')
    const kind = how.replace('batch:', '')
    const [e] = inBatch
      ? await f.lockEscrowsInBatch([await f.escrowTerms({ amount: AMOUNT })])
      : [await f.lockEscrow({ amount: AMOUNT })]
    const before = await balances(f)
    if (inBatch) {
      const ops: Op[] = []
      if (kind === 'release') ops.push(await releaseOp(f, e, f.alice))
      if (kind === 'refund') ops.push(await refundOp(f, e, f.bob))
      if (kind.startsWith('ruling')) ops.push(await rulingOp(f, e, Number(kind.split(':')[1]), f.resolver))
      if (kind === 'expiry') {
        await time.increaseTo(e.terms.expiry)
        ops.push(op(OpKind.EscrowReclaim, [e.terms, e.position, e.proof]))
      }
      expect((await settleAndSkipped(f, ops)).skipped).to.deep.equal([])
    } else {
      if (kind === 'release')
        await f.vault.connect(f.alice).releaseEscrow(e.terms, e.position, NO_SIGNATURE, e.proof)
      if (kind === 'refund')
        await f.vault.connect(f.bob).refundEscrow(e.terms, e.position, NO_SIGNATURE, e.proof)
      if (kind.startsWith('ruling')) {
        const payeeBps = Number(kind.split(':')[1])
        await f.vault.connect(f.resolver).ruleEscrow(e.terms, e.position, payeeBps, NO_SIGNATURE, e.proof)
      }
      if (kind === 'expiry') {
        await time.increaseTo(e.terms.expiry)
        await f.vault.connect(f.stranger).reclaimExpiredEscrow(e.terms, e.position, e.proof)
      }
      if (kind === 'dispute-expiry') {
        await f.vault.connect(f.bob).openEscrowDispute(e.terms, e.position, NO_SIGNATURE, e.proof)
        await time.increase(DISPUTE_RULING_PERIOD)
        await f.vault.connect(f.stranger).reclaimExpiredEscrow(e.terms, e.position, e.proof)
      }
    }
    expect(await f.vault.isEscrowClosed(e.position.setId, e.position.index)).to.equal(true)
    return { e, delta: changes(before, await balances(f)) }
  }

  function expectedDelta(f: VaultFixture, kind: string): Record<string, bigint> {
    if (kind === 'refund' || kind.endsWith('expiry')) return { [f.alice.address]: AMOUNT }
    if (kind === 'release') {
      return { [f.bob.address]: AMOUNT - feeOf(AMOUNT), [f.treasury.address]: feeOf(AMOUNT) }
    }
    const split = splitRuling(AMOUNT, Number(kind.split(':')[1]), FEE_BPS, 200)
    const delta: Record<string, bigint> = {
      [f.bob.address]: split.payeeAmount,
      [f.alice.address]: split.payerAmount,
      [f.treasury.address]: split.fee,
      [f.resolver.address]: split.resolverFee,
    }
    return Object.fromEntries(Object.entries(delta).filter(([, v]) => v !== 0n))
  }

  for (const how of [
    'release',
    'refund',
    'ruling:10000',
    'ruling:0',
    'ruling:5001',
    'expiry',
    'dispute-expiry',
    'batch:release',
    'batch:refund',
    'batch:ruling:2500',
    'batch:expiry',
  ]) {
    it(`${how}: pays only the payer and payee (plus the fees they signed for), exactly the escrowed amount`, async function () {
      const f = await loadFixture(deployVaultFixture)
      const { delta } = await resolve(f, how)
      const allowed = new Set([f.alice.address, f.bob.address, f.treasury.address, f.resolver.address])
      for (const account of Object.keys(delta)) expect(allowed.has(account), account).to.equal(true)
      expect(Object.values(delta).reduce((a, b) => a + b, 0n)).to.equal(AMOUNT)
      expect(delta).to.deep.equal(expectedDelta(f, how.replace('batch:', '')))
    })
  }

  it('cannot be paid out twice by mixing resolutions, directly or in a batch', async function () {
    const f = await loadFixture(deployVaultFixture)
    const e = await f.lockEscrow()
    await f.vault.connect(f.alice).releaseEscrow(e.terms, e.position, NO_SIGNATURE, e.proof)
    await expect(f.vault.connect(f.bob).refundEscrow(e.terms, e.position, NO_SIGNATURE, e.proof))
      .to.be.revertedWithCustomError(f.vault, 'JobEscrowClosed')
      .withArgs(e.id)
    await expect(f.vault.connect(f.resolver).ruleEscrow(e.terms, e.position, 0, NO_SIGNATURE, e.proof))
      .to.be.revertedWithCustomError(f.vault, 'JobEscrowClosed')
      .withArgs(e.id)
    await time.increaseTo(e.terms.expiry)
    await expect(f.vault.connect(f.alice).reclaimExpiredEscrow(e.terms, e.position, e.proof))
      .to.be.revertedWithCustomError(f.vault, 'JobEscrowClosed')
      .withArgs(e.id)
    const before = await balances(f)
    const { skipped } = await settleAndSkipped(f, [
      await refundOp(f, e, f.bob),
      await releaseOp(f, e, f.alice),
    ])
    const closed = errorData(f, 'JobEscrowClosed', [e.id])
    expect(skipped).to.deep.equal([
      [0, closed],
      [1, closed],
    ])
    expect(await balances(f)).to.deep.equal(before)
  })

  it('cannot pay out under terms other than those locked: another payee does not prove', async function () {
    const f = await loadFixture(deployVaultFixture)
    const [a, b] = await f.lockEscrowsInBatch([
      await f.escrowTerms(),
      await f.escrowTerms({ amount: 1n * USDC }),
    ])
    const toCarol = { ...a, terms: { ...a.terms, payee: f.carol.address } }
    toCarol.id = f.escrowIdOf(toCarol.terms)
    // Even the payer's own release over the altered terms, and b's bit at a's index, pay nobody.
    const { skipped } = await settleAndSkipped(f, [
      await releaseOp(f, toCarol, f.alice),
      await releaseOp(f, { ...b, position: a.position, proof: a.proof }, f.alice),
    ])
    expect(skipped).to.deep.equal([
      [0, errorData(f, 'JobEscrowUnknown', [toCarol.id, a.position.setId, 0n])],
      [1, errorData(f, 'JobEscrowUnknown', [b.id, a.position.setId, 0n])],
    ])
    expect(await f.vault.balanceOf(f.carol.address, f.usdcAddress)).to.equal(INITIAL_DEPOSIT)
    expect(await f.vault.isEscrowClosed(a.position.setId, 0n)).to.equal(false)
  })
})

describe('Trust property 3: no replay across ops, deployments or chains', function () {
  it('fails to replay a lock signature, directly, in a batch, or once its nonce is invalidated', async function () {
    const f = await loadFixture(deployVaultFixture)
    const terms = await f.escrowTerms({ amount: 10n * USDC })
    const lockSig = await f.signLock(terms)
    await f.vault.connect(f.relayer).lockEscrow(terms, lockSig)
    await expect(f.vault.connect(f.relayer).lockEscrow(terms, lockSig))
      .to.be.revertedWithCustomError(f.vault, 'VaultNonceUsed')
      .withArgs(f.alice.address, terms.nonce)
    const { skipped } = await settleAndSkipped(f, [op(OpKind.EscrowLock, [terms, lockSig])])
    expect(skipped).to.deep.equal([[0, errorData(f, 'VaultNonceUsed', [f.alice.address, terms.nonce])]])
    expect(await f.vault.balanceOf(f.alice.address, f.usdcAddress)).to.equal(INITIAL_DEPOSIT - 10n * USDC)

    // A signed lock not landed yet is cancelled by voiding its nonce.
    const abandoned = await f.escrowTerms({ amount: 20n * USDC })
    const abandonedSig = await f.signLock(abandoned)
    await expect(f.vault.connect(f.alice).invalidateNonce(abandoned.nonce))
      .to.emit(f.vault, 'NonceInvalidated')
      .withArgs(f.alice.address, abandoned.nonce)
    await expect(f.vault.connect(f.relayer).lockEscrow(abandoned, abandonedSig))
      .to.be.revertedWithCustomError(f.vault, 'VaultNonceUsed')
      .withArgs(f.alice.address, abandoned.nonce)
  })

  it('fails to replay a release, voucher, funding, withdrawal or whole batch', async function () {
    const f = await loadFixture(deployVaultFixture)
    const e = await f.lockEscrow()
    const releaseSig = await f.sign(f.alice, 'EscrowRelease', { escrowId: e.id })
    await f.vault.connect(f.relayer).releaseEscrow(e.terms, e.position, releaseSig, e.proof)
    await expect(f.vault.connect(f.relayer).releaseEscrow(e.terms, e.position, releaseSig, e.proof))
      .to.be.revertedWithCustomError(f.vault, 'JobEscrowClosed')
      .withArgs(e.id)

    const { config, id } = await f.openChannel()
    const voucher = await f.signedVoucher(config, 1n, 5n * USDC)
    await f.vault.settleChannel(voucher)
    await expect(f.vault.settleChannel(voucher))
      .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsVoucherNotNewer')
      .withArgs(id, 5n * USDC, 5n * USDC)

    const fundNonce = f.freshNonce(f.alice.address)
    const fundSig = await f.sign(f.alice, 'ChannelFunding', {
      channelId: id,
      totalDeposit: 60n * USDC,
      nonce: fundNonce,
    })
    await f.vault.connect(f.relayer).fundChannel(config, 60n * USDC, fundNonce, fundSig)
    await expect(f.vault.connect(f.relayer).fundChannel(config, 60n * USDC, fundNonce, fundSig))
      .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsDepositNotIncreased')
      .withArgs(id, 60n * USDC, 60n * USDC)
    // A funding signature whose nonce the caller voided does not land.
    const voidedNonce = f.freshNonce(f.alice.address)
    const voidedSig = await f.sign(f.alice, 'ChannelFunding', {
      channelId: id,
      totalDeposit: 70n * USDC,
      nonce: voidedNonce,
    })
    await f.vault.connect(f.alice).invalidateNonce(voidedNonce)
    await expect(f.vault.connect(f.relayer).fundChannel(config, 70n * USDC, voidedNonce, voidedSig))
      .to.be.revertedWithCustomError(f.vault, 'VaultNonceUsed')
      .withArgs(f.alice.address, voidedNonce)

    const w = await f.withdrawal()
    const ownerSig = await f.sign(f.alice, 'Withdrawal', { ...w })
    const ops = [op(OpKind.Withdrawal, [w, ownerSig])]
    const n: bigint = (await f.vault.lastBatchNumber()) + 1n
    const batchSig = await f.signBatch(n, ops)
    await f.vault.connect(f.relayer).settleBatch(n, ops, batchSig)
    await expect(f.vault.connect(f.relayer).settleBatch(n, ops, batchSig))
      .to.be.revertedWithCustomError(f.vault, 'SettlementBatchOutOfOrder')
      .withArgs(n + 1n, n)
    // The same withdrawal in a new batch is skipped; directly it reverts.
    const { skipped } = await settleAndSkipped(f, ops)
    expect(skipped).to.deep.equal([[0, errorData(f, 'VaultNonceUsed', [f.alice.address, w.nonce])]])
    const approval = await f.sign(f.coordinator, 'WithdrawalApproval', { withdrawal: { ...w } })
    await expect(f.vault.connect(f.relayer).withdraw(w, ownerSig, approval))
      .to.be.revertedWithCustomError(f.vault, 'VaultNonceUsed')
      .withArgs(f.alice.address, w.nonce)
    expect(await f.vault.balanceOf(f.alice.address, f.usdcAddress)).to.equal(
      INITIAL_DEPOSIT - 100n * USDC - 60n * USDC - w.amount,
    )
  })

  it('fails to use a signature of one message as another (distinct type hashes)', async function () {
    const f = await loadFixture(deployVaultFixture)
    const e = await f.lockEscrow()
    // The payer's refund signature over the same escrow id does not pass as its release.
    const refundSig = await f.sign(f.alice, 'EscrowRefund', { escrowId: e.id })
    const asRelease = signerOfTyped(f.domain, 'EscrowRelease', { escrowId: e.id }, refundSig)
    await expect(f.vault.connect(f.relayer).releaseEscrow(e.terms, e.position, refundSig, e.proof))
      .to.be.revertedWithCustomError(f.vault, 'JobEscrowInvalidSignature')
      .withArgs(e.id, f.alice.address, asRelease)
    // A dispute signature does not pass as a refund either.
    const disputeSig = await f.sign(f.bob, 'EscrowDispute', { escrowId: e.id })
    await expect(f.vault.connect(f.relayer).refundEscrow(e.terms, e.position, disputeSig, e.proof))
      .to.be.revertedWithCustomError(f.vault, 'JobEscrowInvalidSignature')
      .withArgs(e.id, f.bob.address, signerOfTyped(f.domain, 'EscrowRefund', { escrowId: e.id }, disputeSig))
    // A close signature (same channel id and amount) does not pass as a caller voucher.
    const { config, id } = await f.openChannel()
    const closeSig = await f.sign(f.alice, 'ChannelClose', { channelId: id, cumulativeAmount: 1n })
    const voucher = {
      config,
      sequence: 1n,
      cumulativeAmount: 1n,
      callChain: ethers.ZeroHash,
      signature: closeSig,
    }
    const asVoucher = signerOfTyped(
      f.domain,
      'Voucher',
      { channelId: id, sequence: 1n, cumulativeAmount: 1n, callChain: ethers.ZeroHash },
      closeSig,
    )
    await expect(f.vault.settleChannel(voucher))
      .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsInvalidSignature')
      .withArgs(id, f.alice.address, asVoucher)
  })

  it("fails to pass a signature with its s moved into the upper half of the curve order (a malleable twin's form): batch, escrow lock, fast withdrawal", async function () {
    const f = await loadFixture(deployVaultFixture)
    const terms = await f.escrowTerms()
    const lockSig = await f.signLock(terms)
    await expect(f.vault.connect(f.relayer).lockEscrow(terms, withHighS(lockSig)))
      .to.be.revertedWithCustomError(f.vault, 'JobEscrowInvalidSignature')
      .withArgs(f.escrowIdOf(terms), f.alice.address, ethers.ZeroAddress)

    const w = await f.withdrawal()
    const ownerSig = await f.sign(f.alice, 'Withdrawal', { ...w })
    const approval = await f.sign(f.coordinator, 'WithdrawalApproval', { withdrawal: { ...w } })
    await expect(f.vault.connect(f.relayer).withdraw(w, withHighS(ownerSig), approval))
      .to.be.revertedWithCustomError(f.vault, 'VaultInvalidSignature')
      .withArgs(f.alice.address, ethers.ZeroAddress)
    await expect(f.vault.connect(f.relayer).withdraw(w, ownerSig, withHighS(approval)))
      .to.be.revertedWithCustomError(f.vault, 'VaultInvalidSignature')
      .withArgs(f.coordinator.address, ethers.ZeroAddress)

    const ops = [op(OpKind.EscrowLock, [terms, lockSig])]
    const n: bigint = (await f.vault.lastBatchNumber()) + 1n
    const batchSig = await f.signBatch(n, ops)
    await expect(f.vault.connect(f.relayer).settleBatch(n, ops, withHighS(batchSig)))
      .to.be.revertedWithCustomError(f.vault, 'SettlementInvalidCoordinatorSignature')
      .withArgs(f.coordinator.address, ethers.ZeroAddress)
    // The signatures as signed still pass.
    await f.vault.connect(f.relayer).settleBatch(n, ops, batchSig)
    await f.vault.connect(f.relayer).withdraw(w, ownerSig, approval)
    expect(await f.vault.balanceOf(f.alice.address, f.usdcAddress)).to.equal(
      INITIAL_DEPOSIT - terms.amount - w.amount,
    )
  })

  it('fails on a second deployment: lock, release and batch signatures', async function () {
    const f = await loadFixture(deployVaultFixture)
    const second = await secondVault(f)
    const secondDomain = clearhouseDomain(f.chainId, (await second.getAddress()) as `0x${string}`)
    const terms = await f.escrowTerms({ amount: 10n * USDC })
    const signatureForFirst = await f.signLock(terms)
    const idOnSecond: string = await second.escrowId(terms)
    expect(idOnSecond).to.not.equal(f.escrowIdOf(terms))
    await expect(second.connect(f.relayer).lockEscrow(terms, signatureForFirst))
      .to.be.revertedWithCustomError(second, 'JobEscrowInvalidSignature')
      .withArgs(
        idOnSecond,
        f.alice.address,
        signerOfTyped(secondDomain, 'EscrowLock', { ...terms }, signatureForFirst),
      )

    const ops = [op(OpKind.EscrowLock, [terms, signatureForFirst])]
    const batchSig = await f.signBatch(1n, ops)
    await expect(second.connect(f.relayer).settleBatch(1n, ops, batchSig))
      .to.be.revertedWithCustomError(second, 'SettlementInvalidCoordinatorSignature')
      .withArgs(
        f.coordinator.address,
        signerOfTyped(secondDomain, 'Batch', { batchNumber: 1n, opsRoot: opsTree(ops).root }, batchSig),
      )
    // The same terms locked on both (each signed for its own vault) are different escrows; a
    // release signed on the first does not release the one on the second.
    const e = await f.lockEscrow({ ...terms })
    const onSecond = await second
      .connect(f.relayer)
      .lockEscrow(terms, await signTyped(f.alice, secondDomain, 'EscrowLock', { ...terms }))
    const [lockedOnSecond] = (await onSecond.wait()).logs
      .map((l: { topics: string[]; data: string }) => second.interface.parseLog(l))
      .filter((l: { name: string } | null) => l?.name === 'EscrowLocked')
    const releaseOnFirst = await f.sign(f.alice, 'EscrowRelease', { escrowId: e.id })
    const position = { setId: lockedOnSecond.args.setId, index: 0n }
    await expect(second.connect(f.relayer).releaseEscrow(terms, position, releaseOnFirst, []))
      .to.be.revertedWithCustomError(second, 'JobEscrowInvalidSignature')
      .withArgs(
        idOnSecond,
        f.alice.address,
        signerOfTyped(secondDomain, 'EscrowRelease', { escrowId: idOnSecond }, releaseOnFirst),
      )
  })

  it('fails with a signature for another chain id', async function () {
    const f = await loadFixture(deployVaultFixture)
    const otherChain = clearhouseDomain(1, f.vaultAddress as `0x${string}`)
    const terms = await f.escrowTerms()
    const signature = await signTyped(f.alice, otherChain, 'EscrowLock', { ...terms })
    await expect(f.vault.connect(f.relayer).lockEscrow(terms, signature))
      .to.be.revertedWithCustomError(f.vault, 'JobEscrowInvalidSignature')
      .withArgs(
        f.escrowIdOf(terms),
        f.alice.address,
        signerOfTyped(f.domain, 'EscrowLock', { ...terms }, signature),
      )
    const ops = [op(OpKind.EscrowLock, [terms, await f.signLock(terms)])]
    const batchSig = await signTyped(f.coordinator, otherChain, 'Batch', {
      batchNumber: 1n,
      opsRoot: opsTree(ops).root,
    })
    await expect(f.vault.connect(f.relayer).settleBatch(1n, ops, batchSig))
      .to.be.revertedWithCustomError(f.vault, 'SettlementInvalidCoordinatorSignature')
      .withArgs(
        f.coordinator.address,
        signerOfTyped(f.domain, 'Batch', { batchNumber: 1n, opsRoot: opsTree(ops).root }, batchSig),
      )
    // Channel and escrow ids differ per chain too, so an id from another chain names nothing here.
    const { config, id } = await f.openChannel()
    expect(ethers.TypedDataEncoder.hash(otherChain, typesFor('ChannelConfig'), config)).to.not.equal(id)
    expect(ethers.TypedDataEncoder.hash(otherChain, typesFor('EscrowLock'), terms)).to.not.equal(
      f.escrowIdOf(terms),
    )
  })
})

describe('Trust property 4: with the coordinator gone, every user recovers what is theirs', function () {
  it('recovers balances, escrows and channel deposits using only the chain and the delays', async function () {
    const f = await loadFixture(deployVaultFixture)
    // Alice's escrows: one locked alone, two in a batch with carol's; all their proofs are dropped.
    const directTerms = await f.escrowTerms({ amount: 100n * USDC })
    const directHash: string = (
      await f.vault.connect(f.relayer).lockEscrow(directTerms, await f.signLock(directTerms))
    ).hash
    const batchTerms = [
      await f.escrowTerms({ amount: 40n * USDC }),
      await f.escrowTerms({ payer: f.carol.address, amount: 15n * USDC }),
      await f.escrowTerms({ amount: 25n * USDC, payee: f.dave.address }),
    ]
    const batchOps = await Promise.all(
      batchTerms.map(async (t) => op(OpKind.EscrowLock, [t, await f.signLock(t)])),
    )
    const batchHash: string = (await f.settle(batchOps)).hash
    const { config } = await f.openChannel({}, 200n * USDC)
    await f.vault.settleChannel(await f.signedVoucher(config, 1n, 30n * USDC))

    // The coordinator disappears; the owner even pauses deposits. Nothing below needs either.
    await f.vault.connect(f.owner).pause()
    // Proofs rebuilt from the chain alone: the EscrowLocked logs of each lock transaction.
    const fromChain = async (hash: string) =>
      f.escrowsLockedIn((await ethers.provider.getTransactionReceipt(hash))!)
    const direct = await fromChain(directHash)
    const batch = await fromChain(batchHash)
    expect(direct).to.have.length(1)
    expect(batch).to.have.length(3)
    for (const set of [direct, batch]) {
      const setId = set[0].position.setId
      expect(await f.vault.escrowSetRoot(setId)).to.equal(
        escrowSetTree(set.map((e) => e.id as `0x${string}`)).root,
      )
    }
    expect(batch[1].terms).to.deep.equal(batchTerms[1])

    await f.vault.connect(f.alice).requestChannelClose(config)
    await time.increase(CHALLENGE_PERIOD)
    await f.vault.connect(f.alice).finalizeChannelClose(config)
    // The last of the escrows' expiries (each was set from the clock when its terms were made).
    const lastExpiry = [directTerms, ...batchTerms].reduce((max, t) => (t.expiry > max ? t.expiry : max), 0n)
    await time.increaseTo(lastExpiry)
    for (const e of [...direct, ...batch]) {
      await expect(f.vault.connect(f.alice).reclaimExpiredEscrow(e.terms, e.position, e.proof))
        .to.emit(f.vault, 'EscrowExpired')
        .withArgs(e.id, e.terms.payer, e.terms.amount)
    }
    const owed = INITIAL_DEPOSIT - 30n * USDC
    expect(await f.vault.balanceOf(f.alice.address, f.usdcAddress)).to.equal(owed)
    expect(await f.vault.balanceOf(f.carol.address, f.usdcAddress)).to.equal(INITIAL_DEPOSIT)

    for (const account of [f.alice, f.bob, f.carol]) {
      const balance: bigint = await f.vault.balanceOf(account.address, f.usdcAddress)
      await f.vault.connect(account).requestWithdrawal(f.usdcAddress, balance, account.address)
    }
    await time.increase(WITHDRAWAL_DELAY)
    const walletBefore: bigint = await f.usdc.balanceOf(f.alice.address)
    await expect(f.vault.connect(f.stranger).executeWithdrawal(f.alice.address, f.usdcAddress))
      .to.emit(f.vault, 'WithdrawalExecuted')
      .withArgs(f.alice.address, f.usdcAddress, f.alice.address, owed)
    await f.vault.connect(f.bob).executeWithdrawal(f.bob.address, f.usdcAddress)
    await f.vault.connect(f.carol).executeWithdrawal(f.carol.address, f.usdcAddress)
    expect((await f.usdc.balanceOf(f.alice.address)) - walletBefore).to.equal(owed)
    for (const account of [f.alice, f.bob, f.carol]) {
      expect(await f.vault.balanceOf(account.address, f.usdcAddress)).to.equal(0n)
    }
  })

  it('lets the provider claim the newest voucher during the challenge, and no more after', async function () {
    const f = await loadFixture(deployVaultFixture)
    const { config, id } = await f.openChannel({}, 50n * USDC)
    const newest = await f.signedVoucher(config, 9n, 40n * USDC)
    await f.vault.connect(f.alice).requestChannelClose(config)
    await f.vault.connect(f.bob).settleChannel(newest)
    await time.increase(CHALLENGE_PERIOD)
    await expect(f.vault.finalizeChannelClose(config))
      .to.emit(f.vault, 'ChannelClosed')
      .withArgs(id, 40n * USDC, 10n * USDC)
    await expect(f.vault.settleChannel(await f.signedVoucher(config, 10n, 50n * USDC)))
      .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsClosed')
      .withArgs(id)
    expect(await f.vault.balanceOf(f.alice.address, f.usdcAddress)).to.equal(INITIAL_DEPOSIT - 40n * USDC)
  })

  it("delays the payer's reclaim after the payee's dispute by at most the ruling period", async function () {
    const f = await loadFixture(deployVaultFixture)
    const e = await f.lockEscrow({ amount: 10n * USDC })
    await time.increaseTo(e.terms.expiry - 10n)
    await f.vault.connect(f.bob).openEscrowDispute(e.terms, e.position, NO_SIGNATURE, e.proof)
    const deadline: bigint = await f.vault.escrowRulingDeadline(e.id)
    const at = await nextBlockAt()
    await expect(f.vault.connect(f.alice).reclaimExpiredEscrow(e.terms, e.position, e.proof))
      .to.be.revertedWithCustomError(f.vault, 'JobEscrowNotReclaimable')
      .withArgs(e.id, deadline, at)
    expect(deadline - e.terms.expiry).to.be.lessThanOrEqual(BigInt(DISPUTE_RULING_PERIOD))
    await time.increaseTo(deadline)
    await expect(f.vault.connect(f.alice).reclaimExpiredEscrow(e.terms, e.position, e.proof))
      .to.emit(f.vault, 'EscrowExpired')
      .withArgs(e.id, f.alice.address, 10n * USDC)
  })

  it('recovers within a bounded delay even if the coordinator settles the balance meanwhile', async function () {
    const f = await loadFixture(deployVaultFixture)
    await f.vault.connect(f.alice).requestWithdrawal(f.usdcAddress, INITIAL_DEPOSIT, f.alice.address)
    // A lock the payer signed earlier can still settle during the delay; the rest is paid.
    await f.lockEscrowsInBatch([await f.escrowTerms({ amount: 10n * USDC })])
    await time.increase(WITHDRAWAL_DELAY)
    await expect(f.vault.executeWithdrawal(f.alice.address, f.usdcAddress))
      .to.emit(f.vault, 'WithdrawalExecuted')
      .withArgs(f.alice.address, f.usdcAddress, f.alice.address, INITIAL_DEPOSIT - 10n * USDC)
    expect(await f.vault.balanceOf(f.alice.address, f.usdcAddress)).to.equal(0n)
  })
})

describe('Trust property 5: a batch event recomputes from its ops', function () {
  it('recomputes the ops root with StandardMerkleTree and the per-token totals from the ops and prior state', async function () {
    const f = await loadFixture(deployVaultFixture)
    const eurc = (await ethers.deployContract('MockUSDC')) as unknown as AnyContract
    const eurcAddress: string = await eurc.getAddress()
    await f.vault.connect(f.owner).setTokenAllowed(eurcAddress, true)
    await eurc.mint(f.carol.address, INITIAL_DEPOSIT)
    await eurc.connect(f.carol).approve(f.vaultAddress, ethers.MaxUint256)
    await f.vault.connect(f.carol).deposit(eurcAddress, INITIAL_DEPOSIT)

    const channels = []
    for (let i = 0; i < 3; i++) channels.push(await f.openChannel({ salt: saltOf(i + 10) }, 20n * USDC))
    const eurcChannel = await f.openChannel(
      { caller: f.carol.address, provider: f.dave.address, token: eurcAddress, salt: saltOf(50) },
      90n * USDC,
      f.carol,
    )
    // Settled before the batch: the auditor reads it from the state before.
    await f.vault.settleChannel(await f.signedVoucher(channels[0].config, 1n, 1n * USDC))
    const escrow = await f.lockEscrow({ amount: 9n * USDC })
    const lockTerms = await f.escrowTerms({ payer: f.carol.address, token: eurcAddress, amount: 4n * USDC })
    const ops: Op[] = []
    for (const [i, { config }] of channels.entries()) {
      ops.push(op(OpKind.ChannelSettle, [await f.signedVoucher(config, 2n, BigInt(i + 2) * 1_234_567n)]))
    }
    ops.push(op(OpKind.ChannelSettle, [await f.signedVoucher(eurcChannel.config, 1n, 7_654_321n)]))
    ops.push(
      op(OpKind.EscrowRelease, [
        escrow.terms,
        escrow.position,
        await f.sign(f.alice, 'EscrowRelease', { escrowId: escrow.id }),
        escrow.proof,
      ]),
    )
    ops.push(op(OpKind.EscrowLock, [lockTerms, await f.signLock(lockTerms)]))
    // A stale voucher: skipped, still committed to by the root, counted in no total.
    ops.push(op(OpKind.ChannelSettle, [await f.signedVoucher(channels[0].config, 3n, 1n * USDC)]))
    const receipt = (await (await f.settle(ops)).wait()) as Receipt
    const [event] = eventsNamed(f, receipt, 'BatchSettled')

    // An auditor: decode the transaction's ops, rebuild the tree, recompute the sums.
    const tx = await ethers.provider.getTransaction(receipt.hash)
    const decoded = f.vault.interface.decodeFunctionData('settleBatch', tx!.data)
    const auditedOps: Op[] = decoded.ops.map((o: { kind: bigint; data: string }) => ({
      kind: Number(o.kind),
      data: o.data,
    }))
    expect(event.args.batchNumber).to.equal(decoded.batchNumber)
    expect(event.args.opsRoot).to.equal(opsTree(auditedOps).root)
    expect(event.args.opCount).to.equal(BigInt(auditedOps.length))

    const skipped = new Set(eventsNamed(f, receipt, 'OpSkipped').map((e) => Number(e.args.index)))
    expect([...skipped]).to.deep.equal([auditedOps.length - 1])
    const coder = ethers.AbiCoder.defaultAbiCoder()
    const decodeOp = (o: Op) =>
      coder.decode(
        opDataAbi[o.kind as OpKind].map((p) => ethers.ParamType.from(p as unknown as JsonFragmentType)),
        o.data,
      )
    const recomputed: TokenTotals[] = []
    const entryOf = (token: string) => {
      let entry = recomputed.find((t) => t.token === token)
      if (!entry) {
        entry = { token } as TokenTotals
        for (const field of TOKEN_TOTALS_FIELDS) entry[field] = 0n
        recomputed.push(entry)
      }
      return entry
    }
    const settledBefore = new Map<string, bigint>()
    for (const [i, o] of auditedOps.entries()) {
      if (skipped.has(i)) continue
      const values = decodeOp(o)
      if (o.kind === OpKind.ChannelSettle) {
        const voucher = values[0]
        const id: string = await f.vault.channelId(voucher.config.toObject())
        if (!settledBefore.has(id)) {
          settledBefore.set(id, (await f.vault.channel(id, { blockTag: receipt.blockNumber - 1 })).settled)
        }
        const amount = voucher.cumulativeAmount - settledBefore.get(id)!
        settledBefore.set(id, voucher.cumulativeAmount)
        const entry = entryOf(voucher.config.token)
        entry.channelSettled += amount
        entry.fees += feeOf(amount, voucher.config.feeBps)
      } else if (o.kind === OpKind.EscrowRelease) {
        const terms = values[0]
        const entry = entryOf(terms.token)
        entry.escrowToPayees += terms.amount - feeOf(terms.amount, terms.feeBps)
        entry.fees += feeOf(terms.amount, terms.feeBps)
      } else if (o.kind === OpKind.EscrowLock) {
        entryOf(values[0].token).escrowLocked += values[0].amount
      } else {
        throw new Error(`audit of kind ${o.kind} not written`)
      }
    }
    const emitted = event.args.totals.map((t: { toObject(): TokenTotals }) => ({ ...t.toObject() }))
    expect(emitted).to.deep.equal(recomputed)
    expect(emitted.map((t: TokenTotals) => t.token)).to.deep.equal([f.usdcAddress, eurcAddress])

    // The batch's escrow set recomputes from its EscrowLocked logs.
    const locked = f.escrowsLockedIn(receipt)
    const [committed] = eventsNamed(f, receipt, 'EscrowSetCommitted')
    expect(committed.args.root).to.equal(escrowSetTree(locked.map((e) => e.id as `0x${string}`)).root)

    // Each settlement carries the caller-signed voucher: its callChain recovers to the caller.
    const settledEvents = eventsNamed(f, receipt, 'ChannelSettled')
    expect(settledEvents).to.have.length(channels.length + 1)
    for (const [i, e] of settledEvents.entries()) {
      const voucher = decodeOp(auditedOps[i])[0]
      expect(e.args.callChain).to.equal(voucher.callChain)
      const signer = signerOfTyped(
        f.domain,
        'Voucher',
        {
          channelId: e.args.channelId,
          sequence: e.args.sequence,
          cumulativeAmount: e.args.cumulativeAmount,
          callChain: e.args.callChain,
        },
        { r: voucher.signature.r, vs: voucher.signature.vs },
      )
      expect(signer).to.equal(voucher.config.caller)
    }
  })
})
