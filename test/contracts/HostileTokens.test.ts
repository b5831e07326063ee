import { expect } from 'chai'
import { ethers } from 'hardhat'
import { loadFixture, time } from '@nomicfoundation/hardhat-network-helpers'
import type { FunctionFragment } from 'ethers'
import {
  NO_SIGNATURE,
  OpKind,
  WITHDRAWAL_DELAY,
  deployVaultFixture,
  op,
  type AnyContract,
  type VaultFixture,
  type Withdrawal,
} from './fixtures'

const WALLET = 1_000_000n

/** Deploys mock token `name`, allowlists it, and gives alice, bob and carol tokens and an allowance. */
async function withToken(f: VaultFixture, name: string) {
  const token = (await ethers.deployContract(name)) as unknown as AnyContract
  const address = await token.getAddress()
  await f.vault.connect(f.owner).setTokenAllowed(address, true)
  for (const account of [f.alice, f.bob, f.carol]) {
    await token.mint(account.address, WALLET)
    await token.connect(account).approve(f.vaultAddress, ethers.MaxUint256)
  }
  return { token, address }
}

/** Sum of the internal balances of every account that could hold `token`. */
async function internalSum(f: VaultFixture, token: string) {
  let sum = 0n
  for (const s of f.signers) sum += await f.vault.balanceOf(s.address, token)
  return sum
}

/** The coordinator's co-signature of `w`, for a fast withdrawal the account sends itself. */
function approval(f: VaultFixture, w: Withdrawal) {
  return f.sign(f.coordinator, 'WithdrawalApproval', { withdrawal: { ...w } })
}

describe('Hostile tokens', function () {
  describe('a re-entrant token', function () {
    async function reentrantFixture() {
      const f = await deployVaultFixture()
      return { ...f, ...(await withToken(f, 'ReentrantToken')) }
    }

    it('cannot re-enter a deposit to double-credit', async function () {
      const f = await loadFixture(reentrantFixture)
      const reenter = f.vault.interface.encodeFunctionData('depositFor', [f.address, 1_000n, f.alice.address])
      await f.token.setHook(f.vaultAddress, reenter)
      await expect(f.vault.connect(f.alice).deposit(f.address, 5_000n))
        .to.emit(f.vault, 'Deposited')
        .withArgs(f.alice.address, f.address, f.alice.address, 5_000n)
      expect(await f.token.hookCalls()).to.equal(1n)
      expect(await f.token.lastHookSucceeded()).to.equal(false)
      expect(await f.token.lastHookResult()).to.equal(
        f.vault.interface.encodeErrorResult('ReentrancyGuardReentrantCall', []),
      )
      expect(await f.vault.balanceOf(f.alice.address, f.address)).to.equal(5_000n)
      expect(await f.token.balanceOf(f.vaultAddress)).to.equal(await internalSum(f, f.address))
    })

    it('cannot re-enter a withdrawal to drain', async function () {
      const f = await loadFixture(reentrantFixture)
      await f.vault.connect(f.alice).deposit(f.address, 5_000n)
      await f.vault.connect(f.bob).deposit(f.address, 5_000n)
      await f.vault.connect(f.alice).requestWithdrawal(f.address, 5_000n, f.alice.address)
      await time.increase(WITHDRAWAL_DELAY)
      const reenter = f.vault.interface.encodeFunctionData('executeWithdrawal', [f.alice.address, f.address])
      await f.token.setHook(f.vaultAddress, reenter)
      await expect(f.vault.connect(f.alice).executeWithdrawal(f.alice.address, f.address))
        .to.emit(f.vault, 'WithdrawalExecuted')
        .withArgs(f.alice.address, f.address, f.alice.address, 5_000n)
      expect(await f.token.lastHookSucceeded()).to.equal(false)
      expect(await f.token.lastHookResult()).to.equal(
        f.vault.interface.encodeErrorResult('ReentrancyGuardReentrantCall', []),
      )
      expect(await f.token.balanceOf(f.alice.address)).to.equal(WALLET)
      expect(await f.vault.balanceOf(f.bob.address, f.address)).to.equal(5_000n)
      expect(await f.token.balanceOf(f.vaultAddress)).to.equal(5_000n)
    })

    it('cannot re-enter a batch or call into its inner steps', async function () {
      const f = await loadFixture(reentrantFixture)
      await f.vault.connect(f.alice).deposit(f.address, 5_000n)
      const w = await f.withdrawal({ token: f.address, amount: 1_000n })
      const ops = [op(OpKind.Withdrawal, [w, await f.sign(f.alice, 'Withdrawal', { ...w })])]
      const inner = f.vault.interface.encodeFunctionData('applyBatchOps', [1n, ops, NO_SIGNATURE])
      await f.token.setHook(f.vaultAddress, inner)
      await expect(f.settle(ops)).to.emit(f.vault, 'BatchSettled')
      expect(await f.token.lastHookSucceeded()).to.equal(false)
      expect(await f.token.lastHookResult()).to.equal(
        f.vault.interface.encodeErrorResult('SettlementOnlySelf', [f.address]),
      )
      expect(await f.vault.balanceOf(f.alice.address, f.address)).to.equal(4_000n)
      expect(await f.token.balanceOf(f.vaultAddress)).to.equal(await internalSum(f, f.address))
    })

    describe('attack: a token re-enters the vault from inside a deposit or withdrawal transfer to act on half-updated state', function () {
      /** Calldata for every state-changing entry point; the arguments only need to decode. */
      async function reentryCalls(f: VaultFixture & { address: string }): Promise<Array<[string, string]>> {
        const iface = f.vault.interface
        const terms = await f.escrowTerms({ token: f.address })
        const position = { setId: 1n, index: 0n }
        const config = f.channelConfig({ token: f.address })
        const voucher = await f.signedVoucher(config, 1n, 1n)
        const w = await f.withdrawal({ token: f.address, amount: 1n, nonce: 999n })
        const zero = ethers.ZeroHash
        const calls: Array<[string, unknown[]]> = [
          ['deposit', [f.address, 1n]],
          ['depositFor', [f.address, 1n, f.alice.address]],
          ['withdraw', [w, NO_SIGNATURE, NO_SIGNATURE]],
          ['requestWithdrawal', [f.address, 1n, f.alice.address]],
          ['executeWithdrawal', [f.alice.address, f.address]],
          ['cancelWithdrawal', [f.address]],
          ['invalidateNonce', [1n]],
          ['lockEscrow', [terms, NO_SIGNATURE]],
          ['releaseEscrow', [terms, position, NO_SIGNATURE, []]],
          ['refundEscrow', [terms, position, NO_SIGNATURE, []]],
          ['ruleEscrow', [terms, position, 5_000, NO_SIGNATURE, []]],
          ['reclaimExpiredEscrow', [terms, position, []]],
          ['openEscrowDispute', [terms, position, NO_SIGNATURE, []]],
          ['fundChannel', [config, 1n, 0n, NO_SIGNATURE]],
          ['settleChannel', [voucher]],
          ['closeChannel', [voucher, NO_SIGNATURE]],
          ['requestChannelClose', [config]],
          ['finalizeChannelClose', [config]],
          ['settleBatch', [1n, [], NO_SIGNATURE]],
          ['depositWithPermit', [f.address, f.alice.address, 1n, 0n, 27, zero, zero]],
          ['depositWithAuthorization', [f.address, f.alice.address, 1n, 0n, 0n, zero, 27, zero, zero]],
          [
            'payWithTransferAuthorization',
            [
              f.address,
              {
                from: f.alice.address,
                value: 1n,
                validAfter: 0n,
                validBefore: 0n,
                nonce: zero,
                v: 27,
                r: zero,
                s: zero,
              },
              f.bob.address,
            ],
          ],
          ['fundChannelWithPermit', [config, 1n, 0n, 27, zero, zero]],
        ]
        return calls.map(([name, args]) => [name, iface.encodeFunctionData(name, args)])
      }

      const entryPoints = [
        'deposit',
        'depositFor',
        'withdraw',
        'requestWithdrawal',
        'executeWithdrawal',
        'cancelWithdrawal',
        'invalidateNonce',
        'lockEscrow',
        'releaseEscrow',
        'refundEscrow',
        'ruleEscrow',
        'reclaimExpiredEscrow',
        'openEscrowDispute',
        'fundChannel',
        'settleChannel',
        'closeChannel',
        'requestChannelClose',
        'finalizeChannelClose',
        'settleBatch',
        'depositWithPermit',
        'depositWithAuthorization',
        'payWithTransferAuthorization',
        'fundChannelWithPermit',
      ]

      it('lists every state-changing entry point of the vault but its admin and self-only ones', async function () {
        const f = await loadFixture(reentrantFixture)
        const adminOrSelf = [
          'setTokenAllowed',
          'proposeCoordinator',
          'applyCoordinator',
          'proposeFee',
          'applyFee',
          'setTreasury',
          'pause',
          'unpause',
          'transferOwnership',
          'acceptOwnership',
          'renounceOwnership',
          'applyBatchOps',
          'applyBatchOp',
        ]
        const mutating: string[] = []
        f.vault.interface.forEachFunction((fn: FunctionFragment) => {
          if (fn.stateMutability === 'nonpayable' && !adminOrSelf.includes(fn.name)) mutating.push(fn.name)
        })
        expect(mutating.sort()).to.deep.equal([...entryPoints].sort())
        expect((await reentryCalls(f)).map(([name]) => name)).to.deep.equal(entryPoints)
      })

      for (const entryPoint of entryPoints) {
        it(`attack: a token re-enters ${entryPoint} from a deposit, a fast and a slow withdrawal -> ReentrancyGuardReentrantCall`, async function () {
          const f = await loadFixture(reentrantFixture)
          const reentrant = f.vault.interface.encodeErrorResult('ReentrancyGuardReentrantCall', [])
          const [, calldata] = (await reentryCalls(f)).find(([name]) => name === entryPoint)!
          await f.vault.connect(f.alice).deposit(f.address, 5_000n)
          await f.vault.connect(f.bob).deposit(f.address, 5_000n)
          await f.vault.connect(f.bob).requestWithdrawal(f.address, 2_000n, f.bob.address)
          await time.increase(WITHDRAWAL_DELAY)
          await f.token.setHook(f.vaultAddress, calldata)

          const expectRefused = async (calls: bigint) => {
            expect(await f.token.hookCalls()).to.equal(calls)
            expect(await f.token.lastHookSucceeded()).to.equal(false)
            expect(await f.token.lastHookResult()).to.equal(reentrant)
          }
          await expect(f.vault.connect(f.alice).deposit(f.address, 1_000n))
            .to.emit(f.vault, 'Deposited')
            .withArgs(f.alice.address, f.address, f.alice.address, 1_000n)
          await expectRefused(1n)
          const w = await f.withdrawal({ token: f.address, amount: 500n, nonce: 5n })
          await expect(f.vault.connect(f.alice).withdraw(w, NO_SIGNATURE, await approval(f, w)))
            .to.emit(f.vault, 'Withdrawn')
            .withArgs(f.alice.address, f.address, f.alice.address, 500n, 5n)
          await expectRefused(2n)
          await expect(f.vault.executeWithdrawal(f.bob.address, f.address))
            .to.emit(f.vault, 'WithdrawalExecuted')
            .withArgs(f.bob.address, f.address, f.bob.address, 2_000n)
          await expectRefused(3n)

          expect(await f.vault.balanceOf(f.alice.address, f.address)).to.equal(5_500n)
          expect(await f.vault.balanceOf(f.bob.address, f.address)).to.equal(3_000n)
          expect(await f.token.balanceOf(f.vaultAddress)).to.equal(8_500n)
          expect(await internalSum(f, f.address)).to.equal(8_500n)
        })
      }
    })
  })

  describe('a fee-on-transfer token', function () {
    it('credits what arrived, not what was sent', async function () {
      const f = await loadFixture(deployVaultFixture)
      const { token, address } = await withToken(f, 'FeeOnTransferToken')
      await expect(f.vault.connect(f.alice).deposit(address, 100_000n))
        .to.emit(f.vault, 'Deposited')
        .withArgs(f.alice.address, address, f.alice.address, 99_000n)
      expect(await f.vault.balanceOf(f.alice.address, address)).to.equal(99_000n)
      expect(await token.balanceOf(f.vaultAddress)).to.equal(99_000n)
      await f.vault.connect(f.alice).requestWithdrawal(address, 99_000n, f.alice.address)
      await time.increase(WITHDRAWAL_DELAY)
      await expect(f.vault.executeWithdrawal(f.alice.address, address))
        .to.emit(f.vault, 'WithdrawalExecuted')
        .withArgs(f.alice.address, address, f.alice.address, 99_000n)
      expect(await token.balanceOf(f.vaultAddress)).to.equal(0n)
      expect(await f.vault.balanceOf(f.alice.address, address)).to.equal(0n)
      // The recipient bears this token's fee: 1% of the 99_000 sent is burned on the way.
      expect(await token.balanceOf(f.alice.address)).to.equal(WALLET - 100_000n + 98_010n)
    })
  })

  describe('a token that charges the sender a fee', function () {
    async function senderFeeFixture() {
      const f = await deployVaultFixture()
      const t = await withToken(f, 'SenderFeeToken')
      await f.vault.connect(f.alice).deposit(t.address, 100_000n)
      await f.vault.connect(f.bob).deposit(t.address, 100_000n)
      return { ...f, ...t }
    }

    it('credits a deposit with what arrived, the depositor paying the fee on top', async function () {
      const f = await loadFixture(senderFeeFixture)
      await expect(f.vault.connect(f.carol).deposit(f.address, 50_000n))
        .to.emit(f.vault, 'Deposited')
        .withArgs(f.carol.address, f.address, f.carol.address, 50_000n)
      expect(await f.token.balanceOf(f.carol.address)).to.equal(WALLET - 50_500n)
      expect(await f.vault.balanceOf(f.carol.address, f.address)).to.equal(50_000n)
      expect(await f.token.balanceOf(f.vaultAddress)).to.equal(250_000n)
    })

    it("attack: a token that charges the sender drains other users' money through withdrawals -> a fast withdrawal debits the fee from the withdrawer", async function () {
      const f = await loadFixture(senderFeeFixture)
      const w = await f.withdrawal({ token: f.address, amount: 10_000n, to: f.stranger.address, nonce: 3n })
      const ownerSignature = await f.sign(f.alice, 'Withdrawal', { ...w })
      await expect(f.vault.connect(f.relayer).withdraw(w, ownerSignature, await approval(f, w)))
        .to.emit(f.vault, 'Withdrawn')
        .withArgs(f.alice.address, f.address, f.stranger.address, 10_100n, 3n)
      expect(await f.token.balanceOf(f.stranger.address)).to.equal(10_000n)
      expect(await f.vault.balanceOf(f.alice.address, f.address)).to.equal(89_900n)
      expect(await f.vault.balanceOf(f.bob.address, f.address)).to.equal(100_000n)
      expect(await f.token.balanceOf(f.vaultAddress)).to.equal(189_900n)
      expect(await internalSum(f, f.address)).to.equal(189_900n)
    })

    it("attack: a token that charges the sender drains other users' money through withdrawals -> a slow withdrawal debits the fee from the withdrawer", async function () {
      const f = await loadFixture(senderFeeFixture)
      await f.vault.connect(f.alice).requestWithdrawal(f.address, 20_000n, f.alice.address)
      await time.increase(WITHDRAWAL_DELAY)
      await expect(f.vault.connect(f.relayer).executeWithdrawal(f.alice.address, f.address))
        .to.emit(f.vault, 'WithdrawalExecuted')
        .withArgs(f.alice.address, f.address, f.alice.address, 20_200n)
      expect(await f.token.balanceOf(f.alice.address)).to.equal(WALLET - 101_000n + 20_000n)
      expect(await f.vault.balanceOf(f.alice.address, f.address)).to.equal(79_800n)
      expect(await f.vault.balanceOf(f.bob.address, f.address)).to.equal(100_000n)
      expect(await f.token.balanceOf(f.vaultAddress)).to.equal(179_800n)
      expect(await internalSum(f, f.address)).to.equal(179_800n)
    })

    it('debits the fee from the withdrawer in a settled batch too', async function () {
      const f = await loadFixture(senderFeeFixture)
      const w = await f.withdrawal({ token: f.address, amount: 30_000n, nonce: 4n })
      const ops = [op(OpKind.Withdrawal, [w, await f.sign(f.alice, 'Withdrawal', { ...w })])]
      await expect(f.settle(ops))
        .to.emit(f.vault, 'Withdrawn')
        .withArgs(f.alice.address, f.address, f.alice.address, 30_300n, 4n)
      expect(await f.vault.balanceOf(f.alice.address, f.address)).to.equal(69_700n)
      expect(await f.vault.balanceOf(f.bob.address, f.address)).to.equal(100_000n)
      expect(await f.token.balanceOf(f.vaultAddress)).to.equal(await internalSum(f, f.address))
    })

    it('lets the last user exit by asking for less than its balance', async function () {
      const f = await loadFixture(senderFeeFixture)
      // Alice takes out all she can: 99_009 plus a fee of 990 leaves her 1.
      const w = await f.withdrawal({ token: f.address, amount: 99_009n, nonce: 5n })
      await expect(f.vault.connect(f.alice).withdraw(w, NO_SIGNATURE, await approval(f, w)))
        .to.emit(f.vault, 'Withdrawn')
        .withArgs(f.alice.address, f.address, f.alice.address, 99_999n, 5n)
      // Bob, the last user with real money, asks for 99_000 of his 100_000.
      await f.vault.connect(f.bob).requestWithdrawal(f.address, 99_000n, f.bob.address)
      await time.increase(WITHDRAWAL_DELAY)
      await expect(f.vault.executeWithdrawal(f.bob.address, f.address))
        .to.emit(f.vault, 'WithdrawalExecuted')
        .withArgs(f.bob.address, f.address, f.bob.address, 99_990n)
      expect(await f.token.balanceOf(f.bob.address)).to.equal(WALLET - 101_000n + 99_000n)
      expect(await f.vault.balanceOf(f.alice.address, f.address)).to.equal(1n)
      expect(await f.vault.balanceOf(f.bob.address, f.address)).to.equal(10n)
      expect(await f.token.balanceOf(f.vaultAddress)).to.equal(11n)
      expect(await internalSum(f, f.address)).to.equal(11n)
    })

    it('reverts a withdrawal the balance cannot cover with the fee', async function () {
      const f = await loadFixture(senderFeeFixture)
      // The vault holds bob's money too, so the transfer itself would go through; the error names
      // the balance and the amount plus the token's fee.
      const w = await f.withdrawal({ token: f.address, amount: 100_000n, nonce: 6n })
      await expect(f.vault.connect(f.alice).withdraw(w, NO_SIGNATURE, await approval(f, w)))
        .to.be.revertedWithCustomError(f.vault, 'VaultInsufficientBalance')
        .withArgs(f.alice.address, f.address, 100_000n, 101_000n)
      await f.vault.connect(f.alice).requestWithdrawal(f.address, 100_000n, f.alice.address)
      await time.increase(WITHDRAWAL_DELAY)
      await expect(f.vault.executeWithdrawal(f.alice.address, f.address))
        .to.be.revertedWithCustomError(f.vault, 'VaultInsufficientBalance')
        .withArgs(f.alice.address, f.address, 100_000n, 101_000n)
      expect(await f.vault.balanceOf(f.alice.address, f.address)).to.equal(100_000n)
      expect(await f.vault.balanceOf(f.bob.address, f.address)).to.equal(100_000n)
      expect(await f.token.balanceOf(f.vaultAddress)).to.equal(200_000n)
      // The failed execution consumed nothing: the request waits for a balance that covers it.
      expect((await f.vault.withdrawalRequest(f.alice.address, f.address)).amount).to.equal(100_000n)
    })
  })

  describe('a token that returns no bool', function () {
    it('deposits and withdraws through SafeERC20', async function () {
      const f = await loadFixture(deployVaultFixture)
      const { token, address } = await withToken(f, 'NoReturnToken')
      await f.vault.connect(f.alice).deposit(address, 10_000n)
      const w = await f.withdrawal({ token: address, amount: 4_000n, to: f.stranger.address })
      const ownerSignature = await f.sign(f.alice, 'Withdrawal', { ...w })
      await expect(f.vault.connect(f.relayer).withdraw(w, ownerSignature, await approval(f, w)))
        .to.emit(f.vault, 'Withdrawn')
        .withArgs(f.alice.address, address, f.stranger.address, 4_000n, w.nonce)
      expect(await token.balanceOf(f.stranger.address)).to.equal(4_000n)
      expect(await f.vault.balanceOf(f.alice.address, address)).to.equal(6_000n)
    })

    it('reverts a deposit without allowance instead of crediting it', async function () {
      const f = await loadFixture(deployVaultFixture)
      const { token, address } = await withToken(f, 'NoReturnToken')
      await token.connect(f.alice).approve(f.vaultAddress, 0n)
      await expect(f.vault.connect(f.alice).deposit(address, 1n)).to.be.revertedWithCustomError(
        token,
        'NoReturnTokenInsufficient',
      )
      expect(await f.vault.balanceOf(f.alice.address, address)).to.equal(0n)
    })
  })

  describe('a blacklisting token', function () {
    async function blacklistFixture() {
      const f = await deployVaultFixture()
      const t = await withToken(f, 'BlacklistToken')
      for (const account of [f.alice, f.bob, f.carol])
        await f.vault.connect(account).deposit(t.address, 10_000n)
      const escrow = await f.lockEscrow({ token: t.address, amount: 5_000n })
      await t.token.setBlacklisted(f.bob.address, true)
      return { ...f, ...t, escrow }
    }

    it('still releases an escrow to a blacklisted payee (an internal credit, no transfer)', async function () {
      const f = await loadFixture(blacklistFixture)
      const fee = (5_000n * BigInt(f.escrow.terms.feeBps)) / 10_000n
      await expect(
        f.vault.connect(f.alice).releaseEscrow(...f.escrowArgs(f.escrow), NO_SIGNATURE, f.escrow.proof),
      )
        .to.emit(f.vault, 'EscrowReleased')
        .withArgs(f.escrow.id, f.bob.address, 5_000n - fee, fee)
      expect(await f.vault.balanceOf(f.bob.address, f.address)).to.equal(10_000n + 5_000n - fee)
      expect(await f.token.balanceOf(f.vaultAddress)).to.equal(30_000n)
    })

    it('never blocks anyone else: only the withdrawal to the blacklisted address is skipped', async function () {
      const f = await loadFixture(blacklistFixture)
      const carolOut = await f.withdrawal({
        account: f.carol.address,
        token: f.address,
        amount: 1_000n,
        to: f.carol.address,
      })
      const bobOut = await f.withdrawal({
        account: f.bob.address,
        token: f.address,
        amount: 1_000n,
        to: f.bob.address,
      })
      const ops = [
        op(OpKind.Withdrawal, [carolOut, await f.sign(f.carol, 'Withdrawal', { ...carolOut })]),
        op(OpKind.Withdrawal, [bobOut, await f.sign(f.bob, 'Withdrawal', { ...bobOut })]),
      ]
      const batchNumber = (await f.vault.lastBatchNumber()) + 1n
      await expect(f.settle(ops))
        .to.emit(f.vault, 'OpSkipped')
        .withArgs(
          batchNumber,
          1n,
          f.token.interface.encodeErrorResult('BlacklistTokenBlacklisted', [f.bob.address]),
        )
      expect(await f.token.balanceOf(f.carol.address)).to.equal(WALLET - 10_000n + 1_000n)
      expect(await f.vault.balanceOf(f.carol.address, f.address)).to.equal(9_000n)
      expect(await f.vault.balanceOf(f.bob.address, f.address)).to.equal(10_000n)
      expect(await f.vault.isNonceUsed(f.bob.address, bobOut.nonce)).to.equal(false)
      // The payer's own exit works while the payee is blacklisted.
      await f.vault.connect(f.alice).requestWithdrawal(f.address, 5_000n, f.alice.address)
      await time.increase(WITHDRAWAL_DELAY)
      await expect(f.vault.executeWithdrawal(f.alice.address, f.address))
        .to.emit(f.vault, 'WithdrawalExecuted')
        .withArgs(f.alice.address, f.address, f.alice.address, 5_000n)
    })
  })
})
