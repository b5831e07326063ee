import { normalizeAddress } from '../../protocol/address'
import type { Address } from 'viem'
import type { Logger } from 'pino'
import type { ChainEventHandler, IndexedEvent } from '../chain/indexer/indexed-event'
import type { Queryable } from '../db/pool'
import { feeFor } from '../ledger/ledger-service'
import {
  applyBalanceChanges,
  deleteMirroredChannel,
  deleteMirroredEscrow,
  deleteTreasuryChange,
  findMirroredChannel,
  findMirroredEscrow,
  insertMirroredChannel,
  insertMirroredEscrow,
  insertTreasuryChange,
  revertBalanceChanges,
  selectCurrentTreasury,
  setMirroredEscrowClosed,
  type BalanceChange,
  type LogKey,
} from './vault-mirror-queries'

const logKey = (event: IndexedEvent): LogKey => ({
  chainId: event.chainId,
  txHash: event.txHash,
  logIndex: event.logIndex,
})

/**
 * What a log did to the vault's internal balances, from the log and the escrow, channel and
 * treasury it refers to, exactly as the contract credits and debits: `Deposited` credits what
 * arrived; `PaidWithAuthorization` credits the payee what arrived less the fee, the treasury the fee; `Withdrawn` and `WithdrawalExecuted` debit what left (a fee-charging token's extra
 * included); a lock debits the payer; a release credits the payee its net amount and the treasury
 * the fee; a refund or an expiry credits the payer; a ruling credits payee, payer, resolver and
 * treasury as its log says; a channel's funding debits its caller, a settled voucher credits the
 * provider `amount − fee` and the treasury the fee, a close credits the caller the refund.
 */
async function balanceChangesOf(
  db: Queryable,
  event: IndexedEvent,
  logger: Logger,
): Promise<BalanceChange[]> {
  const args = event.args as Record<string, string>
  const amount = (name: string) => BigInt(args[name]!)
  const address = (name: string) => normalizeAddress(args[name]!)
  switch (event.eventName) {
    case 'Deposited':
      return [{ account: address('account'), token: address('token'), delta: amount('amount') }]
    case 'PaidWithAuthorization':
      return [
        { account: address('payee'), token: address('token'), delta: amount('amount') - amount('fee') },
        ...(await treasuryCredit(db, event, address('token'), amount('fee'))),
      ]
    case 'Withdrawn':
    case 'WithdrawalExecuted':
      return [{ account: address('account'), token: address('token'), delta: -amount('amount') }]
    case 'EscrowLocked':
      return [{ account: address('payer'), token: address('token'), delta: -amount('amount') }]
    case 'EscrowReleased':
    case 'EscrowRefunded':
    case 'EscrowExpired':
    case 'EscrowRuled':
    case 'EscrowPartiallyReleased': {
      const escrow = await findMirroredEscrow(db, event.chainId, args.escrowId!)
      if (!escrow) {
        logger.error(
          { escrowId: args.escrowId, txHash: event.txHash },
          'vault mirror: outcome of an unknown escrow',
        )
        return []
      }
      const token = escrow.token
      if (event.eventName === 'EscrowReleased') {
        return [
          { account: escrow.payee, token, delta: amount('amount') },
          ...(await treasuryCredit(db, event, token, amount('fee'))),
        ]
      }
      if (event.eventName === 'EscrowPartiallyReleased') {
        return [
          { account: escrow.payee, token, delta: amount('payeeAmount') },
          { account: escrow.payer, token, delta: amount('payerAmount') },
          ...(await treasuryCredit(db, event, token, amount('fee'))),
        ]
      }
      if (event.eventName === 'EscrowRuled') {
        return [
          { account: escrow.payee, token, delta: amount('payeeAmount') },
          { account: escrow.payer, token, delta: amount('payerAmount') },
          { account: escrow.resolver, token, delta: amount('resolverFee') },
          ...(await treasuryCredit(db, event, token, amount('fee'))),
        ]
      }
      return [{ account: escrow.payer, token, delta: amount('amount') }]
    }
    case 'ChannelFunded':
    case 'ChannelSettled':
    case 'ChannelClosed': {
      const channel = await findMirroredChannel(db, event.chainId, args.channelId!)
      if (!channel) {
        logger.error(
          { channelId: args.channelId, txHash: event.txHash },
          'vault mirror: log of an unknown channel',
        )
        return []
      }
      const token = channel.token
      if (event.eventName === 'ChannelFunded')
        return [{ account: channel.caller, token, delta: -amount('amount') }]
      if (event.eventName === 'ChannelClosed')
        return [{ account: channel.caller, token, delta: amount('refund') }]
      const paid = amount('amount')
      const fee = feeFor(paid, channel.feeBps)
      return [
        { account: channel.provider, token, delta: paid - fee },
        ...(await treasuryCredit(db, event, token, fee)),
      ]
    }
    default:
      return []
  }
}

async function treasuryCredit(
  db: Queryable,
  event: IndexedEvent,
  token: Address,
  fee: bigint,
): Promise<BalanceChange[]> {
  if (fee === 0n) return []
  const treasury = await selectCurrentTreasury(db, event.chainId)
  if (!treasury) throw new Error(`vault mirror: a fee at ${event.txHash} before any TreasuryChanged log`)
  return [{ account: treasury, token, delta: fee }]
}

/** The logs that move balances, and the ones that tell later logs whose balance they move. */
const BALANCE_EVENTS = [
  'Deposited',
  'PaidWithAuthorization',
  'Withdrawn',
  'WithdrawalExecuted',
  'EscrowLocked',
  'EscrowReleased',
  'EscrowRefunded',
  'EscrowExpired',
  'EscrowRuled',
  'EscrowPartiallyReleased',
  'ChannelOpened',
  'ChannelFunded',
  'ChannelSettled',
  'ChannelClosed',
  'TreasuryChanged',
] as const

const ESCROW_OUTCOMES = new Set([
  'EscrowReleased',
  'EscrowRefunded',
  'EscrowExpired',
  'EscrowRuled',
  'EscrowPartiallyReleased',
])

/**
 * The indexer's side of the vault mirror: each log's balance changes, applied in chain order in
 * the indexer's transaction, undone exactly on a reorg. With it reconciliation knows the vault's
 * balance of every account at the indexed block without reading the chain account by account.
 */
export function vaultMirrorHandlers(logger: Logger): ChainEventHandler[] {
  const mirrorLogger = logger.child({ component: 'vault-mirror' })
  // Logs of one event, in chain order: what each refers to is recorded first, then every balance
  // change in one statement, then the escrows the outcomes closed.
  const applyLogs = async (db: Queryable, events: IndexedEvent[]) => {
    const changes: Array<{ log: LogKey; changes: BalanceChange[] }> = []
    for (const event of events) {
      const args = event.args as Record<string, string>
      const log = logKey(event)
      if (event.eventName === 'TreasuryChanged') {
        await insertTreasuryChange(db, { ...log, blockNumber: event.blockNumber }, args.current as Address)
        continue
      }
      if (event.eventName === 'ChannelOpened') {
        await insertMirroredChannel(db, log, {
          channelId: args.channelId!,
          caller: args.caller as Address,
          provider: args.provider as Address,
          token: args.token as Address,
          feeBps: Number(args.feeBps),
        })
        continue
      }
      if (event.eventName === 'EscrowLocked') {
        await insertMirroredEscrow(db, log, {
          escrowId: args.escrowId!,
          payer: args.payer as Address,
          payee: args.payee as Address,
          resolver: args.resolver as Address,
          token: args.token as Address,
          amount: BigInt(args.amount!),
          partialRelease: (event.args.partialRelease as boolean | undefined) === true,
        })
      }
      changes.push({ log, changes: await balanceChangesOf(db, event, mirrorLogger) })
    }
    await applyBalanceChanges(db, changes)
    for (const event of events) {
      if (ESCROW_OUTCOMES.has(event.eventName))
        await setMirroredEscrowClosed(db, event.chainId, event.args.escrowId as string, logKey(event))
    }
  }
  return BALANCE_EVENTS.map((eventName) => ({
    eventName,
    apply: (db, event) => applyLogs(db, [event]),
    applyMany: applyLogs,
    async undo(db, event) {
      const args = event.args as Record<string, string>
      const log = logKey(event)
      if (eventName === 'TreasuryChanged') return deleteTreasuryChange(db, log)
      if (eventName === 'ChannelOpened') return deleteMirroredChannel(db, log)
      await revertBalanceChanges(db, log)
      if (ESCROW_OUTCOMES.has(eventName))
        await setMirroredEscrowClosed(db, event.chainId, args.escrowId!, null)
      if (eventName === 'EscrowLocked') await deleteMirroredEscrow(db, log)
    },
  }))
}
