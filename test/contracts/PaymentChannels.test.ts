import { expect } from 'chai'
import { ethers } from 'hardhat'
import { loadFixture, time } from '@nomicfoundation/hardhat-network-helpers'
import {
  CHALLENGE_PERIOD,
  CLOSED_SEQUENCE,
  FEE_BPS,
  INITIAL_DEPOSIT,
  NO_SIGNATURE,
  USDC,
  callChainOf,
  deployVaultFixture,
  nextBlockAt,
  saltOf,
  typesFor,
  type VaultFixture,
} from './fixtures'

const feeOf = (amount: bigint) => (amount * BigInt(FEE_BPS)) / 10_000n

async function openedFixture() {
  const f = await deployVaultFixture()
  const { config, id } = await f.openChannel({}, 50n * USDC)
  return { ...f, config, id }
}

async function providerClose(f: VaultFixture, id: string, sequence: bigint, cumulativeAmount: bigint) {
  return f.sign(f.bob, 'ChannelClose', { channelId: id, sequence, cumulativeAmount })
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

  describe('fundChannel', function () {
    it('opens a channel from the caller balance and emits its config', async function () {
      const f = await loadFixture(deployVaultFixture)
      const config = f.channelConfig()
      const id = await f.vault.channelId(config)
      await expect(f.vault.connect(f.alice).fundChannel(config, 50n * USDC, NO_SIGNATURE))
        .to.emit(f.vault, 'ChannelOpened')
        .withArgs(id, config.caller, config.provider, config.token, config.feeBps, config.salt)
        .and.to.emit(f.vault, 'ChannelFunded')
        .withArgs(id, 50n * USDC, 50n * USDC)
      expect(await f.vault.balanceOf(f.alice.address, f.usdcAddress)).to.equal(INITIAL_DEPOSIT - 50n * USDC)
      const view = await f.vault.channel(id)
      expect([view.deposit, view.settled, view.sequence, view.closesAt, view.isClosed]).to.deep.equal([
        50n * USDC,
        0n,
        0n,
        0n,
        false,
      ])
    })

    it('tops up to a new total with the caller signature, relayed by anyone', async function () {
      const f = await loadFixture(openedFixture)
      const signature = await f.sign(f.alice, 'ChannelFunding', { channelId: f.id, totalDeposit: 80n * USDC })
      const tx = f.vault.connect(f.relayer).fundChannel(f.config, 80n * USDC, signature)
      await expect(tx)
        .to.emit(f.vault, 'ChannelFunded')
        .withArgs(f.id, 30n * USDC, 80n * USDC)
      await expect(tx).to.not.emit(f.vault, 'ChannelOpened')
      // The total, not the increment, is signed: replaying the same funding moves nothing.
      await expect(f.vault.connect(f.relayer).fundChannel(f.config, 80n * USDC, signature))
        .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsDepositNotIncreased')
        .withArgs(f.id, 80n * USDC, 80n * USDC)
    })

    it('reverts when the signature is not the caller', async function () {
      const f = await loadFixture(openedFixture)
      const signature = await f.sign(f.bob, 'ChannelFunding', { channelId: f.id, totalDeposit: 80n * USDC })
      await expect(f.vault.connect(f.bob).fundChannel(f.config, 80n * USDC, signature))
        .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsInvalidSignature')
        .withArgs(f.id, f.alice.address, f.bob.address)
    })

    it('reverts when the total does not fit 96 bits', async function () {
      const f = await loadFixture(openedFixture)
      await expect(f.vault.connect(f.alice).fundChannel(f.config, 2n ** 96n, NO_SIGNATURE))
        .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsDepositTooLarge')
        .withArgs(2n ** 96n)
    })

    it('reverts for an invalid new config', async function () {
      const f = await loadFixture(deployVaultFixture)
      for (const provider of [ethers.ZeroAddress, f.alice.address]) {
        await expect(f.vault.connect(f.alice).fundChannel(f.channelConfig({ provider }), 1n, NO_SIGNATURE))
          .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsInvalidConfig')
          .withArgs(f.alice.address, provider)
      }
    })

    it('reverts when a new channel fee exceeds the protocol fee', async function () {
      const f = await loadFixture(deployVaultFixture)
      await expect(
        f.vault.connect(f.alice).fundChannel(f.channelConfig({ feeBps: FEE_BPS + 1 }), 1n, NO_SIGNATURE),
      )
        .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsFeeTooHigh')
        .withArgs(FEE_BPS + 1, FEE_BPS)
    })

    it('reverts for a token off the allowlist', async function () {
      const f = await loadFixture(deployVaultFixture)
      await expect(
        f.vault
          .connect(f.alice)
          .fundChannel(f.channelConfig({ token: f.stranger.address }), 1n, NO_SIGNATURE),
      )
        .to.be.revertedWithCustomError(f.vault, 'VaultTokenNotAllowed')
        .withArgs(f.stranger.address)
    })

    it('reverts when the caller balance is short', async function () {
      const f = await loadFixture(deployVaultFixture)
      await expect(
        f.vault.connect(f.alice).fundChannel(f.channelConfig(), INITIAL_DEPOSIT + 1n, NO_SIGNATURE),
      )
        .to.be.revertedWithCustomError(f.vault, 'VaultInsufficientBalance')
        .withArgs(f.alice.address, f.usdcAddress, INITIAL_DEPOSIT, INITIAL_DEPOSIT + 1n)
    })

    it('reverts during a close and after it', async function () {
      const f = await loadFixture(openedFixture)
      await f.vault.connect(f.alice).requestChannelClose(f.config)
      const { closesAt } = await f.vault.channel(f.id)
      await expect(f.vault.connect(f.alice).fundChannel(f.config, 60n * USDC, NO_SIGNATURE))
        .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsClosing')
        .withArgs(f.id, closesAt)
      await time.increaseTo(closesAt)
      await f.vault.finalizeChannelClose(f.config)
      await expect(f.vault.connect(f.alice).fundChannel(f.config, 60n * USDC, NO_SIGNATURE))
        .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsClosed')
        .withArgs(f.id)
    })
  })

  describe('fundChannelWithPermit', function () {
    it('funds straight from the caller wallet', async function () {
      const f = await loadFixture(openedFixture)
      const deadline = BigInt(await time.latest()) + 3600n
      const usdcDomain = {
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
      await f.usdc.connect(f.alice).approve(f.vaultAddress, 0n)
      const message = {
        owner: f.alice.address,
        spender: f.vaultAddress,
        value: 5n * USDC,
        nonce: await f.usdc.nonces(f.alice.address),
        deadline,
      }
      const sig = ethers.Signature.from(await f.alice.signTypedData(usdcDomain, types, message))
      await expect(
        f.vault.connect(f.alice).fundChannelWithPermit(f.config, 5n * USDC, deadline, sig.v, sig.r, sig.s),
      )
        .to.emit(f.vault, 'Deposited')
        .withArgs(f.alice.address, f.usdcAddress, f.alice.address, 5n * USDC)
        .and.to.emit(f.vault, 'ChannelFunded')
        .withArgs(f.id, 5n * USDC, 55n * USDC)
      expect(await f.vault.balanceOf(f.alice.address, f.usdcAddress)).to.equal(INITIAL_DEPOSIT - 50n * USDC)
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
      await expect(
        f.vault
          .connect(f.alice)
          .fundChannelWithPermit(f.config, 1n, 0n, 27, ethers.ZeroHash, ethers.ZeroHash),
      ).to.be.revertedWithCustomError(f.vault, 'EnforcedPause')
    })
  })

  describe('settleChannel', function () {
    it('credits the provider the new amount less the fee, and the treasury the fee', async function () {
      const f = await loadFixture(openedFixture)
      const voucher = await f.signedVoucher(f.config, 1n, 10n * USDC)
      await expect(f.vault.connect(f.relayer).settleChannel(voucher))
        .to.emit(f.vault, 'ChannelSettled')
        .withArgs(f.id, 1n, 10n * USDC, 10n * USDC, voucher.callChain)
      expect(await f.vault.balanceOf(f.bob.address, f.usdcAddress)).to.equal(
        INITIAL_DEPOSIT + 10n * USDC - feeOf(10n * USDC),
      )
      expect(await f.vault.balanceOf(f.treasury.address, f.usdcAddress)).to.equal(feeOf(10n * USDC))
      const next = await f.signedVoucher(f.config, 5n, 25n * USDC)
      await expect(f.vault.connect(f.bob).settleChannel(next))
        .to.emit(f.vault, 'ChannelSettled')
        .withArgs(f.id, 5n, 25n * USDC, 15n * USDC, next.callChain)
      const view = await f.vault.channel(f.id)
      expect([view.deposit, view.settled, view.sequence]).to.deep.equal([50n * USDC, 25n * USDC, 5n])
    })

    it('takes no voucher signature when the caller sends it', async function () {
      const f = await loadFixture(openedFixture)
      const unsigned = {
        config: f.config,
        sequence: 1n,
        cumulativeAmount: 3n,
        callChain: callChainOf(1),
        signature: NO_SIGNATURE,
      }
      await expect(f.vault.connect(f.alice).settleChannel(unsigned)).to.emit(f.vault, 'ChannelSettled')
      await expect(f.vault.connect(f.bob).settleChannel({ ...unsigned, sequence: 2n }))
        .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsInvalidSignature')
        .withArgs(f.id, f.alice.address, ethers.ZeroAddress)
    })

    it('accepts a newer voucher that pays nothing new', async function () {
      const f = await loadFixture(openedFixture)
      await f.vault.settleChannel(await f.signedVoucher(f.config, 1n, 10n * USDC))
      await expect(f.vault.settleChannel(await f.signedVoucher(f.config, 2n, 10n * USDC)))
        .to.emit(f.vault, 'ChannelSettled')
        .withArgs(f.id, 2n, 10n * USDC, 0n, callChainOf(2))
    })

    it('reverts for a voucher that is not newer', async function () {
      const f = await loadFixture(openedFixture)
      const voucher = await f.signedVoucher(f.config, 3n, 10n * USDC)
      await f.vault.settleChannel(voucher)
      await expect(f.vault.settleChannel(voucher))
        .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsStaleVoucher')
        .withArgs(f.id, 3n, 3n)
      await expect(f.vault.settleChannel(await f.signedVoucher(f.config, 2n, 20n * USDC)))
        .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsStaleVoucher')
        .withArgs(f.id, 3n, 2n)
    })

    it('reverts for the reserved sequence 2^64 - 1', async function () {
      const f = await loadFixture(openedFixture)
      await expect(f.vault.settleChannel(await f.signedVoucher(f.config, CLOSED_SEQUENCE, 1n)))
        .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsStaleVoucher')
        .withArgs(f.id, 0n, CLOSED_SEQUENCE)
    })

    it('reverts when the cumulative amount decreases', async function () {
      const f = await loadFixture(openedFixture)
      await f.vault.settleChannel(await f.signedVoucher(f.config, 1n, 10n * USDC))
      await expect(f.vault.settleChannel(await f.signedVoucher(f.config, 2n, 9n * USDC)))
        .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsAmountDecreased')
        .withArgs(f.id, 10n * USDC, 9n * USDC)
    })

    it('reverts when the cumulative amount exceeds the deposit', async function () {
      const f = await loadFixture(openedFixture)
      await expect(f.vault.settleChannel(await f.signedVoucher(f.config, 1n, 51n * USDC)))
        .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsInsufficientDeposit')
        .withArgs(f.id, 50n * USDC, 51n * USDC)
    })

    it('reverts when the voucher is not signed by the caller', async function () {
      const f = await loadFixture(openedFixture)
      const voucher = await f.signedVoucher(f.config, 1n, 10n * USDC, f.bob)
      await expect(f.vault.connect(f.bob).settleChannel(voucher))
        .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsInvalidSignature')
        .withArgs(f.id, f.alice.address, f.bob.address)
    })

    it('reverts when the config is changed (another provider is another channel)', async function () {
      const f = await loadFixture(openedFixture)
      const voucher = await f.signedVoucher(f.config, 1n, 10n * USDC)
      const other = { ...f.config, provider: f.carol.address }
      await expect(f.vault.settleChannel({ ...voucher, config: other }))
        .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsNotFound')
        .withArgs(await f.vault.channelId(other))
    })

    it('reverts for a non-canonical encoding', async function () {
      const f = await loadFixture(openedFixture)
      const voucher = await f.signedVoucher(f.config, 1n, 10n * USDC)
      const data = ethers.getBytes(f.vault.interface.encodeFunctionData('settleChannel', [voucher]))
      data[4] = 0x01 // a dirty high byte in the caller word
      await expect(
        f.relayer.sendTransaction({ to: f.vaultAddress, data: ethers.hexlify(data) }),
      ).to.be.revertedWithCustomError(f.vault, 'VoucherCodecNonCanonical')
    })

    it('settles during a pending unilateral close (the challenge)', async function () {
      const f = await loadFixture(openedFixture)
      await f.vault.connect(f.alice).requestChannelClose(f.config)
      await expect(
        f.vault.connect(f.bob).settleChannel(await f.signedVoucher(f.config, 1n, 10n * USDC)),
      ).to.emit(f.vault, 'ChannelSettled')
    })
  })

  describe('closeChannel', function () {
    it('settles a newer final voucher and refunds the rest at once', async function () {
      const f = await loadFixture(openedFixture)
      const voucher = await f.signedVoucher(f.config, 4n, 20n * USDC)
      const providerSignature = await providerClose(f, f.id, 4n, 20n * USDC)
      await expect(f.vault.connect(f.relayer).closeChannel(voucher, providerSignature))
        .to.emit(f.vault, 'ChannelSettled')
        .withArgs(f.id, 4n, 20n * USDC, 20n * USDC, voucher.callChain)
        .and.to.emit(f.vault, 'ChannelClosed')
        .withArgs(f.id, 20n * USDC, 30n * USDC)
      expect(await f.vault.balanceOf(f.alice.address, f.usdcAddress)).to.equal(INITIAL_DEPOSIT - 20n * USDC)
      expect(await f.vault.balanceOf(f.treasury.address, f.usdcAddress)).to.equal(feeOf(20n * USDC))
      const view = await f.vault.channel(f.id)
      expect([view.deposit, view.settled, view.sequence, view.isClosed]).to.deep.equal([
        20n * USDC,
        20n * USDC,
        CLOSED_SEQUENCE,
        true,
      ])
    })

    it('closes on the provider word alone when the state is already settled', async function () {
      const f = await loadFixture(openedFixture)
      await f.vault.settleChannel(await f.signedVoucher(f.config, 2n, 5n * USDC))
      const finalState = {
        config: f.config,
        sequence: 2n,
        cumulativeAmount: 5n * USDC,
        callChain: ethers.ZeroHash,
        signature: NO_SIGNATURE,
      }
      await expect(f.vault.connect(f.bob).closeChannel(finalState, NO_SIGNATURE))
        .to.emit(f.vault, 'ChannelClosed')
        .withArgs(f.id, 5n * USDC, 45n * USDC)
    })

    it('reverts when the provider did not sign', async function () {
      const f = await loadFixture(openedFixture)
      const voucher = await f.signedVoucher(f.config, 1n, 1n)
      const signature = await f.sign(f.alice, 'ChannelClose', {
        channelId: f.id,
        sequence: 1n,
        cumulativeAmount: 1n,
      })
      await expect(f.vault.connect(f.alice).closeChannel(voucher, signature))
        .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsInvalidSignature')
        .withArgs(f.id, f.bob.address, f.alice.address)
    })

    it('reverts when the named state is the settled sequence with another amount', async function () {
      const f = await loadFixture(openedFixture)
      await f.vault.settleChannel(await f.signedVoucher(f.config, 2n, 5n * USDC))
      const voucher = await f.signedVoucher(f.config, 2n, 6n * USDC)
      await expect(f.vault.connect(f.bob).closeChannel(voucher, NO_SIGNATURE))
        .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsCloseStateMismatch')
        .withArgs(f.id, 2n, 6n * USDC)
    })

    it('reverts for a final voucher older than the settled one', async function () {
      const f = await loadFixture(openedFixture)
      await f.vault.settleChannel(await f.signedVoucher(f.config, 3n, 5n * USDC))
      const voucher = await f.signedVoucher(f.config, 2n, 5n * USDC)
      await expect(f.vault.connect(f.bob).closeChannel(voucher, NO_SIGNATURE))
        .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsStaleVoucher')
        .withArgs(f.id, 3n, 2n)
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
      expect((await f.vault.channel(f.id)).closesAt).to.equal(closesAt)
      expect(await f.vault.challengePeriod()).to.equal(BigInt(CHALLENGE_PERIOD))
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

    it('reverts for an unknown channel', async function () {
      const f = await loadFixture(openedFixture)
      const config = { ...f.config, salt: saltOf(42) }
      await expect(f.vault.connect(f.alice).requestChannelClose(config))
        .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsNotFound')
        .withArgs(await f.vault.channelId(config))
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
      expect(await f.vault.balanceOf(f.alice.address, f.usdcAddress)).to.equal(INITIAL_DEPOSIT - 10n * USDC)
      const view = await f.vault.channel(f.id)
      expect([view.closesAt, view.isClosed]).to.deep.equal([0n, true])
    })

    it('reverts during the challenge period', async function () {
      const f = await loadFixture(openedFixture)
      await f.vault.connect(f.alice).requestChannelClose(f.config)
      const { closesAt } = await f.vault.channel(f.id)
      const at = await nextBlockAt()
      await expect(f.vault.finalizeChannelClose(f.config))
        .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsChallengePeriodActive')
        .withArgs(f.id, closesAt, at)
    })

    it('reverts without a close request', async function () {
      const f = await loadFixture(openedFixture)
      await expect(f.vault.finalizeChannelClose(f.config))
        .to.be.revertedWithCustomError(f.vault, 'PaymentChannelsNoCloseRequest')
        .withArgs(f.id)
    })
  })
})
