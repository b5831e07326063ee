import { expect } from 'chai'
import { ethers } from 'hardhat'
import { loadFixture, time } from '@nomicfoundation/hardhat-network-helpers'
import { anyValue } from '@nomicfoundation/hardhat-chai-matchers/withArgs'
import type { HardhatEthersSigner } from '@nomicfoundation/hardhat-ethers/signers'
import { escrowSetTree } from '../../protocol/escrow-sets'
import {
  CHALLENGE_PERIOD,
  DIRECT_ESCROW_SET_BASE,
  FEE_BPS,
  INITIAL_DEPOSIT,
  NO_SIGNATURE,
  OpKind,
  USDC,
  callChainOf,
  deployVaultFixture,
  op,
  opsTree,
  saltOf,
  typesFor,
  type AnyContract,
  type ChannelConfig,
  type LockedEscrow,
  type Op,
  type SignedVoucher,
  type VaultFixture,
  type Withdrawal,
  TOKEN_TOTALS_FIELDS,
  type TokenTotals,
  type TokenTotalsField,
  withDirtyWord,
  withHighS,
} from './fixtures'
import { batchGasLimit } from '../../server/chain/settler/settler'

// ------------------------------------------------------------------ helpers

const feeOf = (amount: bigint, bps: number | bigint = FEE_BPS) => (amount * BigInt(bps)) / 10_000n

/** A ruling's split, as FeeMath.splitRuling computes it. */
function splitRuling(amount: bigint, payeeBps: number, feeBps: number, resolverFeeBps: number) {
  const resolverFee = feeOf(amount, resolverFeeBps)
  const rest = amount - resolverFee
  const gross = feeOf(rest, payeeBps)
  const fee = feeOf(gross, feeBps)
  return { payeeAmount: gross - fee, payerAmount: rest - gross, fee, resolverFee }
}

/** A `TokenTotals` entry of `token`: the given amounts, zero elsewhere. */
function totalsOf(token: string, amounts: Partial<Record<TokenTotalsField, bigint>> = {}): TokenTotals {
  const entry = { token } as TokenTotals
  for (const field of TOKEN_TOTALS_FIELDS) entry[field] = amounts[field] ?? 0n
  return entry
}

interface Log {
  topics: ReadonlyArray<string>
  data: string
}
interface Receipt {
  logs: ReadonlyArray<Log>
  hash: string
  gasUsed: bigint
}

/** The vault's logs in `receipt` named `name`, parsed. */
function eventsNamed(f: VaultFixture, receipt: Receipt, name: string) {
  return receipt.logs
    .map((log) => f.vault.interface.parseLog(log))
    .filter((parsed): parsed is NonNullable<typeof parsed> => parsed?.name === name)
}

/** The one `BatchSettled` of `receipt`, with its totals as plain objects. */
function batchSettledIn(f: VaultFixture, receipt: Receipt) {
  const events = eventsNamed(f, receipt, 'BatchSettled')
  expect(events).to.have.length(1)
  const { args } = events[0]
  return {
    batchNumber: args.batchNumber as bigint,
    opsRoot: args.opsRoot as string,
    opCount: args.opCount as bigint,
    totals: (args.totals as Array<{ toObject(): TokenTotals }>).map((t) => ({ ...t.toObject() })),
  }
}

/** The `OpSkipped` logs of `receipt` as `[index, reason]`. */
function skippedIn(f: VaultFixture, receipt: Receipt): Array<[number, string]> {
  return eventsNamed(f, receipt, 'OpSkipped').map((e) => [Number(e.args.index), e.args.reason as string])
}

/** Revert data of custom error `name` of the vault with `args`. */
function errorData(f: VaultFixture, name: string, args: unknown[]): string {
  return f.vault.interface.encodeErrorResult(name, args)
}

/** Settles `ops` as the next batch and waits for its receipt. */
async function settled(f: VaultFixture, ops: Op[]): Promise<Receipt> {
  return (await (await f.settle(ops)).wait()) as Receipt
}

/** What settling `ops` as the next batch would return, raw: `[index, reason]`. */
async function skippedBySimulation(f: VaultFixture, ops: Op[]): Promise<Array<[number, string]>> {
  const batchNumber = (await f.vault.lastBatchNumber()) + 1n
  const signature = await f.signBatch(batchNumber, ops)
  const skipped = await f.vault.connect(f.relayer).settleBatch.staticCall(batchNumber, ops, signature)
  return skipped.map((s: { index: bigint; reason: string }) => [Number(s.index), s.reason])
}

function signerOf(f: VaultFixture, address: string): HardhatEthersSigner {
  const signer = f.signers.find((s) => s.address === address)
  if (!signer) throw new Error(`no signer ${address}`)
  return signer
}

// Op builders: each signs as the party the op needs, unless told to sign as someone else.

async function lockOp(f: VaultFixture, terms: Awaited<ReturnType<VaultFixture['escrowTerms']>>) {
  return op(OpKind.EscrowLock, [terms, await f.signLock(terms)])
}

async function releaseOp(f: VaultFixture, e: LockedEscrow, by?: HardhatEthersSigner, proof = e.proof) {
  const signature = await f.sign(by ?? signerOf(f, e.terms.payer), 'EscrowRelease', { escrowId: e.id })
  return op(OpKind.EscrowRelease, [e.terms, e.position, signature, proof])
}

async function refundOp(f: VaultFixture, e: LockedEscrow, by?: HardhatEthersSigner) {
  const signature = await f.sign(by ?? signerOf(f, e.terms.payee), 'EscrowRefund', { escrowId: e.id })
  return op(OpKind.EscrowRefund, [e.terms, e.position, signature, e.proof])
}

async function rulingOp(f: VaultFixture, e: LockedEscrow, payeeBps: number, proof = e.proof) {
  const signature = await f.sign(f.resolver, 'EscrowRuling', { escrowId: e.id, payeeBps })
  return op(OpKind.EscrowRuling, [e.terms, e.position, payeeBps, signature, proof])
}

function reclaimOp(e: LockedEscrow) {
  return op(OpKind.EscrowReclaim, [e.terms, e.position, e.proof])
}

async function fundOp(f: VaultFixture, config: ChannelConfig, totalDeposit: bigint, nonce: bigint) {
  const channelId: string = await f.vault.channelId(config)
  const signature = await f.sign(signerOf(f, config.caller), 'ChannelFunding', {
    channelId,
    totalDeposit,
    nonce,
  })
  return op(OpKind.ChannelFund, [config, totalDeposit, nonce, signature])
}

function settleOp(voucher: SignedVoucher) {
  return op(OpKind.ChannelSettle, [voucher])
}

async function closeOp(f: VaultFixture, voucher: SignedVoucher) {
  const channelId: string = await f.vault.channelId(voucher.config)
  const signature = await f.sign(signerOf(f, voucher.config.provider), 'ChannelClose', {
    channelId,
    cumulativeAmount: voucher.cumulativeAmount,
  })
  return op(OpKind.ChannelClose, [voucher, signature])
}

async function withdrawalOp(f: VaultFixture, w: Withdrawal, by?: HardhatEthersSigner) {
  return op(OpKind.Withdrawal, [w, await f.sign(by ?? signerOf(f, w.account), 'Withdrawal', { ...w })])
}

/** Every named account's vault balance of every given token, to compare whole states. */
async function balancesOf(f: VaultFixture, tokens: string[]) {
  const rows: string[] = []
  for (const s of f.signers.slice(0, 10)) {
    for (const token of tokens)
      rows.push(`${s.address}/${token}: ${await f.vault.balanceOf(s.address, token)}`)
  }
  for (const token of tokens) {
    const erc20 = await ethers.getContractAt('MockUSDC', token)
    rows.push(`vault holds ${token}: ${await erc20.balanceOf(f.vaultAddress)}`)
  }
  return rows
}

/**
 * Settles `ops` as the next batch on a snapshot and rolls back: what it skipped, its totals, the
 * per-op events it emitted (every log but OpSkipped and BatchSettled) and the balances after.
 */
async function outcomeOf(f: VaultFixture, ops: Op[], tokens: string[]) {
  const snapshot = await ethers.provider.send('evm_snapshot', [])
  const receipt = await settled(f, ops)
  const opEvents = receipt.logs
    .map((log) => f.vault.interface.parseLog(log))
    .filter((e) => e !== null && e.name !== 'OpSkipped' && e.name !== 'BatchSettled')
    .map((e) => `${e!.name}(${e!.args.map(String).join(', ')})`)
  const outcome = {
    skipped: skippedIn(f, receipt),
    totals: batchSettledIn(f, receipt).totals,
    opEvents,
    balances: await balancesOf(f, tokens),
  }
  await ethers.provider.send('evm_revert', [snapshot])
  return outcome
}

/**
 * A vault with one of everything a batch can act on: escrows locked directly (one-escrow sets)
 * and in batch 1 (set 1), and channels to settle, close and finalize.
 */
async function settlementFixture() {
  const f = await deployVaultFixture()
  const releasable = await f.lockEscrow()
  const refundable = await f.lockEscrow({ amount: 60n * USDC })
  const now = BigInt(await time.latest())
  const [disputed, expiring, spare] = await f.lockEscrowsInBatch([
    await f.escrowTerms({ amount: 40n * USDC }),
    await f.escrowTerms({ amount: 7n * USDC, expiry: now + 100n }),
    await f.escrowTerms({ payer: f.carol.address, payee: f.dave.address, amount: 25n * USDC }),
  ])
  const settleable = await f.openChannel({ salt: saltOf(1) }, 50n * USDC)
  const closable = await f.openChannel({ salt: saltOf(2) }, 30n * USDC)
  const finalizable = await f.openChannel({ salt: saltOf(3) }, 20n * USDC)
  await f.vault.connect(f.alice).requestChannelClose(finalizable.config)
  await time.increase(CHALLENGE_PERIOD)
  return { ...f, releasable, refundable, disputed, expiring, spare, settleable, closable, finalizable }
}
type SettlementFixture = Awaited<ReturnType<typeof settlementFixture>>

/** `settlementFixture` plus a second allowlisted token ("EURC"), deposited, with a channel in it. */
async function twoTokenFixture() {
  const f = await settlementFixture()
  const eurc = (await ethers.deployContract('MockUSDC')) as unknown as AnyContract
  const eurcAddress: string = await eurc.getAddress()
  await expect(f.vault.connect(f.owner).setTokenAllowed(eurcAddress, true))
    .to.emit(f.vault, 'TokenAllowlistUpdated')
    .withArgs(eurcAddress, true)
  for (const account of [f.alice, f.bob, f.carol, f.dave]) {
    await eurc.mint(account.address, INITIAL_DEPOSIT)
    await eurc.connect(account).approve(f.vaultAddress, ethers.MaxUint256)
    await f.vault.connect(account).deposit(eurcAddress, INITIAL_DEPOSIT)
  }
  const eurcChannel = await f.openChannel({ token: eurcAddress, salt: saltOf(9) }, 80n * USDC)
  return { ...f, eurc, eurcAddress, eurcChannel }
}

/** One op of each kind, valid against `settlementFixture`, with what each should do. */
async function everyKindOfOp(f: SettlementFixture) {
  const newEscrow = await f.escrowTerms({ payer: f.carol.address, amount: 11n * USDC })
  const fundNonce = f.freshNonce(f.alice.address)
  const w = await f.withdrawal({ account: f.dave.address, to: f.dave.address, amount: 3n * USDC, nonce: 7n })
  const settleVoucher = await f.signedVoucher(f.settleable.config, 1n, 12n * USDC)
  const closeVoucher = await f.signedVoucher(f.closable.config, 1n, 10n * USDC)
  const payeeBps = 7_500
  const ops: Op[] = [
    await lockOp(f, newEscrow),
    await releaseOp(f, f.releasable),
    await refundOp(f, f.refundable),
    await rulingOp(f, f.disputed, payeeBps),
    reclaimOp(f.expiring),
    await fundOp(f, f.settleable.config, 60n * USDC, fundNonce),
    settleOp(settleVoucher),
    await closeOp(f, closeVoucher),
    op(OpKind.ChannelFinalize, [f.finalizable.config]),
    await withdrawalOp(f, w),
  ]
  const release = f.releasable.terms.amount
  const ruling = splitRuling(f.disputed.terms.amount, payeeBps, FEE_BPS, f.disputed.terms.resolverFeeBps)
  const totals = totalsOf(f.usdcAddress, {
    escrowLocked: 11n * USDC,
    escrowToPayees: release - feeOf(release) + ruling.payeeAmount,
    escrowToPayers: 60n * USDC + ruling.payerAmount + 7n * USDC,
    resolverFees: ruling.resolverFee,
    channelFunded: 10n * USDC,
    channelSettled: 12n * USDC + 10n * USDC,
    channelRefunded: 20n * USDC + 20n * USDC,
    withdrawn: 3n * USDC,
    fees: feeOf(release) + ruling.fee + feeOf(12n * USDC) + feeOf(10n * USDC),
  })
  return { ops, totals, newEscrow, fundNonce, w, payeeBps, ruling }
}

// ------------------------------------------------------------------ tests

describe('Settlement', function () {
  describe('settleBatch', function () {
    it('applies one op of every kind and emits the batch number, ops root, op count and token totals', async function () {
      const f = await loadFixture(settlementFixture)
      const { ops, totals, ruling } = await everyKindOfOp(f)
      const batchNumber = (await f.vault.lastBatchNumber()) + 1n
      expect(batchNumber).to.equal(2n)
      const daveWallet: bigint = await f.usdc.balanceOf(f.dave.address)
      const held: bigint = await f.usdc.balanceOf(f.vaultAddress)

      expect(await f.simulateSkipped(ops)).to.deep.equal([])
      const receipt = await settled(f, ops)

      expect(batchSettledIn(f, receipt)).to.deep.equal({
        batchNumber,
        opsRoot: opsTree(ops).root,
        opCount: 10n,
        totals: [totals],
      })
      expect(skippedIn(f, receipt)).to.deep.equal([])
      expect(await f.vault.lastBatchNumber()).to.equal(batchNumber)
      // Balances: the fixture left alice 693 and carol 975 USDC in the vault.
      expect(await f.vault.balanceOf(f.alice.address, f.usdcAddress)).to.equal(
        693n * USDC + 60n * USDC + ruling.payerAmount + 7n * USDC - 10n * USDC + 20n * USDC + 20n * USDC,
      )
      expect(await f.vault.balanceOf(f.bob.address, f.usdcAddress)).to.equal(
        INITIAL_DEPOSIT +
          99n * USDC +
          ruling.payeeAmount +
          12n * USDC -
          feeOf(12n * USDC) +
          10n * USDC -
          feeOf(10n * USDC),
      )
      expect(await f.vault.balanceOf(f.carol.address, f.usdcAddress)).to.equal(
        INITIAL_DEPOSIT - 25n * USDC - 11n * USDC,
      )
      expect(await f.vault.balanceOf(f.dave.address, f.usdcAddress)).to.equal(INITIAL_DEPOSIT - 3n * USDC)
      expect(await f.vault.balanceOf(f.resolver.address, f.usdcAddress)).to.equal(ruling.resolverFee)
      expect(await f.vault.balanceOf(f.treasury.address, f.usdcAddress)).to.equal(totals.fees)
      expect((await f.usdc.balanceOf(f.dave.address)) - daveWallet).to.equal(3n * USDC)
      expect(held - (await f.usdc.balanceOf(f.vaultAddress))).to.equal(3n * USDC)
      // State: escrows paid out, channels moved.
      for (const e of [f.releasable, f.refundable, f.disputed, f.expiring]) {
        expect(await f.vault.isEscrowClosed(e.position.setId, e.position.index), e.id).to.equal(true)
      }
      expect(await f.vault.isEscrowClosed(f.spare.position.setId, f.spare.position.index)).to.equal(false)
      const settleable = await f.vault.channel(f.settleable.id)
      expect([settleable.deposit, settleable.settled, settleable.isClosed]).to.deep.equal([
        60n * USDC,
        12n * USDC,
        false,
      ])
      const closable = await f.vault.channel(f.closable.id)
      expect([closable.deposit, closable.settled, closable.isClosed]).to.deep.equal([
        10n * USDC,
        10n * USDC,
        true,
      ])
      expect((await f.vault.channel(f.finalizable.id)).isClosed).to.equal(true)
    })

    it('emits every per-op event an indexer needs, with exact args', async function () {
      const f = await loadFixture(settlementFixture)
      const { ops, newEscrow, ruling, payeeBps, w } = await everyKindOfOp(f)
      const batchNumber = (await f.vault.lastBatchNumber()) + 1n
      const newId = f.escrowIdOf(newEscrow)
      const tx = await f.settle(ops)
      await expect(tx)
        .to.emit(f.vault, 'EscrowLocked')
        .withArgs(
          newId,
          f.carol.address,
          f.bob.address,
          batchNumber,
          0n,
          f.usdcAddress,
          11n * USDC,
          f.resolver.address,
          FEE_BPS,
          200,
          newEscrow.expiry,
          newEscrow.nonce,
          false,
        )
      await expect(tx)
        .to.emit(f.vault, 'EscrowSetCommitted')
        .withArgs(batchNumber, escrowSetTree([newId as `0x${string}`]).root, 1n)
      await expect(tx)
        .to.emit(f.vault, 'EscrowReleased')
        .withArgs(f.releasable.id, f.bob.address, 99n * USDC, 1n * USDC)
      await expect(tx)
        .to.emit(f.vault, 'EscrowRefunded')
        .withArgs(f.refundable.id, f.alice.address, 60n * USDC)
      await expect(tx)
        .to.emit(f.vault, 'EscrowRuled')
        .withArgs(
          f.disputed.id,
          payeeBps,
          ruling.payeeAmount,
          ruling.payerAmount,
          ruling.fee,
          ruling.resolverFee,
        )
      await expect(tx)
        .to.emit(f.vault, 'EscrowExpired')
        .withArgs(f.expiring.id, f.alice.address, 7n * USDC)
      await expect(tx)
        .to.emit(f.vault, 'ChannelFunded')
        .withArgs(f.settleable.id, 10n * USDC, 60n * USDC)
      await expect(tx)
        .to.emit(f.vault, 'ChannelSettled')
        .withArgs(f.settleable.id, 1n, 12n * USDC, 12n * USDC, callChainOf(1))
      // The cooperative close settles its final voucher first, then returns the rest.
      await expect(tx)
        .to.emit(f.vault, 'ChannelSettled')
        .withArgs(f.closable.id, 1n, 10n * USDC, 10n * USDC, callChainOf(1))
      await expect(tx)
        .to.emit(f.vault, 'ChannelClosed')
        .withArgs(f.closable.id, 10n * USDC, 20n * USDC)
      await expect(tx)
        .to.emit(f.vault, 'ChannelClosed')
        .withArgs(f.finalizable.id, 0n, 20n * USDC)
      await expect(tx)
        .to.emit(f.vault, 'Withdrawn')
        .withArgs(f.dave.address, f.usdcAddress, f.dave.address, 3n * USDC, w.nonce)
      await expect(tx).not.to.emit(f.vault, 'OpSkipped')
    })

    it('takes batches in order, one number after the other: a gap or a replay reverts', async function () {
      const f = await loadFixture(settlementFixture)
      const last: bigint = await f.vault.lastBatchNumber()
      const ops = [reclaimOp(f.expiring)]
      await expect(f.vault.connect(f.relayer).settleBatch(last + 2n, ops, await f.signBatch(last + 2n, ops)))
        .to.be.revertedWithCustomError(f.vault, 'SettlementBatchOutOfOrder')
        .withArgs(last + 1n, last + 2n)
      expect(await f.vault.lastBatchNumber()).to.equal(last)
      const signature = await f.signBatch(last + 1n, ops)
      await expect(f.vault.connect(f.relayer).settleBatch(last + 1n, ops, signature))
        .to.emit(f.vault, 'EscrowExpired')
        .withArgs(f.expiring.id, f.alice.address, 7n * USDC)
      const balance: bigint = await f.vault.balanceOf(f.alice.address, f.usdcAddress)
      // The same signed batch again: refused before any op runs.
      await expect(f.vault.connect(f.relayer).settleBatch(last + 1n, ops, signature))
        .to.be.revertedWithCustomError(f.vault, 'SettlementBatchOutOfOrder')
        .withArgs(last + 2n, last + 1n)
      expect(await f.vault.lastBatchNumber()).to.equal(last + 1n)
      expect(await f.vault.balanceOf(f.alice.address, f.usdcAddress)).to.equal(balance)
    })

    it('reverts for an empty batch', async function () {
      const f = await loadFixture(settlementFixture)
      const last: bigint = await f.vault.lastBatchNumber()
      await expect(
        f.vault.connect(f.relayer).settleBatch(last + 1n, [], NO_SIGNATURE),
      ).to.be.revertedWithCustomError(f.vault, 'SettlementEmptyBatch')
      expect(await f.vault.lastBatchNumber()).to.equal(last)
    })

    it('reverts the whole batch when the coordinator did not sign exactly this batch', async function () {
      const f = await loadFixture(settlementFixture)
      const n: bigint = (await f.vault.lastBatchNumber()) + 1n
      const ops = [reclaimOp(f.expiring), await releaseOp(f, f.releasable)]
      const before = await balancesOf(f, [f.usdcAddress])
      const send = (o: Op[], sig: unknown, number = n) =>
        f.vault.connect(f.relayer).settleBatch(number, o, sig)
      const batchSigner = (number: bigint, o: Op[], sig: { r: string; vs: string }) =>
        ethers.verifyTypedData(
          f.domain,
          typesFor('Batch'),
          { batchNumber: number, opsRoot: opsTree(o).root },
          ethers.Signature.from({ r: sig.r, yParityAndS: sig.vs }),
        )

      // Signed by someone else.
      await expect(send(ops, await f.signBatch(n, ops, f.stranger)))
        .to.be.revertedWithCustomError(f.vault, 'SettlementInvalidCoordinatorSignature')
        .withArgs(f.coordinator.address, f.stranger.address)
      // No signature at all.
      await expect(send(ops, NO_SIGNATURE))
        .to.be.revertedWithCustomError(f.vault, 'SettlementInvalidCoordinatorSignature')
        .withArgs(f.coordinator.address, ethers.ZeroAddress)
      // The coordinator's signature over these ops, sent with the ops reordered, one dropped, or
      // under another number: the signature recovers to some other address.
      const signature = await f.signBatch(n, ops)
      const reordered = [ops[1], ops[0]]
      await expect(send(reordered, signature))
        .to.be.revertedWithCustomError(f.vault, 'SettlementInvalidCoordinatorSignature')
        .withArgs(f.coordinator.address, batchSigner(n, reordered, signature))
      await expect(send(ops.slice(0, 1), signature))
        .to.be.revertedWithCustomError(f.vault, 'SettlementInvalidCoordinatorSignature')
        .withArgs(f.coordinator.address, batchSigner(n, ops.slice(0, 1), signature))
      const signedForNext = await f.signBatch(n + 1n, ops)
      await expect(send(ops, signedForNext))
        .to.be.revertedWithCustomError(f.vault, 'SettlementInvalidCoordinatorSignature')
        .withArgs(f.coordinator.address, batchSigner(n, ops, signedForNext))

      expect(await f.vault.lastBatchNumber()).to.equal(n - 1n)
      expect(await balancesOf(f, [f.usdcAddress])).to.deep.equal(before)
      await expect(send(ops, signature)).to.emit(f.vault, 'BatchSettled')
    })

    it('needs every user signature inside a batch, even when the signer itself submits it', async function () {
      const f = await loadFixture(settlementFixture)
      const n: bigint = (await f.vault.lastBatchNumber()) + 1n
      const ops = [op(OpKind.EscrowRelease, [f.releasable.terms, f.releasable.position, NO_SIGNATURE, []])]
      // The payer itself sends the batch: its empty signature still does not pass.
      await expect(f.vault.connect(f.alice).settleBatch(n, ops, await f.signBatch(n, ops)))
        .to.emit(f.vault, 'OpSkipped')
        .withArgs(
          n,
          0n,
          errorData(f, 'JobEscrowInvalidSignature', [f.releasable.id, f.alice.address, ethers.ZeroAddress]),
        )
      expect(await f.vault.isEscrowClosed(f.releasable.position.setId, 0n)).to.equal(false)
    })

    it('credits the treasury with the batch fees after the last op', async function () {
      const f = await loadFixture(settlementFixture)
      const ops: Op[] = []
      for (let i = 1n; i <= 3n; i++)
        ops.push(settleOp(await f.signedVoucher(f.settleable.config, i, i * 10n * USDC)))
      const receipt = await settled(f, ops)
      expect(batchSettledIn(f, receipt).totals).to.deep.equal([
        totalsOf(f.usdcAddress, { channelSettled: 30n * USDC, fees: 3n * feeOf(10n * USDC) }),
      ])
      expect(await f.vault.balanceOf(f.treasury.address, f.usdcAddress)).to.equal(3n * feeOf(10n * USDC))
      expect(await f.vault.balanceOf(f.bob.address, f.usdcAddress)).to.equal(
        INITIAL_DEPOSIT + 30n * USDC - 3n * feeOf(10n * USDC),
      )
    })
  })

  describe('settleBatch: a failing op is skipped, the rest apply', function () {
    it('skips an op with a bad signature, malformed data, an unknown kind, a wrong proof or a short balance, and applies all others', async function () {
      const f = await loadFixture(settlementFixture)
      const n: bigint = (await f.vault.lastBatchNumber()) + 1n
      const carolBalance: bigint = await f.vault.balanceOf(f.carol.address, f.usdcAddress)
      const tooMuch = await f.escrowTerms({ payer: f.carol.address, amount: carolBalance + 1n })
      const daveLock = await f.escrowTerms({ payer: f.dave.address, amount: 9n * USDC })
      const w = await f.withdrawal({ account: f.dave.address, to: f.dave.address, amount: 2n * USDC })
      const ops: Op[] = [
        /* 0 */ settleOp(await f.signedVoucher(f.settleable.config, 1n, 5n * USDC)),
        /* 1 */ await releaseOp(f, f.releasable, f.bob), // the payee signed, not the payer
        /* 2 */ { kind: OpKind.ChannelSettle, data: '0x1234' },
        /* 3 */ await refundOp(f, f.refundable),
        /* 4 */ { kind: 11, data: '0x' }, // past the last kind (EscrowPartialRelease = 10)
        /* 5 */ await rulingOp(f, f.disputed, 10_000, f.expiring.proof), // another escrow's proof
        /* 6 */ await lockOp(f, tooMuch),
        /* 7 */ await lockOp(f, daveLock),
        /* 8 */ await withdrawalOp(f, w),
      ]
      const reasons: Array<[number, string, string, unknown[]]> = [
        [1, 'JobEscrowInvalidSignature', f.releasable.id, [f.alice.address, f.bob.address]],
        [2, 'SettlementMalformedOp', '', [BigInt(OpKind.ChannelSettle), 2n, 320n]],
        [4, 'SettlementUnknownOpKind', '', [11n]],
        [5, 'JobEscrowUnknown', f.disputed.id, [f.disputed.position.setId, f.disputed.position.index]],
        [
          6,
          'VaultInsufficientBalance',
          '',
          [f.carol.address, f.usdcAddress, carolBalance, carolBalance + 1n],
        ],
      ]
      const expected = reasons.map(([index, name, id, args]): [number, string] => [
        index,
        errorData(f, name, id ? [id, ...args] : args),
      ])

      // settleBatch returns exactly the skipped ops, each with its own error.
      expect(await f.simulateSkipped(ops)).to.deep.equal(reasons.map(([index, name]) => [index, name]))
      expect(await skippedBySimulation(f, ops)).to.deep.equal(expected)

      const receipt = await settled(f, ops)
      const skipped = skippedIn(f, receipt)
      expect(skipped).to.deep.equal(expected)
      for (const [i, [, reason]] of skipped.entries()) {
        const parsed = f.vault.interface.parseError(reason)!
        const [, name, id, args] = reasons[i]
        expect(parsed.name).to.equal(name)
        expect([...parsed.args]).to.deep.equal(id ? [id, ...args] : args)
      }
      for (const [index, reason] of expected) {
        await expect(receipt.hash).to.emit(f.vault, 'OpSkipped').withArgs(n, index, reason)
      }

      // The others applied: totals count them alone.
      const daveId = f.escrowIdOf(daveLock)
      expect(batchSettledIn(f, receipt)).to.deep.equal({
        batchNumber: n,
        opsRoot: opsTree(ops).root,
        opCount: 9n,
        totals: [
          totalsOf(f.usdcAddress, {
            channelSettled: 5n * USDC,
            escrowToPayers: 60n * USDC,
            escrowLocked: 9n * USDC,
            withdrawn: 2n * USDC,
            fees: feeOf(5n * USDC),
          }),
        ],
      })
      expect(await f.vault.isEscrowClosed(f.refundable.position.setId, 0n)).to.equal(true)
      expect(await f.vault.balanceOf(f.dave.address, f.usdcAddress)).to.equal(INITIAL_DEPOSIT - 11n * USDC)
      expect(await f.vault.balanceOf(f.bob.address, f.usdcAddress)).to.equal(
        INITIAL_DEPOSIT + 5n * USDC - feeOf(5n * USDC),
      )
      // Nothing of the skipped ops stays: no payout, no nonce used, no debit.
      expect(await f.vault.isEscrowClosed(f.releasable.position.setId, 0n)).to.equal(false)
      expect(await f.vault.isEscrowClosed(f.disputed.position.setId, f.disputed.position.index)).to.equal(
        false,
      )
      expect(await f.vault.balanceOf(f.carol.address, f.usdcAddress)).to.equal(carolBalance)
      expect(await f.vault.isNonceUsed(f.carol.address, tooMuch.nonce)).to.equal(false)
      expect(await f.vault.balanceOf(f.resolver.address, f.usdcAddress)).to.equal(0n)
      // The skipped lock took no index: dave's lock is escrow 0 of the batch's set.
      await expect(receipt.hash)
        .to.emit(f.vault, 'EscrowSetCommitted')
        .withArgs(n, escrowSetTree([daveId as `0x${string}`]).root, 1n)
      expect(
        eventsNamed(f, receipt, 'EscrowLocked').map((e) => [e.args.escrowId, e.args.setId, e.args.index]),
      ).to.deep.equal([[daveId, n, 0n]])
      // A skipped op, fixed, lands in a later batch.
      await expect(f.settle([await releaseOp(f, f.releasable)]))
        .to.emit(f.vault, 'EscrowReleased')
        .withArgs(f.releasable.id, f.bob.address, 99n * USDC, 1n * USDC)
    })

    it('skips malformed op data of every shape, naming its length and the length expected', async function () {
      const f = await loadFixture(settlementFixture)
      const valid = await releaseOp(f, f.releasable)
      const proofLength = f.releasable.proof.length // 0: a direct lock's set has one escrow
      const withExtraWord = { kind: OpKind.EscrowRelease, data: valid.data + '00'.repeat(32) }
      // Offset word of the proof pointing elsewhere than right after itself.
      const words = valid.data.slice(2).match(/.{64}/g)!
      words[14] = ethers.toBeHex(16n * 32n, 32).slice(2)
      const badOffset = { kind: OpKind.EscrowRelease, data: '0x' + words.join('') }
      const lock = await lockOp(f, await f.escrowTerms())
      const shortLock = { kind: OpKind.EscrowLock, data: lock.data.slice(0, -64) }
      const finalize = { kind: OpKind.ChannelFinalize, data: '0x' }
      const ops = [withExtraWord, badOffset, shortLock, finalize, valid]
      const releaseLength = (14 + 2 + proofLength) * 32
      expect(await skippedBySimulation(f, ops)).to.deep.equal([
        [0, errorData(f, 'SettlementMalformedOp', [OpKind.EscrowRelease, releaseLength + 32, releaseLength])],
        [1, errorData(f, 'SettlementMalformedOp', [OpKind.EscrowRelease, releaseLength, releaseLength])],
        [2, errorData(f, 'SettlementMalformedOp', [OpKind.EscrowLock, 11 * 32, 12 * 32])],
        [3, errorData(f, 'SettlementMalformedOp', [OpKind.ChannelFinalize, 0, 5 * 32])],
      ])
      await expect(f.settle(ops))
        .to.emit(f.vault, 'EscrowReleased')
        .withArgs(f.releasable.id, f.bob.address, 99n * USDC, 1n * USDC)
    })

    it('lands a batch whose every op is skipped: the number is used, nothing moves, no totals', async function () {
      const f = await loadFixture(settlementFixture)
      const n: bigint = (await f.vault.lastBatchNumber()) + 1n
      const before = await balancesOf(f, [f.usdcAddress])
      const ops = [await releaseOp(f, f.releasable, f.stranger), { kind: 255, data: '0x' }]
      const receipt = await settled(f, ops)
      expect(skippedIn(f, receipt).map(([i]) => i)).to.deep.equal([0, 1])
      expect(batchSettledIn(f, receipt)).to.deep.equal({
        batchNumber: n,
        opsRoot: opsTree(ops).root,
        opCount: 2n,
        totals: [],
      })
      expect(eventsNamed(f, receipt, 'EscrowSetCommitted')).to.have.length(0)
      expect(await f.vault.lastBatchNumber()).to.equal(n)
      expect(await balancesOf(f, [f.usdcAddress])).to.deep.equal(before)
    })

    it("attack: a front-runner makes one op fail to revert everyone's batch -> only its op is skipped", async function () {
      const f = await loadFixture(deployVaultFixture)
      const carolLock = await f.escrowTerms({ payer: f.carol.address, amount: 50n * USDC })
      const aliceLock = await f.escrowTerms({ amount: 600n * USDC })
      const daveLock = await f.escrowTerms({ payer: f.dave.address, amount: 30n * USDC })
      const w = await f.withdrawal({ account: f.bob.address, to: f.bob.address, amount: 5n * USDC })
      const ops = [
        await lockOp(f, carolLock),
        await lockOp(f, aliceLock),
        await lockOp(f, daveLock),
        await withdrawalOp(f, w),
      ]
      const n: bigint = (await f.vault.lastBatchNumber()) + 1n
      const signature = await f.signBatch(n, ops)
      expect(await f.simulateSkipped(ops)).to.deep.equal([])

      // Alice sees the batch coming and spends her balance on a channel she funds herself.
      const config = f.channelConfig({ salt: saltOf(77) })
      await f.vault.connect(f.alice).fundChannel(config, 900n * USDC, 0n, NO_SIGNATURE)

      const receipt = (await (
        await f.vault.connect(f.relayer).settleBatch(n, ops, signature)
      ).wait()) as Receipt
      expect(skippedIn(f, receipt)).to.deep.equal([
        [
          1,
          errorData(f, 'VaultInsufficientBalance', [
            f.alice.address,
            f.usdcAddress,
            100n * USDC,
            600n * USDC,
          ]),
        ],
      ])
      expect(await f.vault.lastBatchNumber()).to.equal(n)
      expect(await f.vault.balanceOf(f.carol.address, f.usdcAddress)).to.equal(INITIAL_DEPOSIT - 50n * USDC)
      expect(await f.vault.balanceOf(f.dave.address, f.usdcAddress)).to.equal(INITIAL_DEPOSIT - 30n * USDC)
      expect(await f.vault.balanceOf(f.bob.address, f.usdcAddress)).to.equal(INITIAL_DEPOSIT - 5n * USDC)
      expect(await f.vault.balanceOf(f.alice.address, f.usdcAddress)).to.equal(100n * USDC)
      const ids = [f.escrowIdOf(carolLock), f.escrowIdOf(daveLock)] as `0x${string}`[]
      await expect(receipt.hash)
        .to.emit(f.vault, 'EscrowSetCommitted')
        .withArgs(n, escrowSetTree(ids).root, 2n)
      // Her signed lock did not land: its nonce is still hers.
      expect(await f.vault.isNonceUsed(f.alice.address, aliceLock.nonce)).to.equal(false)
    })

    it("attack: a payer lands its own signed lock first to revert everyone's batch -> only the batch's copy is skipped", async function () {
      const f = await loadFixture(deployVaultFixture)
      const aliceLock = await f.escrowTerms({ amount: 10n * USDC })
      const carolLock = await f.escrowTerms({ payer: f.carol.address, amount: 20n * USDC })
      const ops = [await lockOp(f, aliceLock), await lockOp(f, carolLock)]
      const n: bigint = (await f.vault.lastBatchNumber()) + 1n
      const signature = await f.signBatch(n, ops)
      await f.vault.connect(f.alice).lockEscrow(aliceLock, NO_SIGNATURE)
      await expect(f.vault.connect(f.relayer).settleBatch(n, ops, signature))
        .to.emit(f.vault, 'OpSkipped')
        .withArgs(n, 0n, errorData(f, 'VaultNonceUsed', [f.alice.address, aliceLock.nonce]))
      expect(await f.vault.balanceOf(f.alice.address, f.usdcAddress)).to.equal(INITIAL_DEPOSIT - 10n * USDC)
      expect(await f.vault.balanceOf(f.carol.address, f.usdcAddress)).to.equal(INITIAL_DEPOSIT - 20n * USDC)
      const carolId = f.escrowIdOf(carolLock) as `0x${string}`
      expect(await f.vault.escrowSetRoot(n)).to.equal(escrowSetTree([carolId]).root)
    })
  })

  describe('settleBatch: escrow sets', function () {
    it('makes the locks of batch N set N, committing the StandardMerkleTree root of [index, escrowId]', async function () {
      const f = await loadFixture(deployVaultFixture)
      const terms = [
        await f.escrowTerms({ amount: 10n * USDC }),
        await f.escrowTerms({ payer: f.carol.address, amount: 20n * USDC }),
        await f.escrowTerms({ payer: f.dave.address, payee: f.carol.address, amount: 30n * USDC }),
      ]
      const n: bigint = (await f.vault.lastBatchNumber()) + 1n
      const receipt = await settled(f, await Promise.all(terms.map((t) => lockOp(f, t))))
      const ids = terms.map((t) => f.escrowIdOf(t) as `0x${string}`)
      const root = escrowSetTree(ids).root
      await expect(receipt.hash).to.emit(f.vault, 'EscrowSetCommitted').withArgs(n, root, 3n)
      expect(eventsNamed(f, receipt, 'EscrowSetCommitted')).to.have.length(1)
      expect(await f.vault.escrowSetRoot(n)).to.equal(root)
      expect(
        eventsNamed(f, receipt, 'EscrowLocked').map((e) => [e.args.escrowId, e.args.setId, e.args.index]),
      ).to.deep.equal(ids.map((id, i) => [id, n, BigInt(i)]))
      // The escrow id is the digest of the signed terms, as the vault computes it.
      for (const [i, t] of terms.entries()) expect(await f.vault.escrowId(t)).to.equal(ids[i])
      expect(batchSettledIn(f, receipt).totals).to.deep.equal([
        totalsOf(f.usdcAddress, { escrowLocked: 60n * USDC }),
      ])
    })

    it('pays out escrows of a batch set in a later batch, each with its position and proof', async function () {
      const f = await loadFixture(deployVaultFixture)
      const locked = await f.lockEscrowsInBatch([
        await f.escrowTerms({ amount: 10n * USDC }),
        await f.escrowTerms({ amount: 20n * USDC }),
        await f.escrowTerms({ payer: f.carol.address, amount: 30n * USDC }),
      ])
      const setId: bigint = await f.vault.lastBatchNumber()
      expect(locked.map((e) => e.position)).to.deep.equal([0n, 1n, 2n].map((index) => ({ setId, index })))
      const receipt = await settled(f, [await releaseOp(f, locked[1]), await refundOp(f, locked[2])])
      expect(skippedIn(f, receipt)).to.deep.equal([])
      await expect(receipt.hash)
        .to.emit(f.vault, 'EscrowReleased')
        .withArgs(locked[1].id, f.bob.address, 20n * USDC - feeOf(20n * USDC), feeOf(20n * USDC))
      await expect(receipt.hash)
        .to.emit(f.vault, 'EscrowRefunded')
        .withArgs(locked[2].id, f.carol.address, 30n * USDC)
      expect(await f.vault.isEscrowClosed(setId, 0n)).to.equal(false)
      expect(await f.vault.isEscrowClosed(setId, 1n)).to.equal(true)
      expect(await f.vault.isEscrowClosed(setId, 2n)).to.equal(true)
      expect(await f.vault.balanceOf(f.carol.address, f.usdcAddress)).to.equal(INITIAL_DEPOSIT)
      // The last one, directly, with the same proof.
      await f.vault.connect(f.alice).releaseEscrow(...f.escrowArgs(locked[0]), NO_SIGNATURE, locked[0].proof)
      expect(await f.vault.isEscrowClosed(setId, 0n)).to.equal(true)
    })

    it('skips the second payout of the same escrow in one batch with JobEscrowClosed', async function () {
      const f = await loadFixture(settlementFixture)
      const n: bigint = (await f.vault.lastBatchNumber()) + 1n
      const release = await releaseOp(f, f.disputed)
      const ops = [release, release, await refundOp(f, f.disputed), await rulingOp(f, f.disputed, 0)]
      const closed = errorData(f, 'JobEscrowClosed', [f.disputed.id])
      const receipt = await settled(f, ops)
      expect(skippedIn(f, receipt)).to.deep.equal([
        [1, closed],
        [2, closed],
        [3, closed],
      ])
      expect(eventsNamed(f, receipt, 'EscrowReleased')).to.have.length(1)
      expect(batchSettledIn(f, receipt)).to.deep.include({
        batchNumber: n,
        totals: [
          totalsOf(f.usdcAddress, {
            escrowToPayees: 40n * USDC - feeOf(40n * USDC),
            fees: feeOf(40n * USDC),
          }),
        ],
      })
      expect(await f.vault.balanceOf(f.bob.address, f.usdcAddress)).to.equal(
        INITIAL_DEPOSIT + 40n * USDC - feeOf(40n * USDC),
      )
    })

    it('skips a payout of an escrow locked in the same batch: its set is committed after the last op', async function () {
      const f = await loadFixture(deployVaultFixture)
      const n: bigint = (await f.vault.lastBatchNumber()) + 1n
      const terms = await f.escrowTerms({ amount: 10n * USDC })
      const id = f.escrowIdOf(terms)
      const sameBatch: LockedEscrow = { terms, id, position: { setId: n, index: 0n }, proof: [] }
      const receipt = await settled(f, [await lockOp(f, terms), await releaseOp(f, sameBatch)])
      expect(skippedIn(f, receipt)).to.deep.equal([[1, errorData(f, 'JobEscrowUnknown', [id, n, 0n])]])
      expect(await f.vault.isEscrowClosed(n, 0n)).to.equal(false)
      // In the next batch it pays out.
      await expect(f.settle([await releaseOp(f, sameBatch)]))
        .to.emit(f.vault, 'EscrowReleased')
        .withArgs(id, f.bob.address, 10n * USDC - feeOf(10n * USDC), feeOf(10n * USDC))
    })

    it('skips a payout whose position or proof does not place the escrow in its set', async function () {
      const f = await loadFixture(deployVaultFixture)
      const [a, b] = await f.lockEscrowsInBatch([
        await f.escrowTerms({ amount: 10n * USDC }),
        await f.escrowTerms({ amount: 20n * USDC }),
      ])
      const setId = a.position.setId
      const atOtherIndex = { ...a, position: { setId, index: 1n }, proof: b.proof }
      const inOtherSet = { ...a, position: { setId: setId + 1n, index: 0n } }
      const otherTerms = { ...a, terms: { ...a.terms, amount: 20n * USDC } } // b's amount, a's place
      const ops = [
        await releaseOp(f, atOtherIndex),
        await releaseOp(f, inOtherSet),
        await releaseOp(f, a, undefined, b.proof),
        op(OpKind.EscrowRelease, [
          otherTerms.terms,
          a.position,
          await f.sign(f.alice, 'EscrowRelease', { escrowId: f.escrowIdOf(otherTerms.terms) }),
          a.proof,
        ]),
      ]
      const otherId = f.escrowIdOf(otherTerms.terms)
      expect(await skippedBySimulation(f, ops)).to.deep.equal([
        [0, errorData(f, 'JobEscrowUnknown', [a.id, setId, 1n])],
        [1, errorData(f, 'JobEscrowUnknown', [a.id, setId + 1n, 0n])],
        [2, errorData(f, 'JobEscrowUnknown', [a.id, setId, 0n])],
        [3, errorData(f, 'JobEscrowUnknown', [otherId, setId, 0n])],
      ])
    })

    it('skips the same signed lock twice in one batch: it lands once', async function () {
      const f = await loadFixture(deployVaultFixture)
      const n: bigint = (await f.vault.lastBatchNumber()) + 1n
      const terms = await f.escrowTerms({ amount: 10n * USDC })
      const lock = await lockOp(f, terms)
      const receipt = await settled(f, [lock, lock])
      expect(skippedIn(f, receipt)).to.deep.equal([
        [1, errorData(f, 'VaultNonceUsed', [f.alice.address, terms.nonce])],
      ])
      expect(await f.vault.balanceOf(f.alice.address, f.usdcAddress)).to.equal(INITIAL_DEPOSIT - 10n * USDC)
      await expect(receipt.hash)
        .to.emit(f.vault, 'EscrowSetCommitted')
        .withArgs(n, escrowSetTree([f.escrowIdOf(terms) as `0x${string}`]).root, 1n)
    })

    it('numbers direct lock sets after DIRECT_ESCROW_SET_BASE, apart from batch sets', async function () {
      const f = await loadFixture(deployVaultFixture)
      expect(await f.vault.DIRECT_SET_BASE()).to.equal(DIRECT_ESCROW_SET_BASE)
      const first = await f.lockEscrow()
      const [inBatch] = await f.lockEscrowsInBatch([await f.escrowTerms()])
      const second = await f.lockEscrow()
      expect(first.position).to.deep.equal({ setId: DIRECT_ESCROW_SET_BASE + 1n, index: 0n })
      expect(inBatch.position).to.deep.equal({ setId: 1n, index: 0n })
      expect(second.position).to.deep.equal({ setId: DIRECT_ESCROW_SET_BASE + 2n, index: 0n })
      expect(await f.vault.escrowSetRoot(1n)).to.equal(escrowSetTree([inBatch.id as `0x${string}`]).root)
    })
  })

  describe('settleBatch: per-token totals and fees', function () {
    it('emits one TokenTotals entry per token, in order of first use, each summing only its token', async function () {
      const f = await loadFixture(twoTokenFixture)
      const n: bigint = (await f.vault.lastBatchNumber()) + 1n
      const nonce = f.freshNonce(f.alice.address)
      const ops = [
        settleOp(await f.signedVoucher(f.settleable.config, 1n, 10n * USDC)),
        settleOp(await f.signedVoucher(f.eurcChannel.config, 1n, 20n * USDC)),
        await lockOp(f, await f.escrowTerms({ payer: f.carol.address, amount: 5n * USDC })),
        settleOp(await f.signedVoucher(f.settleable.config, 2n, 17n * USDC)),
        await fundOp(f, f.eurcChannel.config, 85n * USDC, nonce),
      ]
      const usdcTotals = totalsOf(f.usdcAddress, {
        channelSettled: 17n * USDC,
        escrowLocked: 5n * USDC,
        fees: feeOf(10n * USDC) + feeOf(7n * USDC),
      })
      const eurcTotals = totalsOf(f.eurcAddress, {
        channelSettled: 20n * USDC,
        channelFunded: 5n * USDC,
        fees: feeOf(20n * USDC),
      })
      const tokens = [f.usdcAddress, f.eurcAddress]
      // Inline (every op applies) and one by one (an invalid op first) sum alike.
      const inline = await outcomeOf(f, ops, tokens)
      expect(inline.skipped).to.deep.equal([])
      expect(inline.totals).to.deep.equal([usdcTotals, eurcTotals])
      const oneByOne = await outcomeOf(f, [{ kind: 99, data: '0x' }, ...ops], tokens)
      expect(oneByOne.skipped).to.deep.equal([[0, errorData(f, 'SettlementUnknownOpKind', [99])]])
      expect(oneByOne.totals).to.deep.equal([usdcTotals, eurcTotals])
      expect(oneByOne.balances).to.deep.equal(inline.balances)

      const receipt = await settled(f, ops)
      expect(batchSettledIn(f, receipt)).to.deep.equal({
        batchNumber: n,
        opsRoot: opsTree(ops).root,
        opCount: 5n,
        totals: [usdcTotals, eurcTotals],
      })
      expect(await f.vault.balanceOf(f.treasury.address, f.usdcAddress)).to.equal(usdcTotals.fees)
      expect(await f.vault.balanceOf(f.treasury.address, f.eurcAddress)).to.equal(eurcTotals.fees)
    })

    it('attack: the failed-op search blames a valid op that spends fees credited earlier in the batch -> ops are judged alike inline and one by one', async function () {
      const f = await loadFixture(twoTokenFixture)
      const tokens = [f.usdcAddress, f.eurcAddress]
      // The treasury holds some USDC fees from before the batch.
      await f.vault.connect(f.carol).releaseEscrow(...f.escrowArgs(f.spare), NO_SIGNATURE, f.spare.proof)
      const prior = feeOf(25n * USDC)
      expect(await f.vault.balanceOf(f.treasury.address, f.usdcAddress)).to.equal(prior)
      const batchFee = feeOf(100n * USDC) // the release's fee, in USDC
      const treasuryWithdrawal = async (amount: bigint, nonce: bigint) =>
        withdrawalOp(
          f,
          await f.withdrawal({ account: f.treasury.address, to: f.treasury.address, amount, nonce }),
        )
      const release = await releaseOp(f, f.releasable) // token A (USDC), fee credited after the batch
      const eurcSettle = settleOp(await f.signedVoucher(f.eurcChannel.config, 1n, 20n * USDC)) // token B
      const needsBatchFee = await treasuryWithdrawal(prior + batchFee, 1n)
      const invalid = await refundOp(f, f.refundable, f.alice) // the payer signed a refund: not the payee
      const invalidReason = errorData(f, 'JobEscrowInvalidSignature', [
        f.refundable.id,
        f.bob.address,
        f.alice.address,
      ])
      const shortReason = errorData(f, 'VaultInsufficientBalance', [
        f.treasury.address,
        f.usdcAddress,
        prior,
        prior + batchFee,
      ])

      // The withdrawal that needs the batch's own fee is skipped for its own reason, with or
      // without another invalid op in the batch; the release and the EURC op are never blamed.
      const without = await outcomeOf(f, [release, eurcSettle, needsBatchFee], tokens)
      const withInvalid = await outcomeOf(f, [release, eurcSettle, needsBatchFee, invalid], tokens)
      expect(without.skipped).to.deep.equal([[2, shortReason]])
      expect(withInvalid.skipped).to.deep.equal([
        [2, shortReason],
        [3, invalidReason],
      ])
      expect(withInvalid.totals).to.deep.equal(without.totals)
      expect(withInvalid.opEvents).to.deep.equal(without.opEvents)
      expect(withInvalid.balances).to.deep.equal(without.balances)

      // A withdrawal of what the treasury held before the batch: the batch runs inline when all
      // ops apply, one by one with the invalid op, and every op ends the same either way.
      const fromPrior = await treasuryWithdrawal(prior, 2n)
      const inline = await outcomeOf(f, [release, eurcSettle, fromPrior], tokens)
      const oneByOne = await outcomeOf(f, [release, eurcSettle, fromPrior, invalid], tokens)
      expect(inline.skipped).to.deep.equal([])
      expect(oneByOne.skipped).to.deep.equal([[3, invalidReason]])
      expect(oneByOne.totals).to.deep.equal(inline.totals)
      expect(oneByOne.opEvents).to.deep.equal(inline.opEvents)
      expect(oneByOne.balances).to.deep.equal(inline.balances)

      // For real: the fees land after the batch, in each token.
      const treasuryWallet: bigint = await f.usdc.balanceOf(f.treasury.address)
      const receipt = await settled(f, [release, eurcSettle, needsBatchFee, invalid])
      expect(skippedIn(f, receipt)).to.deep.equal([
        [2, shortReason],
        [3, invalidReason],
      ])
      expect(batchSettledIn(f, receipt).totals).to.deep.equal([
        totalsOf(f.usdcAddress, { escrowToPayees: 100n * USDC - batchFee, fees: batchFee }),
        totalsOf(f.eurcAddress, { channelSettled: 20n * USDC, fees: feeOf(20n * USDC) }),
      ])
      expect(await f.vault.balanceOf(f.treasury.address, f.usdcAddress)).to.equal(prior + batchFee)
      expect(await f.vault.balanceOf(f.treasury.address, f.eurcAddress)).to.equal(feeOf(20n * USDC))
      expect(await f.usdc.balanceOf(f.treasury.address)).to.equal(treasuryWallet)
      // Next batch, the fee is there to withdraw.
      await expect(f.settle([needsBatchFee]))
        .to.emit(f.vault, 'Withdrawn')
        .withArgs(f.treasury.address, f.usdcAddress, f.treasury.address, prior + batchFee, 1n)
    })
  })

  describe('settleBatch: runs of channel settlements', function () {
    /** `twoTokenFixture` plus USDC channels between other callers and providers. */
    async function channelRunFixture() {
      const f = await twoTokenFixture()
      const carolToDave = await f.openChannel(
        { provider: f.dave.address, salt: saltOf(4) },
        40n * USDC,
        f.carol,
      )
      const daveToCarol = await f.openChannel(
        { provider: f.carol.address, salt: saltOf(5) },
        40n * USDC,
        f.dave,
      )
      const carolToBob = await f.openChannel(
        { provider: f.bob.address, salt: saltOf(6) },
        40n * USDC,
        f.carol,
      )
      return { ...f, carolToDave, daveToCarol, carolToBob }
    }

    /** The `ChannelSettled` logs of `receipt` as `[channelId, sequence, cumulativeAmount, amount, callChain]`. */
    function channelSettledIn(f: VaultFixture, receipt: Receipt) {
      return eventsNamed(f, receipt, 'ChannelSettled').map((e) => [...e.args])
    }

    it('settles vouchers of distinct callers and providers in one run exactly as it settles them one by one', async function () {
      const f = await loadFixture(channelRunFixture)
      const vouchers = [
        await f.signedVoucher(f.settleable.config, 1n, 3n * USDC),
        await f.signedVoucher(f.carolToDave.config, 4n, 5n * USDC),
        await f.signedVoucher(f.daveToCarol.config, 2n, 7n * USDC),
        await f.signedVoucher(f.carolToBob.config, 9n, 11n * USDC),
      ]
      const ops = vouchers.map(settleOp)
      const tokens = [f.usdcAddress]
      const inline = await outcomeOf(f, ops, tokens)
      const oneByOne = await outcomeOf(f, [{ kind: 99, data: '0x' }, ...ops], tokens)
      expect(inline.skipped).to.deep.equal([])
      expect(oneByOne.opEvents).to.deep.equal(inline.opEvents)
      expect(oneByOne.balances).to.deep.equal(inline.balances)
      expect(oneByOne.totals).to.deep.equal(inline.totals)

      const before = {
        bob: await f.vault.balanceOf(f.bob.address, f.usdcAddress),
        carol: await f.vault.balanceOf(f.carol.address, f.usdcAddress),
        dave: await f.vault.balanceOf(f.dave.address, f.usdcAddress),
      }
      const receipt = await settled(f, ops)
      const ids = [f.settleable.id, f.carolToDave.id, f.daveToCarol.id, f.carolToBob.id]
      expect(channelSettledIn(f, receipt)).to.deep.equal(
        vouchers.map((v, i) => [ids[i], v.sequence, v.cumulativeAmount, v.cumulativeAmount, v.callChain]),
      )
      const net = (amount: bigint) => amount - feeOf(amount)
      expect(await f.vault.balanceOf(f.bob.address, f.usdcAddress)).to.equal(
        before.bob + net(3n * USDC) + net(11n * USDC),
      )
      expect(await f.vault.balanceOf(f.dave.address, f.usdcAddress)).to.equal(before.dave + net(5n * USDC))
      expect(await f.vault.balanceOf(f.carol.address, f.usdcAddress)).to.equal(before.carol + net(7n * USDC))
      const fees = feeOf(3n * USDC) + feeOf(5n * USDC) + feeOf(7n * USDC) + feeOf(11n * USDC)
      expect(batchSettledIn(f, receipt).totals).to.deep.equal([
        totalsOf(f.usdcAddress, { channelSettled: 26n * USDC, fees }),
      ])
      expect(await f.vault.balanceOf(f.treasury.address, f.usdcAddress)).to.equal(fees)
      for (const [i, id] of ids.entries()) {
        expect((await f.vault.channel(id)).settled).to.equal(vouchers[i].cumulativeAmount)
      }
    })

    it('attack: the same voucher twice in one run -> it pays once, the second copy is skipped with PaymentChannelsVoucherNotNewer', async function () {
      const f = await loadFixture(channelRunFixture)
      const voucher = await f.signedVoucher(f.carolToDave.config, 1n, 6n * USDC)
      const other = await f.signedVoucher(f.settleable.config, 1n, 2n * USDC)
      const daveBefore: bigint = await f.vault.balanceOf(f.dave.address, f.usdcAddress)
      const receipt = await settled(f, [settleOp(voucher), settleOp(other), settleOp(voucher)])
      expect(skippedIn(f, receipt)).to.deep.equal([
        [2, errorData(f, 'PaymentChannelsVoucherNotNewer', [f.carolToDave.id, 6n * USDC, 6n * USDC])],
      ])
      expect(await f.vault.balanceOf(f.dave.address, f.usdcAddress)).to.equal(
        daveBefore + 6n * USDC - feeOf(6n * USDC),
      )
      expect(batchSettledIn(f, receipt).totals).to.deep.equal([
        totalsOf(f.usdcAddress, { channelSettled: 8n * USDC, fees: feeOf(6n * USDC) + feeOf(2n * USDC) }),
      ])
    })

    it("attack: a provider's voucher signed by someone other than the channel's caller rides amid valid ones -> it alone is skipped and credits nobody", async function () {
      const f = await loadFixture(channelRunFixture)
      // dave, the provider, signs a voucher on carol's channel to him.
      const forged = await f.signedVoucher(f.carolToDave.config, 1n, 30n * USDC, f.dave)
      const ops = [
        settleOp(await f.signedVoucher(f.settleable.config, 1n, 2n * USDC)),
        settleOp(forged),
        settleOp(await f.signedVoucher(f.daveToCarol.config, 1n, 3n * USDC)),
      ]
      const daveBefore: bigint = await f.vault.balanceOf(f.dave.address, f.usdcAddress)
      const receipt = await settled(f, ops)
      expect(skippedIn(f, receipt)).to.deep.equal([
        [
          1,
          errorData(f, 'PaymentChannelsInvalidSignature', [
            f.carolToDave.id,
            f.carol.address,
            f.dave.address,
          ]),
        ],
      ])
      expect(await f.vault.balanceOf(f.dave.address, f.usdcAddress)).to.equal(daveBefore)
      expect(await f.vault.channel(f.carolToDave.id)).to.deep.equal([40n * USDC, 0n, 0n, false])
      expect(channelSettledIn(f, receipt).map((e) => e[0])).to.deep.equal([f.settleable.id, f.daveToCarol.id])
    })

    it("attack: a caller's voucher signature moved into the upper half of s (a malleable twin's form) -> skipped as signed by nobody", async function () {
      const f = await loadFixture(channelRunFixture)
      const voucher = await f.signedVoucher(f.carolToDave.config, 1n, 4n * USDC)
      const twin = { ...voucher, signature: withHighS(voucher.signature) }
      const receipt = await settled(f, [settleOp(twin), settleOp(voucher)])
      expect(skippedIn(f, receipt)).to.deep.equal([
        [
          0,
          errorData(f, 'PaymentChannelsInvalidSignature', [
            f.carolToDave.id,
            f.carol.address,
            ethers.ZeroAddress,
          ]),
        ],
      ])
      expect((await f.vault.channel(f.carolToDave.id)).settled).to.equal(4n * USDC)
    })

    it("attack: a caller's voucher with an empty signature, in a batch the caller sends itself -> skipped as signed by nobody", async function () {
      const f = await loadFixture(channelRunFixture)
      const unsigned = {
        ...(await f.signedVoucher(f.carolToDave.config, 1n, 4n * USDC)),
        signature: NO_SIGNATURE,
      }
      const ops = [settleOp(unsigned)]
      const n: bigint = (await f.vault.lastBatchNumber()) + 1n
      const receipt = (await (
        await f.vault.connect(f.carol).settleBatch(n, ops, await f.signBatch(n, ops))
      ).wait()) as Receipt
      expect(skippedIn(f, receipt)).to.deep.equal([
        [
          0,
          errorData(f, 'PaymentChannelsInvalidSignature', [
            f.carolToDave.id,
            f.carol.address,
            ethers.ZeroAddress,
          ]),
        ],
      ])
      expect((await f.vault.channel(f.carolToDave.id)).settled).to.equal(0n)
    })

    it('attack: vouchers on a closed, an unknown or an overdrawn channel, or below the settled amount, amid valid ones -> each is skipped with the error of its first failed check', async function () {
      const f = await loadFixture(channelRunFixture)
      await f.settle([settleOp(await f.signedVoucher(f.daveToCarol.config, 1n, 10n * USDC))])
      const closeVoucher = await f.signedVoucher(f.carolToBob.config, 1n, 1n * USDC)
      await f.settle([await closeOp(f, closeVoucher)])
      const unknown = f.channelConfig({ salt: saltOf(77) })
      const unknownId: string = await f.vault.channelId(unknown)
      const ops = [
        settleOp(await f.signedVoucher(f.settleable.config, 1n, 2n * USDC)),
        settleOp(await f.signedVoucher(f.carolToBob.config, 2n, 2n * USDC)),
        settleOp(await f.signedVoucher(unknown, 1n, 1n * USDC)),
        settleOp(await f.signedVoucher(f.carolToDave.config, 1n, 41n * USDC)),
        settleOp(await f.signedVoucher(f.daveToCarol.config, 2n, 9n * USDC)),
        settleOp(await f.signedVoucher(f.carolToDave.config, 2n, 40n * USDC)),
      ]
      const receipt = await settled(f, ops)
      expect(skippedIn(f, receipt)).to.deep.equal([
        [1, errorData(f, 'PaymentChannelsClosed', [f.carolToBob.id])],
        [2, errorData(f, 'PaymentChannelsNotFound', [unknownId])],
        [3, errorData(f, 'PaymentChannelsInsufficientDeposit', [f.carolToDave.id, 40n * USDC, 41n * USDC])],
        [4, errorData(f, 'PaymentChannelsVoucherNotNewer', [f.daveToCarol.id, 10n * USDC, 9n * USDC])],
      ])
      expect(channelSettledIn(f, receipt).map((e) => e[0])).to.deep.equal([f.settleable.id, f.carolToDave.id])
      expect(await f.vault.channel(f.carolToBob.id)).to.deep.equal([1n * USDC, 1n * USDC, 0n, true])
    })

    it('attack: a voucher op re-encoded with dirty high bits (another op hash for the same voucher) -> skipped with VoucherCodecNonCanonical, in the config or in the sequence', async function () {
      const f = await loadFixture(channelRunFixture)
      const voucher = await f.signedVoucher(f.carolToDave.config, 1n, 4n * USDC)
      const clean = settleOp(voucher)
      // Words 0 (caller), 2 (token) and 5 (sequence) of the voucher.
      const dirty = [0, 2, 5].map((word) => ({ kind: clean.kind, data: withDirtyWord(clean.data, word) }))
      const receipt = await settled(f, [...dirty, clean])
      const nonCanonical = f.vault.interface.encodeErrorResult('VoucherCodecNonCanonical', [])
      expect(skippedIn(f, receipt)).to.deep.equal([
        [0, nonCanonical],
        [1, nonCanonical],
        [2, nonCanonical],
      ])
      expect(channelSettledIn(f, receipt)).to.deep.equal([
        [f.carolToDave.id, 1n, 4n * USDC, 4n * USDC, voucher.callChain],
      ])
    })

    it('attack: a caller signs, over the raw words, a voucher whose sequence does not fit 64 bits -> refused as non-canonical, so no ChannelSettled carries it', async function () {
      const f = await loadFixture(channelRunFixture)
      // A caller whose key signs raw digests.
      const caller = ethers.Wallet.createRandom()
      await f.vault.connect(f.alice).depositFor(f.usdcAddress, 20n * USDC, caller.address)
      const config = f.channelConfig({ caller: caller.address, provider: f.bob.address, salt: saltOf(8) })
      const id: string = await f.vault.channelId(config)
      const fundNonce = 1n
      const funding = ethers.Signature.from(
        await caller.signTypedData(f.domain, typesFor('ChannelFunding'), {
          channelId: id,
          totalDeposit: 20n * USDC,
          nonce: fundNonce,
        }),
      )
      await f.vault
        .connect(f.relayer)
        .fundChannel(config, 20n * USDC, fundNonce, { r: funding.r, vs: funding.yParityAndS })
      // The Voucher struct hash over a sequence word of 2^64 + 1, signed as it stands.
      const dirtySequence = (1n << 64n) + 1n
      const callChain = callChainOf(1)
      const voucherTypeHash = ethers.id(
        'Voucher(bytes32 channelId,uint64 sequence,uint256 cumulativeAmount,bytes32 callChain)',
      )
      const structHash = ethers.keccak256(
        ethers.AbiCoder.defaultAbiCoder().encode(
          ['bytes32', 'bytes32', 'uint256', 'uint256', 'bytes32'],
          [voucherTypeHash, id, dirtySequence, 5n * USDC, callChain],
        ),
      )
      const digest = ethers.keccak256(ethers.concat(['0x1901', await f.vault.domainSeparator(), structHash]))
      const raw = caller.signingKey.sign(digest)
      const voucher = {
        config,
        sequence: 1n,
        cumulativeAmount: 5n * USDC,
        callChain,
        signature: { r: raw.r, vs: raw.yParityAndS },
      }
      // The sequence is word 5 of the voucher; its dirty form is 2^64 + 1.
      const dirty = (data: string, offset: number) => withDirtyWord(data, 5, offset + 23)
      const direct = dirty(f.vault.interface.encodeFunctionData('settleChannel', [voucher]), 4)
      await expect(
        f.relayer.sendTransaction({ to: f.vaultAddress, data: direct }),
      ).to.be.revertedWithCustomError(f.vault, 'VoucherCodecNonCanonical')
      const clean = settleOp(voucher)
      const receipt = await settled(f, [{ kind: clean.kind, data: dirty(clean.data, 0) }])
      expect(skippedIn(f, receipt)).to.deep.equal([
        [0, f.vault.interface.encodeErrorResult('VoucherCodecNonCanonical', [])],
      ])
      expect(eventsNamed(f, receipt, 'ChannelSettled')).to.have.length(0)
      expect((await f.vault.channel(id)).settled).to.equal(0n)
    })

    it("attack: vouchers of two tokens interleaved in one batch -> each token's totals sum only its own vouchers, inline as one by one", async function () {
      const f = await loadFixture(channelRunFixture)
      const ops = [
        settleOp(await f.signedVoucher(f.settleable.config, 1n, 1n * USDC)),
        settleOp(await f.signedVoucher(f.carolToDave.config, 1n, 2n * USDC)),
        settleOp(await f.signedVoucher(f.eurcChannel.config, 1n, 4n * USDC)),
        settleOp(await f.signedVoucher(f.daveToCarol.config, 1n, 8n * USDC)),
        settleOp(await f.signedVoucher(f.eurcChannel.config, 2n, 20n * USDC)),
        settleOp(await f.signedVoucher(f.carolToBob.config, 1n, 32n * USDC)),
      ]
      const usdcTotals = totalsOf(f.usdcAddress, {
        channelSettled: 43n * USDC,
        fees: feeOf(1n * USDC) + feeOf(2n * USDC) + feeOf(8n * USDC) + feeOf(32n * USDC),
      })
      const eurcTotals = totalsOf(f.eurcAddress, {
        channelSettled: 20n * USDC,
        fees: feeOf(4n * USDC) + feeOf(16n * USDC),
      })
      const tokens = [f.usdcAddress, f.eurcAddress]
      const inline = await outcomeOf(f, ops, tokens)
      expect(inline.skipped).to.deep.equal([])
      expect(inline.totals).to.deep.equal([usdcTotals, eurcTotals])
      const oneByOne = await outcomeOf(f, [{ kind: 99, data: '0x' }, ...ops], tokens)
      expect(oneByOne.totals).to.deep.equal([usdcTotals, eurcTotals])
      expect(oneByOne.balances).to.deep.equal(inline.balances)
      expect(oneByOne.opEvents).to.deep.equal(inline.opEvents)
    })

    it('attack: a ChannelSettle op whose data is not one voucher, inside a run -> skipped with SettlementMalformedOp, the run around it applies', async function () {
      const f = await loadFixture(channelRunFixture)
      const padded = settleOp(await f.signedVoucher(f.carolToDave.config, 1n, 2n * USDC))
      const ops = [
        settleOp(await f.signedVoucher(f.settleable.config, 1n, 1n * USDC)),
        { kind: padded.kind, data: ethers.concat([padded.data, ethers.ZeroHash]) },
        settleOp(await f.signedVoucher(f.daveToCarol.config, 1n, 3n * USDC)),
      ]
      const receipt = await settled(f, ops)
      expect(skippedIn(f, receipt)).to.deep.equal([
        [1, errorData(f, 'SettlementMalformedOp', [OpKind.ChannelSettle, 352n, 320n])],
      ])
      expect(channelSettledIn(f, receipt).map((e) => e[0])).to.deep.equal([f.settleable.id, f.daveToCarol.id])
      expect((await f.vault.channel(f.carolToDave.id)).settled).to.equal(0n)
    })
  })

  describe('settleBatch: gas', function () {
    it('attack: a submitter picks a gas limit that skips ops it dislikes -> the whole batch reverts', async function () {
      const f = await loadFixture(settlementFixture)
      // Op 0 is invalid, so the inline attempt fails and the ops run one per self-call: the path
      // where a gas limit could decide which ops fail. The last op calls the token (a nested call).
      const w = await f.withdrawal({ account: f.dave.address, to: f.dave.address, amount: 3n * USDC })
      const ops = [
        await releaseOp(f, f.releasable, f.bob),
        settleOp(await f.signedVoucher(f.settleable.config, 1n, 1n * USDC)),
        settleOp(await f.signedVoucher(f.settleable.config, 2n, 2n * USDC)),
        await refundOp(f, f.refundable),
        await rulingOp(f, f.disputed, 5_000),
        settleOp(await f.signedVoucher(f.settleable.config, 3n, 3n * USDC)),
        await withdrawalOp(f, w),
      ]
      const expected = [[0, 'JobEscrowInvalidSignature']]
      expect(await f.simulateSkipped(ops)).to.deep.equal(expected)
      const last: bigint = await f.vault.lastBatchNumber()
      const n = last + 1n
      const signature = await f.signBatch(n, ops)
      const settleBatch = f.vault.connect(f.relayer).settleBatch
      const estimate: bigint = await settleBatch.estimateGas(n, ops, signature)

      /** The batch's outcome at `gasLimit`, simulated: what it skips, or why it reverts. */
      async function outcomeAt(gasLimit: bigint): Promise<string> {
        try {
          const skipped = await settleBatch.staticCall(n, ops, signature, { gasLimit })
          return `landed skipping ${JSON.stringify(skipped.map((s: { index: bigint }) => Number(s.index)))}`
        } catch (error) {
          const { data, message } = error as { data?: unknown; message: string }
          if (typeof data === 'string' && data.length > 2) {
            const parsed = f.vault.interface.parseError(data)
            return `${parsed?.name}(${parsed?.args.join(',')})`
          }
          if (/out of gas/i.test(message)) return 'out of gas'
          throw error
        }
      }

      // Every gas limit from the estimate down: the batch lands with exactly the skips it has
      // with plenty of gas, or reverts whole. No limit skips a valid op.
      const outcomes = new Map<string, bigint[]>()
      for (let gasLimit = estimate + 20_000n; gasLimit > estimate / 3n; gasLimit -= 1_000n) {
        const outcome = await outcomeAt(gasLimit)
        outcomes.set(outcome, [...(outcomes.get(outcome) ?? []), gasLimit])
      }
      for (const outcome of outcomes.keys()) {
        expect(outcome).to.match(/^(landed skipping \[0\]|SettlementOutOfGas\(\d+\)|out of gas)$/)
      }
      expect(outcomes.has('landed skipping [0]')).to.equal(true)
      // Some limit lets the first ops apply and runs a later one out of gas: the guard fires.
      const laterOp = [...outcomes.keys()].find((o) => /^SettlementOutOfGas\([1-9]\d*\)$/.test(o))
      expect(laterOp, JSON.stringify([...outcomes.keys()])).to.not.equal(undefined)
      const index = BigInt(laterOp!.match(/\d+/)![0])
      const gasLimit = outcomes.get(laterOp!)![0]

      // Sent for real with that limit: the whole batch reverts and its number is not used.
      await expect(settleBatch(n, ops, signature, { gasLimit }))
        .to.be.revertedWithCustomError(f.vault, 'SettlementOutOfGas')
        .withArgs(index)
      expect(await f.vault.lastBatchNumber()).to.equal(last)
      expect(await f.vault.isEscrowClosed(f.refundable.position.setId, 0n)).to.equal(false)
      expect((await f.vault.channel(f.settleable.id)).settled).to.equal(0n)
      expect(await f.vault.isNonceUsed(f.dave.address, w.nonce)).to.equal(false)
      // With enough gas the same signed batch lands, skipping only the invalid op.
      const receipt = (await (await settleBatch(n, ops, signature)).wait()) as Receipt
      expect(skippedIn(f, receipt).map(([i]) => i)).to.deep.equal([0])
      expect(await f.vault.isNonceUsed(f.dave.address, w.nonce)).to.equal(true)
    })

    // The per-op pass runs after the inline pass has spent its gas, so a batch whose last op is
    // made to fail needs gas for both passes. The settler sends `batchGasLimit(estimate)` (9/4 of
    // it): the batch lands, where the estimate + 10 % would have reverted it whole and made the
    // coordinator pay for nothing.
    it('attack: a front-runner fails the last op of a batch so the coordinator pays for a reverted batch -> sent with the settler gas limit it lands, skipping only that op', async function () {
      const f = await loadFixture(deployVaultFixture)
      const ops: Op[] = []
      const payers = [f.bob, f.carol, f.dave]
      for (let i = 0; i < 30; i++) {
        const payer = payers[i % 3]
        ops.push(
          await lockOp(
            f,
            await f.escrowTerms({ payer: payer.address, payee: f.alice.address, amount: USDC }),
          ),
        )
      }
      const aliceLock = await f.escrowTerms({ amount: 600n * USDC })
      ops.push(await lockOp(f, aliceLock))
      const last: bigint = await f.vault.lastBatchNumber()
      const n = last + 1n
      const signature = await f.signBatch(n, ops)
      const settleBatch = f.vault.connect(f.relayer).settleBatch
      expect(await f.simulateSkipped(ops)).to.deep.equal([])
      const happy: bigint = await settleBatch.estimateGas(n, ops, signature)

      await f.vault
        .connect(f.alice)
        .fundChannel(f.channelConfig({ salt: saltOf(5) }), 900n * USDC, 0n, NO_SIGNATURE)

      // With only 10 % headroom over the estimate, the front-run batch would run out of gas.
      const tenPercent = await settleBatch
        .staticCall(n, ops, signature, { gasLimit: happy + happy / 10n })
        .then(
          () => 'landed',
          (error: Error) => error.message,
        )
      expect(tenPercent).to.match(/out of gas|SettlementOutOfGas/)
      const both: bigint = await settleBatch.estimateGas(n, ops, signature)
      expect(both).to.be.greaterThan((happy * 3n) / 2n)

      // Sent as the settler sends it, the batch lands, applies the other 30 locks and skips the one.
      const gasLimit = batchGasLimit(happy)
      expect(gasLimit >= both).to.equal(true)
      const receipt = (await (await settleBatch(n, ops, signature, { gasLimit })).wait()) as Receipt
      expect(await f.vault.lastBatchNumber()).to.equal(n)
      expect(await f.vault.balanceOf(f.carol.address, f.usdcAddress)).to.equal(INITIAL_DEPOSIT - 10n * USDC)
      expect(receipt.gasUsed < gasLimit).to.equal(true)
      expect(skippedIn(f, receipt)).to.deep.equal([
        [
          30,
          errorData(f, 'VaultInsufficientBalance', [
            f.alice.address,
            f.usdcAddress,
            100n * USDC,
            600n * USDC,
          ]),
        ],
      ])
    })
  })

  describe('applyBatchOps', function () {
    it('reverts SettlementOnlySelf for any outside caller', async function () {
      const f = await loadFixture(settlementFixture)
      const ops = [await lockOp(f, await f.escrowTerms())]
      for (const caller of [f.coordinator, f.alice, f.relayer, f.owner]) {
        await expect(f.vault.connect(caller).applyBatchOps(1n, ops, await f.signBatch(1n, ops)))
          .to.be.revertedWithCustomError(f.vault, 'SettlementOnlySelf')
          .withArgs(caller.address)
      }
      expect(await f.vault.balanceOf(f.alice.address, f.usdcAddress)).to.equal(693n * USDC)
    })
  })

  describe('applyBatchOp', function () {
    it('reverts SettlementOnlySelf for any outside caller', async function () {
      const f = await loadFixture(settlementFixture)
      const lock = await lockOp(f, await f.escrowTerms())
      for (const caller of [f.coordinator, f.alice, f.relayer, f.owner]) {
        await expect(f.vault.connect(caller).applyBatchOp(1n, 0n, lock))
          .to.be.revertedWithCustomError(f.vault, 'SettlementOnlySelf')
          .withArgs(caller.address)
      }
      expect(await f.vault.balanceOf(f.alice.address, f.usdcAddress)).to.equal(693n * USDC)
    })
  })

  describe('lastBatchNumber', function () {
    it('tells a restarted settler whether its batch landed', async function () {
      const f = await loadFixture(deployVaultFixture)
      expect(await f.vault.lastBatchNumber()).to.equal(0n)
      const terms = await f.escrowTerms()
      await f.settle([await lockOp(f, terms)])
      expect(await f.vault.lastBatchNumber()).to.equal(1n)
      // A batch that reverts uses no number.
      await expect(f.vault.connect(f.relayer).settleBatch(2n, [await lockOp(f, terms)], NO_SIGNATURE)).to.be
        .reverted
      expect(await f.vault.lastBatchNumber()).to.equal(1n)
      await f.settle([await lockOp(f, await f.escrowTerms())])
      expect(await f.vault.lastBatchNumber()).to.equal(2n)
    })

    it('attack: the owner moves the treasury, whose storage slot the batch counter shares -> the counter neither resets nor skips, and batch fees go to the new treasury', async function () {
      const f = await loadFixture(settlementFixture)
      const n: bigint = (await f.vault.lastBatchNumber()) + 1n
      await f.settle([settleOp(await f.signedVoucher(f.settleable.config, 1n, 10n * USDC))])
      expect(await f.vault.lastBatchNumber()).to.equal(n)
      await f.vault.connect(f.owner).setTreasury(f.stranger.address)
      expect(await f.vault.lastBatchNumber()).to.equal(n)
      await expect(f.vault.connect(f.relayer).settleBatch(n, [], NO_SIGNATURE))
        .to.be.revertedWithCustomError(f.vault, 'SettlementBatchOutOfOrder')
        .withArgs(n + 1n, n)
      await f.settle([settleOp(await f.signedVoucher(f.settleable.config, 2n, 30n * USDC))])
      expect(await f.vault.lastBatchNumber()).to.equal(n + 1n)
      expect(await f.vault.treasury()).to.equal(f.stranger.address)
      expect(await f.vault.balanceOf(f.stranger.address, f.usdcAddress)).to.equal(feeOf(20n * USDC))
      expect(await f.vault.balanceOf(f.treasury.address, f.usdcAddress)).to.equal(feeOf(10n * USDC))
    })
  })

  describe('ops root', function () {
    it('equals StandardMerkleTree.of(leaves, encoding, { sortLeaves: false }) for 1 to 9 ops', async function () {
      const f = await loadFixture(settlementFixture)
      const vouchers: Op[] = []
      for (let i = 1n; i <= 9n; i++)
        vouchers.push(settleOp(await f.signedVoucher(f.settleable.config, i, i * USDC)))
      for (let count = 1; count <= 9; count++) {
        const snapshot = await ethers.provider.send('evm_snapshot', [])
        const ops = vouchers.slice(0, count)
        const event = batchSettledIn(f, await settled(f, ops))
        expect(event.opsRoot).to.equal(opsTree(ops).root)
        expect(event.opCount).to.equal(BigInt(count))
        await ethers.provider.send('evm_revert', [snapshot])
      }
    })

    it('attack: a relayer re-encodes a signed batch so that two ops read the same element -> the ops root changes and the whole batch reverts', async function () {
      const f = await loadFixture(settlementFixture)
      const ops = [
        settleOp(await f.signedVoucher(f.settleable.config, 1n, 1n * USDC)),
        settleOp(await f.signedVoucher(f.settleable.config, 2n, 2n * USDC)),
      ]
      const n: bigint = (await f.vault.lastBatchNumber()) + 1n
      const signature = await f.signBatch(n, ops)
      const data = ethers.getBytes(f.vault.interface.encodeFunctionData('settleBatch', [n, ops, signature]))
      // After the selector: batchNumber, the offset of ops, the signature's two words; then the
      // ops' length word and their head words. Op 1's head is made to point at op 0's element.
      const heads = 4 + 32 * 4 + 32
      data.set(data.slice(heads, heads + 32), heads + 32)
      await expect(f.relayer.sendTransaction({ to: f.vaultAddress, data: ethers.hexlify(data) }))
        .to.be.revertedWithCustomError(f.vault, 'SettlementInvalidCoordinatorSignature')
        .withArgs(f.coordinator.address, anyValue)
      expect(await f.vault.lastBatchNumber()).to.equal(n - 1n)
      expect((await f.vault.channel(f.settleable.id)).settled).to.equal(0n)
    })

    it("attack: a relayer sets high bits in an op's kind word (another leaf for the same op) -> the whole batch reverts", async function () {
      const f = await loadFixture(settlementFixture)
      const ops = [settleOp(await f.signedVoucher(f.settleable.config, 1n, 1n * USDC))]
      const n: bigint = (await f.vault.lastBatchNumber()) + 1n
      const signature = await f.signBatch(n, ops)
      const data = ethers.getBytes(f.vault.interface.encodeFunctionData('settleBatch', [n, ops, signature]))
      // Op 0's element follows the one head word: its first word is the kind.
      const element = 4 + 32 * 4 + 32 + 32
      data[element] = 0x01
      await expect(f.relayer.sendTransaction({ to: f.vaultAddress, data: ethers.hexlify(data) })).to.be
        .revertedWithoutReason
      expect(await f.vault.lastBatchNumber()).to.equal(n - 1n)
    })
  })
})
