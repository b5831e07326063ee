import { expect } from 'chai'
import { ethers } from 'hardhat'
import { loadFixture, time } from '@nomicfoundation/hardhat-network-helpers'
import { eip3009Types, type AnyContract } from './fixtures'
import { eip2612PermitTypes } from '../../protocol/typed-data'

async function deployUsdcFixture() {
  const [alice, bob, relayer] = await ethers.getSigners()
  const usdc = (await ethers.deployContract('MockUSDC')) as unknown as AnyContract
  const address = await usdc.getAddress()
  const { chainId } = await ethers.provider.getNetwork()
  const domain = { name: 'USD Coin (mock)', version: '1', chainId, verifyingContract: address }
  await usdc.mint(alice.address, 1_000_000n)

  async function authorization(
    primaryType: 'TransferWithAuthorization' | 'ReceiveWithAuthorization',
    overrides: Partial<
      Record<'from' | 'to' | 'value' | 'validAfter' | 'validBefore' | 'nonce', unknown>
    > = {},
    signer = alice,
  ) {
    const message = {
      from: alice.address,
      to: bob.address,
      value: 1_000n,
      validAfter: 0n,
      validBefore: BigInt(await time.latest()) + 3600n,
      nonce: ethers.hexlify(ethers.randomBytes(32)),
      ...overrides,
    } as { from: string; to: string; value: bigint; validAfter: bigint; validBefore: bigint; nonce: string }
    const signature = ethers.Signature.from(
      await signer.signTypedData(domain, eip3009Types(primaryType), message),
    )
    const args = [
      message.from,
      message.to,
      message.value,
      message.validAfter,
      message.validBefore,
      message.nonce,
      signature.v,
      signature.r,
      signature.s,
    ] as const
    return { message, args }
  }

  return { usdc, domain, alice, bob, relayer, authorization }
}

describe('MockUSDC', function () {
  describe('metadata', function () {
    it('has 6 decimals and the USDC symbol', async function () {
      const { usdc } = await loadFixture(deployUsdcFixture)
      expect(await usdc.decimals()).to.equal(6n)
      expect(await usdc.symbol()).to.equal('USDC')
      expect(await usdc.name()).to.equal('USD Coin (mock)')
    })
  })

  describe('mint', function () {
    it('mints to anyone, from anyone', async function () {
      const { usdc, bob, relayer } = await loadFixture(deployUsdcFixture)
      await expect(usdc.connect(relayer).mint(bob.address, 5n))
        .to.emit(usdc, 'Transfer')
        .withArgs(ethers.ZeroAddress, bob.address, 5n)
      expect(await usdc.balanceOf(bob.address)).to.equal(5n)
    })
  })

  describe('permit', function () {
    it('sets an allowance from the owner signature and bumps the nonce', async function () {
      const { usdc, domain, alice, bob, relayer } = await loadFixture(deployUsdcFixture)
      const deadline = BigInt(await time.latest()) + 3600n
      const types = { Permit: [...eip2612PermitTypes.Permit] }
      const message = { owner: alice.address, spender: bob.address, value: 700n, nonce: 0n, deadline }
      const sig = ethers.Signature.from(await alice.signTypedData(domain, types, message))
      await expect(
        usdc.connect(relayer).permit(alice.address, bob.address, 700n, deadline, sig.v, sig.r, sig.s),
      )
        .to.emit(usdc, 'Approval')
        .withArgs(alice.address, bob.address, 700n)
      expect(await usdc.allowance(alice.address, bob.address)).to.equal(700n)
      expect(await usdc.nonces(alice.address)).to.equal(1n)
    })
  })

  describe('transferWithAuthorization', function () {
    it('moves the value when relayed by anyone and marks the nonce used', async function () {
      const { usdc, alice, bob, relayer, authorization } = await loadFixture(deployUsdcFixture)
      const { message, args } = await authorization('TransferWithAuthorization')
      await expect(usdc.connect(relayer).transferWithAuthorization(...args))
        .to.emit(usdc, 'AuthorizationUsed')
        .withArgs(alice.address, message.nonce)
        .and.to.emit(usdc, 'Transfer')
        .withArgs(alice.address, bob.address, 1_000n)
      expect(await usdc.authorizationState(alice.address, message.nonce)).to.equal(true)
    })

    it('reverts when the authorization is used twice', async function () {
      const { usdc, alice, relayer, authorization } = await loadFixture(deployUsdcFixture)
      const { message, args } = await authorization('TransferWithAuthorization')
      await usdc.connect(relayer).transferWithAuthorization(...args)
      await expect(usdc.connect(relayer).transferWithAuthorization(...args))
        .to.be.revertedWithCustomError(usdc, 'AuthorizationAlreadyUsed')
        .withArgs(alice.address, message.nonce)
    })

    it('reverts before validAfter', async function () {
      const { usdc, relayer, authorization } = await loadFixture(deployUsdcFixture)
      const validAfter = BigInt(await time.latest()) + 1000n
      const { args } = await authorization('TransferWithAuthorization', { validAfter })
      await expect(usdc.connect(relayer).transferWithAuthorization(...args)).to.be.revertedWithCustomError(
        usdc,
        'AuthorizationNotYetValid',
      )
    })

    it('reverts at or after validBefore', async function () {
      const { usdc, relayer, authorization } = await loadFixture(deployUsdcFixture)
      const validBefore = BigInt(await time.latest()) + 10n
      const { args } = await authorization('TransferWithAuthorization', { validBefore })
      await time.increase(20)
      await expect(usdc.connect(relayer).transferWithAuthorization(...args)).to.be.revertedWithCustomError(
        usdc,
        'AuthorizationExpired',
      )
    })

    it('reverts when signed by someone else', async function () {
      const { usdc, alice, bob, relayer, authorization } = await loadFixture(deployUsdcFixture)
      const { args } = await authorization('TransferWithAuthorization', {}, bob)
      await expect(usdc.connect(relayer).transferWithAuthorization(...args))
        .to.be.revertedWithCustomError(usdc, 'AuthorizationInvalidSignature')
        .withArgs(alice.address, bob.address)
    })
  })

  describe('receiveWithAuthorization', function () {
    it('moves the value when the payee submits it', async function () {
      const { usdc, alice, bob, authorization } = await loadFixture(deployUsdcFixture)
      const { message, args } = await authorization('ReceiveWithAuthorization')
      await expect(usdc.connect(bob).receiveWithAuthorization(...args))
        .to.emit(usdc, 'AuthorizationUsed')
        .withArgs(alice.address, message.nonce)
      expect(await usdc.balanceOf(bob.address)).to.equal(1_000n)
    })

    it('reverts when the caller is not the payee', async function () {
      const { usdc, bob, relayer, authorization } = await loadFixture(deployUsdcFixture)
      const { args } = await authorization('ReceiveWithAuthorization')
      await expect(usdc.connect(relayer).receiveWithAuthorization(...args))
        .to.be.revertedWithCustomError(usdc, 'AuthorizationCallerNotPayee')
        .withArgs(relayer.address, bob.address)
    })

    it('reverts with a transfer-type signature (distinct type hashes)', async function () {
      const { usdc, bob, authorization } = await loadFixture(deployUsdcFixture)
      const { args } = await authorization('TransferWithAuthorization')
      await expect(usdc.connect(bob).receiveWithAuthorization(...args)).to.be.revertedWithCustomError(
        usdc,
        'AuthorizationInvalidSignature',
      )
    })
  })

  describe('cancelAuthorization', function () {
    type Fixture = Awaited<ReturnType<typeof deployUsdcFixture>>
    async function cancelSignature(f: Fixture, signer: Fixture['alice'], nonce: string) {
      const types = {
        CancelAuthorization: [
          { name: 'authorizer', type: 'address' },
          { name: 'nonce', type: 'bytes32' },
        ],
      }
      const message = { authorizer: f.alice.address, nonce }
      return ethers.Signature.from(await signer.signTypedData(f.domain, types, message))
    }

    it('cancels an unused authorization, which then cannot be used', async function () {
      const f = await loadFixture(deployUsdcFixture)
      const { usdc, alice, relayer, authorization } = f
      const { message, args } = await authorization('TransferWithAuthorization')
      const sig = await cancelSignature(f, alice, message.nonce)
      await expect(
        usdc.connect(relayer).cancelAuthorization(alice.address, message.nonce, sig.v, sig.r, sig.s),
      )
        .to.emit(usdc, 'AuthorizationCanceled')
        .withArgs(alice.address, message.nonce)
      await expect(usdc.connect(relayer).transferWithAuthorization(...args)).to.be.revertedWithCustomError(
        usdc,
        'AuthorizationAlreadyUsed',
      )
    })

    it('reverts when the nonce is already used', async function () {
      const f = await loadFixture(deployUsdcFixture)
      const { usdc, alice, relayer, authorization } = f
      const { message, args } = await authorization('TransferWithAuthorization')
      await usdc.connect(relayer).transferWithAuthorization(...args)
      const sig = await cancelSignature(f, alice, message.nonce)
      await expect(usdc.cancelAuthorization(alice.address, message.nonce, sig.v, sig.r, sig.s))
        .to.be.revertedWithCustomError(usdc, 'AuthorizationAlreadyUsed')
        .withArgs(alice.address, message.nonce)
    })

    it('reverts when signed by someone else', async function () {
      const f = await loadFixture(deployUsdcFixture)
      const { usdc, alice, bob } = f
      const nonce = ethers.hexlify(ethers.randomBytes(32))
      const sig = await cancelSignature(f, bob, nonce)
      await expect(usdc.cancelAuthorization(alice.address, nonce, sig.v, sig.r, sig.s))
        .to.be.revertedWithCustomError(usdc, 'AuthorizationInvalidSignature')
        .withArgs(alice.address, bob.address)
    })
  })
})
