import { normalizeAddress } from '../../protocol/address'
import type { Address } from 'viem'
import type { Logger } from 'pino'
import { findAgentByWallet } from '../agents/agents-service'
import type { ChainEventHandler, IndexedEvent } from '../chain/indexer/indexed-event'
import type { Queryable } from '../db/pool'
import {
  chainBookingReference,
  findChainBooking,
  findLedgerPosting,
  refundEscrow,
  releaseEscrow,
  reverseChainBooking,
  reverseEscrowRelease,
  partiallyReleaseEscrowInLedger,
  ruleEscrowInLedger,
  settleEscrowRelease,
} from '../ledger/ledger-service'
import { selectEscrowLockOp, setEscrowClosed, subjectOfRow, type EscrowSubject } from './escrow-ops-queries'
import { ledgerReleaseReference } from './escrow-ops'

/** How the vault settled an escrow: the ways out of `IJobEscrow`. */
type EscrowOutcome =
  | { kind: 'released' }
  | { kind: 'returned' }
  | { kind: 'ruled'; payeeAmount: bigint; payerAmount: bigint; fee: bigint; resolverFee: bigint }
  | { kind: 'partially_released'; payeeAmount: bigint; payerAmount: bigint; fee: bigint }

/** An escrow the coordinator locked, with the agents on its sides. */
interface KnownEscrow {
  escrowId: string
  subject: EscrowSubject
  token: Address
  amount: bigint
  feeBps: number
  payerId: string
  payeeId: string
  resolverId: string | null
}

async function findKnownEscrow(
  db: Queryable,
  chainId: number,
  escrowId: string,
): Promise<KnownEscrow | null> {
  const lock = await selectEscrowLockOp(db, chainId, escrowId)
  if (!lock) return null
  const terms = lock.terms
  const payer = await findAgentByWallet(db, terms.payer)
  const payee = await findAgentByWallet(db, terms.payee)
  if (!payer || !payee) return null
  const resolver = /^0x0{40}$/i.test(terms.resolver) ? null : await findAgentByWallet(db, terms.resolver)
  return {
    escrowId: escrowId.toLowerCase(),
    subject: subjectOfRow(lock),
    token: normalizeAddress(terms.token),
    amount: terms.amount,
    feeBps: terms.feeBps,
    payerId: payer.id,
    payeeId: payee.id,
    resolverId: resolver?.id ?? null,
  }
}

/**
 * Books what the vault did with an escrow the coordinator locked, so the ledger follows the chain
 * however the escrow was settled, with the coordinator or without it:
 * - released: the payee's unsettled credit, booked when the release was signed, becomes available;
 *   a release the ledger never booked (the payer released on-chain directly) is booked first.
 * - refunded or expired: a booked release never lands, so it is reversed, then the escrow returns
 *   to the payer's available balance.
 * - ruled: a booked release is reversed, then the escrow is split as the vault split it.
 * - partially released (a session's settlement): split as the vault split it, like a ruling
 *   without a resolver; nothing was booked before the log.
 * Every posting goes under a chain-booking reference, so applying a log twice books it once and a
 * reorg's undo reverses exactly what its apply posted.
 */
async function bookOutcome(db: Queryable, escrow: KnownEscrow, outcome: EscrowOutcome): Promise<void> {
  const releaseReference = ledgerReleaseReference(escrow.subject)
  const booked = await findLedgerPosting(db, releaseReference)
  const isBookedRelease = booked !== null && (await findChainBooking(db, reversalBase(escrow))) === null
  const parties = { payerId: escrow.payerId, payeeId: escrow.payeeId, token: escrow.token }

  if (outcome.kind === 'released') {
    let release = booked
    if (!release) {
      const reference = await chainBookingReference(db, outcomeBase(escrow))
      await releaseEscrow(db, { ...parties, amount: escrow.amount, feeBps: escrow.feeBps, reference })
      release = await findLedgerPosting(db, reference)
    }
    const credit = release!.legs.find((leg) => leg.agentId === escrow.payeeId && leg.kind === 'unsettled')
    if (!credit) return
    await settleEscrowRelease(db, {
      agentId: escrow.payeeId,
      token: escrow.token,
      amount: credit.amount,
      reference: await chainBookingReference(db, settlementBase(escrow)),
    })
    return
  }

  if (isBookedRelease) {
    await reverseEscrowRelease(db, {
      ...parties,
      amount: escrow.amount,
      feeBps: escrow.feeBps,
      reference: await chainBookingReference(db, reversalBase(escrow)),
    })
  }
  const reference = await chainBookingReference(db, outcomeBase(escrow))
  if (outcome.kind === 'returned') {
    await refundEscrow(db, { payerId: escrow.payerId, token: escrow.token, amount: escrow.amount, reference })
    return
  }
  if (outcome.kind === 'partially_released') {
    await partiallyReleaseEscrowInLedger(db, {
      ...parties,
      payeeAmount: outcome.payeeAmount,
      payerAmount: outcome.payerAmount,
      fee: outcome.fee,
      reference,
    })
    return
  }
  await ruleEscrowInLedger(db, {
    ...parties,
    resolverId: escrow.resolverId,
    payeeAmount: outcome.payeeAmount,
    payerAmount: outcome.payerAmount,
    fee: outcome.fee,
    resolverFee: outcome.resolverFee,
    reference,
  })
}

/** Undoes `bookOutcome` when a reorg drops the log, last posting first. */
async function unbookOutcome(db: Queryable, escrow: KnownEscrow): Promise<void> {
  await reverseChainBooking(db, settlementBase(escrow))
  await reverseChainBooking(db, outcomeBase(escrow))
  await reverseChainBooking(db, reversalBase(escrow))
}

const settlementBase = (escrow: KnownEscrow) => `escrow-settlement:${escrow.escrowId}`
const outcomeBase = (escrow: KnownEscrow) => `escrow-outcome:${escrow.escrowId}`
const reversalBase = (escrow: KnownEscrow) => `escrow-release-reversal:${escrow.escrowId}`

function outcomeOf(event: IndexedEvent): EscrowOutcome {
  if (event.eventName === 'EscrowReleased') return { kind: 'released' }
  if (event.eventName === 'EscrowRuled') {
    const args = event.args as { payeeAmount: string; payerAmount: string; fee: string; resolverFee: string }
    return {
      kind: 'ruled',
      payeeAmount: BigInt(args.payeeAmount),
      payerAmount: BigInt(args.payerAmount),
      fee: BigInt(args.fee),
      resolverFee: BigInt(args.resolverFee),
    }
  }
  if (event.eventName === 'EscrowPartiallyReleased') {
    const args = event.args as { payeeAmount: string; payerAmount: string; fee: string }
    return {
      kind: 'partially_released',
      payeeAmount: BigInt(args.payeeAmount),
      payerAmount: BigInt(args.payerAmount),
      fee: BigInt(args.fee),
    }
  }
  return { kind: 'returned' }
}

/**
 * The indexer's side of escrow outcomes (`EscrowReleased`, `EscrowRefunded`, `EscrowExpired`,
 * `EscrowRuled`, `EscrowPartiallyReleased`): see `bookOutcome`. An escrow the coordinator never locked (one two wallets made
 * on the vault directly) moves no ledger money here; it is logged, and reconciliation shows it.
 */
export function escrowOutcomeHandlers(logger: Logger): ChainEventHandler[] {
  return ['EscrowReleased', 'EscrowRefunded', 'EscrowExpired', 'EscrowRuled', 'EscrowPartiallyReleased'].map(
    (eventName) => ({
      eventName,
      async apply(db, event) {
        const escrowId = (event.args as { escrowId: string }).escrowId
        const escrow = await findKnownEscrow(db, event.chainId, escrowId)
        if (!escrow) {
          logger.warn(
            { escrowId, event: eventName, txHash: event.txHash },
            'outcome of an escrow the coordinator did not lock',
          )
          return
        }
        await bookOutcome(db, escrow, outcomeOf(event))
        await setEscrowClosed(db, event.chainId, escrowId, true)
      },
      async undo(db, event) {
        const escrowId = (event.args as { escrowId: string }).escrowId
        const escrow = await findKnownEscrow(db, event.chainId, escrowId)
        if (escrow) await unbookOutcome(db, escrow)
        await setEscrowClosed(db, event.chainId, escrowId, false)
      },
    }),
  )
}
