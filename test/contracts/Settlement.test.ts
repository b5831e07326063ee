import { expect } from 'chai'
import { ethers } from 'hardhat'
import { loadFixture, time } from '@nomicfoundation/hardhat-network-helpers'
import {
  CHALLENGE_PERIOD,
  FEE_BPS,
  INITIAL_DEPOSIT,
  NO_SIGNATURE,
  OpKind,
  USDC,
  deployVaultFixture,
  escrowIdOf,
  op,
  opsTree,
  saltOf,
  type Op,
  type VaultFixture,
} from './fixtures'

const feeOf = (amount: bigint, bps = FEE_BPS) => (amount * BigInt(bps)) / 10_000n

/** A vault with one of everything a batch can act on. */
async function settlementFixture() {
  const f = await deployVaultFixture()
  const releasable = await f.lockEscrow({ escrowId: escrowIdOf('release') })
  const refundable = await f.lockEscrow({ escrowId: escrowIdOf('refund') })
  const disputed = await f.lockEscrow({ escrowId: escrowIdOf('ruling'), amount: 40n * USDC })
  const expiring = await f.lockEscrow({
    escrowId: escrowIdOf('expiring'),
    amount: 7n * USDC,
    expiry: BigInt(await time.latest()) + 100n,
  })
  const settleable = await f.openChannel({ salt: saltOf(1) }, 50n * USDC)
  const closable = await f.openChannel({ salt: saltOf(2) }, 30n * USDC)
  const finalizable = await f.openChannel({ salt: saltOf(3) }, 20n * USDC)
  await f.vault.connect(f.alice).requestChannelClose(finalizable.config)
  await time.increase(CHALLENGE_PERIOD)
  return { ...f, releasable, refundable, disputed, expiring, settleable, closable, finalizable }
}
type SettlementFixture = Awaited<ReturnType<typeof settlementFixture>>

/** One op of each kind, valid against `settlementFixture`, with the totals they should produce. */
async function everyKindOfOp(f: SettlementFixture) {
  const newEscrow = await f.escrowTerms({
    escrowId: escrowIdOf('new'),
    payer: f.carol.address,
    amount: 11n * USDC,
  })
  const fundTo = 60n * USDC
  const w = await f.withdrawal({ account: f.dave.address, to: f.dave.address, amount: 3n * USDC })
  const settleVoucher = await f.signedVoucher(f.settleable.config, 1n, 12n * USDC)
  const closeVoucher = await f.signedVoucher(f.closable.config, 1n, 10n * USDC)
  const ruling = 7_500
  const ops: Op[] = [
    op(OpKind.EscrowLock, [newEscrow, await f.sign(f.carol, 'EscrowLock', { ...newEscrow })]),
    op(OpKind.EscrowRelease, [
      f.releasable.escrowId,
      await f.sign(f.alice, 'EscrowRelease', { escrowId: f.releasable.escrowId }),
    ]),
    op(OpKind.EscrowRefund, [
      f.refundable.escrowId,
      await f.sign(f.bob, 'EscrowRefund', { escrowId: f.refundable.escrowId }),
    ]),
    op(OpKind.EscrowRuling, [
      f.disputed.escrowId,
      ruling,
      await f.sign(f.resolver, 'EscrowRuling', { escrowId: f.disputed.escrowId, payeeBps: ruling }),
    ]),
    op(OpKind.EscrowReclaim, [f.expiring.escrowId]),
    op(OpKind.ChannelFund, [
      f.settleable.config,
      fundTo,
      await f.sign(f.alice, 'ChannelFunding', { channelId: f.settleable.id, totalDeposit: fundTo }),
    ]),
    op(OpKind.ChannelSettle, [settleVoucher]),
    op(OpKind.ChannelClose, [
      closeVoucher,
      await f.sign(f.bob, 'ChannelClose', {
        channelId: f.closable.id,
        sequence: 1n,
        cumulativeAmount: 10n * USDC,
      }),
    ]),
    op(OpKind.ChannelFinalize, [f.finalizable.config]),
    op(OpKind.Withdrawal, [w, await f.sign(f.dave, 'Withdrawal', { ...w })]),
  ]
  const resolverFee = feeOf(f.disputed.amount, f.disputed.resolverFeeBps)
  const rest = f.disputed.amount - resolverFee
  const rulingGross = (rest * BigInt(ruling)) / 10_000n
  const totals = {
    escrowLocked: newEscrow.amount,
    escrowToPayees: f.releasable.amount - feeOf(f.releasable.amount) + rulingGross - feeOf(rulingGross),
    escrowToPayers: f.refundable.amount + (rest - rulingGross) + f.expiring.amount,
    channelFunded: fundTo - 50n * USDC,
    channelSettled: 12n * USDC + 10n * USDC,
    channelRefunded: 20n * USDC + 20n * USDC,
    withdrawn: w.amount,
    fees: feeOf(f.releasable.amount) + feeOf(rulingGross) + feeOf(12n * USDC) + feeOf(10n * USDC),
    resolverFees: resolverFee,
  }
  return { ops, totals }
}

function totalsOf(event: { args: { totals: bigint[] } }) {
  const [
    escrowLocked,
    escrowToPayees,
    escrowToPayers,
    channelFunded,
    channelSettled,
    channelRefunded,
    withdrawn,
    fees,
    resolverFees,
  ] = event.args.totals
  return {
    escrowLocked,
    escrowToPayees,
    escrowToPayers,
    channelFunded,
    channelSettled,
    channelRefunded,
    withdrawn,
    fees,
    resolverFees,
  }
}

async function batchEvent(f: VaultFixture, tx: Promise<{ wait(): Promise<unknown> }>) {
  const receipt = (await (await tx).wait()) as { logs: Parameters<typeof f.vault.interface.parseLog>[0][] }
  const parsed = receipt.logs
    .map((l) => f.vault.interface.parseLog(l))
    .filter((l) => l?.name === 'BatchSettled')
  expect(parsed).to.have.length(1)
  return parsed[0] as unknown as {
    args: { batchNumber: bigint; opsRoot: string; opCount: bigint; totals: bigint[] }
  }
}

describe('Settlement', function () {
  describe('settleBatch', function () {
    it('applies one op of every kind and emits the batch root, count and totals', async function () {
      const f = await loadFixture(settlementFixture)
      const { ops, totals } = await everyKindOfOp(f)
      const tx = f.settle(ops)
      const event = await batchEvent(f, tx)
      expect(event.args.batchNumber).to.equal(1n)
      expect(event.args.opsRoot).to.equal(opsTree(ops).root)
      expect(event.args.opCount).to.equal(BigInt(ops.length))
      expect(totalsOf(event)).to.deep.equal(totals)
      expect(await f.vault.lastBatchNumber()).to.equal(1n)
      expect(await f.vault.balanceOf(f.treasury.address, f.usdcAddress)).to.equal(totals.fees)
      expect(await f.usdc.balanceOf(f.dave.address)).to.equal(
        10n * INITIAL_DEPOSIT - INITIAL_DEPOSIT + 3n * USDC,
      )
    })

    it('emits every per-op event an indexer needs', async function () {
      const f = await loadFixture(settlementFixture)
      const { ops } = await everyKindOfOp(f)
      const tx = f.settle(ops)
      await expect(tx).to.emit(f.vault, 'EscrowLocked')
      await expect(tx).to.emit(f.vault, 'EscrowReleased')
      await expect(tx).to.emit(f.vault, 'EscrowRefunded')
      await expect(tx).to.emit(f.vault, 'EscrowRuled')
      await expect(tx).to.emit(f.vault, 'EscrowExpired')
      await expect(tx).to.emit(f.vault, 'ChannelFunded')
      await expect(tx)
        .to.emit(f.vault, 'ChannelSettled')
        .withArgs(f.settleable.id, 1n, 12n * USDC, 12n * USDC, ethers.id('call-chain:1'))
      await expect(tx)
        .to.emit(f.vault, 'ChannelClosed')
        .withArgs(f.closable.id, 10n * USDC, 20n * USDC)
      await expect(tx)
        .to.emit(f.vault, 'ChannelClosed')
        .withArgs(f.finalizable.id, 0n, 20n * USDC)
      await expect(tx)
        .to.emit(f.vault, 'Withdrawn')
        .withArgs(f.dave.address, f.usdcAddress, f.dave.address, 3n * USDC)
    })

    it('takes batches in order, one number after the other', async function () {
      const f = await loadFixture(settlementFixture)
      const first = [op(OpKind.EscrowReclaim, [f.expiring.escrowId])]
      await expect(f.vault.connect(f.relayer).settleBatch(2n, first, await f.signBatch(2n, first)))
        .to.be.revertedWithCustomError(f.vault, 'SettlementBatchOutOfOrder')
        .withArgs(1n, 2n)
      const signature = await f.signBatch(1n, first)
      await f.vault.connect(f.relayer).settleBatch(1n, first, signature)
      await expect(f.vault.connect(f.relayer).settleBatch(1n, first, signature))
        .to.be.revertedWithCustomError(f.vault, 'SettlementBatchOutOfOrder')
        .withArgs(2n, 1n)
    })

    it('reverts for an empty batch', async function () {
      const f = await loadFixture(settlementFixture)
      await expect(
        f.vault.connect(f.relayer).settleBatch(1n, [], NO_SIGNATURE),
      ).to.be.revertedWithCustomError(f.vault, 'SettlementEmptyBatch')
    })

    it('reverts when the coordinator did not sign this batch', async function () {
      const f = await loadFixture(settlementFixture)
      const ops = [op(OpKind.EscrowReclaim, [f.expiring.escrowId])]
      await expect(f.vault.connect(f.relayer).settleBatch(1n, ops, await f.signBatch(1n, ops, f.stranger)))
        .to.be.revertedWithCustomError(f.vault, 'SettlementInvalidCoordinatorSignature')
        .withArgs(f.coordinator.address, f.stranger.address)
      const signature = await f.signBatch(1n, ops)
      const reordered = [op(OpKind.EscrowReclaim, [f.releasable.escrowId])]
      await expect(
        f.vault.connect(f.relayer).settleBatch(1n, reordered, signature),
      ).to.be.revertedWithCustomError(f.vault, 'SettlementInvalidCoordinatorSignature')
    })

    it('reverts naming the failing op and its own error, and nothing of the batch stays', async function () {
      const f = await loadFixture(settlementFixture)
      const forged = await f.sign(f.bob, 'EscrowRelease', { escrowId: f.releasable.escrowId })
      const ops = [
        op(OpKind.EscrowReclaim, [f.expiring.escrowId]),
        op(OpKind.EscrowRelease, [f.releasable.escrowId, forged]),
      ]
      const reason = f.vault.interface.encodeErrorResult('JobEscrowInvalidSignature', [
        f.releasable.escrowId,
        f.alice.address,
        f.bob.address,
      ])
      await expect(f.settle(ops))
        .to.be.revertedWithCustomError(f.vault, 'SettlementOpFailed')
        .withArgs(1n, reason)
      expect(await f.vault.lastBatchNumber()).to.equal(0n)
      expect((await f.vault.escrow(f.expiring.escrowId)).status).to.equal(1n)
      // Without the bad op, the same batch number goes through.
      await expect(f.settle(ops.slice(0, 1))).to.emit(f.vault, 'BatchSettled')
    })

    it('reports a malformed op and an unknown kind as failing ops', async function () {
      const f = await loadFixture(settlementFixture)
      const malformed = { kind: OpKind.ChannelSettle, data: '0x1234' }
      await expect(f.settle([malformed]))
        .to.be.revertedWithCustomError(f.vault, 'SettlementOpFailed')
        .withArgs(
          0n,
          f.vault.interface.encodeErrorResult('SettlementMalformedOp', [OpKind.ChannelSettle, 2, 320]),
        )
      const unknown = { kind: 42, data: '0x' }
      await expect(f.settle([unknown]))
        .to.be.revertedWithCustomError(f.vault, 'SettlementOpFailed')
        .withArgs(0n, f.vault.interface.encodeErrorResult('SettlementUnknownOpKind', [42]))
    })

    it('needs every user signature inside a batch, even one the sender would not need', async function () {
      const f = await loadFixture(settlementFixture)
      const ops = [op(OpKind.EscrowRelease, [f.releasable.escrowId, NO_SIGNATURE])]
      const batchNumber = 1n
      const signature = await f.signBatch(batchNumber, ops)
      // Even the payer itself submitting the batch does not stand in for its signature.
      await expect(f.vault.connect(f.alice).settleBatch(batchNumber, ops, signature))
        .to.be.revertedWithCustomError(f.vault, 'SettlementOpFailed')
        .withArgs(
          0n,
          f.vault.interface.encodeErrorResult('JobEscrowInvalidSignature', [
            f.releasable.escrowId,
            f.alice.address,
            ethers.ZeroAddress,
          ]),
        )
    })

    it('credits the treasury once per token run with the batch fees', async function () {
      const f = await loadFixture(settlementFixture)
      const ops: Op[] = []
      for (let i = 1n; i <= 3n; i++) {
        ops.push(op(OpKind.ChannelSettle, [await f.signedVoucher(f.settleable.config, i, i * 10n * USDC)]))
      }
      const event = await batchEvent(f, f.settle(ops))
      expect(totalsOf(event).fees).to.equal(feeOf(30n * USDC))
      expect(await f.vault.balanceOf(f.treasury.address, f.usdcAddress)).to.equal(feeOf(30n * USDC))
    })
  })

  describe('applyBatchOps', function () {
    it('reverts when anyone but the vault calls it', async function () {
      const f = await loadFixture(settlementFixture)
      await expect(f.vault.connect(f.coordinator).applyBatchOps(1n, [], NO_SIGNATURE))
        .to.be.revertedWithCustomError(f.vault, 'SettlementOnlySelf')
        .withArgs(f.coordinator.address)
    })
  })

  describe('applyBatchOp', function () {
    it('reverts when anyone but the vault calls it', async function () {
      const f = await loadFixture(settlementFixture)
      await expect(
        f.vault.connect(f.coordinator).applyBatchOp(op(OpKind.EscrowReclaim, [f.expiring.escrowId])),
      )
        .to.be.revertedWithCustomError(f.vault, 'SettlementOnlySelf')
        .withArgs(f.coordinator.address)
    })
  })

  describe('lastBatchNumber', function () {
    it('tells a restarted settler whether its batch landed', async function () {
      const f = await loadFixture(settlementFixture)
      expect(await f.vault.lastBatchNumber()).to.equal(0n)
      await f.settle([op(OpKind.EscrowReclaim, [f.expiring.escrowId])])
      expect(await f.vault.lastBatchNumber()).to.equal(1n)
    })
  })

  describe('ops root', function () {
    it('equals StandardMerkleTree.of(leaves, encoding, { sortLeaves: false }) for 1 to 9 ops', async function () {
      const f = await loadFixture(settlementFixture)
      const vouchers: Op[] = []
      for (let i = 1n; i <= 9n; i++) {
        vouchers.push(op(OpKind.ChannelSettle, [await f.signedVoucher(f.settleable.config, i, i * USDC)]))
      }
      for (let n = 1; n <= 9; n++) {
        const snapshot = await ethers.provider.send('evm_snapshot', [])
        const ops = vouchers.slice(0, n)
        const event = await batchEvent(f, f.settle(ops))
        expect(event.args.opsRoot).to.equal(opsTree(ops).root)
        await ethers.provider.send('evm_revert', [snapshot])
      }
    })
  })
})
