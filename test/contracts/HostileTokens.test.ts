import { expect } from 'chai'
import { ethers } from 'hardhat'
import { loadFixture, time } from '@nomicfoundation/hardhat-network-helpers'
import {
  NO_SIGNATURE,
  OpKind,
  WITHDRAWAL_DELAY,
  deployVaultFixture,
  escrowIdOf,
  op,
  type AnyContract,
  type VaultFixture,
} from './fixtures'

async function withToken(f: VaultFixture, name: string) {
  const token = (await ethers.deployContract(name)) as unknown as AnyContract
  const address = await token.getAddress()
  await f.vault.connect(f.owner).setTokenAllowed(address, true)
  for (const account of [f.alice, f.bob, f.carol]) {
    await token.mint(account.address, 1_000_000n)
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
      await f.vault.connect(f.alice).deposit(f.address, 5_000n)
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
      await f.vault.connect(f.alice).executeWithdrawal(f.alice.address, f.address)
      expect(await f.token.lastHookSucceeded()).to.equal(false)
      expect(await f.token.balanceOf(f.alice.address)).to.equal(1_000_000n)
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
      await f.settle(ops)
      expect(await f.token.lastHookSucceeded()).to.equal(false)
      expect(await f.token.lastHookResult()).to.equal(
        f.vault.interface.encodeErrorResult('SettlementOnlySelf', [f.address]),
      )
      expect(await f.vault.balanceOf(f.alice.address, f.address)).to.equal(4_000n)
      expect(await f.token.balanceOf(f.vaultAddress)).to.equal(await internalSum(f, f.address))
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
      await f.vault.executeWithdrawal(f.alice.address, address)
      expect(await token.balanceOf(f.vaultAddress)).to.equal(0n)
      expect(await f.vault.balanceOf(f.alice.address, address)).to.equal(0n)
    })
  })

  describe('a token that returns no bool', function () {
    it('deposits and withdraws through SafeERC20', async function () {
      const f = await loadFixture(deployVaultFixture)
      const { token, address } = await withToken(f, 'NoReturnToken')
      await f.vault.connect(f.alice).deposit(address, 10_000n)
      const w = await f.withdrawal({ token: address, amount: 4_000n, to: f.stranger.address })
      const ownerSignature = await f.sign(f.alice, 'Withdrawal', { ...w })
      const approval = await f.sign(f.coordinator, 'WithdrawalApproval', { withdrawal: { ...w } })
      await expect(f.vault.connect(f.relayer).withdraw(w, ownerSignature, approval)).to.emit(
        f.vault,
        'Withdrawn',
      )
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
    })
  })

  describe('a blacklisting token', function () {
    async function blacklistFixture() {
      const f = await deployVaultFixture()
      const t = await withToken(f, 'BlacklistToken')
      for (const account of [f.alice, f.bob, f.carol])
        await f.vault.connect(account).deposit(t.address, 10_000n)
      const terms = await f.lockEscrow({ escrowId: escrowIdOf('blk'), token: t.address, amount: 5_000n })
      await t.token.setBlacklisted(f.bob.address, true)
      return { ...f, ...t, terms }
    }

    it('still releases an escrow to a blacklisted payee (an internal credit, no transfer)', async function () {
      const f = await loadFixture(blacklistFixture)
      await expect(f.vault.connect(f.alice).releaseEscrow(f.terms.escrowId, NO_SIGNATURE)).to.emit(
        f.vault,
        'EscrowReleased',
      )
      expect(await f.vault.balanceOf(f.bob.address, f.address)).to.be.greaterThan(10_000n)
    })

    it('never blocks anyone else: only the withdrawal to the blacklisted address fails', async function () {
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
      await expect(f.settle(ops))
        .to.be.revertedWithCustomError(f.vault, 'SettlementOpFailed')
        .withArgs(1n, f.token.interface.encodeErrorResult('BlacklistTokenBlacklisted', [f.bob.address]))
      await expect(f.settle(ops.slice(0, 1))).to.emit(f.vault, 'BatchSettled')
      expect(await f.token.balanceOf(f.carol.address)).to.equal(1_000_000n - 10_000n + 1_000n)
      // The payer's own exit works while the payee is blacklisted.
      await f.vault.connect(f.alice).requestWithdrawal(f.address, 5_000n, f.alice.address)
      await time.increase(WITHDRAWAL_DELAY)
      await expect(f.vault.executeWithdrawal(f.alice.address, f.address)).to.emit(f.vault, 'Withdrawn')
    })
  })
})
