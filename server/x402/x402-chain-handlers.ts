import type { Hex } from 'viem'
import { normalizeAddress } from '../../protocol/address'
import { findAgentByWallet } from '../agents/agents-service'
import type { ChainEventHandler, IndexedEvent } from '../chain/indexer/indexed-event'
import type { Queryable } from '../db/pool'
import {
  bookAuthorizationPayment,
  chainBookingReference,
  reverseChainBooking,
} from '../ledger/ledger-service'
import { recordPaymentDropped, recordPaymentLanded } from './x402-queries'

interface PaidWithAuthorizationArgs {
  payer: string
  token: string
  payee: string
  nonce: Hex
  amount: string
  fee: string
}

function paidLog(event: IndexedEvent) {
  const args = event.args as unknown as PaidWithAuthorizationArgs
  const payer = normalizeAddress(args.payer)
  const token = normalizeAddress(args.token)
  const nonce = args.nonce.toLowerCase() as Hex
  return {
    payer,
    token,
    payee: normalizeAddress(args.payee),
    nonce,
    amount: BigInt(args.amount),
    fee: BigInt(args.fee),
    // One authorization (token, payer, nonce) is spent once: it names the booking.
    base: `x402-paid:${token}:${payer}:${nonce}`,
  }
}

/**
 * The x402 room's side of the vault: `PaidWithAuthorization` credits the provider what the vault
 * credited it (the amount less the fee, the fee to the platform) and marks the call paid, with the
 * fee the vault charged. A reorg that drops the log reverses exactly that booking, and the call
 * waits, unpaid, for its transaction to land again.
 */
export function x402ChainEventHandlers(): ChainEventHandler[] {
  return [
    {
      eventName: 'PaidWithAuthorization',
      async apply(db: Queryable, event: IndexedEvent) {
        const log = paidLog(event)
        const provider = await findAgentByWallet(db, log.payee)
        await bookAuthorizationPayment(db, {
          providerId: provider?.id ?? null,
          token: log.token,
          amount: log.amount,
          fee: log.fee,
          reference: await chainBookingReference(db, log.base),
        })
        await recordPaymentLanded(db, log.payer, log.nonce, log.fee, event.txHash)
      },
      async undo(db: Queryable, event: IndexedEvent) {
        const log = paidLog(event)
        await reverseChainBooking(db, log.base)
        await recordPaymentDropped(db, log.payer, log.nonce)
      },
    },
  ]
}
