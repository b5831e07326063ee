import { expect } from 'chai'
import { ethers } from 'hardhat'
import { loadFixture, time } from '@nomicfoundation/hardhat-network-helpers'
import {
  ADMIN_DELAY,
  FEE_BPS,
  INITIAL_DEPOSIT,
  NO_SIGNATURE,
  USDC,
  WITHDRAWAL_DELAY,
  deployVaultFixture,
  nextBlockAt,
  type VaultFixture,
  type Withdrawal,
} from './fixtures'

/** Owner and coordinator signatures for a fast withdrawal. */
async function signWithdrawal(f: VaultFixture, w: Withdrawal, owner = f.alice, coordinator = f.coordinator) {
  const ownerSignature = await f.sign(owner, 'Withdrawal', { ...w })
  const coordinatorSignature = await f.sign(coordinator, 'WithdrawalApproval', { withdrawal: { ...w } })
  return { ownerSignature, coordinatorSignature }
}

describe('Vault', function () {
  describe('constructor', function () {
    it('sets the owner, coordinator, treasury, fee, delays and allowlist', async function () {
      const f = await loadFixture(deployVaultFixture)
      expect(await f.vault.owner()).to.equal(f.owner.address)
      expect(await f.vault.coordinator()).to.equal(f.coordinator.address)
      expect(await f.vault.treasury()).to.equal(f.treasury.address)
      expect(await f.vault.feeBps()).to.equal(BigInt(FEE_BPS))
      expect(await f.vault.withdrawalDelay()).to.equal(BigInt(WITHDRAWAL_DELAY))
      expect(await f.vault.adminDelay()).to.equal(BigInt(ADMIN_DELAY))
      expect(await f.vault.isTokenAllowed(f.usdcAddress)).to.equal(true)
      expect(await f.vault.MAX_FEE_BPS()).to.equal(1000n)
    })

    it('uses the EIP-712 domain of protocol/typed-data.ts', async function () {
      const f = await loadFixture(deployVaultFixture)
      expect(await f.vault.domainSeparator()).to.equal(ethers.TypedDataEncoder.hashDomain(f.domain))
    })

    it('emits the initial settings', async function () {
      const f = await loadFixture(deployVaultFixture)
      const factory = await ethers.getContractFactory('ClearhouseVault')
      const params = {
        owner: f.owner.address,
        coordinator: f.coordinator.address,
        treasury: f.treasury.address,
        feeBps: 50,
        withdrawalDelay: 1,
        challengePeriod: 1,
        adminDelay: 1,
        tokens: [f.usdcAddress],
      }
      const deployed = await factory.deploy(params)
      const receipt = await deployed.deploymentTransaction()!.wait()
      const names = receipt!.logs.map((l) => deployed.interface.parseLog(l)?.name)
      expect(names).to.include.members([
        'CoordinatorChanged',
        'TreasuryChanged',
        'FeeChanged',
        'TokenAllowlistUpdated',
      ])
    })

    it('reverts when the coordinator or treasury is zero', async function () {
      const f = await loadFixture(deployVaultFixture)
      const factory = await ethers.getContractFactory('ClearhouseVault')
      const base = {
        owner: f.owner.address,
        coordinator: f.coordinator.address,
        treasury: f.treasury.address,
        feeBps: 50,
        withdrawalDelay: 1,
        challengePeriod: 1,
        adminDelay: 1,
        tokens: [],
      }
      await expect(
        factory.deploy({ ...base, coordinator: ethers.ZeroAddress }),
      ).to.be.revertedWithCustomError(f.vault, 'VaultZeroAddress')
      await expect(factory.deploy({ ...base, treasury: ethers.ZeroAddress })).to.be.revertedWithCustomError(
        f.vault,
        'VaultZeroAddress',
      )
    })

    it('reverts when the fee exceeds the cap', async function () {
      const f = await loadFixture(deployVaultFixture)
      const factory = await ethers.getContractFactory('ClearhouseVault')
      await expect(
        factory.deploy({
          owner: f.owner.address,
          coordinator: f.coordinator.address,
          treasury: f.treasury.address,
          feeBps: 1001,
          withdrawalDelay: 1,
          challengePeriod: 1,
          adminDelay: 1,
          tokens: [],
        }),
      )
        .to.be.revertedWithCustomError(f.vault, 'VaultFeeTooHigh')
        .withArgs(1001, 1000)
    })
  })

  describe('deposit', function () {
    it('pulls the tokens and credits the caller', async function () {
      const f = await loadFixture(deployVaultFixture)
      await expect(f.vault.connect(f.alice).deposit(f.usdcAddress, 5n * USDC))
        .to.emit(f.vault, 'Deposited')
        .withArgs(f.alice.address, f.usdcAddress, f.alice.address, 5n * USDC)
      expect(await f.vault.balanceOf(f.alice.address, f.usdcAddress)).to.equal(INITIAL_DEPOSIT + 5n * USDC)
      expect(await f.usdc.balanceOf(f.vaultAddress)).to.equal(4n * INITIAL_DEPOSIT + 5n * USDC)
    })

    it('reverts for a token off the allowlist', async function () {
      const f = await loadFixture(deployVaultFixture)
      const other = await ethers.deployContract('MockUSDC')
      await expect(f.vault.connect(f.alice).deposit(await other.getAddress(), 1n))
        .to.be.revertedWithCustomError(f.vault, 'VaultTokenNotAllowed')
        .withArgs(await other.getAddress())
    })

    it('reverts for a zero amount', async function () {
      const f = await loadFixture(deployVaultFixture)
      await expect(f.vault.connect(f.alice).deposit(f.usdcAddress, 0n)).to.be.revertedWithCustomError(
        f.vault,
        'VaultZeroAmount',
      )
    })

    it('reverts while paused', async function () {
      const f = await loadFixture(deployVaultFixture)
      await f.vault.connect(f.owner).pause()
      await expect(f.vault.connect(f.alice).deposit(f.usdcAddress, 1n)).to.be.revertedWithCustomError(
        f.vault,
        'EnforcedPause',
      )
    })
  })

  describe('depositFor', function () {
    it('credits the named account with the caller tokens', async function () {
      const f = await loadFixture(deployVaultFixture)
      await expect(f.vault.connect(f.alice).depositFor(f.usdcAddress, 3n, f.stranger.address))
        .to.emit(f.vault, 'Deposited')
        .withArgs(f.stranger.address, f.usdcAddress, f.alice.address, 3n)
      expect(await f.vault.balanceOf(f.stranger.address, f.usdcAddress)).to.equal(3n)
    })

    it('reverts for the zero account or the vault itself', async function () {
      const f = await loadFixture(deployVaultFixture)
      await expect(
        f.vault.connect(f.alice).depositFor(f.usdcAddress, 3n, ethers.ZeroAddress),
      ).to.be.revertedWithCustomError(f.vault, 'VaultZeroAddress')
      await expect(
        f.vault.connect(f.alice).depositFor(f.usdcAddress, 3n, f.vaultAddress),
      ).to.be.revertedWithCustomError(f.vault, 'VaultZeroAddress')
    })
  })

  describe('depositWithPermit', function () {
    async function permit(f: VaultFixture, value: bigint, signer = f.stranger) {
      const deadline = BigInt(await time.latest()) + 3600n
      const domain = {
        name: 'USD Coin (mock)',
        version: '1',
        chainId: f.chainId,
        verifyingContract: f.usdcAddress,
      }
      const types = {
        Permit: [
          { name: 'owner', type: 'address' },
          { name: 'spender', type: 'address' },
          { name: 'value', type: 'uint256' },
          { name: 'nonce', type: 'uint256' },
          { name: 'deadline', type: 'uint256' },
        ],
      }
      const nonce = await f.usdc.nonces(signer.address)
      const message = { owner: signer.address, spender: f.vaultAddress, value, nonce, deadline }
      const sig = ethers.Signature.from(await signer.signTypedData(domain, types, message))
      return [deadline, sig.v, sig.r, sig.s] as const
    }

    it('credits the permit owner when a relayer submits it', async function () {
      const f = await loadFixture(deployVaultFixture)
      await f.usdc.mint(f.stranger.address, 100n)
      const args = await permit(f, 100n)
      await expect(
        f.vault.connect(f.relayer).depositWithPermit(f.usdcAddress, f.stranger.address, 100n, ...args),
      )
        .to.emit(f.vault, 'Deposited')
        .withArgs(f.stranger.address, f.usdcAddress, f.stranger.address, 100n)
      expect(await f.vault.balanceOf(f.stranger.address, f.usdcAddress)).to.equal(100n)
    })

    it('still deposits when a front-runner used the permit first', async function () {
      const f = await loadFixture(deployVaultFixture)
      await f.usdc.mint(f.stranger.address, 100n)
      const args = await permit(f, 100n)
      await f.usdc.connect(f.relayer).permit(f.stranger.address, f.vaultAddress, 100n, ...args)
      await expect(
        f.vault.connect(f.relayer).depositWithPermit(f.usdcAddress, f.stranger.address, 100n, ...args),
      ).to.emit(f.vault, 'Deposited')
    })

    it('reverts when the permit is invalid and there is no allowance', async function () {
      const f = await loadFixture(deployVaultFixture)
      await f.usdc.mint(f.stranger.address, 100n)
      const args = await permit(f, 100n, f.relayer)
      await expect(
        f.vault.connect(f.relayer).depositWithPermit(f.usdcAddress, f.stranger.address, 100n, ...args),
      ).to.be.revertedWithCustomError(f.usdc, 'ERC20InsufficientAllowance')
    })
  })

  describe('depositWithAuthorization', function () {
    async function receiveAuthorization(
      f: VaultFixture,
      value: bigint,
      nonce = ethers.hexlify(ethers.randomBytes(32)),
    ) {
      const domain = {
        name: 'USD Coin (mock)',
        version: '1',
        chainId: f.chainId,
        verifyingContract: f.usdcAddress,
      }
      const types = {
        ReceiveWithAuthorization: [
          { name: 'from', type: 'address' },
          { name: 'to', type: 'address' },
          { name: 'value', type: 'uint256' },
          { name: 'validAfter', type: 'uint256' },
          { name: 'validBefore', type: 'uint256' },
          { name: 'nonce', type: 'bytes32' },
        ],
      }
      const validBefore = BigInt(await time.latest()) + 3600n
      const message = {
        from: f.stranger.address,
        to: f.vaultAddress,
        value,
        validAfter: 0n,
        validBefore,
        nonce,
      }
      const sig = ethers.Signature.from(await f.stranger.signTypedData(domain, types, message))
      return [f.usdcAddress, f.stranger.address, value, 0n, validBefore, nonce, sig.v, sig.r, sig.s] as const
    }

    it('credits the signer with an EIP-3009 receiveWithAuthorization', async function () {
      const f = await loadFixture(deployVaultFixture)
      await f.usdc.mint(f.stranger.address, 100n)
      const args = await receiveAuthorization(f, 60n)
      await expect(f.vault.connect(f.relayer).depositWithAuthorization(...args))
        .to.emit(f.vault, 'Deposited')
        .withArgs(f.stranger.address, f.usdcAddress, f.stranger.address, 60n)
        .and.to.emit(f.usdc, 'AuthorizationUsed')
      expect(await f.vault.balanceOf(f.stranger.address, f.usdcAddress)).to.equal(60n)
    })

    it('reverts when the authorization is reused', async function () {
      const f = await loadFixture(deployVaultFixture)
      await f.usdc.mint(f.stranger.address, 100n)
      const args = await receiveAuthorization(f, 10n)
      await f.vault.connect(f.relayer).depositWithAuthorization(...args)
      await expect(
        f.vault.connect(f.relayer).depositWithAuthorization(...args),
      ).to.be.revertedWithCustomError(f.usdc, 'AuthorizationAlreadyUsed')
    })

    it('reverts for a token off the allowlist and while paused', async function () {
      const f = await loadFixture(deployVaultFixture)
      await f.usdc.mint(f.stranger.address, 100n)
      const args = await receiveAuthorization(f, 10n)
      await f.vault.connect(f.owner).setTokenAllowed(f.usdcAddress, false)
      await expect(f.vault.connect(f.relayer).depositWithAuthorization(...args))
        .to.be.revertedWithCustomError(f.vault, 'VaultTokenNotAllowed')
        .withArgs(f.usdcAddress)
      await f.vault.connect(f.owner).setTokenAllowed(f.usdcAddress, true)
      await f.vault.connect(f.owner).pause()
      await expect(
        f.vault.connect(f.relayer).depositWithAuthorization(...args),
      ).to.be.revertedWithCustomError(f.vault, 'EnforcedPause')
    })
  })

  describe('withdraw', function () {
    it('pays out at once with the owner and coordinator signatures', async function () {
      const f = await loadFixture(deployVaultFixture)
      const w = await f.withdrawal({ to: f.stranger.address })
      const { ownerSignature, coordinatorSignature } = await signWithdrawal(f, w)
      await expect(f.vault.connect(f.relayer).withdraw(w, ownerSignature, coordinatorSignature))
        .to.emit(f.vault, 'Withdrawn')
        .withArgs(f.alice.address, f.usdcAddress, f.stranger.address, w.amount)
      expect(await f.usdc.balanceOf(f.stranger.address)).to.equal(w.amount)
      expect(await f.vault.balanceOf(f.alice.address, f.usdcAddress)).to.equal(INITIAL_DEPOSIT - w.amount)
      expect(await f.vault.isNonceUsed(f.alice.address, w.nonce)).to.equal(true)
    })

    it('works while deposits are paused (exits never pause)', async function () {
      const f = await loadFixture(deployVaultFixture)
      await f.vault.connect(f.owner).pause()
      const w = await f.withdrawal()
      const { ownerSignature, coordinatorSignature } = await signWithdrawal(f, w)
      await expect(f.vault.connect(f.relayer).withdraw(w, ownerSignature, coordinatorSignature)).to.emit(
        f.vault,
        'Withdrawn',
      )
    })

    it('takes no owner signature when the owner sends it', async function () {
      const f = await loadFixture(deployVaultFixture)
      const w = await f.withdrawal()
      const { coordinatorSignature } = await signWithdrawal(f, w)
      await expect(f.vault.connect(f.alice).withdraw(w, NO_SIGNATURE, coordinatorSignature)).to.emit(
        f.vault,
        'Withdrawn',
      )
    })

    it('reverts without the coordinator co-signature', async function () {
      const f = await loadFixture(deployVaultFixture)
      const w = await f.withdrawal()
      const { ownerSignature, coordinatorSignature } = await signWithdrawal(f, w, f.alice, f.alice)
      await expect(f.vault.connect(f.alice).withdraw(w, ownerSignature, coordinatorSignature))
        .to.be.revertedWithCustomError(f.vault, 'VaultInvalidSignature')
        .withArgs(f.coordinator.address, f.alice.address)
    })

    it('reverts when the owner did not sign it', async function () {
      const f = await loadFixture(deployVaultFixture)
      const w = await f.withdrawal({ to: f.stranger.address })
      const { ownerSignature, coordinatorSignature } = await signWithdrawal(f, w, f.stranger)
      await expect(f.vault.connect(f.relayer).withdraw(w, ownerSignature, coordinatorSignature))
        .to.be.revertedWithCustomError(f.vault, 'VaultInvalidSignature')
        .withArgs(f.alice.address, f.stranger.address)
    })

    it('reverts after the deadline', async function () {
      const f = await loadFixture(deployVaultFixture)
      const w = await f.withdrawal()
      const sigs = await signWithdrawal(f, w)
      await time.setNextBlockTimestamp(w.deadline + 1n)
      await expect(f.vault.connect(f.relayer).withdraw(w, sigs.ownerSignature, sigs.coordinatorSignature))
        .to.be.revertedWithCustomError(f.vault, 'VaultSignatureExpired')
        .withArgs(w.deadline, w.deadline + 1n)
    })

    it('reverts when the nonce is used again', async function () {
      const f = await loadFixture(deployVaultFixture)
      const w = await f.withdrawal()
      const sigs = await signWithdrawal(f, w)
      await f.vault.connect(f.relayer).withdraw(w, sigs.ownerSignature, sigs.coordinatorSignature)
      await expect(f.vault.connect(f.relayer).withdraw(w, sigs.ownerSignature, sigs.coordinatorSignature))
        .to.be.revertedWithCustomError(f.vault, 'VaultNonceUsed')
        .withArgs(f.alice.address, w.nonce)
    })

    it('reverts when the balance is short', async function () {
      const f = await loadFixture(deployVaultFixture)
      const w = await f.withdrawal({ amount: INITIAL_DEPOSIT + 1n })
      const sigs = await signWithdrawal(f, w)
      await expect(f.vault.connect(f.relayer).withdraw(w, sigs.ownerSignature, sigs.coordinatorSignature))
        .to.be.revertedWithCustomError(f.vault, 'VaultInsufficientBalance')
        .withArgs(f.alice.address, f.usdcAddress, INITIAL_DEPOSIT, INITIAL_DEPOSIT + 1n)
    })

    it('reverts for a zero amount or a zero recipient', async function () {
      const f = await loadFixture(deployVaultFixture)
      const zeroAmount = await f.withdrawal({ amount: 0n })
      let sigs = await signWithdrawal(f, zeroAmount)
      await expect(
        f.vault.connect(f.relayer).withdraw(zeroAmount, sigs.ownerSignature, sigs.coordinatorSignature),
      ).to.be.revertedWithCustomError(f.vault, 'VaultZeroAmount')
      const zeroTo = await f.withdrawal({ to: ethers.ZeroAddress })
      sigs = await signWithdrawal(f, zeroTo)
      await expect(
        f.vault.connect(f.relayer).withdraw(zeroTo, sigs.ownerSignature, sigs.coordinatorSignature),
      ).to.be.revertedWithCustomError(f.vault, 'VaultZeroAddress')
    })
  })

  describe('invalidateNonce', function () {
    it('voids a nonce so a signed withdrawal with it never runs', async function () {
      const f = await loadFixture(deployVaultFixture)
      const w = await f.withdrawal({ nonce: 300n })
      const sigs = await signWithdrawal(f, w)
      await expect(f.vault.connect(f.alice).invalidateNonce(300n))
        .to.emit(f.vault, 'NonceInvalidated')
        .withArgs(f.alice.address, 300n)
      expect(await f.vault.isNonceUsed(f.alice.address, 300n)).to.equal(true)
      expect(await f.vault.isNonceUsed(f.alice.address, 301n)).to.equal(false)
      await expect(f.vault.connect(f.relayer).withdraw(w, sigs.ownerSignature, sigs.coordinatorSignature))
        .to.be.revertedWithCustomError(f.vault, 'VaultNonceUsed')
        .withArgs(f.alice.address, 300n)
    })

    it('reverts when the nonce is already used', async function () {
      const f = await loadFixture(deployVaultFixture)
      await f.vault.connect(f.alice).invalidateNonce(7n)
      await expect(f.vault.connect(f.alice).invalidateNonce(7n))
        .to.be.revertedWithCustomError(f.vault, 'VaultNonceUsed')
        .withArgs(f.alice.address, 7n)
    })
  })

  describe('requestWithdrawal', function () {
    it('records the request with its executable time', async function () {
      const f = await loadFixture(deployVaultFixture)
      const executableAt = (await nextBlockAt()) + BigInt(WITHDRAWAL_DELAY)
      await expect(f.vault.connect(f.alice).requestWithdrawal(f.usdcAddress, 7n * USDC, f.stranger.address))
        .to.emit(f.vault, 'WithdrawalRequested')
        .withArgs(f.alice.address, f.usdcAddress, f.stranger.address, 7n * USDC, executableAt)
      const request = await f.vault.withdrawalRequest(f.alice.address, f.usdcAddress)
      expect(request.amount).to.equal(7n * USDC)
      expect(request.to).to.equal(f.stranger.address)
      expect(request.executableAt).to.equal(executableAt)
    })

    it('reverts for a zero amount or recipient', async function () {
      const f = await loadFixture(deployVaultFixture)
      await expect(
        f.vault.connect(f.alice).requestWithdrawal(f.usdcAddress, 0n, f.alice.address),
      ).to.be.revertedWithCustomError(f.vault, 'VaultZeroAmount')
      await expect(
        f.vault.connect(f.alice).requestWithdrawal(f.usdcAddress, 1n, ethers.ZeroAddress),
      ).to.be.revertedWithCustomError(f.vault, 'VaultZeroAddress')
    })
  })

  describe('executeWithdrawal', function () {
    it('pays the request after the delay, callable by anyone, even while paused', async function () {
      const f = await loadFixture(deployVaultFixture)
      await f.vault.connect(f.alice).requestWithdrawal(f.usdcAddress, 7n * USDC, f.stranger.address)
      await f.vault.connect(f.owner).pause()
      await time.increase(WITHDRAWAL_DELAY)
      await expect(f.vault.connect(f.relayer).executeWithdrawal(f.alice.address, f.usdcAddress))
        .to.emit(f.vault, 'Withdrawn')
        .withArgs(f.alice.address, f.usdcAddress, f.stranger.address, 7n * USDC)
      expect(await f.usdc.balanceOf(f.stranger.address)).to.equal(7n * USDC)
      expect((await f.vault.withdrawalRequest(f.alice.address, f.usdcAddress)).executableAt).to.equal(0n)
    })

    it('pays no more than the balance left', async function () {
      const f = await loadFixture(deployVaultFixture)
      await f.vault
        .connect(f.alice)
        .requestWithdrawal(f.usdcAddress, 2n * INITIAL_DEPOSIT, f.stranger.address)
      await time.increase(WITHDRAWAL_DELAY)
      await expect(f.vault.executeWithdrawal(f.alice.address, f.usdcAddress))
        .to.emit(f.vault, 'Withdrawn')
        .withArgs(f.alice.address, f.usdcAddress, f.stranger.address, INITIAL_DEPOSIT)
      expect(await f.vault.balanceOf(f.alice.address, f.usdcAddress)).to.equal(0n)
    })

    it('reverts before the delay passed', async function () {
      const f = await loadFixture(deployVaultFixture)
      await f.vault.connect(f.alice).requestWithdrawal(f.usdcAddress, 1n, f.alice.address)
      const { executableAt } = await f.vault.withdrawalRequest(f.alice.address, f.usdcAddress)
      const at = await nextBlockAt()
      await expect(f.vault.executeWithdrawal(f.alice.address, f.usdcAddress))
        .to.be.revertedWithCustomError(f.vault, 'VaultWithdrawalNotReady')
        .withArgs(f.alice.address, f.usdcAddress, executableAt, at)
    })

    it('reverts without a request', async function () {
      const f = await loadFixture(deployVaultFixture)
      await expect(f.vault.executeWithdrawal(f.alice.address, f.usdcAddress))
        .to.be.revertedWithCustomError(f.vault, 'VaultNoWithdrawalRequest')
        .withArgs(f.alice.address, f.usdcAddress)
    })
  })

  describe('cancelWithdrawal', function () {
    it('deletes the pending request', async function () {
      const f = await loadFixture(deployVaultFixture)
      await f.vault.connect(f.alice).requestWithdrawal(f.usdcAddress, 1n, f.alice.address)
      await expect(f.vault.connect(f.alice).cancelWithdrawal(f.usdcAddress))
        .to.emit(f.vault, 'WithdrawalCancelled')
        .withArgs(f.alice.address, f.usdcAddress)
      await time.increase(WITHDRAWAL_DELAY)
      await expect(f.vault.executeWithdrawal(f.alice.address, f.usdcAddress)).to.be.revertedWithCustomError(
        f.vault,
        'VaultNoWithdrawalRequest',
      )
    })

    it('reverts without a request', async function () {
      const f = await loadFixture(deployVaultFixture)
      await expect(f.vault.connect(f.alice).cancelWithdrawal(f.usdcAddress))
        .to.be.revertedWithCustomError(f.vault, 'VaultNoWithdrawalRequest')
        .withArgs(f.alice.address, f.usdcAddress)
    })
  })

  describe('setTokenAllowed', function () {
    it('updates the allowlist and emits', async function () {
      const f = await loadFixture(deployVaultFixture)
      await expect(f.vault.connect(f.owner).setTokenAllowed(f.usdcAddress, false))
        .to.emit(f.vault, 'TokenAllowlistUpdated')
        .withArgs(f.usdcAddress, false)
      expect(await f.vault.isTokenAllowed(f.usdcAddress)).to.equal(false)
    })

    it('keeps exits open for a token taken off the allowlist', async function () {
      const f = await loadFixture(deployVaultFixture)
      await f.vault.connect(f.owner).setTokenAllowed(f.usdcAddress, false)
      await f.vault.connect(f.alice).requestWithdrawal(f.usdcAddress, 1n, f.alice.address)
      await time.increase(WITHDRAWAL_DELAY)
      await expect(f.vault.executeWithdrawal(f.alice.address, f.usdcAddress)).to.emit(f.vault, 'Withdrawn')
    })

    it('reverts when the caller is not the owner', async function () {
      const f = await loadFixture(deployVaultFixture)
      await expect(f.vault.connect(f.coordinator).setTokenAllowed(f.usdcAddress, false))
        .to.be.revertedWithCustomError(f.vault, 'OwnableUnauthorizedAccount')
        .withArgs(f.coordinator.address)
    })

    it('reverts for the zero address', async function () {
      const f = await loadFixture(deployVaultFixture)
      await expect(
        f.vault.connect(f.owner).setTokenAllowed(ethers.ZeroAddress, true),
      ).to.be.revertedWithCustomError(f.vault, 'VaultZeroAddress')
    })
  })

  describe('proposeCoordinator and applyCoordinator', function () {
    it('rotates the coordinator key only after the admin delay', async function () {
      const f = await loadFixture(deployVaultFixture)
      const effectiveAt = (await nextBlockAt()) + BigInt(ADMIN_DELAY)
      await expect(f.vault.connect(f.owner).proposeCoordinator(f.stranger.address))
        .to.emit(f.vault, 'CoordinatorChangeProposed')
        .withArgs(f.stranger.address, effectiveAt)
      expect(await f.vault.pendingCoordinator()).to.deep.equal([f.stranger.address, effectiveAt])
      const at = await nextBlockAt()
      await expect(f.vault.connect(f.owner).applyCoordinator())
        .to.be.revertedWithCustomError(f.vault, 'VaultChangeNotReady')
        .withArgs(effectiveAt, at)
      await time.increaseTo(effectiveAt)
      await expect(f.vault.connect(f.owner).applyCoordinator())
        .to.emit(f.vault, 'CoordinatorChanged')
        .withArgs(f.coordinator.address, f.stranger.address)
      expect(await f.vault.coordinator()).to.equal(f.stranger.address)
      expect(await f.vault.pendingCoordinator()).to.deep.equal([ethers.ZeroAddress, 0n])
    })

    it('reverts when nothing is pending', async function () {
      const f = await loadFixture(deployVaultFixture)
      await expect(f.vault.connect(f.owner).applyCoordinator()).to.be.revertedWithCustomError(
        f.vault,
        'VaultNoPendingChange',
      )
    })

    it('reverts for the zero address or a caller who is not the owner', async function () {
      const f = await loadFixture(deployVaultFixture)
      await expect(
        f.vault.connect(f.owner).proposeCoordinator(ethers.ZeroAddress),
      ).to.be.revertedWithCustomError(f.vault, 'VaultZeroAddress')
      await expect(f.vault.connect(f.coordinator).proposeCoordinator(f.stranger.address))
        .to.be.revertedWithCustomError(f.vault, 'OwnableUnauthorizedAccount')
        .withArgs(f.coordinator.address)
      await expect(f.vault.connect(f.coordinator).applyCoordinator())
        .to.be.revertedWithCustomError(f.vault, 'OwnableUnauthorizedAccount')
        .withArgs(f.coordinator.address)
    })
  })

  describe('proposeFee and applyFee', function () {
    it('changes the protocol fee only after the admin delay', async function () {
      const f = await loadFixture(deployVaultFixture)
      const effectiveAt = (await nextBlockAt()) + BigInt(ADMIN_DELAY)
      await expect(f.vault.connect(f.owner).proposeFee(250))
        .to.emit(f.vault, 'FeeChangeProposed')
        .withArgs(250, effectiveAt)
      expect(await f.vault.pendingFee()).to.deep.equal([250n, effectiveAt])
      await expect(f.vault.connect(f.owner).applyFee()).to.be.revertedWithCustomError(
        f.vault,
        'VaultChangeNotReady',
      )
      await time.increaseTo(effectiveAt)
      await expect(f.vault.connect(f.owner).applyFee()).to.emit(f.vault, 'FeeChanged').withArgs(FEE_BPS, 250)
      expect(await f.vault.feeBps()).to.equal(250n)
    })

    it('reverts above the cap in code', async function () {
      const f = await loadFixture(deployVaultFixture)
      await expect(f.vault.connect(f.owner).proposeFee(1001))
        .to.be.revertedWithCustomError(f.vault, 'VaultFeeTooHigh')
        .withArgs(1001, 1000)
    })

    it('reverts when nothing is pending or the caller is not the owner', async function () {
      const f = await loadFixture(deployVaultFixture)
      await expect(f.vault.connect(f.owner).applyFee()).to.be.revertedWithCustomError(
        f.vault,
        'VaultNoPendingChange',
      )
      await expect(f.vault.connect(f.alice).proposeFee(1))
        .to.be.revertedWithCustomError(f.vault, 'OwnableUnauthorizedAccount')
        .withArgs(f.alice.address)
      await expect(f.vault.connect(f.alice).applyFee())
        .to.be.revertedWithCustomError(f.vault, 'OwnableUnauthorizedAccount')
        .withArgs(f.alice.address)
    })
  })

  describe('setTreasury', function () {
    it('changes the fee account and emits', async function () {
      const f = await loadFixture(deployVaultFixture)
      await expect(f.vault.connect(f.owner).setTreasury(f.stranger.address))
        .to.emit(f.vault, 'TreasuryChanged')
        .withArgs(f.treasury.address, f.stranger.address)
      expect(await f.vault.treasury()).to.equal(f.stranger.address)
    })

    it('reverts for the zero address or a caller who is not the owner', async function () {
      const f = await loadFixture(deployVaultFixture)
      await expect(f.vault.connect(f.owner).setTreasury(ethers.ZeroAddress)).to.be.revertedWithCustomError(
        f.vault,
        'VaultZeroAddress',
      )
      await expect(f.vault.connect(f.alice).setTreasury(f.alice.address))
        .to.be.revertedWithCustomError(f.vault, 'OwnableUnauthorizedAccount')
        .withArgs(f.alice.address)
    })
  })

  describe('pause and unpause', function () {
    it('stops and resumes deposits and emits', async function () {
      const f = await loadFixture(deployVaultFixture)
      await expect(f.vault.connect(f.owner).pause()).to.emit(f.vault, 'Paused').withArgs(f.owner.address)
      expect(await f.vault.paused()).to.equal(true)
      await expect(f.vault.connect(f.owner).unpause()).to.emit(f.vault, 'Unpaused').withArgs(f.owner.address)
      await expect(f.vault.connect(f.alice).deposit(f.usdcAddress, 1n)).to.emit(f.vault, 'Deposited')
    })

    it('reverts when the caller is not the owner', async function () {
      const f = await loadFixture(deployVaultFixture)
      await expect(f.vault.connect(f.coordinator).pause())
        .to.be.revertedWithCustomError(f.vault, 'OwnableUnauthorizedAccount')
        .withArgs(f.coordinator.address)
      await expect(f.vault.connect(f.coordinator).unpause())
        .to.be.revertedWithCustomError(f.vault, 'OwnableUnauthorizedAccount')
        .withArgs(f.coordinator.address)
    })
  })

  describe('ownership', function () {
    it('moves in two steps', async function () {
      const f = await loadFixture(deployVaultFixture)
      await expect(f.vault.connect(f.owner).transferOwnership(f.stranger.address))
        .to.emit(f.vault, 'OwnershipTransferStarted')
        .withArgs(f.owner.address, f.stranger.address)
      expect(await f.vault.owner()).to.equal(f.owner.address)
      await expect(f.vault.connect(f.stranger).acceptOwnership())
        .to.emit(f.vault, 'OwnershipTransferred')
        .withArgs(f.owner.address, f.stranger.address)
      expect(await f.vault.owner()).to.equal(f.stranger.address)
    })
  })
})
