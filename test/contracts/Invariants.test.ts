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
  op,
  saltOf,
  signTransferAuthorization,
  viemAccountOf,
  type ChannelConfig,
  type LockedEscrow,
  type Op,
  type VaultFixture,
  TOKEN_TOTALS_FIELDS,
  type TokenTotalsField,
} from './fixtures'

type Signer = VaultFixture['alice']

interface EscrowModel {
  escrow: LockedEscrow
  payer: Signer
  payee: Signer
  amount: bigint
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

type Totals = Record<TokenTotalsField, bigint>

/** What the test believes every internal balance, escrow and channel is; the vault must agree after every step. */
class Model {
  readonly balances = new Map<string, bigint>()
  readonly escrows: EscrowModel[] = []
  readonly channels: ChannelModel[] = []
  private lastNonce = 1_000_000n

  add(account: string, amount: bigint) {
    const next = (this.balances.get(account) ?? 0n) + amount
    if (next < 0n) throw new Error(`model: ${account} would go negative`)
    this.balances.set(account, next)
  }

  balance(account: string) {
    return this.balances.get(account) ?? 0n
  }

  /** An unordered nonce no account used yet (withdrawals, channel fundings). */
  nonce() {
    return ++this.lastNonce
  }
}

const fee = (amount: bigint, bps: number) => (amount * BigInt(bps)) / 10_000n
const RESOLVER_FEE_BPS = 200

function splitRuling(amount: bigint, payeeBps: number) {
  const resolverFee = fee(amount, RESOLVER_FEE_BPS)
  const rest = amount - resolverFee
  const gross = fee(rest, payeeBps)
  return {
    payeeAmount: gross - fee(gross, FEE_BPS),
    payerAmount: rest - gross,
    fee: fee(gross, FEE_BPS),
    resolverFee,
  }
}

// Each action carries small integers that the runner maps onto the current model state, so every
// generated sequence is runnable; an action with nothing to act on is a no-op. A `part` above 100
// asks for more than there is: inside a batch that op must be skipped.
/** The highest op kind the vault knows. */
const LAST_OP_KIND = OpKind.EscrowPartialRelease

const batchOp = fc.oneof(
  // `session`: the lock allows a partial release (a session's budget), else a job's escrow.
  fc.record({
    type: fc.constant('lock' as const),
    who: fc.nat(3),
    to: fc.nat(2),
    part: fc.integer({ min: 0, max: 150 }),
    session: fc.boolean(),
  }),
  fc.record({
    type: fc.constantFrom('release' as const, 'refund' as const),
    pick: fc.nat(20),
    forged: fc.boolean(),
  }),
  fc.record({
    type: fc.constant('rule' as const),
    pick: fc.nat(20),
    bps: fc.integer({ min: 0, max: 10_000 }),
    forged: fc.boolean(),
  }),
  fc.record({ type: fc.constant('reclaim' as const), pick: fc.nat(20) }),
  // A session's settlement: `part` percent of the escrow to the payee, past 100 refused; refused
  // on a job's escrow, and on terms with the flag flipped (`flip`: another id, no such escrow).
  fc.record({
    type: fc.constant('partial' as const),
    pick: fc.nat(20),
    part: fc.integer({ min: 0, max: 110 }),
    forged: fc.boolean(),
    flip: fc.boolean(),
  }),
  fc.record({
    type: fc.constant('fund' as const),
    pick: fc.nat(20),
    part: fc.integer({ min: 0, max: 150 }),
  }),
  fc.record({
    type: fc.constantFrom('voucher' as const, 'close' as const),
    pick: fc.nat(20),
    part: fc.integer({ min: 0, max: 100 }),
  }),
  fc.record({ type: fc.constant('finalize' as const), pick: fc.nat(20) }),
  fc.record({
    type: fc.constant('withdraw' as const),
    who: fc.nat(3),
    part: fc.integer({ min: 0, max: 150 }),
  }),
  fc.record({
    type: fc.constant('garbage' as const),
    kind: fc.oneof(fc.nat(LAST_OP_KIND), fc.constantFrom(LAST_OP_KIND + 1, 255)),
  }),
)
type BatchOp = typeof batchOp extends fc.Arbitrary<infer T> ? T : never

const batchAction = fc.record({
  type: fc.constant('batch' as const),
  ops: fc.array(batchOp, { minLength: 1, maxLength: 6 }),
})

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
    session: fc.boolean(),
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
    part: fc.integer({ min: 1, max: 100 }),
  }),
  fc.record({
    type: fc.constant('closeCooperatively' as const),
    pick: fc.nat(20),
    part: fc.integer({ min: 0, max: 100 }),
  }),
  fc.record({ type: fc.constant('closeUnilaterally' as const), pick: fc.nat(20) }),
  // An x402 payment: user `who` signs an EIP-3009 transfer of `amount` from its wallet to the vault,
  // which the coordinator spends as a payment to another user.
  fc.record({
    type: fc.constant('payWithAuthorization' as const),
    who: fc.nat(3),
    to: fc.nat(2),
    amount: fc.integer({ min: 1, max: 5_000_000 }),
  }),
  // Batches are weighted up: they carry the skip semantics under test.
  { arbitrary: batchAction, weight: 4 },
)
type Action = typeof action extends fc.Arbitrary<infer T> ? T : never

function usersOf(f: VaultFixture) {
  return [f.alice, f.bob, f.carol, f.dave]
}

/** The payee of user `i`'s lock or channel: one of the three other users. */
function otherUser(f: VaultFixture, i: number, j: number) {
  return usersOf(f)[(i + 1 + j) % 4]
}

/** A lock's escrow as the model keeps it, with its position and proof from the lock's logs. */
function lockedIn(f: VaultFixture, receipt: Parameters<VaultFixture['escrowsLockedIn']>[0]) {
  return new Map(f.escrowsLockedIn(receipt).map((e) => [e.id, e]))
}

/**
 * Builds one batch op from `b` against the model, applies to the model what the op will do, and
 * returns the op with the name of the error it must be skipped with (undefined when it applies).
 */
async function batchOpFor(
  f: VaultFixture,
  m: Model,
  b: BatchOp,
  ctx: {
    escrowsBefore: EscrowModel[]
    channelsBefore: ChannelModel[]
    locks: Array<{ id: string; payer: Signer; payee: Signer; amount: bigint }>
    totals: Totals
    blockTime: bigint
  },
): Promise<{ op: Op; skippedWith?: string } | undefined> {
  const users = usersOf(f)
  const { totals } = ctx
  switch (b.type) {
    case 'lock': {
      const payer = users[b.who]
      const payee = otherUser(f, b.who, b.to)
      const balance = m.balance(payer.address)
      const amount = (balance * BigInt(b.part)) / 100n
      const terms = await f.escrowTerms({
        payer: payer.address,
        payee: payee.address,
        amount,
        partialRelease: b.session,
      })
      const lock = op(OpKind.EscrowLock, [terms, await f.signLock(terms)])
      if (amount === 0n) return { op: lock, skippedWith: 'JobEscrowInvalidAmount' }
      if (amount > balance) return { op: lock, skippedWith: 'VaultInsufficientBalance' }
      m.add(payer.address, -amount)
      ctx.locks.push({ id: f.escrowIdOf(terms), payer, payee, amount })
      totals.escrowLocked += amount
      return { op: lock }
    }
    case 'release':
    case 'refund':
    case 'rule':
    case 'reclaim': {
      if (ctx.escrowsBefore.length === 0) return undefined
      const e = ctx.escrowsBefore[b.pick % ctx.escrowsBefore.length]
      const { escrow } = e
      const forged = b.type !== 'reclaim' && b.forged
      let built: Op
      if (b.type === 'release' || b.type === 'refund') {
        const primaryType = b.type === 'release' ? 'EscrowRelease' : 'EscrowRefund'
        const signer = forged ? f.stranger : b.type === 'release' ? e.payer : e.payee
        const signature = await f.sign(signer, primaryType, { escrowId: escrow.id })
        const kind = b.type === 'release' ? OpKind.EscrowRelease : OpKind.EscrowRefund
        built = op(kind, [escrow.terms, escrow.position, signature, escrow.proof])
      } else if (b.type === 'rule') {
        const signer = forged ? f.stranger : f.resolver
        const signature = await f.sign(signer, 'EscrowRuling', { escrowId: escrow.id, payeeBps: b.bps })
        built = op(OpKind.EscrowRuling, [escrow.terms, escrow.position, b.bps, signature, escrow.proof])
      } else {
        built = op(OpKind.EscrowReclaim, [escrow.terms, escrow.position, escrow.proof])
      }
      // The checks run in this order: paid out, then the signature (or the expiry).
      if (!e.isOpen) return { op: built, skippedWith: 'JobEscrowClosed' }
      if (forged) return { op: built, skippedWith: 'JobEscrowInvalidSignature' }
      if (b.type === 'reclaim' && ctx.blockTime < escrow.terms.expiry) {
        return { op: built, skippedWith: 'JobEscrowNotReclaimable' }
      }
      if (b.type === 'release') {
        const protocolFee = fee(e.amount, FEE_BPS)
        m.add(e.payee.address, e.amount - protocolFee)
        m.add(f.treasury.address, protocolFee)
        totals.escrowToPayees += e.amount - protocolFee
        totals.fees += protocolFee
      } else if (b.type === 'rule') {
        const split = splitRuling(e.amount, b.bps)
        m.add(e.payee.address, split.payeeAmount)
        m.add(e.payer.address, split.payerAmount)
        m.add(f.treasury.address, split.fee)
        m.add(f.resolver.address, split.resolverFee)
        totals.escrowToPayees += split.payeeAmount
        totals.escrowToPayers += split.payerAmount
        totals.fees += split.fee
        totals.resolverFees += split.resolverFee
      } else {
        m.add(e.payer.address, e.amount)
        totals.escrowToPayers += e.amount
      }
      e.isOpen = false
      return { op: built }
    }
    case 'partial': {
      if (ctx.escrowsBefore.length === 0) return undefined
      const e = ctx.escrowsBefore[b.pick % ctx.escrowsBefore.length]
      const { escrow } = e
      const amount = (e.amount * BigInt(b.part)) / 100n
      const signer = b.forged ? e.payee : e.payer
      // Flipped terms name another escrow id; the payer (or the coordinator holding its key) signs that.
      const terms = b.flip ? { ...escrow.terms, partialRelease: !escrow.terms.partialRelease } : escrow.terms
      const escrowId = b.flip ? f.escrowIdOf(terms) : escrow.id
      const signature = await f.sign(signer, 'EscrowPartialRelease', { escrowId, amount })
      const built = op(OpKind.EscrowPartialRelease, [terms, escrow.position, amount, signature, escrow.proof])
      // The checks run in this order: the escrow's place, paid out, the terms' flag, the amount,
      // then the signature.
      if (b.flip) return { op: built, skippedWith: 'JobEscrowUnknown' }
      if (!e.isOpen) return { op: built, skippedWith: 'JobEscrowClosed' }
      if (!escrow.terms.partialRelease) return { op: built, skippedWith: 'JobEscrowPartialReleaseNotAllowed' }
      if (amount > e.amount) return { op: built, skippedWith: 'JobEscrowPartialReleaseTooLarge' }
      if (b.forged) return { op: built, skippedWith: 'JobEscrowInvalidSignature' }
      const protocolFee = fee(amount, FEE_BPS)
      m.add(e.payee.address, amount - protocolFee)
      m.add(f.treasury.address, protocolFee)
      m.add(e.payer.address, e.amount - amount)
      totals.escrowToPayees += amount - protocolFee
      totals.escrowToPayers += e.amount - amount
      totals.fees += protocolFee
      e.isOpen = false
      return { op: built }
    }
    case 'fund': {
      if (ctx.channelsBefore.length === 0) return undefined
      const c = ctx.channelsBefore[b.pick % ctx.channelsBefore.length]
      const balance = m.balance(c.caller.address)
      const added = (balance * BigInt(b.part)) / 100n
      const totalDeposit = c.deposit + added
      const nonce = m.nonce()
      const signature = await f.sign(c.caller, 'ChannelFunding', { channelId: c.id, totalDeposit, nonce })
      const built = op(OpKind.ChannelFund, [c.config, totalDeposit, nonce, signature])
      if (c.isClosed) return { op: built, skippedWith: 'PaymentChannelsClosed' }
      if (added === 0n) return { op: built, skippedWith: 'PaymentChannelsDepositNotIncreased' }
      if (added > balance) return { op: built, skippedWith: 'VaultInsufficientBalance' }
      m.add(c.caller.address, -added)
      c.deposit = totalDeposit
      totals.channelFunded += added
      return { op: built }
    }
    case 'voucher':
    case 'close': {
      if (ctx.channelsBefore.length === 0) return undefined
      const c = ctx.channelsBefore[b.pick % ctx.channelsBefore.length]
      const cumulative = c.settled + ((c.deposit - c.settled) * BigInt(b.part)) / 100n
      const sequence = c.sequence + 1n
      const voucher = await f.signedVoucher(c.config, sequence, cumulative, c.caller)
      const built =
        b.type === 'voucher'
          ? op(OpKind.ChannelSettle, [voucher])
          : op(OpKind.ChannelClose, [
              voucher,
              await f.sign(c.provider, 'ChannelClose', { channelId: c.id, cumulativeAmount: cumulative }),
            ])
      if (c.isClosed) return { op: built, skippedWith: 'PaymentChannelsClosed' }
      // A voucher that pays nothing new never settles; a close at the settled amount only closes.
      if (b.type === 'voucher' && cumulative === c.settled) {
        return { op: built, skippedWith: 'PaymentChannelsVoucherNotNewer' }
      }
      const delta = cumulative - c.settled
      m.add(c.provider.address, delta - fee(delta, FEE_BPS))
      m.add(f.treasury.address, fee(delta, FEE_BPS))
      totals.channelSettled += delta
      totals.fees += fee(delta, FEE_BPS)
      c.settled = cumulative
      c.sequence = sequence
      if (b.type === 'close') {
        m.add(c.caller.address, c.deposit - c.settled)
        totals.channelRefunded += c.deposit - c.settled
        c.deposit = c.settled
        c.isClosed = true
      }
      return { op: built }
    }
    case 'finalize': {
      // No close request is ever left pending between steps, so a finalize in a batch never applies.
      if (ctx.channelsBefore.length === 0) return undefined
      const c = ctx.channelsBefore[b.pick % ctx.channelsBefore.length]
      return { op: op(OpKind.ChannelFinalize, [c.config]), skippedWith: 'PaymentChannelsNoCloseRequest' }
    }
    case 'withdraw': {
      const user = users[b.who]
      const balance = m.balance(user.address)
      const amount = (balance * BigInt(b.part)) / 100n
      const w = await f.withdrawal({ account: user.address, amount, to: user.address, nonce: m.nonce() })
      const built = op(OpKind.Withdrawal, [w, await f.sign(user, 'Withdrawal', { ...w })])
      if (amount === 0n) return { op: built, skippedWith: 'VaultZeroAmount' }
      if (amount > balance) return { op: built, skippedWith: 'VaultInsufficientBalance' }
      m.add(user.address, -amount)
      totals.withdrawn += amount
      return { op: built }
    }
    case 'garbage': {
      // Valid kinds get data of no valid length; other kinds are unknown.
      if (b.kind <= LAST_OP_KIND)
        return { op: { kind: b.kind, data: '0x01' }, skippedWith: 'SettlementMalformedOp' }
      return { op: { kind: b.kind, data: '0x' }, skippedWith: 'SettlementUnknownOpKind' }
    }
  }
}

async function runBatch(f: VaultFixture, m: Model, batchOps: BatchOp[]) {
  const blockTime = BigInt(await time.latest()) + 1n
  const ctx = {
    escrowsBefore: m.escrows.filter((e) => e.isOpen),
    channelsBefore: m.channels.filter((c) => !c.isClosed),
    locks: [] as Array<{ id: string; payer: Signer; payee: Signer; amount: bigint }>,
    totals: Object.fromEntries(TOKEN_TOTALS_FIELDS.map((k) => [k, 0n])) as Totals,
    blockTime,
  }
  const ops: Op[] = []
  const expectedSkips: Array<[number, string]> = []
  for (const b of batchOps) {
    const built = await batchOpFor(f, m, b, ctx)
    if (!built) continue
    if (built.skippedWith) expectedSkips.push([ops.length, built.skippedWith])
    ops.push(built.op)
  }
  if (ops.length === 0) return
  const batchNumber = (await f.vault.lastBatchNumber()) + 1n
  await time.setNextBlockTimestamp(blockTime)
  const receipt = await (await f.settle(ops)).wait()
  const parsed = receipt.logs.map((l: never) => f.vault.interface.parseLog(l))
  const skipped = parsed
    .filter((e: { name: string } | null) => e?.name === 'OpSkipped')
    .map((e: { args: { index: bigint; reason: string } }) => [
      Number(e.args.index),
      f.vault.interface.parseError(e.args.reason)?.name ?? e.args.reason,
    ])
  expect(skipped, 'skipped ops').to.deep.equal(expectedSkips)

  const [settled] = parsed.filter((e: { name: string } | null) => e?.name === 'BatchSettled')
  const applied = ops.length - expectedSkips.length
  const totals = settled.args.totals.map((t: { toObject(): Record<string, unknown> }) => t.toObject())
  // Every applied op names USDC, even one that moves nothing (a close of an emptied channel).
  expect(totals, 'batch totals').to.deep.equal(applied === 0 ? [] : [{ token: f.usdcAddress, ...ctx.totals }])

  // The applied locks form set `batchNumber`, indexed in the order they applied.
  // (fixtures' escrowsLockedIn throws on a receipt without locks: StandardMerkleTree needs a leaf.)
  const lockLogs = parsed.filter((e: { name: string } | null) => e?.name === 'EscrowLocked')
  expect(lockLogs.length, 'EscrowLocked logs').to.equal(ctx.locks.length)
  if (ctx.locks.length === 0) return
  const locked = lockedIn(f, receipt)
  expect([...locked.keys()]).to.deep.equal(ctx.locks.map((l) => l.id))
  for (const [index, l] of ctx.locks.entries()) {
    const escrow = locked.get(l.id)!
    expect(escrow.position).to.deep.equal({ setId: batchNumber, index: BigInt(index) })
    m.escrows.push({ escrow, payer: l.payer, payee: l.payee, amount: l.amount, isOpen: true })
  }
}

async function run(f: VaultFixture, m: Model, a: Action, step: number) {
  const users = usersOf(f)
  const token = f.usdcAddress
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
      const w = await f.withdrawal({ account: user.address, amount, to: user.address, nonce: m.nonce() })
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
      const payee = otherUser(f, a.who, a.to)
      const amount = (m.balance(payer.address) * BigInt(a.part)) / 100n
      if (amount === 0n) return
      const terms = await f.escrowTerms({
        payer: payer.address,
        payee: payee.address,
        amount,
        partialRelease: a.session,
      })
      const receipt = await (
        await f.vault.connect(f.relayer).lockEscrow(terms, await f.signLock(terms))
      ).wait()
      const escrow = lockedIn(f, receipt).get(f.escrowIdOf(terms))!
      m.add(payer.address, -amount)
      m.escrows.push({ escrow, payer, payee, amount, isOpen: true })
      return
    }
    case 'release':
    case 'refund':
    case 'rule':
    case 'expire': {
      if (openEscrows.length === 0) return
      const e = openEscrows[a.pick % openEscrows.length]
      const { terms, position, proof } = e.escrow
      if (a.type === 'release') {
        await f.vault.connect(e.payer).releaseEscrow(terms, position, NO_SIGNATURE, proof)
        m.add(e.payee.address, e.amount - fee(e.amount, FEE_BPS))
        m.add(f.treasury.address, fee(e.amount, FEE_BPS))
      } else if (a.type === 'refund') {
        await f.vault.connect(e.payee).refundEscrow(terms, position, NO_SIGNATURE, proof)
        m.add(e.payer.address, e.amount)
      } else if (a.type === 'rule') {
        await f.vault.connect(f.resolver).ruleEscrow(terms, position, a.bps, NO_SIGNATURE, proof)
        const split = splitRuling(e.amount, a.bps)
        m.add(f.resolver.address, split.resolverFee)
        m.add(e.payee.address, split.payeeAmount)
        m.add(f.treasury.address, split.fee)
        m.add(e.payer.address, split.payerAmount)
      } else {
        const now = BigInt(await time.latest())
        if (now < terms.expiry) await time.increaseTo(terms.expiry)
        await f.vault.connect(f.stranger).reclaimExpiredEscrow(terms, position, proof)
        m.add(e.payer.address, e.amount)
      }
      e.isOpen = false
      return
    }
    case 'open': {
      const caller = users[a.who]
      const provider = otherUser(f, a.who, a.to)
      const deposit = (m.balance(caller.address) * BigInt(a.part)) / 100n
      if (deposit === 0n) return
      const config = f.channelConfig({
        caller: caller.address,
        provider: provider.address,
        salt: saltOf(1000 + step),
      })
      await f.vault.connect(caller).fundChannel(config, deposit, 0n, NO_SIGNATURE)
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
      if (a.type === 'voucher' && cumulative === c.settled) return
      const sequence = c.sequence + 1n
      const voucher = await f.signedVoucher(c.config, sequence, cumulative, c.caller)
      if (a.type === 'voucher') await f.vault.connect(c.provider).settleChannel(voucher)
      else await f.vault.connect(c.provider).closeChannel(voucher, NO_SIGNATURE)
      const delta = cumulative - c.settled
      m.add(c.provider.address, delta - fee(delta, FEE_BPS))
      m.add(f.treasury.address, fee(delta, FEE_BPS))
      c.settled = cumulative
      c.sequence = sequence
      if (a.type === 'closeCooperatively') {
        m.add(c.caller.address, c.deposit - c.settled)
        c.deposit = c.settled
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
      c.deposit = c.settled
      c.isClosed = true
      return
    }
    case 'payWithAuthorization': {
      const payer = users[a.who]
      const payee = otherUser(f, a.who, a.to)
      const amount = BigInt(a.amount)
      const from = viemAccountOf(f.signers.indexOf(payer))
      const authorization = await signTransferAuthorization(f, from, amount)
      await f.vault.connect(f.coordinator).payWithTransferAuthorization(token, authorization, payee.address)
      m.add(payee.address, amount - fee(amount, FEE_BPS))
      m.add(f.treasury.address, fee(amount, FEE_BPS))
      return
    }
    case 'batch':
      return runBatch(f, m, a.ops)
  }
}

/**
 * Token held by the vault == internal balances + escrowed amounts (locked, not paid out, from the
 * model) + channel balances (deposit - settled of open channels); and the vault agrees with the
 * model on every balance, escrow and channel.
 */
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
    if (e.isOpen) escrowed += e.amount
    const { setId, index } = e.escrow.position
    expect(await f.vault.isEscrowClosed(setId, index), `escrow ${e.escrow.id} paid out`).to.equal(!e.isOpen)
  }
  let inChannels = 0n
  for (const c of m.channels) {
    const view: { deposit: bigint; settled: bigint; isClosed: boolean } = await f.vault.channel(c.id)
    expect([view.deposit, view.settled, view.isClosed], `channel ${c.id}`).to.deep.equal([
      c.deposit,
      c.settled,
      c.isClosed,
    ])
    if (!c.isClosed) inChannels += c.deposit - c.settled
  }
  expect(held).to.equal(internal + escrowed + inChannels)
}

describe('Invariants', function () {
  it('keeps the vault token balance equal to balances + escrows + channels after every step, batches with skipped ops included (property)', async function () {
    this.timeout(600_000)
    await fc.assert(
      fc.asyncProperty(fc.array(action, { minLength: 1, maxLength: 12 }), async (actions) => {
        const f = await loadFixture(deployVaultFixture)
        const m = new Model()
        for (const s of usersOf(f)) m.add(s.address, INITIAL_DEPOSIT)
        for (const [step, a] of actions.entries()) {
          await run(f, m, a, step)
          await checkInvariant(f, m)
        }
      }),
      { numRuns: 40 },
    )
  })
})
