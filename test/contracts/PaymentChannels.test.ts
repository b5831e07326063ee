import { expect } from 'chai'
import { ethers } from 'hardhat'
import { loadFixture, time } from '@nomicfoundation/hardhat-network-helpers'
import { anyValue } from '@nomicfoundation/hardhat-chai-matchers/withArgs'
import type { HardhatEthersSigner } from '@nomicfoundation/hardhat-ethers/signers'
import {
  CHALLENGE_PERIOD,
  FEE_BPS,
  INITIAL_DEPOSIT,
  NO_SIGNATURE,
  USDC,
  callChainOf,
  deployVaultFixture,
  nextBlockAt,
  saltOf,
  typesFor,
  type AnyContract,
  type ChannelConfig,
  type SignedVoucher,
  type VaultFixture,
  signUsdcPermit,
  withHighS,
} from './fixtures'

const MAX_UINT64 = 2n ** 64n - 1n

const feeOf = (amount: bigint) => (amount * BigInt(FEE_BPS)) / 10_000n

/** A fresh deployment with alice's channel to bob funded with 50 USDC by alice herself. */
async function openedFixture() {
  const f = await deployVaultFixture()
  const { config, id } = await f.openChannel({}, 50n * USDC)
  return { ...f, config, id }
}

type OpenedFixture = Awaited<ReturnType<typeof openedFixture>>

/** The provider's (or `signer`'s) `ChannelClose` signature of channel `id` at `cumulativeAmount`. */
function providerClose(f: VaultFixture, id: string, cumulativeAmount: bigint, signer?: HardhatEthersSigner) {
  return f.sign(signer ?? f.bob, 'ChannelClose', { channelId: id, cumulativeAmount })
}

/** The caller's (or `signer`'s) `ChannelFunding` signature of channel `id` up to `totalDeposit`. */
function signFunding(
  f: VaultFixture,
  id: string,
  totalDeposit: bigint,
  nonce: bigint,
  signer?: HardhatEthersSigner,
) {
  return f.sign(signer ?? f.alice, 'ChannelFunding', { channelId: id, totalDeposit, nonce })
}

/** A voucher without a signature: valid only when the caller sends it itself. */
function unsignedVoucher(config: ChannelConfig, sequence: bigint, cumulativeAmount: bigint): SignedVoucher {
  return {
    config,
    sequence,
    cumulativeAmount,
    callChain: callChainOf(Number(sequence)),
    signature: NO_SIGNATURE,
  }
}

/** The channel view as a plain tuple: [deposit, settled, closesAt, isClosed]. */
async function stateOf(f: VaultFixture, id: string): Promise<[bigint, bigint, bigint, boolean]> {
  const view = await f.vault.channel(id)
  return [view.deposit, view.settled, view.closesAt, view.isClosed]
}

/** Vault balances (USDC) of the caller alice, the provider bob and the treasury. */
async function balances(f: VaultFixture) {
  const of = (account: { address: string }) => f.vault.balanceOf(account.address, f.usdcAddress)
  return { alice: await of(f.alice), bob: await of(f.bob), treasury: await of(f.treasury) }
}

async function extensionOf(f: VaultFixture): Promise<AnyContract> {
  return (await ethers.getContractAt(
    'ClearhouseVaultExtension',
    await f.vault.extension(),
  )) as unknown as AnyContract
}

/** alice's EIP-2612 permit of `value` USDC to the vault. */
function permitOf(f: OpenedFixture, value: bigint) {
  return signUsdcPermit(f, f.alice, value)
}

describe('PaymentChannels', function () {
  describe('channelId', function () {
    it('is the EIP-712 digest of the config under the vault domain', async function () {
      const f = await loadFixture(deployVaultFixture)
      const config = f.channelConfig()
      expect(await f.vault.channelId(config)).to.equal(
        ethers.TypedDataEncoder.hash(f.domain, typesFor('ChannelConfig'), config),
      )
      expect(await f.vault.channelId({ ...config, salt: saltOf(2) })).to.not.equal(
        await f.vault.channelId(config),
      )
    })
  })

  describe('channel', function () {
    it('reports {deposit, settled, closesAt, isClosed} and nothing else, all zero for an unknown channel', async function () {
      const f = await loadFixture(openedFixture)
      const view = await f.vault.channel(f.id)
      expect(Object.keys(view.toObject())).to.deep.equal(['deposit', 'settled', 'closesAt', 'isClosed'])
      expect(await stateOf(f, await f.vault.channelId({ ...f.config, salt: saltOf(77) }))).to.deep.equal([
        0n,
        0n,
        0n,
        false,
      ])
    })

    it("stores a channel's whole state in the one storage word at the slot named by its id", async function () {
      const f = await loadFixture(openedFixture)
      const wordOf = async () => BigInt(await ethers.provider.getStorage(f.vaultAddress, f.id))
      expect(await wordOf()).to.equal(50n * USDC)
      await f.vault.settleChannel(await f.signedVoucher(f.config, 1n, 7n * USDC))
      expect(await wordOf()).to.equal(50n * USDC + ((7n * USDC) << 96n))
      await f.vault.connect(f.bob).closeChannel(unsignedVoucher(f.config, 1n, 7n * USDC), NO_SIGNATURE)
      expect(await wordOf()).to.equal(7n * USDC + ((7n * USDC) << 96n) + (1n << 192n))
      expect(await stateOf(f, f.id)).to.deep.equal([7n * USDC, 7n * USDC, 0n, true])
    })
  })

  describe('fundChannel', function () {
    it('opens a channel from the caller balance and emits its config', async function () {
      const f = await loadFixture(deployVaultFixture)
      const config = f.channelConfig()
      const id = await f.vault.channelId(config)
      await expect(f.vault.connect(f.alice).fundChannel(config, 50n * USDC, 0n, NO_SIGNATURE))
        .to.emit(f.vault, 'ChannelOpened')
        .withArgs(id, config.caller, config.provider, config.token, config.feeBps, config.salt)
        .and.to.emit(f.vault, 'ChannelFunded')
        .withArgs(id, 50n * USDC, 50n * USDC)
      expect(await f.vault.balanceOf(f.alice.address, f.usdcAddress)).to.equal(INITIAL_DEPOSIT - 50n * USDC)
      expect(await stateOf(f, id)).to.deep.equal([50n * USDC, 0n, 0n, false])
    })

    it('opens a channel with the caller signature, relayed by anyone, and consumes the signed nonce', async function () {
      const f = await loadFixture(deployVaultFixture)
      const config = f.channelConfig()
      const id = await f.vault.channelId(config)
      const signature = await signFunding(f, id, 20n * USDC, 3n)
      await expect(f.vault.connect(f.relayer).fundChannel(config, 20n * USDC, 3n, signature))
        .to.emit(f.vault, 'ChannelOpened')
        .withArgs(id, f.alice.address, f.bob.address, f.usdcAddress, FEE_BPS, config.salt)
        .and.to.emit(f.vault, 'ChannelFunded')
        .withArgs(id, 20n * USDC, 20n * USDC)
      expect(await f.vault.isNonceUsed(f.alice.address, 3n)).to.equal(true)
      expect(await f.vault.balanceOf(f.alice.address, f.usdcAddress)).to.equal(INITIAL_DEPOSIT - 20n * USDC)
      expect(await f.vault.balanceOf(f.relayer.address, f.usdcAddress)).to.equal(0n)
    })

    it('tops up to a new total with the caller signature; replaying the landed funding moves nothing', async function () {
      const f = await loadFixture(openedFixture)
      const signature = await signFunding(f, f.id, 80n * USDC, 7n)
      expect(await f.vault.isNonceUsed(f.alice.address, 7n)).to.equal(false)
      const tx = f.vault.connect(f.relayer).fundChannel(f.config, 80n * USDC, 7n, signature)
      await expect(tx)
        .to.emit(f.vault, 'ChannelFunded')
        .withArgs(f.id, 30n * USDC, 80n * USDC)
      await expect(tx).to.not.emit(f.vault, 'ChannelOpened')
      expect(await f.vault.isNonceUsed(f.alice.address, 7n)).to.equal(true)
      expect(await f.vault.balanceOf(f.alice.address, f.usdcAddress)).to.equal(INITIAL_DEPOSIT - 80n * USDC)
      expect(await stateOf(f, f.id)).to.deep.equal([80n * USDC, 0n, 0n, false])
      // The total, not the increment, is signed: the same funding again does not raise the deposit.
      await expect(f.vault.connect(f.relayer).fundChannel(f.config, 80n * USDC, 7n, signature))
        .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsDepositNotIncreased')
        .withArgs(f.id, 80n * USDC, 80n * USDC)
    })

    it('reverts VaultNonceUsed when a signed funding reuses a consumed nonce', async function () {
      const f = await loadFixture(openedFixture)
      await f.vault
        .connect(f.relayer)
        .fundChannel(f.config, 60n * USDC, 7n, await signFunding(f, f.id, 60n * USDC, 7n))
      const again = await signFunding(f, f.id, 90n * USDC, 7n)
      await expect(f.vault.connect(f.relayer).fundChannel(f.config, 90n * USDC, 7n, again))
        .to.be.revertedWithCustomError(f.vault, 'VaultNonceUsed')
        .withArgs(f.alice.address, 7n)
      expect(await stateOf(f, f.id)).to.deep.equal([60n * USDC, 0n, 0n, false])
    })

    it('reverts VaultNonceUsed when the nonce was used by another signed message of the caller (an escrow lock)', async function () {
      const f = await loadFixture(openedFixture)
      await f.lockEscrow({ nonce: 42n })
      const signature = await signFunding(f, f.id, 60n * USDC, 42n)
      await expect(f.vault.connect(f.relayer).fundChannel(f.config, 60n * USDC, 42n, signature))
        .to.be.revertedWithCustomError(f.vault, 'VaultNonceUsed')
        .withArgs(f.alice.address, 42n)
    })

    it('ignores the nonce when the caller sends the funding itself without a signature', async function () {
      const f = await loadFixture(openedFixture)
      await f.vault.connect(f.alice).fundChannel(f.config, 60n * USDC, 5n, NO_SIGNATURE)
      await expect(f.vault.connect(f.alice).fundChannel(f.config, 70n * USDC, 5n, NO_SIGNATURE))
        .to.emit(f.vault, 'ChannelFunded')
        .withArgs(f.id, 10n * USDC, 70n * USDC)
      expect(await f.vault.isNonceUsed(f.alice.address, 5n)).to.equal(false)
      // The nonce is still free for a signed funding.
      await expect(
        f.vault
          .connect(f.relayer)
          .fundChannel(f.config, 75n * USDC, 5n, await signFunding(f, f.id, 75n * USDC, 5n)),
      )
        .to.emit(f.vault, 'ChannelFunded')
        .withArgs(f.id, 5n * USDC, 75n * USDC)
      expect(await f.vault.isNonceUsed(f.alice.address, 5n)).to.equal(true)
    })

    it('consumes the nonce when the caller sends its own signature', async function () {
      const f = await loadFixture(openedFixture)
      const signature = await signFunding(f, f.id, 60n * USDC, 11n)
      await f.vault.connect(f.alice).fundChannel(f.config, 60n * USDC, 11n, signature)
      expect(await f.vault.isNonceUsed(f.alice.address, 11n)).to.equal(true)
    })

    it('lets the caller cancel a signed funding with invalidateNonce', async function () {
      const f = await loadFixture(openedFixture)
      const signature = await signFunding(f, f.id, 80n * USDC, 9n)
      await expect(f.vault.connect(f.alice).invalidateNonce(9n))
        .to.emit(f.vault, 'NonceInvalidated')
        .withArgs(f.alice.address, 9n)
      await expect(f.vault.connect(f.relayer).fundChannel(f.config, 80n * USDC, 9n, signature))
        .to.be.revertedWithCustomError(f.vault, 'VaultNonceUsed')
        .withArgs(f.alice.address, 9n)
      expect(await stateOf(f, f.id)).to.deep.equal([50n * USDC, 0n, 0n, false])
      expect(await f.vault.balanceOf(f.alice.address, f.usdcAddress)).to.equal(INITIAL_DEPOSIT - 50n * USDC)
    })

    it('is not cancelled by someone else invalidating the same nonce number (nonces are per account)', async function () {
      const f = await loadFixture(openedFixture)
      const signature = await signFunding(f, f.id, 80n * USDC, 9n)
      await f.vault.connect(f.relayer).invalidateNonce(9n)
      expect(await f.vault.isNonceUsed(f.relayer.address, 9n)).to.equal(true)
      expect(await f.vault.isNonceUsed(f.alice.address, 9n)).to.equal(false)
      await expect(f.vault.connect(f.relayer).fundChannel(f.config, 80n * USDC, 9n, signature))
        .to.emit(f.vault, 'ChannelFunded')
        .withArgs(f.id, 30n * USDC, 80n * USDC)
    })

    it('attack: a relayer revives a funding the caller abandoned -> invalidateNonce cancels it for good', async function () {
      const f = await loadFixture(openedFixture)
      // alice signs a top-up to 80 for a relayer, then abandons it and cancels its nonce.
      const abandoned = await signFunding(f, f.id, 80n * USDC, 21n)
      await f.vault.connect(f.alice).invalidateNonce(21n)
      // Later she tops up herself (no signature, so no nonce): 80 would still raise the deposit.
      await f.vault.connect(f.alice).fundChannel(f.config, 60n * USDC, 0n, NO_SIGNATURE)
      const before = await balances(f)
      await expect(f.vault.connect(f.relayer).fundChannel(f.config, 80n * USDC, 21n, abandoned))
        .to.be.revertedWithCustomError(f.vault, 'VaultNonceUsed')
        .withArgs(f.alice.address, 21n)
      // Not on another nonce either: the nonce is part of what alice signed.
      await expect(f.vault.connect(f.relayer).fundChannel(f.config, 80n * USDC, 22n, abandoned))
        .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsInvalidSignature')
        .withArgs(f.id, f.alice.address, anyValue)
      expect(await balances(f)).to.deep.equal(before)
      expect(await stateOf(f, f.id)).to.deep.equal([60n * USDC, 0n, 0n, false])
    })

    it('reverts when the signature is not the caller', async function () {
      const f = await loadFixture(openedFixture)
      const signature = await signFunding(f, f.id, 80n * USDC, 1n, f.bob)
      await expect(f.vault.connect(f.bob).fundChannel(f.config, 80n * USDC, 1n, signature))
        .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsInvalidSignature')
        .withArgs(f.id, f.alice.address, f.bob.address)
      expect(await f.vault.isNonceUsed(f.alice.address, 1n)).to.equal(false)
    })

    it('reverts when the signature was for another total, nonce or channel', async function () {
      const f = await loadFixture(openedFixture)
      const signature = await signFunding(f, f.id, 80n * USDC, 1n)
      await expect(f.vault.connect(f.relayer).fundChannel(f.config, 90n * USDC, 1n, signature))
        .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsInvalidSignature')
        .withArgs(f.id, f.alice.address, anyValue)
      await expect(f.vault.connect(f.relayer).fundChannel(f.config, 80n * USDC, 2n, signature))
        .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsInvalidSignature')
        .withArgs(f.id, f.alice.address, anyValue)
      const other = { ...f.config, salt: saltOf(2) }
      await expect(f.vault.connect(f.relayer).fundChannel(other, 80n * USDC, 1n, signature))
        .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsInvalidSignature')
        .withArgs(await f.vault.channelId(other), f.alice.address, anyValue)
    })

    it('reverts when a stranger sends it without a signature', async function () {
      const f = await loadFixture(openedFixture)
      await expect(f.vault.connect(f.bob).fundChannel(f.config, 60n * USDC, 0n, NO_SIGNATURE))
        .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsInvalidSignature')
        .withArgs(f.id, f.alice.address, ethers.ZeroAddress)
    })

    it('reverts when the total does not raise the deposit', async function () {
      const f = await loadFixture(openedFixture)
      for (const total of [50n * USDC, 40n * USDC]) {
        await expect(f.vault.connect(f.alice).fundChannel(f.config, total, 0n, NO_SIGNATURE))
          .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsDepositNotIncreased')
          .withArgs(f.id, 50n * USDC, total)
      }
    })

    it('reverts when the total does not fit 96 bits', async function () {
      const f = await loadFixture(openedFixture)
      await expect(f.vault.connect(f.alice).fundChannel(f.config, 2n ** 96n, 0n, NO_SIGNATURE))
        .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsDepositTooLarge')
        .withArgs(2n ** 96n)
    })

    it('reverts for an invalid new config', async function () {
      const f = await loadFixture(deployVaultFixture)
      for (const provider of [ethers.ZeroAddress, f.alice.address]) {
        await expect(
          f.vault.connect(f.alice).fundChannel(f.channelConfig({ provider }), 1n, 0n, NO_SIGNATURE),
        )
          .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsInvalidConfig')
          .withArgs(f.alice.address, provider)
      }
      await expect(
        f.vault
          .connect(f.alice)
          .fundChannel(f.channelConfig({ caller: ethers.ZeroAddress }), 1n, 0n, NO_SIGNATURE),
      )
        .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsInvalidConfig')
        .withArgs(ethers.ZeroAddress, f.bob.address)
    })

    it('reverts when a new channel fee exceeds the protocol fee', async function () {
      const f = await loadFixture(deployVaultFixture)
      await expect(
        f.vault.connect(f.alice).fundChannel(f.channelConfig({ feeBps: FEE_BPS + 1 }), 1n, 0n, NO_SIGNATURE),
      )
        .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsFeeTooHigh')
        .withArgs(FEE_BPS + 1, FEE_BPS)
    })

    it('reverts for a token off the allowlist', async function () {
      const f = await loadFixture(deployVaultFixture)
      await expect(
        f.vault
          .connect(f.alice)
          .fundChannel(f.channelConfig({ token: f.stranger.address }), 1n, 0n, NO_SIGNATURE),
      )
        .to.be.revertedWithCustomError(f.vault, 'VaultTokenNotAllowed')
        .withArgs(f.stranger.address)
    })

    it('reverts when the caller balance is short', async function () {
      const f = await loadFixture(deployVaultFixture)
      await expect(
        f.vault.connect(f.alice).fundChannel(f.channelConfig(), INITIAL_DEPOSIT + 1n, 0n, NO_SIGNATURE),
      )
        .to.be.revertedWithCustomError(f.vault, 'VaultInsufficientBalance')
        .withArgs(f.alice.address, f.usdcAddress, INITIAL_DEPOSIT, INITIAL_DEPOSIT + 1n)
    })

    it('reverts during a close and after it', async function () {
      const f = await loadFixture(openedFixture)
      await f.vault.connect(f.alice).requestChannelClose(f.config)
      const { closesAt } = await f.vault.channel(f.id)
      await expect(f.vault.connect(f.alice).fundChannel(f.config, 60n * USDC, 0n, NO_SIGNATURE))
        .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsClosing')
        .withArgs(f.id, closesAt)
      await time.increaseTo(closesAt)
      await f.vault.finalizeChannelClose(f.config)
      await expect(f.vault.connect(f.alice).fundChannel(f.config, 60n * USDC, 0n, NO_SIGNATURE))
        .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsClosed')
        .withArgs(f.id)
    })
  })

  describe('fundChannelWithPermit', function () {
    it('funds straight from the caller wallet', async function () {
      const f = await loadFixture(openedFixture)
      await f.usdc.connect(f.alice).approve(f.vaultAddress, 0n)
      const walletBefore = await f.usdc.balanceOf(f.alice.address)
      const p = await permitOf(f, 5n * USDC)
      await expect(
        f.vault.connect(f.alice).fundChannelWithPermit(f.config, 5n * USDC, p.deadline, p.v, p.r, p.s),
      )
        .to.emit(f.vault, 'Deposited')
        .withArgs(f.alice.address, f.usdcAddress, f.alice.address, 5n * USDC)
        .and.to.emit(f.vault, 'ChannelFunded')
        .withArgs(f.id, 5n * USDC, 55n * USDC)
      expect(await f.usdc.balanceOf(f.alice.address)).to.equal(walletBefore - 5n * USDC)
      expect(await f.vault.balanceOf(f.alice.address, f.usdcAddress)).to.equal(INITIAL_DEPOSIT - 50n * USDC)
      expect(await stateOf(f, f.id)).to.deep.equal([55n * USDC, 0n, 0n, false])
    })

    it('uses the caller standing allowance when the caller sends a failing permit', async function () {
      const f = await loadFixture(openedFixture)
      await expect(
        f.vault
          .connect(f.alice)
          .fundChannelWithPermit(f.config, 3n * USDC, 0n, 27, ethers.ZeroHash, ethers.ZeroHash),
      )
        .to.emit(f.vault, 'ChannelFunded')
        .withArgs(f.id, 3n * USDC, 53n * USDC)
    })

    it('reverts when the sender is not the caller', async function () {
      const f = await loadFixture(openedFixture)
      await expect(
        f.vault.connect(f.bob).fundChannelWithPermit(f.config, 1n, 0n, 27, ethers.ZeroHash, ethers.ZeroHash),
      )
        .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsUnauthorized')
        .withArgs(f.id, f.bob.address)
    })

    it('reverts while deposits are paused', async function () {
      const f = await loadFixture(openedFixture)
      await f.vault.connect(f.owner).pause()
      const p = await permitOf(f, 1n)
      await expect(
        f.vault.connect(f.alice).fundChannelWithPermit(f.config, 1n, p.deadline, p.v, p.r, p.s),
      ).to.be.revertedWithCustomError(f.vault, 'EnforcedPause')
    })

    it('reverts when called on the extension directly', async function () {
      const f = await loadFixture(openedFixture)
      const extension = await extensionOf(f)
      await expect(
        extension
          .connect(f.alice)
          .fundChannelWithPermit(f.config, 1n, 0n, 27, ethers.ZeroHash, ethers.ZeroHash),
      ).to.be.revertedWithCustomError(f.vault, 'VaultOnlyThroughVault')
    })
  })

  describe('settleChannel', function () {
    it('credits the provider the new amount less the fee, and the treasury the fee', async function () {
      const f = await loadFixture(openedFixture)
      const voucher = await f.signedVoucher(f.config, 1n, 10n * USDC)
      await expect(f.vault.connect(f.relayer).settleChannel(voucher))
        .to.emit(f.vault, 'ChannelSettled')
        .withArgs(f.id, 1n, 10n * USDC, 10n * USDC, voucher.callChain)
      expect(await balances(f)).to.deep.equal({
        alice: INITIAL_DEPOSIT - 50n * USDC,
        bob: INITIAL_DEPOSIT + 10n * USDC - feeOf(10n * USDC),
        treasury: feeOf(10n * USDC),
      })
      const next = await f.signedVoucher(f.config, 5n, 25n * USDC)
      await expect(f.vault.connect(f.bob).settleChannel(next))
        .to.emit(f.vault, 'ChannelSettled')
        .withArgs(f.id, 5n, 25n * USDC, 15n * USDC, next.callChain)
      expect(await balances(f)).to.deep.equal({
        alice: INITIAL_DEPOSIT - 50n * USDC,
        bob: INITIAL_DEPOSIT + 25n * USDC - feeOf(10n * USDC) - feeOf(15n * USDC),
        treasury: feeOf(10n * USDC) + feeOf(15n * USDC),
      })
      expect(await stateOf(f, f.id)).to.deep.equal([50n * USDC, 25n * USDC, 0n, false])
    })

    it('takes the fee rate of the config, not the current protocol fee', async function () {
      const f = await loadFixture(deployVaultFixture)
      const { config, id } = await f.openChannel({ feeBps: 0 }, 50n * USDC)
      await expect(f.vault.settleChannel(await f.signedVoucher(config, 1n, 10n * USDC)))
        .to.emit(f.vault, 'ChannelSettled')
        .withArgs(id, 1n, 10n * USDC, 10n * USDC, callChainOf(1))
      expect(await balances(f)).to.deep.include({ bob: INITIAL_DEPOSIT + 10n * USDC, treasury: 0n })
    })

    it('takes no voucher signature when the caller sends it', async function () {
      const f = await loadFixture(openedFixture)
      await expect(f.vault.connect(f.alice).settleChannel(unsignedVoucher(f.config, 1n, 3n)))
        .to.emit(f.vault, 'ChannelSettled')
        .withArgs(f.id, 1n, 3n, 3n, callChainOf(1))
      await expect(f.vault.connect(f.bob).settleChannel(unsignedVoucher(f.config, 2n, 4n)))
        .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsInvalidSignature')
        .withArgs(f.id, f.alice.address, ethers.ZeroAddress)
    })

    it('accepts any sequence, including 2^64 - 1 and a sequence lower than the last one, and only emits it', async function () {
      const f = await loadFixture(openedFixture)
      const top = await f.signedVoucher(f.config, MAX_UINT64, 10n * USDC)
      await expect(f.vault.settleChannel(top))
        .to.emit(f.vault, 'ChannelSettled')
        .withArgs(f.id, MAX_UINT64, 10n * USDC, 10n * USDC, top.callChain)
      const lower = await f.signedVoucher(f.config, 0n, 12n * USDC)
      await expect(f.vault.settleChannel(lower))
        .to.emit(f.vault, 'ChannelSettled')
        .withArgs(f.id, 0n, 12n * USDC, 2n * USDC, lower.callChain)
      expect(await stateOf(f, f.id)).to.deep.equal([50n * USDC, 12n * USDC, 0n, false])
      expect((await balances(f)).bob).to.equal(
        INITIAL_DEPOSIT + 12n * USDC - feeOf(10n * USDC) - feeOf(2n * USDC),
      )
    })

    it('reverts for a voucher that does not raise the settled amount, whatever its sequence', async function () {
      const f = await loadFixture(openedFixture)
      const voucher = await f.signedVoucher(f.config, 3n, 10n * USDC)
      await f.vault.settleChannel(voucher)
      const before = await balances(f)
      // The same voucher again.
      await expect(f.vault.settleChannel(voucher))
        .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsVoucherNotNewer')
        .withArgs(f.id, 10n * USDC, 10n * USDC)
      // A newer sequence that pays nothing new.
      await expect(f.vault.settleChannel(await f.signedVoucher(f.config, 4n, 10n * USDC)))
        .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsVoucherNotNewer')
        .withArgs(f.id, 10n * USDC, 10n * USDC)
      // A newer sequence with a smaller amount.
      await expect(f.vault.settleChannel(await f.signedVoucher(f.config, 5n, 10n * USDC - 1n)))
        .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsVoucherNotNewer')
        .withArgs(f.id, 10n * USDC, 10n * USDC - 1n)
      expect(await balances(f)).to.deep.equal(before)
      expect(await stateOf(f, f.id)).to.deep.equal([50n * USDC, 10n * USDC, 0n, false])
    })

    it('reverts for a zero voucher on a fresh channel', async function () {
      const f = await loadFixture(openedFixture)
      await expect(f.vault.settleChannel(await f.signedVoucher(f.config, 1n, 0n)))
        .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsVoucherNotNewer')
        .withArgs(f.id, 0n, 0n)
    })

    it('settles up to the whole deposit, and above it only once a top-up covers it', async function () {
      const f = await loadFixture(openedFixture)
      const over = await f.signedVoucher(f.config, 2n, 51n * USDC)
      await expect(f.vault.settleChannel(over))
        .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsInsufficientDeposit')
        .withArgs(f.id, 50n * USDC, 51n * USDC)
      await expect(f.vault.settleChannel(await f.signedVoucher(f.config, 1n, 50n * USDC)))
        .to.emit(f.vault, 'ChannelSettled')
        .withArgs(f.id, 1n, 50n * USDC, 50n * USDC, callChainOf(1))
      await f.vault.connect(f.alice).fundChannel(f.config, 60n * USDC, 0n, NO_SIGNATURE)
      await expect(f.vault.settleChannel(over))
        .to.emit(f.vault, 'ChannelSettled')
        .withArgs(f.id, 2n, 51n * USDC, 1n * USDC, over.callChain)
      expect(await stateOf(f, f.id)).to.deep.equal([60n * USDC, 51n * USDC, 0n, false])
    })

    it('reverts when the voucher is not signed by the caller', async function () {
      const f = await loadFixture(openedFixture)
      const voucher = await f.signedVoucher(f.config, 1n, 10n * USDC, f.bob)
      await expect(f.vault.connect(f.bob).settleChannel(voucher))
        .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsInvalidSignature')
        .withArgs(f.id, f.alice.address, f.bob.address)
    })

    it("attack: a relayer submits the caller's voucher with its s moved into the upper half of the curve order (a malleable twin's form) -> refused as signed by nobody", async function () {
      const f = await loadFixture(openedFixture)
      const voucher = await f.signedVoucher(f.config, 1n, 10n * USDC)
      await expect(
        f.vault.connect(f.relayer).settleChannel({ ...voucher, signature: withHighS(voucher.signature) }),
      )
        .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsInvalidSignature')
        .withArgs(f.id, f.alice.address, ethers.ZeroAddress)
      await expect(f.vault.connect(f.relayer).settleChannel(voucher)).to.emit(f.vault, 'ChannelSettled')
    })

    it('reverts when a signed field is changed (amount, sequence or call chain)', async function () {
      const f = await loadFixture(openedFixture)
      const voucher = await f.signedVoucher(f.config, 1n, 10n * USDC)
      for (const tampered of [
        { ...voucher, cumulativeAmount: 20n * USDC },
        { ...voucher, sequence: 2n },
        { ...voucher, callChain: callChainOf(99) },
      ]) {
        await expect(f.vault.connect(f.bob).settleChannel(tampered))
          .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsInvalidSignature')
          .withArgs(f.id, f.alice.address, anyValue)
      }
    })

    it('reverts when the config is changed (another provider is another channel)', async function () {
      const f = await loadFixture(openedFixture)
      const voucher = await f.signedVoucher(f.config, 1n, 10n * USDC)
      const other = { ...f.config, provider: f.carol.address }
      await expect(f.vault.settleChannel({ ...voucher, config: other }))
        .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsNotFound')
        .withArgs(await f.vault.channelId(other))
    })

    it('reverts for a non-canonical encoding (dirty high bits in an address or the sequence)', async function () {
      const f = await loadFixture(openedFixture)
      const voucher = await f.signedVoucher(f.config, 1n, 10n * USDC)
      const clean = ethers.getBytes(f.vault.interface.encodeFunctionData('settleChannel', [voucher]))
      // The voucher is ten static words after the selector: caller is word 0, sequence word 5.
      for (const word of [0, 5]) {
        const data = Uint8Array.from(clean)
        data[4 + 32 * word] = 0x01
        await expect(
          f.relayer.sendTransaction({ to: f.vaultAddress, data: ethers.hexlify(data) }),
        ).to.be.revertedWithCustomError(f.vault, 'VoucherCodecNonCanonical')
      }
      // The clean encoding settles.
      await expect(f.relayer.sendTransaction({ to: f.vaultAddress, data: ethers.hexlify(clean) })).to.emit(
        f.vault,
        'ChannelSettled',
      )
    })

    it('settles during a pending unilateral close (the challenge) and after the period until it is finalized', async function () {
      const f = await loadFixture(openedFixture)
      await f.vault.connect(f.alice).requestChannelClose(f.config)
      const { closesAt } = await f.vault.channel(f.id)
      await expect(f.vault.connect(f.bob).settleChannel(await f.signedVoucher(f.config, 1n, 10n * USDC)))
        .to.emit(f.vault, 'ChannelSettled')
        .withArgs(f.id, 1n, 10n * USDC, 10n * USDC, callChainOf(1))
      await time.increaseTo(closesAt + 10n)
      await expect(f.vault.connect(f.bob).settleChannel(await f.signedVoucher(f.config, 2n, 15n * USDC)))
        .to.emit(f.vault, 'ChannelSettled')
        .withArgs(f.id, 2n, 15n * USDC, 5n * USDC, callChainOf(2))
      expect(await stateOf(f, f.id)).to.deep.equal([50n * USDC, 15n * USDC, closesAt, false])
      await expect(f.vault.finalizeChannelClose(f.config))
        .to.emit(f.vault, 'ChannelClosed')
        .withArgs(f.id, 15n * USDC, 35n * USDC)
    })

    it('reverts on a closed channel', async function () {
      const f = await loadFixture(openedFixture)
      await f.vault.connect(f.bob).closeChannel(unsignedVoucher(f.config, 0n, 0n), NO_SIGNATURE)
      await expect(f.vault.settleChannel(await f.signedVoucher(f.config, 1n, 10n * USDC)))
        .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsClosed')
        .withArgs(f.id)
    })

    it("attack: the caller voids the provider's unsettled vouchers with a zero-value voucher of a huge sequence -> refused", async function () {
      const f = await loadFixture(openedFixture)
      await f.vault.connect(f.bob).settleChannel(await f.signedVoucher(f.config, 1n, 10n * USDC))
      // bob holds alice's newest voucher, not settled yet.
      const providersNewest = await f.signedVoucher(f.config, 3n, 30n * USDC)
      // alice signs a voucher that pays nothing new with a sequence near 2^64 and settles it herself.
      const voiding = await f.signedVoucher(f.config, MAX_UINT64 - 1n, 10n * USDC)
      await expect(f.vault.connect(f.alice).settleChannel(voiding))
        .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsVoucherNotNewer')
        .withArgs(f.id, 10n * USDC, 10n * USDC)
      await expect(
        f.vault.connect(f.alice).settleChannel(unsignedVoucher(f.config, MAX_UINT64 - 1n, 10n * USDC)),
      )
        .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsVoucherNotNewer')
        .withArgs(f.id, 10n * USDC, 10n * USDC)
      // alice starts a unilateral close; bob's newest voucher still settles in the challenge period.
      await f.vault.connect(f.alice).requestChannelClose(f.config)
      const { closesAt } = await f.vault.channel(f.id)
      await expect(f.vault.connect(f.bob).settleChannel(providersNewest))
        .to.emit(f.vault, 'ChannelSettled')
        .withArgs(f.id, 3n, 30n * USDC, 20n * USDC, providersNewest.callChain)
      await time.increaseTo(closesAt)
      await expect(f.vault.connect(f.alice).finalizeChannelClose(f.config))
        .to.emit(f.vault, 'ChannelClosed')
        .withArgs(f.id, 30n * USDC, 20n * USDC)
      expect(await balances(f)).to.deep.equal({
        alice: INITIAL_DEPOSIT - 30n * USDC,
        bob: INITIAL_DEPOSIT + 30n * USDC - feeOf(10n * USDC) - feeOf(20n * USDC),
        treasury: feeOf(10n * USDC) + feeOf(20n * USDC),
      })
    })

    it("attack: the caller settles an older, smaller voucher to block the provider's newer one -> the newer one still settles", async function () {
      const f = await loadFixture(openedFixture)
      // bob holds two of alice's vouchers: an older one for 10 and the newer one for 25.
      const older = await f.signedVoucher(f.config, 1n, 10n * USDC)
      const newer = await f.signedVoucher(f.config, 2n, 25n * USDC)
      // alice settles the older one first: it raises the settled amount, so it lands.
      await expect(f.vault.connect(f.alice).settleChannel(older))
        .to.emit(f.vault, 'ChannelSettled')
        .withArgs(f.id, 1n, 10n * USDC, 10n * USDC, older.callChain)
      // She then re-signs a smaller amount under a sequence above bob's newer voucher and settles it too.
      const resigned = await f.signedVoucher(f.config, 3n, 15n * USDC)
      await expect(f.vault.connect(f.alice).settleChannel(resigned))
        .to.emit(f.vault, 'ChannelSettled')
        .withArgs(f.id, 3n, 15n * USDC, 5n * USDC, resigned.callChain)
      // bob's newer, larger voucher (a lower sequence) still settles after both, for the difference.
      await expect(f.vault.connect(f.bob).settleChannel(newer))
        .to.emit(f.vault, 'ChannelSettled')
        .withArgs(f.id, 2n, 25n * USDC, 10n * USDC, newer.callChain)
      expect(await balances(f)).to.deep.equal({
        alice: INITIAL_DEPOSIT - 50n * USDC,
        bob: INITIAL_DEPOSIT + 25n * USDC - feeOf(25n * USDC),
        treasury: feeOf(25n * USDC),
      })
      expect(await stateOf(f, f.id)).to.deep.equal([50n * USDC, 25n * USDC, 0n, false])
    })
  })

  describe('closeChannel', function () {
    it('settles a final voucher above the settled amount and refunds the rest at once', async function () {
      const f = await loadFixture(openedFixture)
      await f.vault.settleChannel(await f.signedVoucher(f.config, 1n, 5n * USDC))
      const voucher = await f.signedVoucher(f.config, 4n, 20n * USDC)
      const providerSignature = await providerClose(f, f.id, 20n * USDC)
      await expect(f.vault.connect(f.relayer).closeChannel(voucher, providerSignature))
        .to.emit(f.vault, 'ChannelSettled')
        .withArgs(f.id, 4n, 20n * USDC, 15n * USDC, voucher.callChain)
        .and.to.emit(f.vault, 'ChannelClosed')
        .withArgs(f.id, 20n * USDC, 30n * USDC)
      expect(await balances(f)).to.deep.equal({
        alice: INITIAL_DEPOSIT - 20n * USDC,
        bob: INITIAL_DEPOSIT + 20n * USDC - feeOf(5n * USDC) - feeOf(15n * USDC),
        treasury: feeOf(5n * USDC) + feeOf(15n * USDC),
      })
      // Closed: the deposit is lowered to what was settled.
      expect(await stateOf(f, f.id)).to.deep.equal([20n * USDC, 20n * USDC, 0n, true])
    })

    it('lets the caller send it with an unsigned final voucher and the provider signature', async function () {
      const f = await loadFixture(openedFixture)
      const providerSignature = await providerClose(f, f.id, 8n * USDC)
      await expect(
        f.vault.connect(f.alice).closeChannel(unsignedVoucher(f.config, 1n, 8n * USDC), providerSignature),
      )
        .to.emit(f.vault, 'ChannelSettled')
        .withArgs(f.id, 1n, 8n * USDC, 8n * USDC, callChainOf(1))
        .and.to.emit(f.vault, 'ChannelClosed')
        .withArgs(f.id, 8n * USDC, 42n * USDC)
    })

    it('closes on the provider word alone when the amount is already settled (the voucher signature is ignored)', async function () {
      const f = await loadFixture(openedFixture)
      await f.vault.settleChannel(await f.signedVoucher(f.config, 2n, 5n * USDC))
      const before = await balances(f)
      const finalState = unsignedVoucher(f.config, 2n, 5n * USDC)
      const tx = f.vault.connect(f.relayer).closeChannel(finalState, await providerClose(f, f.id, 5n * USDC))
      await expect(tx)
        .to.emit(f.vault, 'ChannelClosed')
        .withArgs(f.id, 5n * USDC, 45n * USDC)
      await expect(tx).to.not.emit(f.vault, 'ChannelSettled')
      expect(await balances(f)).to.deep.equal({ ...before, alice: before.alice + 45n * USDC })
      expect(await stateOf(f, f.id)).to.deep.equal([5n * USDC, 5n * USDC, 0n, true])
    })

    it('lets the provider waive everything by sending a close at zero on a channel with nothing settled', async function () {
      const f = await loadFixture(openedFixture)
      await expect(f.vault.connect(f.bob).closeChannel(unsignedVoucher(f.config, 0n, 0n), NO_SIGNATURE))
        .to.emit(f.vault, 'ChannelClosed')
        .withArgs(f.id, 0n, 50n * USDC)
      expect(await balances(f)).to.deep.equal({ alice: INITIAL_DEPOSIT, bob: INITIAL_DEPOSIT, treasury: 0n })
      expect(await stateOf(f, f.id)).to.deep.equal([0n, 0n, 0n, true])
    })

    it('reverts when the named amount is below the settled amount', async function () {
      const f = await loadFixture(openedFixture)
      await f.vault.settleChannel(await f.signedVoucher(f.config, 3n, 5n * USDC))
      await expect(
        f.vault.connect(f.bob).closeChannel(unsignedVoucher(f.config, 9n, 4n * USDC), NO_SIGNATURE),
      )
        .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsCloseBelowSettled')
        .withArgs(f.id, 5n * USDC, 4n * USDC)
    })

    it("attack: a provider's old close signature at a lower amount closes the channel below what was settled -> refused", async function () {
      const f = await loadFixture(openedFixture)
      // Early on bob signed a close at 10 (alice's voucher for 10 in hand); it was never used.
      const oldVoucher = await f.signedVoucher(f.config, 1n, 10n * USDC)
      const oldClose = await providerClose(f, f.id, 10n * USDC)
      // The channel went on: 25 is settled now.
      await f.vault.connect(f.bob).settleChannel(await f.signedVoucher(f.config, 2n, 25n * USDC))
      const before = await balances(f)
      await expect(f.vault.connect(f.alice).closeChannel(oldVoucher, oldClose))
        .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsCloseBelowSettled')
        .withArgs(f.id, 25n * USDC, 10n * USDC)
      expect(await balances(f)).to.deep.equal(before)
      expect(await stateOf(f, f.id)).to.deep.equal([50n * USDC, 25n * USDC, 0n, false])
      // The channel stays open: bob still settles alice's later vouchers.
      await expect(f.vault.connect(f.bob).settleChannel(await f.signedVoucher(f.config, 3n, 30n * USDC)))
        .to.emit(f.vault, 'ChannelSettled')
        .withArgs(f.id, 3n, 30n * USDC, 5n * USDC, callChainOf(3))
    })

    it('treats a provider close signature as final: it closes at its amount later, past newer vouchers the provider took', async function () {
      const f = await loadFixture(openedFixture)
      // bob signs a close at 10, then keeps serving and takes alice's voucher for 25 without settling it.
      const final = await f.signedVoucher(f.config, 1n, 10n * USDC)
      const close = await providerClose(f, f.id, 10n * USDC)
      const newer = await f.signedVoucher(f.config, 2n, 25n * USDC)
      await expect(f.vault.connect(f.alice).closeChannel(final, close))
        .to.emit(f.vault, 'ChannelClosed')
        .withArgs(f.id, 10n * USDC, 40n * USDC)
      await expect(f.vault.connect(f.bob).settleChannel(newer))
        .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsClosed')
        .withArgs(f.id)
      expect((await balances(f)).bob).to.equal(INITIAL_DEPOSIT + 10n * USDC - feeOf(10n * USDC))
    })

    it('reverts when the provider did not sign', async function () {
      const f = await loadFixture(openedFixture)
      const voucher = await f.signedVoucher(f.config, 1n, 1n)
      const signature = await providerClose(f, f.id, 1n, f.alice)
      await expect(f.vault.connect(f.alice).closeChannel(voucher, signature))
        .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsInvalidSignature')
        .withArgs(f.id, f.bob.address, f.alice.address)
      await expect(f.vault.connect(f.alice).closeChannel(voucher, NO_SIGNATURE))
        .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsInvalidSignature')
        .withArgs(f.id, f.bob.address, ethers.ZeroAddress)
    })

    it('reverts when the provider signed another amount', async function () {
      const f = await loadFixture(openedFixture)
      const voucher = await f.signedVoucher(f.config, 1n, 25n * USDC)
      const signature = await providerClose(f, f.id, 20n * USDC)
      await expect(f.vault.connect(f.relayer).closeChannel(voucher, signature))
        .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsInvalidSignature')
        .withArgs(f.id, f.bob.address, anyValue)
    })

    it('reverts when the final voucher above the settled amount is not signed by the caller', async function () {
      const f = await loadFixture(openedFixture)
      const forged = await f.signedVoucher(f.config, 1n, 50n * USDC, f.bob)
      await expect(f.vault.connect(f.bob).closeChannel(forged, NO_SIGNATURE))
        .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsInvalidSignature')
        .withArgs(f.id, f.alice.address, f.bob.address)
      await expect(f.vault.connect(f.bob).closeChannel(unsignedVoucher(f.config, 1n, 1n), NO_SIGNATURE))
        .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsInvalidSignature')
        .withArgs(f.id, f.alice.address, ethers.ZeroAddress)
    })

    it('reverts when the final voucher exceeds the deposit', async function () {
      const f = await loadFixture(openedFixture)
      const voucher = await f.signedVoucher(f.config, 1n, 51n * USDC)
      await expect(f.vault.connect(f.bob).closeChannel(voucher, NO_SIGNATURE))
        .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsInsufficientDeposit')
        .withArgs(f.id, 50n * USDC, 51n * USDC)
    })

    it('closes during a pending unilateral close and clears the request', async function () {
      const f = await loadFixture(openedFixture)
      await f.vault.connect(f.alice).requestChannelClose(f.config)
      const voucher = await f.signedVoucher(f.config, 1n, 10n * USDC)
      await expect(f.vault.connect(f.bob).closeChannel(voucher, NO_SIGNATURE))
        .to.emit(f.vault, 'ChannelClosed')
        .withArgs(f.id, 10n * USDC, 40n * USDC)
      expect(await stateOf(f, f.id)).to.deep.equal([10n * USDC, 10n * USDC, 0n, true])
      await expect(f.vault.finalizeChannelClose(f.config))
        .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsNoCloseRequest')
        .withArgs(f.id)
    })

    it('reverts for a closed or unknown channel', async function () {
      const f = await loadFixture(openedFixture)
      const voucher = await f.signedVoucher(f.config, 1n, 1n)
      await f.vault.connect(f.bob).closeChannel(voucher, NO_SIGNATURE)
      await expect(f.vault.connect(f.bob).closeChannel(voucher, NO_SIGNATURE))
        .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsClosed')
        .withArgs(f.id)
      const unknown = { ...voucher, config: { ...f.config, salt: saltOf(99) } }
      await expect(f.vault.connect(f.bob).closeChannel(unknown, NO_SIGNATURE))
        .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsNotFound')
        .withArgs(await f.vault.channelId(unknown.config))
    })
  })

  describe('requestChannelClose', function () {
    it('starts the challenge period', async function () {
      const f = await loadFixture(openedFixture)
      const closesAt = (await nextBlockAt()) + BigInt(CHALLENGE_PERIOD)
      await expect(f.vault.connect(f.alice).requestChannelClose(f.config))
        .to.emit(f.vault, 'ChannelCloseRequested')
        .withArgs(f.id, closesAt)
      expect(await stateOf(f, f.id)).to.deep.equal([50n * USDC, 0n, closesAt, false])
      expect(await f.vault.challengePeriod()).to.equal(BigInt(CHALLENGE_PERIOD))
    })

    it('works while the vault is paused', async function () {
      const f = await loadFixture(openedFixture)
      await f.vault.connect(f.owner).pause()
      await expect(f.vault.connect(f.alice).requestChannelClose(f.config)).to.emit(
        f.vault,
        'ChannelCloseRequested',
      )
    })

    it('reverts when the sender is not the caller', async function () {
      const f = await loadFixture(openedFixture)
      await expect(f.vault.connect(f.bob).requestChannelClose(f.config))
        .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsUnauthorized')
        .withArgs(f.id, f.bob.address)
    })

    it('reverts when a close is already pending', async function () {
      const f = await loadFixture(openedFixture)
      await f.vault.connect(f.alice).requestChannelClose(f.config)
      const { closesAt } = await f.vault.channel(f.id)
      await expect(f.vault.connect(f.alice).requestChannelClose(f.config))
        .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsClosing')
        .withArgs(f.id, closesAt)
    })

    it('reverts for an unknown or closed channel', async function () {
      const f = await loadFixture(openedFixture)
      const config = { ...f.config, salt: saltOf(42) }
      await expect(f.vault.connect(f.alice).requestChannelClose(config))
        .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsNotFound')
        .withArgs(await f.vault.channelId(config))
      await f.vault.connect(f.bob).closeChannel(unsignedVoucher(f.config, 0n, 0n), NO_SIGNATURE)
      await expect(f.vault.connect(f.alice).requestChannelClose(f.config))
        .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsClosed')
        .withArgs(f.id)
    })

    it('reverts when called on the extension directly', async function () {
      const f = await loadFixture(openedFixture)
      const extension = await extensionOf(f)
      await expect(extension.connect(f.alice).requestChannelClose(f.config)).to.be.revertedWithCustomError(
        f.vault,
        'VaultOnlyThroughVault',
      )
      expect((await f.vault.channel(f.id)).closesAt).to.equal(0n)
    })
  })

  describe('finalizeChannelClose', function () {
    it('returns the rest to the caller after the challenge period, called by anyone', async function () {
      const f = await loadFixture(openedFixture)
      await f.vault.settleChannel(await f.signedVoucher(f.config, 1n, 10n * USDC))
      await f.vault.connect(f.alice).requestChannelClose(f.config)
      await time.increase(CHALLENGE_PERIOD)
      await expect(f.vault.connect(f.stranger).finalizeChannelClose(f.config))
        .to.emit(f.vault, 'ChannelClosed')
        .withArgs(f.id, 10n * USDC, 40n * USDC)
      expect(await balances(f)).to.deep.equal({
        alice: INITIAL_DEPOSIT - 10n * USDC,
        bob: INITIAL_DEPOSIT + 10n * USDC - feeOf(10n * USDC),
        treasury: feeOf(10n * USDC),
      })
      expect(await stateOf(f, f.id)).to.deep.equal([10n * USDC, 10n * USDC, 0n, true])
      await expect(f.vault.finalizeChannelClose(f.config))
        .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsNoCloseRequest')
        .withArgs(f.id)
    })

    it('reverts until the last second of the challenge period and succeeds at closesAt', async function () {
      const f = await loadFixture(openedFixture)
      await f.vault.connect(f.alice).requestChannelClose(f.config)
      const { closesAt } = await f.vault.channel(f.id)
      const at = await nextBlockAt()
      await expect(f.vault.finalizeChannelClose(f.config))
        .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsChallengePeriodActive')
        .withArgs(f.id, closesAt, at)
      await time.setNextBlockTimestamp(closesAt - 1n)
      await expect(f.vault.finalizeChannelClose(f.config))
        .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsChallengePeriodActive')
        .withArgs(f.id, closesAt, closesAt - 1n)
      await time.setNextBlockTimestamp(closesAt)
      await expect(f.vault.finalizeChannelClose(f.config))
        .to.emit(f.vault, 'ChannelClosed')
        .withArgs(f.id, 0n, 50n * USDC)
    })

    it('works while the vault is paused', async function () {
      const f = await loadFixture(openedFixture)
      await f.vault.connect(f.alice).requestChannelClose(f.config)
      await f.vault.connect(f.owner).pause()
      await time.increase(CHALLENGE_PERIOD)
      await expect(f.vault.finalizeChannelClose(f.config))
        .to.emit(f.vault, 'ChannelClosed')
        .withArgs(f.id, 0n, 50n * USDC)
      expect((await balances(f)).alice).to.equal(INITIAL_DEPOSIT)
    })

    it('reverts without a close request', async function () {
      const f = await loadFixture(openedFixture)
      await expect(f.vault.finalizeChannelClose(f.config))
        .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsNoCloseRequest')
        .withArgs(f.id)
    })
  })
})
