import type { Address } from 'viem'
import { randomUUID } from 'node:crypto'
import { BPS } from '../../protocol/typed-data'
import type { Queryable } from '../db/pool'
import { ConflictError } from '../errors'
import {
  balanceKey,
  ensureAgentAccounts,
  insertTransactions,
  lockBalances,
  selectAgentBalances,
  selectAgentDebt,
  selectAgentDebts,
  selectAgentEntries,
  selectDebtAndUnsettledTotals,
  selectPlatformAccountIds,
  selectPlatformBalance,
  selectTransactionByReference,
  selectTransactionLegs,
  selectTransactionsByReference,
  updateBalances,
  type NewLedgerTransaction,
  type AgentAccountKind,
  type AgentEntryRow,
  type LedgerTransactionKind,
  type PlatformAccountKind,
} from './ledger-queries'

type Token = Address

/** `amount * feeBps / 10000` rounded down: the payee gets the rest, so rounding creates nothing. */
export function feeFor(amount: bigint, feeBps: number): bigint {
  if (!Number.isInteger(feeBps) || feeBps < 0 || feeBps > BPS) throw new RangeError(`bad feeBps ${feeBps}`)
  return (amount * BigInt(feeBps)) / BigInt(BPS)
}

/**
 * An agent's balances of `token` in base units: spendable, locked in escrow, and owed by booked
 * releases the vault has not yet carried out (not spendable until they land).
 */
export async function getBalances(
  db: Queryable,
  agentId: string,
  token: Token,
): Promise<{ available: bigint; escrow: bigint; unsettled: bigint }> {
  return selectAgentBalances(db, agentId, token.toLowerCase())
}

/**
 * Locks the available and escrow balances of `agentIds` for `token`, in the one global order every
 * posting uses. A single posting orders its own locks, but a transaction that posts several
 * movements over different agents (a split ruling, say) can still deadlock with another doing the
 * mirror image; calling this first with every agent involved takes all locks up front instead.
 */
export async function lockLedgerAgents(db: Queryable, agentIds: string[], token: Token): Promise<void> {
  await lockLedgerAgentTokens(
    db,
    agentIds.map((agentId) => ({ agentId, token })),
  )
}

/** `lockLedgerAgents` for agents in several tokens at once, in the same global order. */
async function lockLedgerAgentTokens(
  db: Queryable,
  pairs: Array<{ agentId: string; token: string }>,
): Promise<void> {
  const agentIds = [...new Set(pairs.map((pair) => pair.agentId))]
  const accounts = agentIds.flatMap((agentId) =>
    (['available', 'escrow', 'unsettled'] as const).map((kind) => ({ agentId, kind })),
  )
  const ids = await ensureAgentAccounts(db, accounts)
  const keys = new Map<string, { accountId: string; token: string }>()
  for (const { agentId, token } of pairs) {
    for (const kind of ['available', 'escrow', 'unsettled']) {
      const key = { accountId: ids.get(`${agentId}:${kind}`)!, token: token.toLowerCase() }
      keys.set(balanceKey(key), key)
    }
  }
  await lockBalances(db, [...keys.values()])
}

export interface CreditDepositParameters {
  agentId: string
  token: Token
  amount: bigint
  reference: string
  /** Where the money comes from: the vault (a deposit just seen) or `unclaimed` (claimed at registration). */
  from?: 'vault' | 'unclaimed'
}

/**
 * vault (or unclaimed) → agent: a deposit seen on-chain (indexer), claimed at registration, or the
 * dev faucet. Whatever the agent owes is repaid first, the rest lands in available. Returns the transaction id.
 */
export async function creditDeposit(db: Queryable, parameters: CreditDepositParameters): Promise<string> {
  return creditAgent(db, 'deposit', { platform: parameters.from ?? 'vault' }, parameters)
}

/** A deposit the indexer books: to the agent holding the account, or held unclaimed (`agentId` null). */
export interface BookedDeposit {
  agentId: string | null
  token: Token
  amount: bigint
  reference: string
}

/**
 * Books many deposits seen on-chain at once, in order, each exactly as `creditDeposit` (vault →
 * agent, debt repaid first) or held on unclaimed (vault → unclaimed) when no agent holds the account, in a fixed
 * number of statements however many there are: the indexer's backfill. Returns the transaction
 * ids in the same order.
 */
export async function bookDeposits(db: Queryable, deposits: BookedDeposit[]): Promise<string[]> {
  const credited = deposits.flatMap((deposit) =>
    deposit.agentId ? [{ agentId: deposit.agentId, token: deposit.token.toLowerCase() }] : [],
  )
  // The debts are read under the available rows' locks, as one credit reads its own.
  await lockLedgerAgentTokens(db, credited)
  const owed = await selectAgentDebts(db, credited)
  const postings = deposits.map((deposit): Posting => {
    const { agentId, token, amount } = deposit
    if (!agentId) return moveOf('deposit', { platform: 'vault' }, { platform: 'unclaimed' }, deposit)
    // An earlier credit of the run repays part of the debt the next one sees.
    const key = `${agentId}:${token.toLowerCase()}`
    const debt = owed.get(key) ?? 0n
    owed.set(key, debt < amount ? 0n : debt - amount)
    return creditPosting('deposit', { platform: 'vault' }, { ...deposit, agentId }, debt)
  })
  return postAll(db, postings)
}

export interface LockEscrowParameters {
  payerId: string
  token: Token
  amount: bigint
  reference: string
}

/**
 * Payer available → payer escrow. Throws ConflictError `insufficient_balance` when available is
 * short (checked under the balance row lock, so concurrent locks never overdraw).
 */
export async function lockEscrow(db: Queryable, parameters: LockEscrowParameters): Promise<string> {
  const { payerId } = parameters
  return move(
    db,
    'escrow_lock',
    { agentId: payerId, kind: 'available' },
    { agentId: payerId, kind: 'escrow' },
    parameters,
  )
}

export interface ReleaseEscrowParameters {
  payerId: string
  payeeId: string
  token: Token
  amount: bigint
  feeBps: number
  reference: string
}

/**
 * Payer escrow → payee unsettled (amount − fee) + platform fees (fee = amount·feeBps/10000,
 * rounded down), once the payer's release is signed. The payee cannot spend it until the vault
 * carries the release out (`settleEscrowRelease`): until then the vault holds it as the payer's
 * escrow, and a chain that settles the escrow otherwise takes it back (`reverseEscrowRelease`).
 */
export async function releaseEscrow(db: Queryable, parameters: ReleaseEscrowParameters): Promise<string> {
  const { payerId, payeeId, amount } = parameters
  const fee = feeFor(amount, parameters.feeBps)
  return post(db, {
    reference: parameters.reference,
    kind: 'escrow_release',
    token: parameters.token,
    amount,
    legs: [
      { account: { agentId: payerId, kind: 'escrow' }, amount: -amount },
      { account: { agentId: payeeId, kind: 'unsettled' }, amount: amount - fee },
      { account: { platform: 'fees' }, amount: fee },
    ],
  })
}

/**
 * Payee unsettled → payee available: the vault carried out a release the ledger had booked. Debt
 * the payee owes is repaid first, as from any credit.
 */
export async function settleEscrowRelease(
  db: Queryable,
  parameters: AgentMovementParameters,
): Promise<string> {
  return creditAgent(db, 'escrow_settlement', { agentId: parameters.agentId, kind: 'unsettled' }, parameters)
}

/**
 * Payee available → payee unsettled: undoes `settleEscrowRelease` when a reorg drops the release
 * from the chain. Available pays as far as it goes; what the payee already spent becomes its debt.
 */
export async function unsettleEscrowRelease(
  db: Queryable,
  parameters: AgentMovementParameters,
): Promise<string> {
  return debitAgent(
    db,
    'escrow_settlement_reversal',
    { agentId: parameters.agentId, kind: 'unsettled' },
    parameters,
  )
}

/**
 * Payee unsettled (amount − fee) + platform fees → payer escrow: the chain settled an escrow
 * whose release the ledger had booked some other way (a refund, a ruling, the payer's reclaim),
 * so the booked release never lands. The escrow is the payer's again until that outcome is booked.
 */
export async function reverseEscrowRelease(
  db: Queryable,
  parameters: ReleaseEscrowParameters,
): Promise<string> {
  const { payerId, payeeId, amount } = parameters
  const fee = feeFor(amount, parameters.feeBps)
  await lockLedgerAgents(db, [payerId, payeeId], parameters.token)
  return post(db, {
    reference: parameters.reference,
    kind: 'escrow_release_reversal',
    token: parameters.token,
    amount,
    legs: [
      { account: { agentId: payeeId, kind: 'unsettled' }, amount: -(amount - fee) },
      { account: { platform: 'fees' }, amount: -fee },
      { account: { agentId: payerId, kind: 'escrow' }, amount },
    ],
  })
}

export interface RuleEscrowParameters {
  payerId: string
  payeeId: string
  /** The resolver's agent, or null when no agent holds its wallet (its fee is held unclaimed). */
  resolverId: string | null
  token: Token
  /** What the vault paid each party, as its `EscrowRuled` log says; they sum to the escrow. */
  payeeAmount: bigint
  payerAmount: bigint
  fee: bigint
  resolverFee: bigint
  reference: string
}

/** Payer escrow → payee, payer and resolver available + platform fees: a ruling the vault carried out. */
export async function ruleEscrowInLedger(db: Queryable, parameters: RuleEscrowParameters): Promise<string> {
  const { payerId, payeeId, resolverId } = parameters
  const amount = parameters.payeeAmount + parameters.payerAmount + parameters.fee + parameters.resolverFee
  await lockLedgerAgents(
    db,
    resolverId ? [payerId, payeeId, resolverId] : [payerId, payeeId],
    parameters.token,
  )
  return post(db, {
    reference: parameters.reference,
    kind: 'escrow_ruling',
    token: parameters.token,
    amount,
    legs: [
      { account: { agentId: payerId, kind: 'escrow' }, amount: -amount },
      { account: { agentId: payeeId, kind: 'available' }, amount: parameters.payeeAmount },
      { account: { agentId: payerId, kind: 'available' }, amount: parameters.payerAmount },
      { account: { platform: 'fees' }, amount: parameters.fee },
      {
        account: resolverId ? { agentId: resolverId, kind: 'available' } : { platform: 'unclaimed' },
        amount: parameters.resolverFee,
      },
    ],
  })
}

export interface PartiallyReleaseEscrowParameters {
  payerId: string
  payeeId: string
  token: Token
  /** What the vault paid each party, as its `EscrowPartiallyReleased` log says; they sum to the escrow. */
  payeeAmount: bigint
  payerAmount: bigint
  fee: bigint
  reference: string
}

/**
 * Payer escrow → payee available (the released part less the fee) + payer available (the rest) +
 * platform fees: a session's partial release the vault carried out. Booked from the chain's log,
 * never before, so the payee's credit is backed the moment it is spendable.
 */
export async function partiallyReleaseEscrowInLedger(
  db: Queryable,
  parameters: PartiallyReleaseEscrowParameters,
): Promise<string> {
  const { payerId, payeeId } = parameters
  const amount = parameters.payeeAmount + parameters.payerAmount + parameters.fee
  await lockLedgerAgents(db, [payerId, payeeId], parameters.token)
  return post(db, {
    reference: parameters.reference,
    kind: 'escrow_partial_release',
    token: parameters.token,
    amount,
    legs: [
      { account: { agentId: payerId, kind: 'escrow' }, amount: -amount },
      { account: { agentId: payeeId, kind: 'available' }, amount: parameters.payeeAmount },
      { account: { agentId: payerId, kind: 'available' }, amount: parameters.payerAmount },
      { account: { platform: 'fees' }, amount: parameters.fee },
    ],
  })
}

export interface RefundEscrowParameters {
  payerId: string
  token: Token
  amount: bigint
  reference: string
}

/** Payer escrow → payer available. */
export async function refundEscrow(db: Queryable, parameters: RefundEscrowParameters): Promise<string> {
  const { payerId } = parameters
  return move(
    db,
    'escrow_refund',
    { agentId: payerId, kind: 'escrow' },
    { agentId: payerId, kind: 'available' },
    parameters,
  )
}

/**
 * Payer escrow → payer available: the vault refused the lock (the balance it needed was gone), so
 * the money never left the payer's vault balance. Like any credit it repays the payer's debt first
 * (a reorg that took the deposit the lock spent leaves exactly that debt).
 */
export async function returnFailedEscrowLock(
  db: Queryable,
  parameters: AgentMovementParameters,
): Promise<string> {
  return creditAgent(db, 'escrow_refund', { agentId: parameters.agentId, kind: 'escrow' }, parameters)
}

/** One agent, one token, one amount, one idempotency reference. */
export interface AgentMovementParameters {
  agentId: string
  token: Token
  amount: bigint
  reference: string
}

/** The same for a vault account no agent holds yet: `agentId` null means the platform's unclaimed account. */
export interface WalletMovementParameters extends Omit<AgentMovementParameters, 'agentId'> {
  agentId: string | null
}

/** What the agent owes in `token` after the chain took back money it had spent (zero or more). */
export async function getDebt(db: Queryable, agentId: string, token: Token): Promise<bigint> {
  return selectAgentDebt(db, agentId, token.toLowerCase())
}

/**
 * agent (or unclaimed) → vault: a credited deposit whose block a reorg dropped. The agent's
 * available pays as far as it goes; what it already spent becomes its debt (see `debitAgent`).
 */
export async function reverseDeposit(db: Queryable, parameters: WalletMovementParameters): Promise<string> {
  return debitWallet(db, 'deposit_reversal', parameters)
}

/**
 * Agent available → vault for a fast withdrawal queued for the settler: the ledger pays out when
 * the op is queued, and reconciliation counts the queued op as in flight until it settles. Throws
 * ConflictError `insufficient_balance` when available is short (checked under the row lock).
 */
export async function debitWithdrawal(db: Queryable, parameters: AgentMovementParameters): Promise<string> {
  const { agentId } = parameters
  return move(db, 'withdrawal', { agentId, kind: 'available' }, { platform: 'vault' }, parameters)
}

/** vault → agent: a queued fast withdrawal whose op failed on-chain; repays debt first. */
export async function refundWithdrawal(db: Queryable, parameters: AgentMovementParameters): Promise<string> {
  return creditAgent(db, 'withdrawal_refund', { platform: 'vault' }, parameters)
}

/**
 * agent (or unclaimed) → vault: a withdrawal executed on-chain without the coordinator (slow
 * path). The chain already paid it, so the ledger follows even past the available balance: the
 * remainder becomes the agent's debt.
 */
export async function debitChainWithdrawal(
  db: Queryable,
  parameters: WalletMovementParameters,
): Promise<string> {
  return debitWallet(db, 'withdrawal', parameters)
}

/** vault → agent (or unclaimed): undoes `debitChainWithdrawal` when a reorg drops its block; repays debt first. */
export async function reverseChainWithdrawal(
  db: Queryable,
  parameters: WalletMovementParameters,
): Promise<string> {
  const { agentId } = parameters
  if (agentId === null)
    return move(db, 'withdrawal_reversal', { platform: 'vault' }, { platform: 'unclaimed' }, parameters)
  return creditAgent(db, 'withdrawal_reversal', { platform: 'vault' }, { ...parameters, agentId })
}

/**
 * agent → unclaimed: a slow-path exit made by a wallet before any agent held it, moved onto the
 * agent that now registers the wallet (its deposits are claimed the same way, in chain order).
 */
export async function claimChainWithdrawal(
  db: Queryable,
  parameters: AgentMovementParameters,
): Promise<string> {
  return debitAgent(db, 'withdrawal', { platform: 'unclaimed' }, parameters)
}

/**
 * Agent available → debt, as much as both allow; returns what was repaid (nothing is posted for
 * zero). Run before a withdrawal so an agent cannot take out money it owes.
 */
export async function repayDebt(
  db: Queryable,
  parameters: Omit<AgentMovementParameters, 'amount'>,
): Promise<bigint> {
  const { agentId, token } = parameters
  await lockLedgerAgents(db, [agentId], token)
  const owed = await selectAgentDebt(db, agentId, token.toLowerCase())
  const { available } = await selectAgentBalances(db, agentId, token.toLowerCase())
  const amount = owed < available ? owed : available
  if (amount === 0n) return 0n
  await move(
    db,
    'debt_repayment',
    { agentId, kind: 'available' },
    { agentId, kind: 'debt' },
    { ...parameters, amount },
  )
  return amount
}

/** `source` → agent: repays the agent's debt first, the rest to available. */
async function creditAgent(
  db: Queryable,
  kind: LedgerTransactionKind,
  source: AccountRef,
  parameters: AgentMovementParameters,
): Promise<string> {
  const { agentId, token } = parameters
  await lockLedgerAgents(db, [agentId], token)
  const owed = await selectAgentDebt(db, agentId, token.toLowerCase())
  return post(db, creditPosting(kind, source, parameters, owed))
}

/** `source` → agent as a posting, given what the agent owes: the debt is repaid first, the rest to available. */
function creditPosting(
  kind: LedgerTransactionKind,
  source: AccountRef,
  parameters: AgentMovementParameters,
  owed: bigint,
): Posting {
  const { agentId, amount } = parameters
  return {
    reference: parameters.reference,
    kind,
    token: parameters.token,
    amount,
    legs: [{ account: source, amount: -amount }, ...debtFirstLegs(agentId, amount, owed)],
  }
}

/** The agent's legs of a credit of `amount`, given what it owes: the debt repaid first, the rest to available. */
function debtFirstLegs(agentId: string, amount: bigint, owed: bigint): Posting['legs'] {
  const repaid = owed < amount ? owed : amount
  return [
    { account: { agentId, kind: 'debt' }, amount: repaid },
    { account: { agentId, kind: 'available' }, amount: amount - repaid },
  ]
}

/**
 * Agent → `sink` when the chain has already moved the money, so the ledger must follow: available
 * pays as far as it goes and the rest is booked on the agent's debt account, which may go
 * negative. Entries still sum to zero, the vault account still mirrors the chain, and the debt is
 * what the agent owes the platform (repaid from its next credit; escrow is left alone, since it
 * belongs to a counterparty until released).
 */
async function debitAgent(
  db: Queryable,
  kind: LedgerTransactionKind,
  sink: AccountRef,
  parameters: AgentMovementParameters,
): Promise<string> {
  const { agentId, token, amount } = parameters
  await lockLedgerAgents(db, [agentId], token)
  const { available } = await selectAgentBalances(db, agentId, token.toLowerCase())
  const fromAvailable = available < amount ? available : amount
  return post(db, {
    reference: parameters.reference,
    kind,
    token,
    amount,
    legs: [
      { account: { agentId, kind: 'available' }, amount: -fromAvailable },
      { account: { agentId, kind: 'debt' }, amount: -(amount - fromAvailable) },
      { account: sink, amount },
    ],
  })
}

/** `debitAgent` into the vault, or unclaimed → vault when no agent holds the wallet. */
async function debitWallet(
  db: Queryable,
  kind: LedgerTransactionKind,
  parameters: WalletMovementParameters,
): Promise<string> {
  const { agentId } = parameters
  if (agentId === null) return move(db, kind, { platform: 'unclaimed' }, { platform: 'vault' }, parameters)
  return debitAgent(db, kind, { platform: 'vault' }, { ...parameters, agentId })
}

/** `amount` from one account to another: the two-leg posting most movements are. */
async function move(
  db: Queryable,
  kind: LedgerTransactionKind,
  from: AccountRef,
  to: AccountRef,
  parameters: { token: Token; amount: bigint; reference: string },
): Promise<string> {
  return post(db, moveOf(kind, from, to, parameters))
}

function moveOf(
  kind: LedgerTransactionKind,
  from: AccountRef,
  to: AccountRef,
  parameters: { token: Token; amount: bigint; reference: string },
): Posting {
  const { amount } = parameters
  return {
    reference: parameters.reference,
    kind,
    token: parameters.token,
    amount,
    legs: [
      { account: from, amount: -amount },
      { account: to, amount },
    ],
  }
}

type AccountRef = { agentId: string; kind: AgentAccountKind } | { platform: PlatformAccountKind }

/**
 * Agents' available, escrow and unsettled keep a locked running balance that may not go negative;
 * debt, channel and platform accounts do not (a channel's limits are the channel's own, and its
 * payouts follow the chain, which must never be refused).
 */
function hasRunningBalance(
  account: AccountRef,
): account is { agentId: string; kind: 'available' | 'escrow' | 'unsettled' } {
  return 'agentId' in account && account.kind !== 'debt' && account.kind !== 'channel'
}

interface Posting {
  reference: string
  kind: LedgerTransactionKind
  token: Token
  amount: bigint
  legs: { account: AccountRef; amount: bigint }[]
}

/** Posts one balanced transaction inside the caller's database transaction (see `postAll`). */
async function post(db: Queryable, posting: Posting): Promise<string> {
  return (await postAll(db, [posting]))[0]!
}

/**
 * Posts balanced transactions, in order, inside the caller's database transaction, in a fixed
 * number of statements however many there are. Returns their transaction ids; a reference
 * already posted (before, or earlier in `postings`) returns that transaction's id and posts nothing.
 *
 * Order matters: the agent balance rows are locked first, and only then are the references looked
 * up. Every posting with the same reference touches the same rows, so a duplicate waits for the
 * first to commit and then sees its reference (a no-op), and nothing is written before the
 * balance checks, so a refused posting leaves no trace even if the caller commits anyway.
 */
async function postAll(db: Queryable, postings: Posting[]): Promise<string[]> {
  for (const posting of postings) {
    if (typeof posting.amount !== 'bigint' || posting.amount < 0n) {
      throw new RangeError(`ledger amount must be a non-negative bigint, got ${String(posting.amount)}`)
    }
    if (!posting.reference) throw new RangeError('ledger reference must not be empty')
    const total = posting.legs.reduce((sum, leg) => sum + leg.amount, 0n)
    if (total !== 0n) throw new Error(`ledger posting ${posting.reference} does not sum to zero`)
  }
  const legs = postings.flatMap((posting) => posting.legs.map((leg) => leg.account))
  const agentAccounts = new Map<string, { agentId: string; kind: AgentAccountKind }>()
  for (const account of legs)
    if ('agentId' in account) agentAccounts.set(`${account.agentId}:${account.kind}`, account)
  const accountIds = await ensureAgentAccounts(db, [...agentAccounts.values()])
  const platformIds = legs.some((account) => 'platform' in account)
    ? await selectPlatformAccountIds(db)
    : new Map<PlatformAccountKind, string>()
  const idOf = (account: AccountRef): string =>
    'agentId' in account
      ? accountIds.get(`${account.agentId}:${account.kind}`)!
      : platformIds.get(account.platform)!

  const running = new Map<string, { accountId: string; token: string }>()
  for (const posting of postings) {
    const token = posting.token.toLowerCase()
    for (const leg of posting.legs) {
      if (!hasRunningBalance(leg.account)) continue
      const key = { accountId: idOf(leg.account), token }
      running.set(balanceKey(key), key)
    }
  }
  const balances = await lockBalances(db, [...running.values()])
  const existing = await selectTransactionsByReference(
    db,
    postings.map((posting) => posting.reference),
  )

  const ids: string[] = []
  const inserted: NewLedgerTransaction[] = []
  const changed = new Set<string>()
  for (const posting of postings) {
    const token = posting.token.toLowerCase()
    const earlier = existing.get(posting.reference)
    if (earlier) {
      if (earlier.kind !== posting.kind || earlier.token !== token || earlier.amount !== posting.amount) {
        throw new ConflictError(
          'ledger_reference_reused',
          `ledger reference ${posting.reference} was already used for a different movement`,
          { details: { reference: posting.reference, kind: earlier.kind } },
        )
      }
      ids.push(earlier.id)
      continue
    }
    const entries: NewLedgerTransaction['entries'] = []
    for (const leg of posting.legs) {
      if (leg.amount === 0n) continue
      const accountId = idOf(leg.account)
      if (!hasRunningBalance(leg.account)) {
        entries.push({ accountId, amount: leg.amount, balanceAfter: null })
        continue
      }
      const key = balanceKey({ accountId, token })
      const before = balances.get(key)!
      const after = before + leg.amount
      if (after < 0n) {
        throw new ConflictError(
          'insufficient_balance',
          `${leg.account.kind} balance ${before} is less than ${-leg.amount} (base units of ${token})`,
          {
            details: {
              account: leg.account.kind,
              token,
              balance: before.toString(),
              required: (-leg.amount).toString(),
            },
          },
        )
      }
      balances.set(key, after)
      changed.add(key)
      entries.push({ accountId, amount: leg.amount, balanceAfter: after })
    }
    const transaction = {
      id: randomUUID(),
      reference: posting.reference,
      kind: posting.kind,
      token,
      amount: posting.amount,
      entries,
    }
    existing.set(posting.reference, transaction)
    inserted.push(transaction)
    ids.push(transaction.id)
  }

  await insertTransactions(db, inserted)
  await updateBalances(
    db,
    [...changed].map((key) => ({ ...running.get(key)!, balance: balances.get(key)! })),
  )
  return ids
}

/**
 * Caller available → caller channel: a funding of one of its channels, booked when it is asked for
 * (so the money cannot be spent twice while the caller signs and the vault carries it out).
 * Throws ConflictError `insufficient_balance` when available is short.
 */
export async function fundChannelInLedger(
  db: Queryable,
  parameters: AgentMovementParameters,
): Promise<string> {
  const { agentId } = parameters
  return move(db, 'channel_funding', { agentId, kind: 'available' }, { agentId, kind: 'channel' }, parameters)
}

/**
 * Caller available → caller channel for a funding the caller made on the vault itself: the chain
 * has moved the money, so available pays as far as it goes and the rest becomes the caller's debt.
 */
export async function followChainChannelFunding(
  db: Queryable,
  parameters: AgentMovementParameters,
): Promise<string> {
  return debitAgent(db, 'channel_funding', { agentId: parameters.agentId, kind: 'channel' }, parameters)
}

/** Caller channel → caller available: a funding the vault refused or the caller never signed; repays debt first. */
export async function returnChannelFunding(
  db: Queryable,
  parameters: AgentMovementParameters,
): Promise<string> {
  return creditAgent(
    db,
    'channel_funding_return',
    { agentId: parameters.agentId, kind: 'channel' },
    parameters,
  )
}

/** Caller channel → caller available: what the vault returned when the channel closed; repays debt first. */
export async function refundChannelInLedger(
  db: Queryable,
  parameters: AgentMovementParameters,
): Promise<string> {
  return creditAgent(db, 'channel_refund', { agentId: parameters.agentId, kind: 'channel' }, parameters)
}

/**
 * Caller channel → provider available (`amount − fee`, its debt repaid first) + platform fees: a
 * voucher the vault settled, booked when its `ChannelSettled` lands.
 */
export async function payFromChannel(
  db: Queryable,
  parameters: {
    callerId: string
    providerId: string
    token: Token
    amount: bigint
    fee: bigint
    reference: string
  },
): Promise<string> {
  const { callerId, providerId, token, amount, fee } = parameters
  await lockLedgerAgents(db, [callerId, providerId], token)
  const owed = await selectAgentDebt(db, providerId, token.toLowerCase())
  return post(db, {
    reference: parameters.reference,
    kind: 'channel_settlement',
    token,
    amount,
    legs: [
      { account: { agentId: callerId, kind: 'channel' }, amount: -amount },
      ...debtFirstLegs(providerId, amount - fee, owed),
      { account: { platform: 'fees' }, amount: fee },
    ],
  })
}

/**
 * Vault → provider available (`amount − fee`, its debt repaid first) + platform fees: an x402
 * payment the vault took in with the payer's transfer authorization and credited to the provider,
 * booked when its `PaidWithAuthorization` lands. A payee no agent holds is held unclaimed.
 */
export async function bookAuthorizationPayment(
  db: Queryable,
  parameters: { providerId: string | null; token: Token; amount: bigint; fee: bigint; reference: string },
): Promise<string> {
  const { providerId, token, amount, fee } = parameters
  const net = amount - fee
  let credit: Posting['legs'] = [{ account: { platform: 'unclaimed' }, amount: net }]
  if (providerId !== null) {
    await lockLedgerAgents(db, [providerId], token)
    credit = debtFirstLegs(providerId, net, await selectAgentDebt(db, providerId, token.toLowerCase()))
  }
  return post(db, {
    reference: parameters.reference,
    kind: 'x402_payment',
    token,
    amount,
    legs: [
      { account: { platform: 'vault' }, amount: -amount },
      ...credit,
      { account: { platform: 'fees' }, amount: fee },
    ],
  })
}

/** The transaction posted under `reference`, with its legs, or null: what a booking did. */
export async function findLedgerPosting(db: Queryable, reference: string) {
  return selectTransactionLegs(db, reference)
}

/**
 * Posts the exact opposite of the transaction under `reference`, under `reversalReference`: a
 * booking that followed the chain, undone when a reorg drops what it followed. Where it credited
 * an agent's available balance that has since been spent, the shortfall becomes the agent's debt,
 * as with any money the chain takes back. Returns null when nothing was posted under `reference`.
 */
export async function reverseLedgerPosting(
  db: Queryable,
  parameters: { reference: string; reversalReference: string },
): Promise<string | null> {
  const original = await selectTransactionLegs(db, parameters.reference)
  if (!original) return null
  const token = original.token as Token
  const agentIds = original.legs.flatMap((leg) => (leg.agentId ? [leg.agentId] : []))
  await lockLedgerAgents(db, agentIds, token)
  const legs: Posting['legs'] = []
  for (const leg of original.legs) {
    const amount = -leg.amount
    if (leg.agentId === null) {
      legs.push({ account: { platform: leg.kind as PlatformAccountKind }, amount })
    } else if (leg.kind === 'available' && amount < 0n) {
      const { available } = await selectAgentBalances(db, leg.agentId, token.toLowerCase())
      const fromAvailable = available < -amount ? available : -amount
      legs.push({ account: { agentId: leg.agentId, kind: 'available' }, amount: -fromAvailable })
      legs.push({ account: { agentId: leg.agentId, kind: 'debt' }, amount: amount + fromAvailable })
    } else {
      legs.push({ account: { agentId: leg.agentId, kind: leg.kind as AgentAccountKind }, amount })
    }
  }
  return post(db, {
    reference: parameters.reversalReference,
    kind: 'reorg_reversal',
    token,
    amount: original.amount,
    legs,
  })
}

/** The reference that undoes the booking under `reference` when a reorg drops what it followed. */
function reorgReversalOf(reference: string): string {
  return `reorg-reversal:${reference}`
}

/**
 * The reference a booking that follows the chain posts under: `${base}/1`, or, once a reorg has
 * undone that one, `${base}/2` and so on. Posting under it again is a no-op while it is live, so
 * an indexer that applies the same log twice books it once, and one that applies it again after a
 * reorg undid it books it again.
 */
export async function chainBookingReference(db: Queryable, base: string): Promise<string> {
  for (let generation = 1; ; generation += 1) {
    const reference = `${base}/${generation}`
    if (!(await selectTransactionByReference(db, reference))) return reference
    if (!(await selectTransactionByReference(db, reorgReversalOf(reference)))) return reference
  }
}

/** The live booking under `base` (see `chainBookingReference`), or null when there is none. */
export async function findChainBooking(db: Queryable, base: string) {
  for (let generation = 1; ; generation += 1) {
    const reference = `${base}/${generation}`
    if (!(await selectTransactionByReference(db, reference))) return null
    if (!(await selectTransactionByReference(db, reorgReversalOf(reference)))) {
      return { reference, ...(await selectTransactionLegs(db, reference))! }
    }
  }
}

/** Undoes the live booking under `base`, if there is one: a reorg dropped the log it followed. */
export async function reverseChainBooking(db: Queryable, base: string): Promise<void> {
  const live = await findChainBooking(db, base)
  if (live)
    await reverseLedgerPosting(db, {
      reference: live.reference,
      reversalReference: reorgReversalOf(live.reference),
    })
}

/**
 * Per token, what agents owe (debts) and what booked releases owe agents before the vault carried
 * them out (unsettled): both inside the vault's liabilities, reported apart by reconciliation.
 */
export async function debtAndUnsettledTotals(db: Queryable) {
  return selectDebtAndUnsettledTotals(db)
}

/**
 * What the ledger says the vault owes everyone in `token` (agents' available and escrow, platform
 * fees): the vault account is the outside side of every deposit and withdrawal, so it is minus that.
 */
export async function vaultLiabilities(db: Queryable, token: Token): Promise<bigint> {
  return -(await selectPlatformBalance(db, 'vault', token.toLowerCase()))
}

/** The ledger's balance of platform account `kind` (`fees`, `unclaimed`) in `token`. */
export async function platformBalance(
  db: Queryable,
  kind: 'fees' | 'unclaimed',
  token: Token,
): Promise<bigint> {
  return selectPlatformBalance(db, kind, token.toLowerCase())
}

/** An agent's ledger entries, newest first (`GET /v1/wallet/transactions`). */
export async function listAgentEntries(
  db: Queryable,
  agentId: string,
  options: Parameters<typeof selectAgentEntries>[2],
): Promise<AgentEntryRow[]> {
  return selectAgentEntries(db, agentId, options)
}
