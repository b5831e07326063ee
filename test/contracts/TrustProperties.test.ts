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
  WITHDRAWAL_DELAY,
  deployVaultFixture,
  escrowIdOf,
  op,
  opsTree,
  signTyped,
  type Op,
  type VaultFixture,
} from './fixtures'
import { clearhouseDomain } from '../../protocol/typed-data'

const feeOf = (amount: bigint, bps = FEE_BPS) => (amount * BigInt(bps)) / 10_000n

/** Internal balances of every named account, to compare before and after. */
async function balances(f: VaultFixture) {
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
    accounts.map(
      async (a) => [a.address, (await f.vault.balanceOf(a.address, f.usdcAddress)) as bigint] as const,
    ),
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

describe('Trust property 1: a coordinator key alone cannot move funds anywhere the owner did not sign', function () {
  it('cannot lock a payer balance into an escrow the payer did not sign', async function () {
    const f = await loadFixture(deployVaultFixture)
    const terms = await f.escrowTerms({ payee: f.coordinator.address })
    const ops = [op(OpKind.EscrowLock, [terms, await f.sign(f.coordinator, 'EscrowLock', { ...terms })])]
    await expect(f.settle(ops)).to.be.revertedWithCustomError(f.vault, 'SettlementOpFailed')
    await expect(
      f.vault.connect(f.coordinator).lockEscrow(terms, NO_SIGNATURE),
    ).to.be.revertedWithCustomError(f.vault, 'JobEscrowInvalidSignature')
  })

  it('cannot redirect a payer-signed escrow to another payee', async function () {
    const f = await loadFixture(deployVaultFixture)
    const terms = await f.escrowTerms()
    const signature = await f.sign(f.alice, 'EscrowLock', { ...terms })
    const redirected = { ...terms, payee: f.coordinator.address }
    await expect(f.settle([op(OpKind.EscrowLock, [redirected, signature])])).to.be.revertedWithCustomError(
      f.vault,
      'SettlementOpFailed',
    )
  })

  it('cannot release, refund or rule an escrow without the party that must sign', async function () {
    const f = await loadFixture(deployVaultFixture)
    const terms = await f.lockEscrow()
    const id = terms.escrowId
    for (const forged of [
      op(OpKind.EscrowRelease, [id, await f.sign(f.coordinator, 'EscrowRelease', { escrowId: id })]),
      op(OpKind.EscrowRefund, [id, await f.sign(f.coordinator, 'EscrowRefund', { escrowId: id })]),
      op(OpKind.EscrowRuling, [
        id,
        10_000,
        await f.sign(f.coordinator, 'EscrowRuling', { escrowId: id, payeeBps: 10_000 }),
      ]),
    ]) {
      await expect(f.settle([forged])).to.be.revertedWithCustomError(f.vault, 'SettlementOpFailed')
    }
  })

  it('cannot fund a channel, settle a voucher or withdraw without the owner signature', async function () {
    const f = await loadFixture(deployVaultFixture)
    const { config, id } = await f.openChannel()
    const w = await f.withdrawal({ to: f.coordinator.address })
    const forged: Op[] = [
      op(OpKind.ChannelFund, [
        config,
        100n * USDC,
        await f.sign(f.coordinator, 'ChannelFunding', { channelId: id, totalDeposit: 100n * USDC }),
      ]),
      op(OpKind.ChannelSettle, [await f.signedVoucher(config, 1n, 10n * USDC, f.coordinator)]),
      op(OpKind.Withdrawal, [w, await f.sign(f.coordinator, 'Withdrawal', { ...w })]),
    ]
    for (const o of forged)
      await expect(f.settle([o])).to.be.revertedWithCustomError(f.vault, 'SettlementOpFailed')
    // Its co-signature on a fast withdrawal is not enough either.
    const approval = await f.sign(f.coordinator, 'WithdrawalApproval', { withdrawal: { ...w } })
    await expect(f.vault.connect(f.coordinator).withdraw(w, NO_SIGNATURE, approval))
      .to.be.revertedWithCustomError(f.vault, 'VaultInvalidSignature')
      .withArgs(f.alice.address, ethers.ZeroAddress)
  })

  it('cannot change where an owner-signed withdrawal pays', async function () {
    const f = await loadFixture(deployVaultFixture)
    const w = await f.withdrawal({ to: f.alice.address })
    const ownerSignature = await f.sign(f.alice, 'Withdrawal', { ...w })
    const redirected = { ...w, to: f.coordinator.address }
    await expect(
      f.settle([op(OpKind.Withdrawal, [redirected, ownerSignature])]),
    ).to.be.revertedWithCustomError(f.vault, 'SettlementOpFailed')
  })

  it('leaves every balance untouched after a batch of forged ops fails', async function () {
    const f = await loadFixture(deployVaultFixture)
    const before = await balances(f)
    const terms = await f.escrowTerms({ payee: f.coordinator.address })
    await expect(
      f.settle([op(OpKind.EscrowLock, [terms, await f.sign(f.coordinator, 'EscrowLock', { ...terms })])]),
    ).to.be.reverted
    expect(await balances(f)).to.deep.equal(before)
  })
})

describe('Trust property 2: escrow goes only to the payer or the payee', function () {
  async function resolve(f: VaultFixture, how: string) {
    const terms = await f.lockEscrow({ amount: 123_456_789n })
    const id = terms.escrowId
    const before = await balances(f)
    if (how === 'release') await f.vault.connect(f.alice).releaseEscrow(id, NO_SIGNATURE)
    if (how === 'refund') await f.vault.connect(f.bob).refundEscrow(id, NO_SIGNATURE)
    if (how.startsWith('ruling'))
      await f.vault.connect(f.resolver).ruleEscrow(id, Number(how.split(':')[1]), NO_SIGNATURE)
    if (how === 'expiry') {
      await time.increaseTo(terms.expiry)
      await f.vault.connect(f.stranger).reclaimExpiredEscrow(id)
    }
    return { terms, delta: changes(before, await balances(f)) }
  }

  for (const how of ['release', 'refund', 'ruling:10000', 'ruling:0', 'ruling:5001', 'expiry']) {
    it(`${how}: pays only the payer and payee (plus the fees they signed for), exactly the escrowed amount`, async function () {
      const f = await loadFixture(deployVaultFixture)
      const { terms, delta } = await resolve(f, how)
      const allowed = new Set([f.alice.address, f.bob.address, f.treasury.address, f.resolver.address])
      for (const account of Object.keys(delta)) expect(allowed.has(account), account).to.equal(true)
      const total = Object.values(delta).reduce((a, b) => a + b, 0n)
      expect(total).to.equal(terms.amount)
      if (how === 'refund' || how === 'expiry')
        expect(delta).to.deep.equal({ [f.alice.address]: terms.amount })
      if (how === 'release') {
        expect(delta).to.deep.equal({
          [f.bob.address]: terms.amount - feeOf(terms.amount),
          [f.treasury.address]: feeOf(terms.amount),
        })
      }
    })
  }

  it('cannot be paid out twice by mixing resolutions', async function () {
    const f = await loadFixture(deployVaultFixture)
    const terms = await f.lockEscrow()
    await f.vault.connect(f.alice).releaseEscrow(terms.escrowId, NO_SIGNATURE)
    await expect(
      f.vault.connect(f.bob).refundEscrow(terms.escrowId, NO_SIGNATURE),
    ).to.be.revertedWithCustomError(f.vault, 'JobEscrowNotLocked')
    await expect(
      f.vault.connect(f.resolver).ruleEscrow(terms.escrowId, 0, NO_SIGNATURE),
    ).to.be.revertedWithCustomError(f.vault, 'JobEscrowNotLocked')
  })
})

describe('Trust property 3: no replay across ops, deployments or chains', function () {
  it('fails to replay an op: lock, release, voucher, funding, withdrawal, batch', async function () {
    const f = await loadFixture(deployVaultFixture)
    const terms = await f.escrowTerms()
    const lockSig = await f.sign(f.alice, 'EscrowLock', { ...terms })
    await f.vault.connect(f.relayer).lockEscrow(terms, lockSig)
    await expect(f.vault.connect(f.relayer).lockEscrow(terms, lockSig)).to.be.revertedWithCustomError(
      f.vault,
      'JobEscrowAlreadyExists',
    )
    const releaseSig = await f.sign(f.alice, 'EscrowRelease', { escrowId: terms.escrowId })
    await f.vault.connect(f.relayer).releaseEscrow(terms.escrowId, releaseSig)
    await expect(
      f.vault.connect(f.relayer).releaseEscrow(terms.escrowId, releaseSig),
    ).to.be.revertedWithCustomError(f.vault, 'JobEscrowNotLocked')

    const { config, id } = await f.openChannel()
    const voucher = await f.signedVoucher(config, 1n, 5n * USDC)
    await f.vault.settleChannel(voucher)
    await expect(f.vault.settleChannel(voucher)).to.be.revertedWithCustomError(
      f.vault,
      'PaymentChannelsStaleVoucher',
    )
    const fundSig = await f.sign(f.alice, 'ChannelFunding', { channelId: id, totalDeposit: 60n * USDC })
    await f.vault.connect(f.relayer).fundChannel(config, 60n * USDC, fundSig)
    await expect(
      f.vault.connect(f.relayer).fundChannel(config, 60n * USDC, fundSig),
    ).to.be.revertedWithCustomError(f.vault, 'PaymentChannelsDepositNotIncreased')

    const w = await f.withdrawal()
    const ownerSig = await f.sign(f.alice, 'Withdrawal', { ...w })
    const ops = [op(OpKind.Withdrawal, [w, ownerSig])]
    const batchSig = await f.signBatch(1n, ops)
    await f.vault.connect(f.relayer).settleBatch(1n, ops, batchSig)
    await expect(f.vault.connect(f.relayer).settleBatch(1n, ops, batchSig)).to.be.revertedWithCustomError(
      f.vault,
      'SettlementBatchOutOfOrder',
    )
    const resent = [op(OpKind.Withdrawal, [w, ownerSig])]
    await expect(f.settle(resent))
      .to.be.revertedWithCustomError(f.vault, 'SettlementOpFailed')
      .withArgs(0n, f.vault.interface.encodeErrorResult('VaultNonceUsed', [f.alice.address, w.nonce]))
  })

  it('fails to use a signature of one message as another (distinct type hashes)', async function () {
    const f = await loadFixture(deployVaultFixture)
    const terms = await f.lockEscrow()
    // The payee's refund signature over the same escrow id does not pass as the payer's release.
    const refundSig = await f.sign(f.alice, 'EscrowRefund', { escrowId: terms.escrowId })
    await expect(
      f.vault.connect(f.relayer).releaseEscrow(terms.escrowId, refundSig),
    ).to.be.revertedWithCustomError(f.vault, 'JobEscrowInvalidSignature')
    // A provider close signature does not pass as a caller voucher.
    const { config, id } = await f.openChannel()
    const closeSig = await f.sign(f.alice, 'ChannelClose', {
      channelId: id,
      sequence: 1n,
      cumulativeAmount: 1n,
    })
    await expect(
      f.vault.settleChannel({
        config,
        sequence: 1n,
        cumulativeAmount: 1n,
        callChain: ethers.ZeroHash,
        signature: closeSig,
      }),
    ).to.be.revertedWithCustomError(f.vault, 'PaymentChannelsInvalidSignature')
  })

  it('fails on a second deployment', async function () {
    const f = await loadFixture(deployVaultFixture)
    const second = await ethers.deployContract('ClearhouseVault', [
      {
        owner: f.owner.address,
        coordinator: f.coordinator.address,
        treasury: f.treasury.address,
        feeBps: FEE_BPS,
        withdrawalDelay: WITHDRAWAL_DELAY,
        challengePeriod: CHALLENGE_PERIOD,
        adminDelay: 1,
        tokens: [f.usdcAddress],
      },
    ])
    await f.usdc.connect(f.alice).approve(await second.getAddress(), ethers.MaxUint256)
    await second.connect(f.alice).getFunction('deposit')(f.usdcAddress, 100n * USDC)
    const terms = await f.escrowTerms()
    const signatureForFirst = await f.sign(f.alice, 'EscrowLock', { ...terms })
    await expect(
      second.connect(f.relayer).getFunction('lockEscrow')(terms, signatureForFirst),
    ).to.be.revertedWithCustomError(second, 'JobEscrowInvalidSignature')
    const ops = [op(OpKind.EscrowLock, [terms, signatureForFirst])]
    await expect(
      second.connect(f.relayer).getFunction('settleBatch')(1n, ops, await f.signBatch(1n, ops)),
    ).to.be.revertedWithCustomError(second, 'SettlementInvalidCoordinatorSignature')
  })

  it('fails with a signature for another chain id', async function () {
    const f = await loadFixture(deployVaultFixture)
    const otherChain = clearhouseDomain(1, f.vaultAddress as `0x${string}`)
    const terms = await f.escrowTerms()
    const signature = await signTyped(f.alice, otherChain, 'EscrowLock', { ...terms })
    await expect(f.vault.connect(f.relayer).lockEscrow(terms, signature)).to.be.revertedWithCustomError(
      f.vault,
      'JobEscrowInvalidSignature',
    )
    const ops = [op(OpKind.EscrowLock, [terms, await f.sign(f.alice, 'EscrowLock', { ...terms })])]
    const batchSig = await signTyped(f.coordinator, otherChain, 'Batch', {
      batchNumber: 1n,
      opsRoot: opsTree(ops).root,
    })
    await expect(f.vault.connect(f.relayer).settleBatch(1n, ops, batchSig)).to.be.revertedWithCustomError(
      f.vault,
      'SettlementInvalidCoordinatorSignature',
    )
    // Channel ids differ per chain too, so a voucher for the channel on another chain names another channel.
    const { config, id } = await f.openChannel()
    const otherId = ethers.TypedDataEncoder.hash(
      otherChain,
      {
        ChannelConfig: [
          { name: 'caller', type: 'address' },
          { name: 'provider', type: 'address' },
          { name: 'token', type: 'address' },
          { name: 'feeBps', type: 'uint16' },
          { name: 'salt', type: 'bytes32' },
        ],
      },
      config,
    )
    expect(otherId).to.not.equal(id)
  })
})

describe('Trust property 4: with the coordinator gone, every user recovers what is theirs', function () {
  it('recovers balances, escrows and channel deposits using only the chain and the delays', async function () {
    const f = await loadFixture(deployVaultFixture)
    const terms = await f.lockEscrow({ amount: 100n * USDC })
    const { config } = await f.openChannel({}, 200n * USDC)
    const voucher = await f.signedVoucher(config, 1n, 30n * USDC)
    await f.vault.settleChannel(voucher)
    // The coordinator disappears; the owner even pauses deposits. Nothing below needs either.
    await f.vault.connect(f.owner).pause()

    await f.vault.connect(f.alice).requestChannelClose(config)
    await time.increase(CHALLENGE_PERIOD)
    await f.vault.connect(f.alice).finalizeChannelClose(config)
    await time.increaseTo(terms.expiry)
    await f.vault.connect(f.alice).reclaimExpiredEscrow(terms.escrowId)
    const owed = INITIAL_DEPOSIT - 30n * USDC
    expect(await f.vault.balanceOf(f.alice.address, f.usdcAddress)).to.equal(owed)

    for (const account of [f.alice, f.bob]) {
      const balance: bigint = await f.vault.balanceOf(account.address, f.usdcAddress)
      await f.vault.connect(account).requestWithdrawal(f.usdcAddress, balance, account.address)
    }
    await time.increase(WITHDRAWAL_DELAY)
    const walletBefore: bigint = await f.usdc.balanceOf(f.alice.address)
    await f.vault.connect(f.alice).executeWithdrawal(f.alice.address, f.usdcAddress)
    await f.vault.connect(f.bob).executeWithdrawal(f.bob.address, f.usdcAddress)
    expect((await f.usdc.balanceOf(f.alice.address)) - walletBefore).to.equal(owed)
    expect(await f.vault.balanceOf(f.bob.address, f.usdcAddress)).to.equal(0n)
    expect(await f.vault.balanceOf(f.alice.address, f.usdcAddress)).to.equal(0n)
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
    await expect(
      f.vault.settleChannel(await f.signedVoucher(config, 10n, 50n * USDC)),
    ).to.be.revertedWithCustomError(f.vault, 'PaymentChannelsClosed')
  })

  it('recovers within a bounded delay even if the coordinator settles the balance meanwhile', async function () {
    const f = await loadFixture(deployVaultFixture)
    await f.vault.connect(f.alice).requestWithdrawal(f.usdcAddress, INITIAL_DEPOSIT, f.alice.address)
    // A lock the payer signed earlier can still settle during the delay; the rest is paid.
    await f.lockEscrow({ amount: 10n * USDC })
    await time.increase(WITHDRAWAL_DELAY)
    await expect(f.vault.executeWithdrawal(f.alice.address, f.usdcAddress))
      .to.emit(f.vault, 'Withdrawn')
      .withArgs(f.alice.address, f.usdcAddress, f.alice.address, INITIAL_DEPOSIT - 10n * USDC)
  })
})

describe('Trust property 5: a batch event recomputes from its ops', function () {
  it('recomputes the ops root with StandardMerkleTree and the totals from the ops and prior state', async function () {
    const f = await loadFixture(deployVaultFixture)
    const channels = []
    for (let i = 0; i < 4; i++)
      channels.push(await f.openChannel({ salt: ethers.toBeHex(i + 10, 32) }, 20n * USDC))
    const escrow = await f.lockEscrow({ escrowId: escrowIdOf('audit'), amount: 9n * USDC })
    const ops: Op[] = []
    const amounts: bigint[] = []
    for (const [i, { config }] of channels.entries()) {
      const amount = BigInt(i + 1) * 1_234_567n
      amounts.push(amount)
      ops.push(op(OpKind.ChannelSettle, [await f.signedVoucher(config, 1n, amount)]))
    }
    ops.push(
      op(OpKind.EscrowRelease, [
        escrow.escrowId,
        await f.sign(f.alice, 'EscrowRelease', { escrowId: escrow.escrowId }),
      ]),
    )
    const receipt = await (await f.settle(ops)).wait()
    const event = receipt.logs
      .map((l: never) => f.vault.interface.parseLog(l))
      .find((e: { name: string } | null) => e?.name === 'BatchSettled')

    // An auditor: decode the transaction's ops, rebuild the tree, recompute the sums.
    const tx = await ethers.provider.getTransaction(receipt.hash)
    const decoded = f.vault.interface.decodeFunctionData('settleBatch', tx!.data)
    const auditedOps: Op[] = decoded.ops.map((o: { kind: bigint; data: string }) => ({
      kind: Number(o.kind),
      data: o.data,
    }))
    expect(event.args.opsRoot).to.equal(opsTree(auditedOps).root)
    expect(event.args.opCount).to.equal(BigInt(auditedOps.length))
    const settled = amounts.reduce((a, b) => a + b, 0n)
    const fees = amounts.reduce((a, b) => a + feeOf(b), 0n) + feeOf(escrow.amount)
    expect(event.args.totals.channelSettled).to.equal(settled)
    expect(event.args.totals.escrowToPayees).to.equal(escrow.amount - feeOf(escrow.amount))
    expect(event.args.totals.fees).to.equal(fees)

    // Each settlement carries the caller-signed voucher: its callChain recovers to the caller.
    const settledEvents = receipt.logs
      .map((l: never) => f.vault.interface.parseLog(l))
      .filter((e: { name: string } | null) => e?.name === 'ChannelSettled')
    expect(settledEvents).to.have.length(channels.length)
    for (const [i, e] of settledEvents.entries()) {
      const voucherArgs = ethers.AbiCoder.defaultAbiCoder().decode(
        [
          'tuple(tuple(address,address,address,uint16,bytes32),uint64,uint256,bytes32,tuple(bytes32,bytes32))',
        ],
        auditedOps[i].data,
      )[0]
      expect(e.args.callChain).to.equal(voucherArgs[3])
      const signature = ethers.Signature.from({ r: voucherArgs[4][0], yParityAndS: voucherArgs[4][1] })
      const signer = ethers.verifyTypedData(
        f.domain,
        {
          Voucher: [
            { name: 'channelId', type: 'bytes32' },
            { name: 'sequence', type: 'uint64' },
            { name: 'cumulativeAmount', type: 'uint256' },
            { name: 'callChain', type: 'bytes32' },
          ],
        },
        {
          channelId: e.args.channelId,
          sequence: e.args.sequence,
          cumulativeAmount: e.args.cumulativeAmount,
          callChain: e.args.callChain,
        },
        signature,
      )
      expect(signer).to.equal(f.alice.address)
    }
  })
})
