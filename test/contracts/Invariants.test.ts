import { expect } from 'chai'
import { loadFixture, time } from '@nomicfoundation/hardhat-network-helpers'
import fc from 'fast-check'
import {
  CHALLENGE_PERIOD,
  FEE_BPS,
  INITIAL_DEPOSIT,
  NO_SIGNATURE,
  OpKind,
  WITHDRAWAL_DELAY,
  deployVaultFixture,
  escrowIdOf,
  op,
  saltOf,
  type ChannelConfig,
  type VaultFixture,
} from './fixtures'

type Signer = VaultFixture['alice']

interface EscrowModel {
  id: string
  payer: Signer
  payee: Signer
  amount: bigint
  expiry: bigint
  isOpen: boolean
}

interface ChannelModel {
  config: ChannelConfig
  id: string
  caller: Signer
  provider: Signer
  deposit: bigint
  settled: bigint
  sequence: bigint
  isClosed: boolean
}

/** What the test believes every internal balance is; the vault must agree after every step. */
class Model {
  readonly balances = new Map<string, bigint>()
  readonly escrows: EscrowModel[] = []
  readonly channels: ChannelModel[] = []
  readonly pending = new Map<string, bigint>()

  add(account: string, amount: bigint) {
    const next = (this.balances.get(account) ?? 0n) + amount
    if (next < 0n) throw new Error(`model: ${account} would go negative`)
    this.balances.set(account, next)
  }

  balance(account: string) {
    return this.balances.get(account) ?? 0n
  }
}

const fee = (amount: bigint, bps: number) => (amount * BigInt(bps)) / 10_000n

// Each action carries small integers that the runner maps onto the current model state, so every
// generated sequence is runnable; an action with nothing to act on is a no-op.
const action = fc.oneof(
  fc.record({
    type: fc.constant('deposit' as const),
    who: fc.nat(3),
    amount: fc.integer({ min: 1, max: 5_000_000 }),
  }),
  fc.record({
    type: fc.constant('fastWithdraw' as const),
    who: fc.nat(3),
    part: fc.integer({ min: 1, max: 100 }),
  }),
  fc.record({
    type: fc.constant('slowWithdraw' as const),
    who: fc.nat(3),
    part: fc.integer({ min: 1, max: 100 }),
  }),
  fc.record({
    type: fc.constant('lock' as const),
    who: fc.nat(3),
    to: fc.nat(2),
    part: fc.integer({ min: 1, max: 50 }),
  }),
  fc.record({ type: fc.constant('release' as const), pick: fc.nat(20) }),
  fc.record({ type: fc.constant('refund' as const), pick: fc.nat(20) }),
  fc.record({
    type: fc.constant('rule' as const),
    pick: fc.nat(20),
    bps: fc.integer({ min: 0, max: 10_000 }),
  }),
  fc.record({ type: fc.constant('expire' as const), pick: fc.nat(20) }),
  fc.record({
    type: fc.constant('open' as const),
    who: fc.nat(3),
    to: fc.nat(2),
    part: fc.integer({ min: 1, max: 50 }),
  }),
  fc.record({
    type: fc.constant('voucher' as const),
    pick: fc.nat(20),
    part: fc.integer({ min: 0, max: 100 }),
    inBatch: fc.boolean(),
  }),
  fc.record({
    type: fc.constant('closeCooperatively' as const),
    pick: fc.nat(20),
    part: fc.integer({ min: 0, max: 100 }),
  }),
  fc.record({ type: fc.constant('closeUnilaterally' as const), pick: fc.nat(20) }),
)
type Action = typeof action extends fc.Arbitrary<infer T> ? T : never

async function run(f: VaultFixture, m: Model, a: Action, step: number) {
  const users = [f.alice, f.bob, f.carol, f.dave]
  const token = f.usdcAddress
  const other = (i: number, j: number) => users[(i + 1 + j) % 4]
  const openEscrows = m.escrows.filter((e) => e.isOpen)
  const openChannels = m.channels.filter((c) => !c.isClosed)
  switch (a.type) {
    case 'deposit': {
      const user = users[a.who]
      await f.vault.connect(user).deposit(token, BigInt(a.amount))
      m.add(user.address, BigInt(a.amount))
      return
    }
    case 'fastWithdraw': {
      const user = users[a.who]
      const amount = (m.balance(user.address) * BigInt(a.part)) / 100n
      if (amount === 0n) return
      const w = await f.withdrawal({ account: user.address, amount, to: user.address, nonce: BigInt(step) })
      const approval = await f.sign(f.coordinator, 'WithdrawalApproval', { withdrawal: { ...w } })
      await f.vault.connect(user).withdraw(w, NO_SIGNATURE, approval)
      m.add(user.address, -amount)
      return
    }
    case 'slowWithdraw': {
      const user = users[a.who]
      const amount = (m.balance(user.address) * BigInt(a.part)) / 100n
      if (amount === 0n) return
      await f.vault.connect(user).requestWithdrawal(token, amount, user.address)
      await time.increase(WITHDRAWAL_DELAY)
      await f.vault.connect(f.stranger).executeWithdrawal(user.address, token)
      m.add(user.address, -amount)
      return
    }
    case 'lock': {
      const payer = users[a.who]
      const payee = other(a.who, a.to)
      const amount = (m.balance(payer.address) * BigInt(a.part)) / 100n
      const terms = await f.escrowTerms({
        escrowId: escrowIdOf(`inv-${step}`),
        payer: payer.address,
        payee: payee.address,
        amount,
      })
      await f.vault.connect(f.relayer).lockEscrow(terms, await f.sign(payer, 'EscrowLock', { ...terms }))
      m.add(payer.address, -amount)
      m.escrows.push({ id: terms.escrowId, payer, payee, amount, expiry: terms.expiry, isOpen: true })
      return
    }
    case 'release':
    case 'refund':
    case 'rule':
    case 'expire': {
      if (openEscrows.length === 0) return
      const e = openEscrows[a.pick % openEscrows.length]
      if (a.type === 'release') {
        await f.vault.connect(e.payer).releaseEscrow(e.id, NO_SIGNATURE)
        m.add(e.payee.address, e.amount - fee(e.amount, FEE_BPS))
        m.add(f.treasury.address, fee(e.amount, FEE_BPS))
      } else if (a.type === 'refund') {
        await f.vault.connect(e.payee).refundEscrow(e.id, NO_SIGNATURE)
        m.add(e.payer.address, e.amount)
      } else if (a.type === 'rule') {
        await f.vault.connect(f.resolver).ruleEscrow(e.id, a.bps, NO_SIGNATURE)
        const resolverFee = fee(e.amount, 200)
        const gross = fee(e.amount - resolverFee, a.bps)
        m.add(f.resolver.address, resolverFee)
        m.add(e.payee.address, gross - fee(gross, FEE_BPS))
        m.add(f.treasury.address, fee(gross, FEE_BPS))
        m.add(e.payer.address, e.amount - resolverFee - gross)
      } else {
        const now = BigInt(await time.latest())
        if (now < e.expiry) await time.increaseTo(e.expiry)
        await f.vault.connect(f.stranger).reclaimExpiredEscrow(e.id)
        m.add(e.payer.address, e.amount)
      }
      e.isOpen = false
      return
    }
    case 'open': {
      const caller = users[a.who]
      const provider = other(a.who, a.to)
      const deposit = (m.balance(caller.address) * BigInt(a.part)) / 100n
      if (deposit === 0n) return
      const config = f.channelConfig({
        caller: caller.address,
        provider: provider.address,
        salt: saltOf(1000 + step),
      })
      await f.vault.connect(caller).fundChannel(config, deposit, NO_SIGNATURE)
      m.add(caller.address, -deposit)
      const id: string = await f.vault.channelId(config)
      m.channels.push({ config, id, caller, provider, deposit, settled: 0n, sequence: 0n, isClosed: false })
      return
    }
    case 'voucher':
    case 'closeCooperatively': {
      if (openChannels.length === 0) return
      const c = openChannels[a.pick % openChannels.length]
      const cumulative = c.settled + ((c.deposit - c.settled) * BigInt(a.part)) / 100n
      const sequence = c.sequence + 1n
      const voucher = await f.signedVoucher(c.config, sequence, cumulative, c.caller)
      if (a.type === 'voucher') {
        if (a.inBatch) await f.settle([op(OpKind.ChannelSettle, [voucher])])
        else await f.vault.connect(c.provider).settleChannel(voucher)
      } else {
        await f.vault.connect(c.provider).closeChannel(voucher, NO_SIGNATURE)
      }
      const delta = cumulative - c.settled
      m.add(c.provider.address, delta - fee(delta, FEE_BPS))
      m.add(f.treasury.address, fee(delta, FEE_BPS))
      c.settled = cumulative
      c.sequence = sequence
      if (a.type === 'closeCooperatively') {
        m.add(c.caller.address, c.deposit - c.settled)
        c.isClosed = true
      }
      return
    }
    case 'closeUnilaterally': {
      if (openChannels.length === 0) return
      const c = openChannels[a.pick % openChannels.length]
      await f.vault.connect(c.caller).requestChannelClose(c.config)
      await time.increase(CHALLENGE_PERIOD)
      await f.vault.connect(f.stranger).finalizeChannelClose(c.config)
      m.add(c.caller.address, c.deposit - c.settled)
      c.isClosed = true
      return
    }
  }
}

/** Token held by the vault == internal balances + open escrows + unsettled channel deposits. */
async function checkInvariant(f: VaultFixture, m: Model) {
  const held: bigint = await f.usdc.balanceOf(f.vaultAddress)
  let internal = 0n
  for (const s of f.signers) {
    const onChain: bigint = await f.vault.balanceOf(s.address, f.usdcAddress)
    expect(onChain, `balance of ${s.address}`).to.equal(m.balance(s.address))
    internal += onChain
  }
  let escrowed = 0n
  for (const e of m.escrows) {
    const stored = await f.vault.escrow(e.id)
    if (stored.status === 1n) escrowed += stored.amount
    expect(stored.status === 1n).to.equal(e.isOpen)
  }
  let inChannels = 0n
  for (const c of m.channels) {
    const view: { deposit: bigint; settled: bigint; isClosed: boolean } = await f.vault.channel(c.id)
    inChannels += view.deposit - view.settled
    expect(view.isClosed).to.equal(c.isClosed)
  }
  expect(held).to.equal(internal + escrowed + inChannels)
}

describe('Invariants', function () {
  it('keeps the vault token balance equal to balances + escrows + channels after every step (property)', async function () {
    this.timeout(180_000)
    await fc.assert(
      fc.asyncProperty(fc.array(action, { minLength: 1, maxLength: 12 }), async (actions) => {
        const f = await loadFixture(deployVaultFixture)
        const m = new Model()
        for (const s of [f.alice, f.bob, f.carol, f.dave]) m.add(s.address, INITIAL_DEPOSIT)
        for (const [step, a] of actions.entries()) {
          await run(f, m, a, step)
          await checkInvariant(f, m)
        }
      }),
      { numRuns: 40 },
    )
  })
})
