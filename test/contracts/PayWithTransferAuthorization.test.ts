import { expect } from 'chai'
import { ethers } from 'hardhat'
import { loadFixture, time } from '@nomicfoundation/hardhat-network-helpers'
import { anyValue } from '@nomicfoundation/hardhat-chai-matchers/withArgs'
import type { HardhatEthersSigner } from '@nomicfoundation/hardhat-ethers/signers'
import {
  ADMIN_DELAY,
  FEE_BPS,
  INITIAL_DEPOSIT,
  USDC,
  deployClearhouseVault,
  deployVaultFixture,
  signTransferAuthorization,
  viemAccountOf,
  type AnyContract,
  type TransferAuthorization,
  type TransferAuthorizationOverrides,
} from './fixtures'

const BPS = 10_000n
/** What the payer holds in its wallet: it never deposited into the vault. */
const WALLET = 100n * USDC
/** 12.345678 USDC: its 1% fee, 123456.78 base units, rounds down to 123_456. */
const PRICE = 12_345_678n
const PRICE_FEE = 123_456n
/** Hardhat signer index of the x402 payer, one the vault fixture gives no role. */
const PAYER_INDEX = 10

function feeOf(amount: bigint, bps: number | bigint): bigint {
  return (amount * BigInt(bps)) / BPS
}

/**
 * The vault fixture plus an x402 payer: a viem account (as the x402 `exact` client signs) holding
 * `WALLET` USDC and nothing in the vault, and helpers to sign its authorizations and spend them.
 */
async function x402Fixture() {
  const f = await deployVaultFixture()
  const payer = viemAccountOf(PAYER_INDEX)
  const payerSigner = f.signers[PAYER_INDEX]
  expect(payer.address, 'viem and ethers hold the same key').to.equal(payerSigner.address)
  await f.usdc.mint(payer.address, WALLET)

  /** The payer's authorization of `value` (PRICE unless told) to the vault, signed with viem. */
  function authorize(value: bigint = PRICE, overrides: TransferAuthorizationOverrides = {}) {
    return signTransferAuthorization(f, payer, value, overrides)
  }

  /** `sender` (the coordinator unless told) spends `authorization` as a payment to `payee` (bob unless told). */
  function pay(
    authorization: TransferAuthorization,
    payee: string = f.bob.address,
    sender: HardhatEthersSigner = f.coordinator,
  ) {
    return f.vault.connect(sender).payWithTransferAuthorization(f.usdcAddress, authorization, payee)
  }

  /** The token's own `transferWithAuthorization` arguments for `authorization` made out to `to`. */
  function tokenArgs(authorization: TransferAuthorization, to: string = f.vaultAddress) {
    const { from, value, validAfter, validBefore, nonce, v, r, s } = authorization
    return [from, to, value, validAfter, validBefore, nonce, v, r, s] as const
  }

  return { ...f, payer, payerSigner, authorize, pay, tokenArgs }
}

type X402Fixture = Awaited<ReturnType<typeof x402Fixture>>

/** Every USDC amount a payment could move: each signer's vault balance, the payer's wallet, the vault's holding. */
async function moneyOf(f: X402Fixture) {
  const credits: bigint[] = []
  for (const s of f.signers) credits.push(await f.vault.balanceOf(s.address, f.usdcAddress))
  return {
    credits,
    payerWallet: (await f.usdc.balanceOf(f.payer.address)) as bigint,
    held: (await f.usdc.balanceOf(f.vaultAddress)) as bigint,
  }
}

/** The sum of every signer's internal USDC balance: what the vault owes. */
async function owed(f: X402Fixture): Promise<bigint> {
  return (await moneyOf(f)).credits.reduce((a, b) => a + b, 0n)
}

function isUsed(f: X402Fixture, authorization: TransferAuthorization): Promise<boolean> {
  return f.usdc.authorizationState(authorization.from, authorization.nonce)
}

describe('PayWithTransferAuthorization', function () {
  describe('payWithTransferAuthorization', function () {
    it('pays the payee what arrived less the fee and the treasury the fee, logging PaidWithAuthorization with both', async function () {
      const f = await loadFixture(x402Fixture)
      const authorization = await f.authorize()
      expect(feeOf(PRICE, FEE_BPS)).to.equal(PRICE_FEE)
      await expect(f.pay(authorization))
        .to.emit(f.vault, 'PaidWithAuthorization')
        .withArgs(f.payer.address, f.usdcAddress, f.bob.address, authorization.nonce, PRICE, PRICE_FEE)
        .and.to.emit(f.usdc, 'Transfer')
        .withArgs(f.payer.address, f.vaultAddress, PRICE)
        .and.to.emit(f.usdc, 'AuthorizationUsed')
        .withArgs(f.payer.address, authorization.nonce)
        .and.not.to.emit(f.vault, 'Deposited')
      expect(await f.vault.balanceOf(f.bob.address, f.usdcAddress)).to.equal(INITIAL_DEPOSIT + 12_222_222n)
      expect(await f.vault.balanceOf(f.treasury.address, f.usdcAddress)).to.equal(PRICE_FEE)
      expect(await f.vault.balanceOf(f.payer.address, f.usdcAddress), 'the payer holds no credit').to.equal(
        0n,
      )
      expect(await f.vault.balanceOf(f.coordinator.address, f.usdcAddress)).to.equal(0n)
      expect(await f.usdc.balanceOf(f.payer.address)).to.equal(WALLET - PRICE)
      expect(await f.usdc.balanceOf(f.vaultAddress)).to.equal(4n * INITIAL_DEPOSIT + PRICE)
      expect(await f.usdc.balanceOf(f.vaultAddress)).to.equal(await owed(f))
      expect(await isUsed(f, authorization)).to.equal(true)
    })

    it('credits the payee the whole amount and the treasury nothing at a protocol fee of 0 bps', async function () {
      const f = await loadFixture(x402Fixture)
      await f.vault.connect(f.owner).proposeFee(0)
      await time.increase(ADMIN_DELAY)
      await f.vault.connect(f.owner).applyFee()
      expect(await f.vault.feeBps()).to.equal(0n)
      const authorization = await f.authorize()
      await expect(f.pay(authorization))
        .to.emit(f.vault, 'PaidWithAuthorization')
        .withArgs(f.payer.address, f.usdcAddress, f.bob.address, authorization.nonce, PRICE, 0n)
      expect(await f.vault.balanceOf(f.bob.address, f.usdcAddress)).to.equal(INITIAL_DEPOSIT + PRICE)
      expect(await f.vault.balanceOf(f.treasury.address, f.usdcAddress)).to.equal(0n)
      expect(await f.usdc.balanceOf(f.payer.address)).to.equal(WALLET - PRICE)
      expect(await f.usdc.balanceOf(f.vaultAddress)).to.equal(await owed(f))
    })

    it('reverts VaultZeroAddress for a payee of zero or the vault itself, and leaves the authorization unspent', async function () {
      const f = await loadFixture(x402Fixture)
      const authorization = await f.authorize()
      const before = await moneyOf(f)
      for (const payee of [ethers.ZeroAddress, f.vaultAddress]) {
        await expect(f.pay(authorization, payee), payee).to.be.revertedWithCustomError(
          f.vault,
          'VaultZeroAddress',
        )
      }
      expect(await moneyOf(f)).to.deep.equal(before)
      expect(await isUsed(f, authorization)).to.equal(false)
    })

    it('reverts VaultTokenNotAllowed for a token off the allowlist', async function () {
      const f = await loadFixture(x402Fixture)
      const authorization = await f.authorize()
      await f.vault.connect(f.owner).setTokenAllowed(f.usdcAddress, false)
      const before = await moneyOf(f)
      await expect(f.pay(authorization))
        .to.be.revertedWithCustomError(f.vault, 'VaultTokenNotAllowed')
        .withArgs(f.usdcAddress)
      expect(await moneyOf(f)).to.deep.equal(before)
      expect(await isUsed(f, authorization)).to.equal(false)
    })

    it('reverts EnforcedPause while the vault is paused, and pays once it is unpaused', async function () {
      const f = await loadFixture(x402Fixture)
      const authorization = await f.authorize()
      await f.vault.connect(f.owner).pause()
      const before = await moneyOf(f)
      await expect(f.pay(authorization)).to.be.revertedWithCustomError(f.vault, 'EnforcedPause')
      expect(await moneyOf(f)).to.deep.equal(before)
      expect(await isUsed(f, authorization)).to.equal(false)
      await f.vault.connect(f.owner).unpause()
      await expect(f.pay(authorization)).to.emit(f.vault, 'PaidWithAuthorization')
    })

    it('reverts VaultZeroAmount for an authorization of 0', async function () {
      const f = await loadFixture(x402Fixture)
      const authorization = await f.authorize(0n)
      const before = await moneyOf(f)
      await expect(f.pay(authorization)).to.be.revertedWithCustomError(f.vault, 'VaultZeroAmount')
      expect(await moneyOf(f)).to.deep.equal(before)
      expect(await isUsed(f, authorization)).to.equal(false)
    })

    it('reverts VaultOnlyThroughVault when called on the extension directly, even by the coordinator', async function () {
      const f = await loadFixture(x402Fixture)
      const extension = (await ethers.getContractAt(
        'ClearhouseVaultExtension',
        await f.vault.extension(),
      )) as unknown as AnyContract
      const authorization = await f.authorize()
      const before = await moneyOf(f)
      await expect(
        extension
          .connect(f.coordinator)
          .payWithTransferAuthorization(f.usdcAddress, authorization, f.bob.address),
      ).to.be.revertedWithCustomError(extension, 'VaultOnlyThroughVault')
      expect(await moneyOf(f)).to.deep.equal(before)
      expect(await isUsed(f, authorization)).to.equal(false)
    })

    it('reverts AuthorizationExpired at validBefore and after it', async function () {
      const f = await loadFixture(x402Fixture)
      const validBefore = BigInt(await time.latest()) + 300n
      const authorization = await f.authorize(PRICE, { validBefore })
      const before = await moneyOf(f)
      await time.setNextBlockTimestamp(validBefore)
      await expect(f.pay(authorization))
        .to.be.revertedWithCustomError(f.usdc, 'AuthorizationExpired')
        .withArgs(validBefore, validBefore)
      await time.setNextBlockTimestamp(validBefore + 3600n)
      await expect(f.pay(authorization))
        .to.be.revertedWithCustomError(f.usdc, 'AuthorizationExpired')
        .withArgs(validBefore, validBefore + 3600n)
      expect(await moneyOf(f)).to.deep.equal(before)
      expect(await isUsed(f, authorization)).to.equal(false)
    })

    it('reverts AuthorizationNotYetValid up to and at validAfter, and pays the second after it', async function () {
      const f = await loadFixture(x402Fixture)
      const validAfter = BigInt(await time.latest()) + 300n
      const authorization = await f.authorize(PRICE, { validAfter, validBefore: validAfter + 3600n })
      const before = await moneyOf(f)
      await time.setNextBlockTimestamp(validAfter - 100n)
      await expect(f.pay(authorization))
        .to.be.revertedWithCustomError(f.usdc, 'AuthorizationNotYetValid')
        .withArgs(validAfter, validAfter - 100n)
      await time.setNextBlockTimestamp(validAfter)
      await expect(f.pay(authorization))
        .to.be.revertedWithCustomError(f.usdc, 'AuthorizationNotYetValid')
        .withArgs(validAfter, validAfter)
      expect(await moneyOf(f)).to.deep.equal(before)
      expect(await isUsed(f, authorization)).to.equal(false)
      await time.setNextBlockTimestamp(validAfter + 1n)
      await expect(f.pay(authorization))
        .to.emit(f.vault, 'PaidWithAuthorization')
        .withArgs(f.payer.address, f.usdcAddress, f.bob.address, authorization.nonce, PRICE, PRICE_FEE)
    })
  })

  describe('attacks', function () {
    const notCoordinators: Array<[string, (f: X402Fixture) => HardhatEthersSigner]> = [
      ['a front-runner', (f) => f.stranger],
      ['the owner', (f) => f.owner],
      ['the payer', (f) => f.payerSigner],
    ]
    for (const [who, senderOf] of notCoordinators) {
      it(`${who} spending the authorization as a payment to itself is refused with VaultNotCoordinator, and the coordinator can still spend it`, async function () {
        const f = await loadFixture(x402Fixture)
        const sender = senderOf(f)
        const authorization = await f.authorize()
        const before = await moneyOf(f)
        await expect(f.pay(authorization, sender.address, sender))
          .to.be.revertedWithCustomError(f.vault, 'VaultNotCoordinator')
          .withArgs(sender.address)
        expect(await moneyOf(f)).to.deep.equal(before)
        expect(await isUsed(f, authorization)).to.equal(false)

        await f.pay(authorization)
        expect(await f.vault.balanceOf(sender.address, f.usdcAddress)).to.equal(
          before.credits[f.signers.indexOf(sender)],
        )
        expect(await f.vault.balanceOf(f.bob.address, f.usdcAddress)).to.equal(
          INITIAL_DEPOSIT + PRICE - PRICE_FEE,
        )
      })
    }

    it('a replay of a spent authorization, to the same payee or another, is refused with AuthorizationAlreadyUsed and credits nobody twice', async function () {
      const f = await loadFixture(x402Fixture)
      const authorization = await f.authorize()
      await f.pay(authorization)
      const afterFirst = await moneyOf(f)
      for (const payee of [f.bob.address, f.carol.address]) {
        await expect(f.pay(authorization, payee), payee)
          .to.be.revertedWithCustomError(f.usdc, 'AuthorizationAlreadyUsed')
          .withArgs(f.payer.address, authorization.nonce)
      }
      expect(await moneyOf(f)).to.deep.equal(afterFirst)
      expect(afterFirst.payerWallet).to.equal(WALLET - PRICE)
      expect(await f.vault.balanceOf(f.bob.address, f.usdcAddress)).to.equal(
        INITIAL_DEPOSIT + PRICE - PRICE_FEE,
      )
    })

    it('an authorization made out to another address than the vault is refused with AuthorizationInvalidSignature and credits nobody', async function () {
      const f = await loadFixture(x402Fixture)
      const other = await deployClearhouseVault(f, [f.usdcAddress])
      const before = await moneyOf(f)
      // Made out to the front-runner, to the coordinator, and to another vault of the same coordinator.
      for (const to of [f.stranger.address, f.coordinator.address, await other.getAddress()]) {
        const authorization = await f.authorize(PRICE, { to })
        await expect(f.pay(authorization), to)
          .to.be.revertedWithCustomError(f.usdc, 'AuthorizationInvalidSignature')
          .withArgs(f.payer.address, anyValue)
        expect(await isUsed(f, authorization), to).to.equal(false)
      }
      expect(await moneyOf(f)).to.deep.equal(before)
    })

    it("a ReceiveWithAuthorization signature to the vault (the deposit's type, not x402's) is refused with AuthorizationInvalidSignature and credits nobody", async function () {
      const f = await loadFixture(x402Fixture)
      const authorization = await f.authorize(PRICE, { primaryType: 'ReceiveWithAuthorization' })
      const before = await moneyOf(f)
      await expect(f.pay(authorization))
        .to.be.revertedWithCustomError(f.usdc, 'AuthorizationInvalidSignature')
        .withArgs(f.payer.address, anyValue)
      expect(await moneyOf(f)).to.deep.equal(before)
      expect(await isUsed(f, authorization)).to.equal(false)
    })

    it('a coordinator raising the signed value or naming a payer who did not sign is refused with AuthorizationInvalidSignature', async function () {
      const f = await loadFixture(x402Fixture)
      const authorization = await f.authorize()
      await f.usdc.mint(f.alice.address, WALLET)
      const before = await moneyOf(f)
      const forged: TransferAuthorization[] = [
        { ...authorization, value: authorization.value + 1n },
        { ...authorization, from: f.alice.address as `0x${string}` },
      ]
      for (const authorization of forged) {
        await expect(f.pay(authorization))
          .to.be.revertedWithCustomError(f.usdc, 'AuthorizationInvalidSignature')
          .withArgs(authorization.from, anyValue)
      }
      expect(await moneyOf(f)).to.deep.equal(before)
      expect(await f.usdc.balanceOf(f.alice.address)).to.equal(9n * INITIAL_DEPOSIT + WALLET)
    })

    it('a front-run straight to the token lands the tokens in the vault uncredited: the payment then reverts, nobody is credited, and the vault holds a surplus', async function () {
      const f = await loadFixture(x402Fixture)
      const authorization = await f.authorize()
      const before = await moneyOf(f)
      // The front-runner copies v, r, s from the coordinator's pending transaction.
      await expect(f.usdc.connect(f.stranger).transferWithAuthorization(...f.tokenArgs(authorization)))
        .to.emit(f.usdc, 'Transfer')
        .withArgs(f.payer.address, f.vaultAddress, PRICE)
      await expect(f.pay(authorization))
        .to.be.revertedWithCustomError(f.usdc, 'AuthorizationAlreadyUsed')
        .withArgs(f.payer.address, authorization.nonce)
      const after = await moneyOf(f)
      expect(after.credits, 'no account credited').to.deep.equal(before.credits)
      expect(after.payerWallet).to.equal(before.payerWallet - PRICE)
      expect(after.held).to.equal(before.held + PRICE)
      expect(after.held - (await owed(f)), 'the vault holds exactly the stranded surplus').to.equal(PRICE)
    })

    it('a payer who spends a second authorization with the same nonce elsewhere first gets the payment refused and is credited nothing', async function () {
      const f = await loadFixture(x402Fixture)
      const authorization = await f.authorize()
      const twin = await f.authorize(PRICE, { to: f.stranger.address, nonce: authorization.nonce })
      await f.usdc.connect(f.stranger).transferWithAuthorization(...f.tokenArgs(twin, f.stranger.address))
      expect(await isUsed(f, authorization), 'the nonce is spent, though not by this authorization').to.equal(
        true,
      )
      const before = await moneyOf(f)
      await expect(f.pay(authorization))
        .to.be.revertedWithCustomError(f.usdc, 'AuthorizationAlreadyUsed')
        .withArgs(f.payer.address, authorization.nonce)
      expect(await moneyOf(f)).to.deep.equal(before)
      expect(before.held).to.equal(await owed(f))
    })

    it('a payer who spends a 1-unit twin with the same nonce to the vault first is not credited the full value', async function () {
      const f = await loadFixture(x402Fixture)
      const authorization = await f.authorize()
      const twin = await f.authorize(1n, { nonce: authorization.nonce })
      await f.usdc.connect(f.payerSigner).transferWithAuthorization(...f.tokenArgs(twin))
      const before = await moneyOf(f)
      await expect(f.pay(authorization))
        .to.be.revertedWithCustomError(f.usdc, 'AuthorizationAlreadyUsed')
        .withArgs(f.payer.address, authorization.nonce)
      expect(await moneyOf(f)).to.deep.equal(before)
      expect(before.held - (await owed(f)), 'only the 1 unit that arrived, uncredited').to.equal(1n)
    })

    it('a payer who cancels its authorization before the coordinator spends it gets the payment refused and pays nothing', async function () {
      const f = await loadFixture(x402Fixture)
      const authorization = await f.authorize()
      const [, name, version, chainId, verifyingContract] = await f.usdc.eip712Domain()
      const cancel = await f.payer.signTypedData({
        domain: { name, version, chainId: Number(chainId), verifyingContract },
        types: {
          CancelAuthorization: [
            { name: 'authorizer', type: 'address' },
            { name: 'nonce', type: 'bytes32' },
          ],
        },
        primaryType: 'CancelAuthorization',
        message: { authorizer: f.payer.address, nonce: authorization.nonce },
      })
      const sig = ethers.Signature.from(cancel)
      await f.usdc.cancelAuthorization(f.payer.address, authorization.nonce, sig.v, sig.r, sig.s)
      const before = await moneyOf(f)
      await expect(f.pay(authorization))
        .to.be.revertedWithCustomError(f.usdc, 'AuthorizationAlreadyUsed')
        .withArgs(f.payer.address, authorization.nonce)
      expect(await moneyOf(f)).to.deep.equal(before)
      expect(before.payerWallet).to.equal(WALLET)
    })
  })
})
