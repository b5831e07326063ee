import { expect } from 'chai'
import { artifacts, ethers } from 'hardhat'
import { loadFixture, time } from '@nomicfoundation/hardhat-network-helpers'
import type { HardhatEthersSigner } from '@nomicfoundation/hardhat-ethers/signers'
import type { Interface } from 'ethers'
import {
  ADMIN_DELAY,
  CHALLENGE_PERIOD,
  FEE_BPS,
  INITIAL_DEPOSIT,
  NO_SIGNATURE,
  USDC,
  WITHDRAWAL_DELAY,
  deployVaultFixture,
  eip3009Types,
  nextBlockAt,
  type AnyContract,
  type VaultFixture,
  type Withdrawal,
  signUsdcPermit,
} from './fixtures'

const HOUR = 3_600n
const DAY = 24n * HOUR
const MIN_EXIT_DELAY = HOUR
const MAX_EXIT_DELAY = 30n * DAY
const MAX_ADMIN_DELAY = 90n * DAY
const UINT64_MAX = 2n ** 64n - 1n

/** Owner and coordinator signatures for a fast withdrawal. */
async function signWithdrawal(f: VaultFixture, w: Withdrawal, owner = f.alice, coordinator = f.coordinator) {
  const ownerSignature = await f.sign(owner, 'Withdrawal', { ...w })
  const coordinatorSignature = await f.sign(coordinator, 'WithdrawalApproval', { withdrawal: { ...w } })
  return { ownerSignature, coordinatorSignature }
}

/** Deployment parameters like the fixture's, with `overrides`. */
function vaultParams(f: VaultFixture, overrides: Record<string, unknown> = {}) {
  return {
    owner: f.owner.address,
    coordinator: f.coordinator.address,
    treasury: f.treasury.address,
    feeBps: 50,
    withdrawalDelay: BigInt(WITHDRAWAL_DELAY),
    challengePeriod: BigInt(CHALLENGE_PERIOD),
    adminDelay: BigInt(ADMIN_DELAY),
    tokens: [f.usdcAddress],
    ...overrides,
  }
}

function deployVault(f: VaultFixture, overrides: Record<string, unknown> = {}) {
  return ethers.deployContract('ClearhouseVault', [vaultParams(f, overrides)])
}

/**
 * The arguments after `owner` and `amount` of `depositWithPermit`: an EIP-2612 permit of
 * `owner`'s `value` to the vault, signed by `signer` (the owner itself unless a forger is given).
 */
async function permitArgs(
  f: VaultFixture,
  owner: HardhatEthersSigner,
  value: bigint,
  signer: HardhatEthersSigner = owner,
) {
  const { deadline, v, r, s } = await signUsdcPermit(f, owner, value, signer)
  return [deadline, v, r, s] as const
}

/** `depositWithAuthorization` arguments: `from`'s EIP-3009 `ReceiveWithAuthorization` of `value` to the vault. */
async function receiveAuthorization(f: VaultFixture, value: bigint, from: HardhatEthersSigner = f.stranger) {
  const nonce = ethers.hexlify(ethers.randomBytes(32))
  const domain = {
    name: 'USD Coin (mock)',
    version: '1',
    chainId: f.chainId,
    verifyingContract: f.usdcAddress,
  }
  const types = eip3009Types('ReceiveWithAuthorization')
  const validBefore = BigInt(await time.latest()) + 3600n
  const message = { from: from.address, to: f.vaultAddress, value, validAfter: 0n, validBefore, nonce }
  const sig = ethers.Signature.from(await from.signTypedData(domain, types, message))
  return [f.usdcAddress, from.address, value, 0n, validBefore, nonce, sig.v, sig.r, sig.s] as const
}

/** A contract's compiled storage layout as `label slot offset type` lines, from Hardhat's build info. */
async function storageLayoutOf(name: string): Promise<string[]> {
  const source = `contracts/${name}.sol`
  const buildInfo = await artifacts.getBuildInfo(`${source}:${name}`)
  expect(buildInfo, `no build info for ${name}`).to.not.equal(undefined)
  const output = buildInfo!.output.contracts[source][name] as unknown as {
    storageLayout: { storage: Array<{ label: string; slot: string; offset: number; type: string }> }
  }
  return output.storageLayout.storage.map((s) => `${s.label} ${s.slot} ${s.offset} ${s.type}`)
}

/** The names of `iface`'s state-changing (nonpayable) functions. */
function stateChangingFunctions(iface: Interface): string[] {
  const names: string[] = []
  iface.forEachFunction((fn) => {
    if (fn.stateMutability === 'nonpayable') names.push(fn.name)
  })
  return names
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
      expect(await f.vault.challengePeriod()).to.equal(BigInt(CHALLENGE_PERIOD))
      expect(await f.vault.adminDelay()).to.equal(BigInt(ADMIN_DELAY))
      expect(await f.vault.isTokenAllowed(f.usdcAddress)).to.equal(true)
      expect(await f.vault.MAX_FEE_BPS()).to.equal(1000n)
      expect(await f.vault.MIN_EXIT_DELAY()).to.equal(MIN_EXIT_DELAY)
      expect(await f.vault.MAX_EXIT_DELAY()).to.equal(MAX_EXIT_DELAY)
      expect(await f.vault.MAX_ADMIN_DELAY()).to.equal(MAX_ADMIN_DELAY)
    })

    it('uses the EIP-712 domain of protocol/typed-data.ts', async function () {
      const f = await loadFixture(deployVaultFixture)
      expect(await f.vault.domainSeparator()).to.equal(ethers.TypedDataEncoder.hashDomain(f.domain))
    })

    it('emits the initial settings', async function () {
      const f = await loadFixture(deployVaultFixture)
      const deployed = (await deployVault(f)) as unknown as AnyContract
      const tx = deployed.deploymentTransaction()
      await expect(tx)
        .to.emit(deployed, 'CoordinatorChanged')
        .withArgs(ethers.ZeroAddress, f.coordinator.address)
      await expect(tx).to.emit(deployed, 'TreasuryChanged').withArgs(ethers.ZeroAddress, f.treasury.address)
      await expect(tx).to.emit(deployed, 'FeeChanged').withArgs(0, 50)
      await expect(tx).to.emit(deployed, 'TokenAllowlistUpdated').withArgs(f.usdcAddress, true)
    })

    it('reverts when the coordinator or treasury is zero', async function () {
      const f = await loadFixture(deployVaultFixture)
      await expect(deployVault(f, { coordinator: ethers.ZeroAddress })).to.be.revertedWithCustomError(
        f.vault,
        'VaultZeroAddress',
      )
      await expect(deployVault(f, { treasury: ethers.ZeroAddress })).to.be.revertedWithCustomError(
        f.vault,
        'VaultZeroAddress',
      )
    })

    it('reverts when the fee exceeds the cap', async function () {
      const f = await loadFixture(deployVaultFixture)
      await expect(deployVault(f, { feeBps: 1001 }))
        .to.be.revertedWithCustomError(f.vault, 'VaultFeeTooHigh')
        .withArgs(1001, 1000)
    })

    it('accepts exit delays of 1 hour to 30 days and an admin delay up to 90 days', async function () {
      const f = await loadFixture(deployVaultFixture)
      const shortest = (await deployVault(f, {
        withdrawalDelay: MIN_EXIT_DELAY,
        challengePeriod: MAX_EXIT_DELAY,
        adminDelay: MAX_EXIT_DELAY + DAY,
      })) as unknown as AnyContract
      expect(await shortest.withdrawalDelay()).to.equal(MIN_EXIT_DELAY)
      expect(await shortest.challengePeriod()).to.equal(MAX_EXIT_DELAY)
      expect(await shortest.adminDelay()).to.equal(MAX_EXIT_DELAY + DAY)
      const longest = (await deployVault(f, {
        withdrawalDelay: MAX_EXIT_DELAY,
        challengePeriod: MIN_EXIT_DELAY,
        adminDelay: MAX_ADMIN_DELAY,
      })) as unknown as AnyContract
      expect(await longest.withdrawalDelay()).to.equal(MAX_EXIT_DELAY)
      expect(await longest.challengePeriod()).to.equal(MIN_EXIT_DELAY)
      expect(await longest.adminDelay()).to.equal(MAX_ADMIN_DELAY)
    })

    it('reverts when the withdrawal delay is below 1 hour or above 30 days', async function () {
      const f = await loadFixture(deployVaultFixture)
      await expect(deployVault(f, { withdrawalDelay: MIN_EXIT_DELAY - 1n }))
        .to.be.revertedWithCustomError(f.vault, 'VaultDelayOutOfRange')
        .withArgs(MIN_EXIT_DELAY - 1n, MIN_EXIT_DELAY, MAX_EXIT_DELAY)
      await expect(deployVault(f, { withdrawalDelay: MAX_EXIT_DELAY + 1n }))
        .to.be.revertedWithCustomError(f.vault, 'VaultDelayOutOfRange')
        .withArgs(MAX_EXIT_DELAY + 1n, MIN_EXIT_DELAY, MAX_EXIT_DELAY)
    })

    it('reverts when the challenge period is below 1 hour or above 30 days', async function () {
      const f = await loadFixture(deployVaultFixture)
      await expect(deployVault(f, { challengePeriod: 0n }))
        .to.be.revertedWithCustomError(f.vault, 'VaultDelayOutOfRange')
        .withArgs(0n, MIN_EXIT_DELAY, MAX_EXIT_DELAY)
      await expect(deployVault(f, { challengePeriod: MAX_EXIT_DELAY + 1n }))
        .to.be.revertedWithCustomError(f.vault, 'VaultDelayOutOfRange')
        .withArgs(MAX_EXIT_DELAY + 1n, MIN_EXIT_DELAY, MAX_EXIT_DELAY)
    })

    it('reverts when the admin delay is not a day longer than both exit delays or is above 90 days', async function () {
      const f = await loadFixture(deployVaultFixture)
      // The longer exit delay is the challenge period here.
      await expect(
        deployVault(f, { withdrawalDelay: DAY, challengePeriod: 2n * DAY, adminDelay: 3n * DAY - 1n }),
      )
        .to.be.revertedWithCustomError(f.vault, 'VaultDelayOutOfRange')
        .withArgs(3n * DAY - 1n, 3n * DAY, MAX_ADMIN_DELAY)
      // ... and the withdrawal delay here.
      await expect(deployVault(f, { withdrawalDelay: 3n * DAY, challengePeriod: DAY, adminDelay: 2n * DAY }))
        .to.be.revertedWithCustomError(f.vault, 'VaultDelayOutOfRange')
        .withArgs(2n * DAY, 4n * DAY, MAX_ADMIN_DELAY)
      await expect(deployVault(f, { adminDelay: MAX_ADMIN_DELAY + 1n }))
        .to.be.revertedWithCustomError(f.vault, 'VaultDelayOutOfRange')
        .withArgs(MAX_ADMIN_DELAY + 1n, BigInt(WITHDRAWAL_DELAY) + DAY, MAX_ADMIN_DELAY)
    })

    it('attack: a deployment with a 2^64 withdrawal delay makes every slow exit overflow -> refused', async function () {
      const f = await loadFixture(deployVaultFixture)
      await expect(deployVault(f, { withdrawalDelay: UINT64_MAX }))
        .to.be.revertedWithCustomError(f.vault, 'VaultDelayOutOfRange')
        .withArgs(UINT64_MAX, MIN_EXIT_DELAY, MAX_EXIT_DELAY)
      await expect(deployVault(f, { challengePeriod: UINT64_MAX }))
        .to.be.revertedWithCustomError(f.vault, 'VaultDelayOutOfRange')
        .withArgs(UINT64_MAX, MIN_EXIT_DELAY, MAX_EXIT_DELAY)
      await expect(deployVault(f, { adminDelay: UINT64_MAX }))
        .to.be.revertedWithCustomError(f.vault, 'VaultDelayOutOfRange')
        .withArgs(UINT64_MAX, BigInt(WITHDRAWAL_DELAY) + DAY, MAX_ADMIN_DELAY)
    })

    it('attack: an admin delay of 0 swaps the coordinator before users can leave -> refused', async function () {
      const f = await loadFixture(deployVaultFixture)
      await expect(deployVault(f, { adminDelay: 0n }))
        .to.be.revertedWithCustomError(f.vault, 'VaultDelayOutOfRange')
        .withArgs(0n, BigInt(WITHDRAWAL_DELAY) + DAY, MAX_ADMIN_DELAY)
      // Nor one that leaves less than a day between a user noticing the proposal and the change.
      await expect(deployVault(f, { adminDelay: BigInt(WITHDRAWAL_DELAY) + DAY - 1n }))
        .to.be.revertedWithCustomError(f.vault, 'VaultDelayOutOfRange')
        .withArgs(BigInt(WITHDRAWAL_DELAY) + DAY - 1n, BigInt(WITHDRAWAL_DELAY) + DAY, MAX_ADMIN_DELAY)
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
  })

  describe('depositFor', function () {
    it('credits the named account with the caller tokens', async function () {
      const f = await loadFixture(deployVaultFixture)
      await expect(f.vault.connect(f.alice).depositFor(f.usdcAddress, 3n, f.stranger.address))
        .to.emit(f.vault, 'Deposited')
        .withArgs(f.stranger.address, f.usdcAddress, f.alice.address, 3n)
      expect(await f.vault.balanceOf(f.stranger.address, f.usdcAddress)).to.equal(3n)
      expect(await f.vault.balanceOf(f.alice.address, f.usdcAddress)).to.equal(INITIAL_DEPOSIT)
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
    it('credits the permit owner when anyone relays a valid permit', async function () {
      const f = await loadFixture(deployVaultFixture)
      await f.usdc.mint(f.stranger.address, 100n)
      const args = await permitArgs(f, f.stranger, 100n)
      await expect(
        f.vault.connect(f.relayer).depositWithPermit(f.usdcAddress, f.stranger.address, 100n, ...args),
      )
        .to.emit(f.vault, 'Deposited')
        .withArgs(f.stranger.address, f.usdcAddress, f.stranger.address, 100n)
      expect(await f.vault.balanceOf(f.stranger.address, f.usdcAddress)).to.equal(100n)
      expect(await f.usdc.balanceOf(f.stranger.address)).to.equal(0n)
    })

    it("attack: a stranger pulls a victim's wallet tokens into the vault on a standing allowance with a bogus permit -> refused", async function () {
      const f = await loadFixture(deployVaultFixture)
      // Alice gave the vault an unlimited allowance in the fixture and keeps tokens in her wallet.
      const wallet = await f.usdc.balanceOf(f.alice.address)
      const forged = await permitArgs(f, f.alice, 100n * USDC, f.relayer)
      await expect(
        f.vault.connect(f.relayer).depositWithPermit(f.usdcAddress, f.alice.address, 100n * USDC, ...forged),
      )
        .to.be.revertedWithCustomError(f.vault, 'VaultPermitFailed')
        .withArgs(f.usdcAddress, f.alice.address)
      // Nor with a real permit of hers for less than the amount asked.
      const small = await permitArgs(f, f.alice, 1n * USDC)
      await expect(
        f.vault.connect(f.relayer).depositWithPermit(f.usdcAddress, f.alice.address, 100n * USDC, ...small),
      )
        .to.be.revertedWithCustomError(f.vault, 'VaultPermitFailed')
        .withArgs(f.usdcAddress, f.alice.address)
      expect(await f.usdc.balanceOf(f.alice.address)).to.equal(wallet)
      expect(await f.vault.balanceOf(f.alice.address, f.usdcAddress)).to.equal(INITIAL_DEPOSIT)
    })

    it('attack: front-running approve -> depositFor(agent) to credit the approving wallet instead -> refused', async function () {
      const f = await loadFixture(deployVaultFixture)
      const agent = f.signers[10]
      await f.usdc.mint(f.stranger.address, 100n * USDC)
      await f.usdc.connect(f.stranger).approve(f.vaultAddress, 100n * USDC)
      // Seeing the approval, the attacker tries to spend it first, crediting the wallet itself.
      const forged = await permitArgs(f, f.stranger, 100n * USDC, f.relayer)
      await expect(
        f.vault
          .connect(f.relayer)
          .depositWithPermit(f.usdcAddress, f.stranger.address, 100n * USDC, ...forged),
      )
        .to.be.revertedWithCustomError(f.vault, 'VaultPermitFailed')
        .withArgs(f.usdcAddress, f.stranger.address)
      await expect(f.vault.connect(f.stranger).depositFor(f.usdcAddress, 100n * USDC, agent.address))
        .to.emit(f.vault, 'Deposited')
        .withArgs(agent.address, f.usdcAddress, f.stranger.address, 100n * USDC)
      expect(await f.vault.balanceOf(agent.address, f.usdcAddress)).to.equal(100n * USDC)
      expect(await f.vault.balanceOf(f.stranger.address, f.usdcAddress)).to.equal(0n)
    })

    it('refuses a relayer whose permit was front-run, and lets the owner deposit on the allowance it left', async function () {
      const f = await loadFixture(deployVaultFixture)
      await f.usdc.mint(f.stranger.address, 100n)
      const args = await permitArgs(f, f.stranger, 100n)
      await f.usdc.connect(f.dave).permit(f.stranger.address, f.vaultAddress, 100n, ...args)
      await expect(
        f.vault.connect(f.relayer).depositWithPermit(f.usdcAddress, f.stranger.address, 100n, ...args),
      )
        .to.be.revertedWithCustomError(f.vault, 'VaultPermitFailed')
        .withArgs(f.usdcAddress, f.stranger.address)
      await expect(
        f.vault.connect(f.stranger).depositWithPermit(f.usdcAddress, f.stranger.address, 100n, ...args),
      )
        .to.emit(f.vault, 'Deposited')
        .withArgs(f.stranger.address, f.usdcAddress, f.stranger.address, 100n)
      expect(await f.vault.balanceOf(f.stranger.address, f.usdcAddress)).to.equal(100n)
    })

    it('lets the owner deposit on its standing allowance when its permit fails', async function () {
      const f = await loadFixture(deployVaultFixture)
      const forged = await permitArgs(f, f.alice, 5n * USDC, f.relayer)
      await expect(
        f.vault.connect(f.alice).depositWithPermit(f.usdcAddress, f.alice.address, 5n * USDC, ...forged),
      )
        .to.emit(f.vault, 'Deposited')
        .withArgs(f.alice.address, f.usdcAddress, f.alice.address, 5n * USDC)
      expect(await f.vault.balanceOf(f.alice.address, f.usdcAddress)).to.equal(INITIAL_DEPOSIT + 5n * USDC)
    })

    it('reverts when the owner sends a failing permit and has no allowance', async function () {
      const f = await loadFixture(deployVaultFixture)
      await f.usdc.mint(f.stranger.address, 100n)
      const forged = await permitArgs(f, f.stranger, 100n, f.relayer)
      await expect(
        f.vault.connect(f.stranger).depositWithPermit(f.usdcAddress, f.stranger.address, 100n, ...forged),
      )
        .to.be.revertedWithCustomError(f.usdc, 'ERC20InsufficientAllowance')
        .withArgs(f.vaultAddress, 0n, 100n)
    })
  })

  describe('depositWithAuthorization', function () {
    it('credits the signer with an EIP-3009 receiveWithAuthorization', async function () {
      const f = await loadFixture(deployVaultFixture)
      await f.usdc.mint(f.stranger.address, 100n)
      const args = await receiveAuthorization(f, 60n)
      await expect(f.vault.connect(f.relayer).depositWithAuthorization(...args))
        .to.emit(f.vault, 'Deposited')
        .withArgs(f.stranger.address, f.usdcAddress, f.stranger.address, 60n)
        .and.to.emit(f.usdc, 'AuthorizationUsed')
        .withArgs(f.stranger.address, args[5])
      expect(await f.vault.balanceOf(f.stranger.address, f.usdcAddress)).to.equal(60n)
      expect(await f.usdc.balanceOf(f.stranger.address)).to.equal(40n)
    })

    it('reverts when the authorization is reused', async function () {
      const f = await loadFixture(deployVaultFixture)
      await f.usdc.mint(f.stranger.address, 100n)
      const args = await receiveAuthorization(f, 10n)
      await f.vault.connect(f.relayer).depositWithAuthorization(...args)
      await expect(f.vault.connect(f.relayer).depositWithAuthorization(...args))
        .to.be.revertedWithCustomError(f.usdc, 'AuthorizationAlreadyUsed')
        .withArgs(f.stranger.address, args[5])
    })

    it('reverts for a token off the allowlist', async function () {
      const f = await loadFixture(deployVaultFixture)
      await f.usdc.mint(f.stranger.address, 100n)
      const args = await receiveAuthorization(f, 10n)
      await f.vault.connect(f.owner).setTokenAllowed(f.usdcAddress, false)
      await expect(f.vault.connect(f.relayer).depositWithAuthorization(...args))
        .to.be.revertedWithCustomError(f.vault, 'VaultTokenNotAllowed')
        .withArgs(f.usdcAddress)
    })
  })

  describe('withdraw', function () {
    it('pays out at once with the owner and coordinator signatures', async function () {
      const f = await loadFixture(deployVaultFixture)
      const w = await f.withdrawal({ to: f.stranger.address, nonce: 42n })
      const { ownerSignature, coordinatorSignature } = await signWithdrawal(f, w)
      await expect(f.vault.connect(f.relayer).withdraw(w, ownerSignature, coordinatorSignature))
        .to.emit(f.vault, 'Withdrawn')
        .withArgs(f.alice.address, f.usdcAddress, f.stranger.address, w.amount, 42n)
      expect(await f.usdc.balanceOf(f.stranger.address)).to.equal(w.amount)
      expect(await f.vault.balanceOf(f.alice.address, f.usdcAddress)).to.equal(INITIAL_DEPOSIT - w.amount)
      expect(await f.usdc.balanceOf(f.vaultAddress)).to.equal(4n * INITIAL_DEPOSIT - w.amount)
      expect(await f.vault.isNonceUsed(f.alice.address, 42n)).to.equal(true)
    })

    it('takes no owner signature when the owner sends it', async function () {
      const f = await loadFixture(deployVaultFixture)
      const w = await f.withdrawal()
      const { coordinatorSignature } = await signWithdrawal(f, w)
      await expect(f.vault.connect(f.alice).withdraw(w, NO_SIGNATURE, coordinatorSignature))
        .to.emit(f.vault, 'Withdrawn')
        .withArgs(f.alice.address, f.usdcAddress, f.alice.address, w.amount, w.nonce)
    })

    it('reverts for an empty owner signature from anyone but the owner', async function () {
      const f = await loadFixture(deployVaultFixture)
      const w = await f.withdrawal()
      const { coordinatorSignature } = await signWithdrawal(f, w)
      await expect(f.vault.connect(f.relayer).withdraw(w, NO_SIGNATURE, coordinatorSignature))
        .to.be.revertedWithCustomError(f.vault, 'VaultInvalidSignature')
        .withArgs(f.alice.address, ethers.ZeroAddress)
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
      expect(await f.vault.balanceOf(f.alice.address, f.usdcAddress)).to.equal(INITIAL_DEPOSIT - w.amount)
    })

    it('reverts when the balance is short', async function () {
      const f = await loadFixture(deployVaultFixture)
      const w = await f.withdrawal({ amount: INITIAL_DEPOSIT + 1n })
      const sigs = await signWithdrawal(f, w)
      await expect(f.vault.connect(f.relayer).withdraw(w, sigs.ownerSignature, sigs.coordinatorSignature))
        .to.be.revertedWithCustomError(f.vault, 'VaultInsufficientBalance')
        .withArgs(f.alice.address, f.usdcAddress, INITIAL_DEPOSIT, INITIAL_DEPOSIT + 1n)
    })

    it('reverts for a zero amount', async function () {
      const f = await loadFixture(deployVaultFixture)
      const w = await f.withdrawal({ amount: 0n })
      const sigs = await signWithdrawal(f, w)
      await expect(
        f.vault.connect(f.relayer).withdraw(w, sigs.ownerSignature, sigs.coordinatorSignature),
      ).to.be.revertedWithCustomError(f.vault, 'VaultZeroAmount')
    })

    it('reverts when `to` is the zero address or the vault itself', async function () {
      const f = await loadFixture(deployVaultFixture)
      for (const to of [ethers.ZeroAddress, f.vaultAddress]) {
        const w = await f.withdrawal({ to })
        const sigs = await signWithdrawal(f, w)
        await expect(
          f.vault.connect(f.relayer).withdraw(w, sigs.ownerSignature, sigs.coordinatorSignature),
        ).to.be.revertedWithCustomError(f.vault, 'VaultZeroAddress')
      }
      expect(await f.vault.balanceOf(f.alice.address, f.usdcAddress)).to.equal(INITIAL_DEPOSIT)
      expect(await f.vault.isNonceUsed(f.alice.address, 1n)).to.equal(false)
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
      expect(await f.vault.isNonceUsed(f.bob.address, 300n)).to.equal(false)
      await expect(f.vault.connect(f.relayer).withdraw(w, sigs.ownerSignature, sigs.coordinatorSignature))
        .to.be.revertedWithCustomError(f.vault, 'VaultNonceUsed')
        .withArgs(f.alice.address, 300n)
    })

    it('marks exactly one bit for a small nonce and for a huge one', async function () {
      const f = await loadFixture(deployVaultFixture)
      const huge = 2n ** 255n + 7n
      await f.vault.connect(f.alice).invalidateNonce(0n)
      await f.vault.connect(f.alice).invalidateNonce(255n)
      await expect(f.vault.connect(f.alice).invalidateNonce(huge))
        .to.emit(f.vault, 'NonceInvalidated')
        .withArgs(f.alice.address, huge)
      const used = async (nonce: bigint) => f.vault.isNonceUsed(f.alice.address, nonce) as Promise<boolean>
      expect(await used(0n)).to.equal(true)
      expect(await used(1n)).to.equal(false)
      expect(await used(255n)).to.equal(true)
      // 256 starts the next bucket of the bitmap; 7 has the huge nonce's bit in another bucket.
      expect(await used(256n)).to.equal(false)
      expect(await used(7n)).to.equal(false)
      expect(await used(huge)).to.equal(true)
      expect(await used(huge - 1n)).to.equal(false)
      expect(await used(huge + 1n)).to.equal(false)
      expect(await used(ethers.MaxUint256)).to.equal(false)
      const w = await f.withdrawal({ nonce: huge })
      const sigs = await signWithdrawal(f, w)
      await expect(f.vault.connect(f.relayer).withdraw(w, sigs.ownerSignature, sigs.coordinatorSignature))
        .to.be.revertedWithCustomError(f.vault, 'VaultNonceUsed')
        .withArgs(f.alice.address, huge)
    })

    it('voids a signed escrow lock not yet landed (one nonce space for every signed move)', async function () {
      const f = await loadFixture(deployVaultFixture)
      const terms = await f.escrowTerms({ nonce: 77n })
      const signature = await f.signLock(terms)
      await f.vault.connect(f.alice).invalidateNonce(77n)
      await expect(f.vault.connect(f.relayer).lockEscrow(terms, signature))
        .to.be.revertedWithCustomError(f.vault, 'VaultNonceUsed')
        .withArgs(f.alice.address, 77n)
      expect(await f.vault.balanceOf(f.alice.address, f.usdcAddress)).to.equal(INITIAL_DEPOSIT)
    })

    it('reverts when the nonce is already used, by a withdrawal or an earlier invalidation', async function () {
      const f = await loadFixture(deployVaultFixture)
      await f.vault.connect(f.alice).invalidateNonce(7n)
      await expect(f.vault.connect(f.alice).invalidateNonce(7n))
        .to.be.revertedWithCustomError(f.vault, 'VaultNonceUsed')
        .withArgs(f.alice.address, 7n)
      const w = await f.withdrawal({ nonce: 8n })
      const { coordinatorSignature } = await signWithdrawal(f, w)
      await f.vault.connect(f.alice).withdraw(w, NO_SIGNATURE, coordinatorSignature)
      await expect(f.vault.connect(f.alice).invalidateNonce(8n))
        .to.be.revertedWithCustomError(f.vault, 'VaultNonceUsed')
        .withArgs(f.alice.address, 8n)
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
      // The balance stays spendable until execution.
      expect(await f.vault.balanceOf(f.alice.address, f.usdcAddress)).to.equal(INITIAL_DEPOSIT)
    })

    it('replaces a pending request of the same token and restarts its delay', async function () {
      const f = await loadFixture(deployVaultFixture)
      await f.vault.connect(f.alice).requestWithdrawal(f.usdcAddress, 7n * USDC, f.stranger.address)
      await time.increase(WITHDRAWAL_DELAY / 2)
      const executableAt = (await nextBlockAt()) + BigInt(WITHDRAWAL_DELAY)
      await f.vault.connect(f.alice).requestWithdrawal(f.usdcAddress, 3n * USDC, f.alice.address)
      const request = await f.vault.withdrawalRequest(f.alice.address, f.usdcAddress)
      expect([request.amount, request.to, request.executableAt]).to.deep.equal([
        3n * USDC,
        f.alice.address,
        executableAt,
      ])
    })

    it('reverts for a zero amount', async function () {
      const f = await loadFixture(deployVaultFixture)
      await expect(
        f.vault.connect(f.alice).requestWithdrawal(f.usdcAddress, 0n, f.alice.address),
      ).to.be.revertedWithCustomError(f.vault, 'VaultZeroAmount')
    })

    it('reverts when `to` is the zero address or the vault itself', async function () {
      const f = await loadFixture(deployVaultFixture)
      await expect(
        f.vault.connect(f.alice).requestWithdrawal(f.usdcAddress, 1n, ethers.ZeroAddress),
      ).to.be.revertedWithCustomError(f.vault, 'VaultZeroAddress')
      await expect(
        f.vault.connect(f.alice).requestWithdrawal(f.usdcAddress, 1n, f.vaultAddress),
      ).to.be.revertedWithCustomError(f.vault, 'VaultZeroAddress')
      expect((await f.vault.withdrawalRequest(f.alice.address, f.usdcAddress)).executableAt).to.equal(0n)
    })
  })

  describe('executeWithdrawal', function () {
    it('pays the request after the delay, callable by anyone', async function () {
      const f = await loadFixture(deployVaultFixture)
      await f.vault.connect(f.alice).requestWithdrawal(f.usdcAddress, 7n * USDC, f.stranger.address)
      await time.increase(WITHDRAWAL_DELAY)
      await expect(f.vault.connect(f.relayer).executeWithdrawal(f.alice.address, f.usdcAddress))
        .to.emit(f.vault, 'WithdrawalExecuted')
        .withArgs(f.alice.address, f.usdcAddress, f.stranger.address, 7n * USDC)
      expect(await f.usdc.balanceOf(f.stranger.address)).to.equal(7n * USDC)
      expect(await f.vault.balanceOf(f.alice.address, f.usdcAddress)).to.equal(INITIAL_DEPOSIT - 7n * USDC)
      expect((await f.vault.withdrawalRequest(f.alice.address, f.usdcAddress)).executableAt).to.equal(0n)
    })

    it('pays min(request, balance) and deletes the request even when it paid only part', async function () {
      const f = await loadFixture(deployVaultFixture)
      const wallet = await f.usdc.balanceOf(f.alice.address)
      await f.vault.connect(f.alice).requestWithdrawal(f.usdcAddress, 2n * INITIAL_DEPOSIT, f.alice.address)
      // Part of the balance is spent while the request waits.
      await f.lockEscrow({ amount: 100n * USDC })
      await time.increase(WITHDRAWAL_DELAY)
      await expect(f.vault.executeWithdrawal(f.alice.address, f.usdcAddress))
        .to.emit(f.vault, 'WithdrawalExecuted')
        .withArgs(f.alice.address, f.usdcAddress, f.alice.address, INITIAL_DEPOSIT - 100n * USDC)
      expect(await f.usdc.balanceOf(f.alice.address)).to.equal(wallet + INITIAL_DEPOSIT - 100n * USDC)
      expect(await f.vault.balanceOf(f.alice.address, f.usdcAddress)).to.equal(0n)
      const request = await f.vault.withdrawalRequest(f.alice.address, f.usdcAddress)
      expect([request.amount, request.to, request.executableAt]).to.deep.equal([0n, ethers.ZeroAddress, 0n])
      await expect(f.vault.executeWithdrawal(f.alice.address, f.usdcAddress))
        .to.be.revertedWithCustomError(f.vault, 'VaultNoWithdrawalRequest')
        .withArgs(f.alice.address, f.usdcAddress)
    })

    it('makes money that arrives after a partly paid request wait for a new request and a new delay', async function () {
      const f = await loadFixture(deployVaultFixture)
      await f.vault.connect(f.alice).requestWithdrawal(f.usdcAddress, 2n * INITIAL_DEPOSIT, f.alice.address)
      await time.increase(WITHDRAWAL_DELAY)
      await f.vault.executeWithdrawal(f.alice.address, f.usdcAddress)
      // A payment arrives: the old request is gone, so it cannot leave at once.
      await f.vault.connect(f.bob).depositFor(f.usdcAddress, 200n * USDC, f.alice.address)
      await expect(f.vault.executeWithdrawal(f.alice.address, f.usdcAddress))
        .to.be.revertedWithCustomError(f.vault, 'VaultNoWithdrawalRequest')
        .withArgs(f.alice.address, f.usdcAddress)
      const executableAt = (await nextBlockAt()) + BigInt(WITHDRAWAL_DELAY)
      await f.vault.connect(f.alice).requestWithdrawal(f.usdcAddress, 200n * USDC, f.alice.address)
      const at = await nextBlockAt()
      await expect(f.vault.executeWithdrawal(f.alice.address, f.usdcAddress))
        .to.be.revertedWithCustomError(f.vault, 'VaultWithdrawalNotReady')
        .withArgs(f.alice.address, f.usdcAddress, executableAt, at)
      await time.setNextBlockTimestamp(executableAt)
      await expect(f.vault.executeWithdrawal(f.alice.address, f.usdcAddress))
        .to.emit(f.vault, 'WithdrawalExecuted')
        .withArgs(f.alice.address, f.usdcAddress, f.alice.address, 200n * USDC)
      expect(await f.vault.balanceOf(f.alice.address, f.usdcAddress)).to.equal(0n)
    })

    it('consumes the request and pays nothing when the balance is empty', async function () {
      const f = await loadFixture(deployVaultFixture)
      await f.vault.connect(f.alice).requestWithdrawal(f.usdcAddress, 5n * USDC, f.stranger.address)
      await f.lockEscrow({ amount: INITIAL_DEPOSIT })
      await time.increase(WITHDRAWAL_DELAY)
      await expect(f.vault.executeWithdrawal(f.alice.address, f.usdcAddress))
        .to.emit(f.vault, 'WithdrawalExecuted')
        .withArgs(f.alice.address, f.usdcAddress, f.stranger.address, 0n)
      expect(await f.usdc.balanceOf(f.stranger.address)).to.equal(0n)
      expect((await f.vault.withdrawalRequest(f.alice.address, f.usdcAddress)).executableAt).to.equal(0n)
    })

    it('reverts before the delay passed', async function () {
      const f = await loadFixture(deployVaultFixture)
      await f.vault.connect(f.alice).requestWithdrawal(f.usdcAddress, 1n, f.alice.address)
      const { executableAt } = await f.vault.withdrawalRequest(f.alice.address, f.usdcAddress)
      await time.setNextBlockTimestamp(executableAt - 1n)
      await expect(f.vault.executeWithdrawal(f.alice.address, f.usdcAddress))
        .to.be.revertedWithCustomError(f.vault, 'VaultWithdrawalNotReady')
        .withArgs(f.alice.address, f.usdcAddress, executableAt, executableAt - 1n)
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
      await expect(f.vault.executeWithdrawal(f.alice.address, f.usdcAddress))
        .to.be.revertedWithCustomError(f.vault, 'VaultNoWithdrawalRequest')
        .withArgs(f.alice.address, f.usdcAddress)
      expect(await f.vault.balanceOf(f.alice.address, f.usdcAddress)).to.equal(INITIAL_DEPOSIT)
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
      await expect(f.vault.connect(f.alice).deposit(f.usdcAddress, 1n))
        .to.be.revertedWithCustomError(f.vault, 'VaultTokenNotAllowed')
        .withArgs(f.usdcAddress)
      const other = await (await ethers.deployContract('MockUSDC')).getAddress()
      await expect(f.vault.connect(f.owner).setTokenAllowed(other, true))
        .to.emit(f.vault, 'TokenAllowlistUpdated')
        .withArgs(other, true)
      expect(await f.vault.isTokenAllowed(other)).to.equal(true)
    })

    it('keeps exits open for a token taken off the allowlist', async function () {
      const f = await loadFixture(deployVaultFixture)
      await f.vault.connect(f.owner).setTokenAllowed(f.usdcAddress, false)
      await f.vault.connect(f.alice).requestWithdrawal(f.usdcAddress, 1n, f.alice.address)
      await time.increase(WITHDRAWAL_DELAY)
      await expect(f.vault.executeWithdrawal(f.alice.address, f.usdcAddress))
        .to.emit(f.vault, 'WithdrawalExecuted')
        .withArgs(f.alice.address, f.usdcAddress, f.alice.address, 1n)
    })

    it('reverts when the caller is not the owner', async function () {
      const f = await loadFixture(deployVaultFixture)
      await expect(f.vault.connect(f.coordinator).setTokenAllowed(f.usdcAddress, false))
        .to.be.revertedWithCustomError(f.vault, 'OwnableUnauthorizedAccount')
        .withArgs(f.coordinator.address)
      expect(await f.vault.isTokenAllowed(f.usdcAddress)).to.equal(true)
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
      expect(await f.vault.coordinator()).to.equal(f.coordinator.address)
      await time.setNextBlockTimestamp(effectiveAt - 1n)
      await expect(f.vault.connect(f.owner).applyCoordinator())
        .to.be.revertedWithCustomError(f.vault, 'VaultChangeNotReady')
        .withArgs(effectiveAt, effectiveAt - 1n)
      await time.setNextBlockTimestamp(effectiveAt)
      await expect(f.vault.connect(f.owner).applyCoordinator())
        .to.emit(f.vault, 'CoordinatorChanged')
        .withArgs(f.coordinator.address, f.stranger.address)
      expect(await f.vault.coordinator()).to.equal(f.stranger.address)
      expect(await f.vault.pendingCoordinator()).to.deep.equal([ethers.ZeroAddress, 0n])
    })

    it('makes the new key the only one that co-signs fast withdrawals', async function () {
      const f = await loadFixture(deployVaultFixture)
      await f.vault.connect(f.owner).proposeCoordinator(f.stranger.address)
      await time.increase(ADMIN_DELAY)
      await f.vault.connect(f.owner).applyCoordinator()
      const w = await f.withdrawal()
      const old = await signWithdrawal(f, w)
      await expect(f.vault.connect(f.alice).withdraw(w, NO_SIGNATURE, old.coordinatorSignature))
        .to.be.revertedWithCustomError(f.vault, 'VaultInvalidSignature')
        .withArgs(f.stranger.address, f.coordinator.address)
      const current = await signWithdrawal(f, w, f.alice, f.stranger)
      await expect(f.vault.connect(f.alice).withdraw(w, NO_SIGNATURE, current.coordinatorSignature))
        .to.emit(f.vault, 'Withdrawn')
        .withArgs(f.alice.address, f.usdcAddress, f.alice.address, w.amount, w.nonce)
    })

    it('lets a user who sees proposeCoordinator request and execute its exits before applyCoordinator becomes possible', async function () {
      const f = await loadFixture(deployVaultFixture)
      const { config, id } = await f.openChannel({}, 50n * USDC)
      const wallet = await f.usdc.balanceOf(f.alice.address)
      await f.vault.connect(f.owner).proposeCoordinator(f.stranger.address)
      const [, effectiveAt] = await f.vault.pendingCoordinator()
      // Alice reacts in the next blocks: a slow withdrawal of everything and a unilateral channel close.
      await f.vault.connect(f.alice).requestChannelClose(config)
      await f.vault.connect(f.alice).requestWithdrawal(f.usdcAddress, INITIAL_DEPOSIT, f.alice.address)
      const { executableAt } = await f.vault.withdrawalRequest(f.alice.address, f.usdcAddress)
      const { closesAt } = await f.vault.channel(id)
      expect(executableAt).to.be.lessThan(effectiveAt)
      expect(closesAt).to.be.lessThan(effectiveAt)
      await time.setNextBlockTimestamp(closesAt)
      await expect(f.vault.connect(f.alice).finalizeChannelClose(config))
        .to.emit(f.vault, 'ChannelClosed')
        .withArgs(id, 0n, 50n * USDC)
      await time.setNextBlockTimestamp(executableAt)
      await expect(f.vault.executeWithdrawal(f.alice.address, f.usdcAddress))
        .to.emit(f.vault, 'WithdrawalExecuted')
        .withArgs(f.alice.address, f.usdcAddress, f.alice.address, INITIAL_DEPOSIT)
      expect(await f.usdc.balanceOf(f.alice.address)).to.equal(wallet + INITIAL_DEPOSIT)
      expect(await f.vault.balanceOf(f.alice.address, f.usdcAddress)).to.equal(0n)
      // Alice is out, and the change still cannot apply.
      const at = await nextBlockAt()
      await expect(f.vault.connect(f.owner).applyCoordinator())
        .to.be.revertedWithCustomError(f.vault, 'VaultChangeNotReady')
        .withArgs(effectiveAt, at)
    })

    it('restarts the delay when a new proposal replaces a pending one', async function () {
      const f = await loadFixture(deployVaultFixture)
      await f.vault.connect(f.owner).proposeCoordinator(f.stranger.address)
      await time.increase(ADMIN_DELAY - 10)
      const effectiveAt = (await nextBlockAt()) + BigInt(ADMIN_DELAY)
      await f.vault.connect(f.owner).proposeCoordinator(f.dave.address)
      expect(await f.vault.pendingCoordinator()).to.deep.equal([f.dave.address, effectiveAt])
      const at = await nextBlockAt()
      await expect(f.vault.connect(f.owner).applyCoordinator())
        .to.be.revertedWithCustomError(f.vault, 'VaultChangeNotReady')
        .withArgs(effectiveAt, at)
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
      await f.vault.connect(f.owner).proposeCoordinator(f.stranger.address)
      await time.increase(ADMIN_DELAY)
      await expect(f.vault.connect(f.coordinator).applyCoordinator())
        .to.be.revertedWithCustomError(f.vault, 'OwnableUnauthorizedAccount')
        .withArgs(f.coordinator.address)
      expect(await f.vault.coordinator()).to.equal(f.coordinator.address)
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
      await time.setNextBlockTimestamp(effectiveAt - 1n)
      await expect(f.vault.connect(f.owner).applyFee())
        .to.be.revertedWithCustomError(f.vault, 'VaultChangeNotReady')
        .withArgs(effectiveAt, effectiveAt - 1n)
      expect(await f.vault.feeBps()).to.equal(BigInt(FEE_BPS))
      await time.setNextBlockTimestamp(effectiveAt)
      await expect(f.vault.connect(f.owner).applyFee()).to.emit(f.vault, 'FeeChanged').withArgs(FEE_BPS, 250)
      expect(await f.vault.feeBps()).to.equal(250n)
      expect(await f.vault.pendingFee()).to.deep.equal([0n, 0n])
    })

    it('caps the fee of new escrows once a lower fee applies', async function () {
      const f = await loadFixture(deployVaultFixture)
      await f.vault.connect(f.owner).proposeFee(50)
      await time.increase(ADMIN_DELAY)
      await f.vault.connect(f.owner).applyFee()
      const terms = await f.escrowTerms({ feeBps: FEE_BPS })
      await expect(f.vault.connect(f.relayer).lockEscrow(terms, await f.signLock(terms)))
        .to.be.revertedWithCustomError(f.vault, 'JobEscrowFeeTooHigh')
        .withArgs(FEE_BPS, 50)
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
      await f.vault.connect(f.owner).proposeFee(1)
      await time.increase(ADMIN_DELAY)
      await expect(f.vault.connect(f.alice).applyFee())
        .to.be.revertedWithCustomError(f.vault, 'OwnableUnauthorizedAccount')
        .withArgs(f.alice.address)
      expect(await f.vault.feeBps()).to.equal(BigInt(FEE_BPS))
    })
  })

  describe('setTreasury', function () {
    it('emits TreasuryChanged(previous, new) and credits later fees to the new treasury', async function () {
      const f = await loadFixture(deployVaultFixture)
      await expect(f.vault.connect(f.owner).setTreasury(f.stranger.address))
        .to.emit(f.vault, 'TreasuryChanged')
        .withArgs(f.treasury.address, f.stranger.address)
      expect(await f.vault.treasury()).to.equal(f.stranger.address)
      const escrow = await f.lockEscrow({ amount: 100n * USDC })
      await f.vault.connect(f.alice).releaseEscrow(...f.escrowArgs(escrow), NO_SIGNATURE, escrow.proof)
      const fee = (100n * USDC * BigInt(FEE_BPS)) / 10_000n
      expect(await f.vault.balanceOf(f.stranger.address, f.usdcAddress)).to.equal(fee)
      expect(await f.vault.balanceOf(f.treasury.address, f.usdcAddress)).to.equal(0n)
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
      expect(await f.vault.treasury()).to.equal(f.treasury.address)
    })
  })

  describe('pause and unpause', function () {
    it('stops and resumes deposits and emits', async function () {
      const f = await loadFixture(deployVaultFixture)
      await expect(f.vault.connect(f.owner).pause()).to.emit(f.vault, 'Paused').withArgs(f.owner.address)
      expect(await f.vault.paused()).to.equal(true)
      await expect(f.vault.connect(f.alice).deposit(f.usdcAddress, 1n)).to.be.revertedWithCustomError(
        f.vault,
        'EnforcedPause',
      )
      await expect(f.vault.connect(f.owner).unpause()).to.emit(f.vault, 'Unpaused').withArgs(f.owner.address)
      await expect(f.vault.connect(f.alice).deposit(f.usdcAddress, 1n))
        .to.emit(f.vault, 'Deposited')
        .withArgs(f.alice.address, f.usdcAddress, f.alice.address, 1n)
    })

    it('stops every way of depositing', async function () {
      const f = await loadFixture(deployVaultFixture)
      await f.usdc.mint(f.stranger.address, 100n)
      const permit = await permitArgs(f, f.stranger, 100n)
      const authorization = await receiveAuthorization(f, 100n)
      await f.vault.connect(f.owner).pause()
      await expect(f.vault.connect(f.alice).deposit(f.usdcAddress, 1n)).to.be.revertedWithCustomError(
        f.vault,
        'EnforcedPause',
      )
      await expect(
        f.vault.connect(f.alice).depositFor(f.usdcAddress, 1n, f.bob.address),
      ).to.be.revertedWithCustomError(f.vault, 'EnforcedPause')
      await expect(
        f.vault.connect(f.relayer).depositWithPermit(f.usdcAddress, f.stranger.address, 100n, ...permit),
      ).to.be.revertedWithCustomError(f.vault, 'EnforcedPause')
      await expect(
        f.vault.connect(f.relayer).depositWithAuthorization(...authorization),
      ).to.be.revertedWithCustomError(f.vault, 'EnforcedPause')
      expect(await f.usdc.balanceOf(f.vaultAddress)).to.equal(4n * INITIAL_DEPOSIT)
    })

    it('never stops exits: fast and slow withdrawals, cancellation and nonce invalidation', async function () {
      const f = await loadFixture(deployVaultFixture)
      await f.vault.connect(f.bob).requestWithdrawal(f.usdcAddress, 5n * USDC, f.bob.address)
      await f.vault.connect(f.owner).pause()
      const w = await f.withdrawal()
      const { ownerSignature, coordinatorSignature } = await signWithdrawal(f, w)
      await expect(f.vault.connect(f.relayer).withdraw(w, ownerSignature, coordinatorSignature))
        .to.emit(f.vault, 'Withdrawn')
        .withArgs(f.alice.address, f.usdcAddress, f.alice.address, w.amount, w.nonce)
      await expect(f.vault.connect(f.carol).requestWithdrawal(f.usdcAddress, 1n, f.carol.address)).to.emit(
        f.vault,
        'WithdrawalRequested',
      )
      await expect(f.vault.connect(f.carol).cancelWithdrawal(f.usdcAddress))
        .to.emit(f.vault, 'WithdrawalCancelled')
        .withArgs(f.carol.address, f.usdcAddress)
      await expect(f.vault.connect(f.carol).invalidateNonce(9n))
        .to.emit(f.vault, 'NonceInvalidated')
        .withArgs(f.carol.address, 9n)
      await time.increase(WITHDRAWAL_DELAY)
      await expect(f.vault.executeWithdrawal(f.bob.address, f.usdcAddress))
        .to.emit(f.vault, 'WithdrawalExecuted')
        .withArgs(f.bob.address, f.usdcAddress, f.bob.address, 5n * USDC)
      expect(await f.vault.paused()).to.equal(true)
    })

    it('reverts when the caller is not the owner', async function () {
      const f = await loadFixture(deployVaultFixture)
      await expect(f.vault.connect(f.coordinator).pause())
        .to.be.revertedWithCustomError(f.vault, 'OwnableUnauthorizedAccount')
        .withArgs(f.coordinator.address)
      await f.vault.connect(f.owner).pause()
      await expect(f.vault.connect(f.coordinator).unpause())
        .to.be.revertedWithCustomError(f.vault, 'OwnableUnauthorizedAccount')
        .withArgs(f.coordinator.address)
      expect(await f.vault.paused()).to.equal(true)
    })
  })

  describe('ownership', function () {
    it('moves in two steps, after which only the new owner runs the admin functions', async function () {
      const f = await loadFixture(deployVaultFixture)
      await expect(f.vault.connect(f.owner).transferOwnership(f.stranger.address))
        .to.emit(f.vault, 'OwnershipTransferStarted')
        .withArgs(f.owner.address, f.stranger.address)
      expect(await f.vault.owner()).to.equal(f.owner.address)
      await expect(f.vault.connect(f.stranger).acceptOwnership())
        .to.emit(f.vault, 'OwnershipTransferred')
        .withArgs(f.owner.address, f.stranger.address)
      expect(await f.vault.owner()).to.equal(f.stranger.address)
      // The admin functions run in the extension, on the vault's storage: they see the new owner.
      await expect(f.vault.connect(f.owner).pause())
        .to.be.revertedWithCustomError(f.vault, 'OwnableUnauthorizedAccount')
        .withArgs(f.owner.address)
      await expect(f.vault.connect(f.stranger).pause())
        .to.emit(f.vault, 'Paused')
        .withArgs(f.stranger.address)
    })
  })

  describe('extension', function () {
    async function extensionOf(f: VaultFixture) {
      return (await ethers.getContractAt(
        'ClearhouseVaultExtension',
        await f.vault.extension(),
      )) as unknown as AnyContract
    }

    it("is deployed by the vault's constructor", async function () {
      const f = await loadFixture(deployVaultFixture)
      const address: string = await f.vault.extension()
      expect(address).to.not.equal(ethers.ZeroAddress)
      expect(address).to.equal(ethers.getCreateAddress({ from: f.vaultAddress, nonce: 1 }))
      expect(await ethers.provider.getCode(address)).to.not.equal('0x')
    })

    it('reverts VaultOnlyThroughVault for every function called directly, even by the owner', async function () {
      const f = await loadFixture(deployVaultFixture)
      const extension = (await extensionOf(f)).connect(f.owner)
      const escrow = await f.lockEscrow()
      const config = f.channelConfig()
      const calls: Array<[string, unknown[]]> = [
        ['depositWithPermit', [f.usdcAddress, f.owner.address, 1n, 0n, 27, ethers.ZeroHash, ethers.ZeroHash]],
        [
          'payWithTransferAuthorization',
          [
            f.usdcAddress,
            {
              from: f.alice.address,
              value: 1n,
              validAfter: 0n,
              validBefore: 0n,
              nonce: ethers.ZeroHash,
              v: 27,
              r: ethers.ZeroHash,
              s: ethers.ZeroHash,
            },
            f.owner.address,
          ],
        ],
        ['requestWithdrawal', [f.usdcAddress, 1n, f.owner.address]],
        ['executeWithdrawal', [f.alice.address, f.usdcAddress]],
        ['cancelWithdrawal', [f.usdcAddress]],
        ['invalidateNonce', [1n]],
        ['setTokenAllowed', [f.usdcAddress, false]],
        ['proposeCoordinator', [f.stranger.address]],
        ['applyCoordinator', []],
        ['proposeFee', [1]],
        ['applyFee', []],
        ['setTreasury', [f.stranger.address]],
        ['pause', []],
        ['unpause', []],
        ['openEscrowDispute', [...f.escrowArgs(escrow), NO_SIGNATURE, escrow.proof]],
        ['fundChannelWithPermit', [config, 1n, 0n, 27, ethers.ZeroHash, ethers.ZeroHash]],
        ['requestChannelClose', [config]],
      ]
      const forwarded = stateChangingFunctions(f.vault.interface)
      for (const [name, args] of calls) {
        expect(forwarded, name).to.include(name)
        await expect(extension[name](...args), name).to.be.revertedWithCustomError(
          extension,
          'VaultOnlyThroughVault',
        )
      }
      // Every state-changing function of the extension but its own Ownable2Step is in the list.
      const own = ['transferOwnership', 'acceptOwnership', 'renounceOwnership']
      const mutating = stateChangingFunctions(extension.interface).filter((name) => !own.includes(name))
      expect(mutating.sort()).to.deep.equal(calls.map(([name]) => name).sort())
    })

    it("keeps ownership calls made on it directly to its own storage, never the vault's", async function () {
      const f = await loadFixture(deployVaultFixture)
      // Its Ownable2Step functions are the only ones without VaultOnlyThroughVault: harmless, as
      // they write the extension's own storage, which no vault call reads.
      const extension = await extensionOf(f)
      await extension.connect(f.owner).transferOwnership(f.stranger.address)
      await extension.connect(f.stranger).acceptOwnership()
      expect(await extension.owner()).to.equal(f.stranger.address)
      expect(await f.vault.owner()).to.equal(f.owner.address)
      expect(await f.vault.pendingOwner()).to.equal(ethers.ZeroAddress)
      await expect(f.vault.connect(f.stranger).pause())
        .to.be.revertedWithCustomError(f.vault, 'OwnableUnauthorizedAccount')
        .withArgs(f.stranger.address)
    })

    it('has the same compiled storage layout as the vault', async function () {
      const vault = await storageLayoutOf('ClearhouseVault')
      const extension = await storageLayoutOf('ClearhouseVaultExtension')
      expect(vault.length).to.be.greaterThan(10)
      expect(vault).to.include.members([
        '_owner 0 0 t_address',
        '_balances 2 0 t_mapping(t_address,t_mapping(t_address,t_uint256))',
      ])
      expect(extension).to.deep.equal(vault)
    })
  })
})
