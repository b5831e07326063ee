import { isTokenAllowed } from '../chain/token-allowlist'
import { normalizeAddress } from '../../protocol/address'
import { randomUUID } from 'node:crypto'
import { getAddress, type Hex } from 'viem'
import { formatAmount } from '../../protocol/amounts'
import type { Deposit, DepositAddressResponse, DepositsPage, ListDepositsQuery } from '../../protocol/wallet'
import type { AppContext } from '../app-context'
import type { IndexedEvent, UnconfirmedWindow } from '../chain/indexer/indexed-event'
import type { Queryable } from '../db/pool'
import { ConflictError, NotFoundError } from '../errors'
import type { Actor } from '../auth/actor'
import { bookDeposits, claimChainWithdrawal, creditDeposit, reverseDeposit } from '../ledger/ledger-service'
import { listTokens, resolveToken, tokenByAddress } from '../ledger/tokens'
import { checkHistoryCursor, historyPage } from './history-paging'
import {
  assignUncreditedDeposits,
  failPendingDepositsNotIn,
  insertDeposits,
  lockDepositByLog,
  lockDepositsByLog,
  lockUnclaimedDeposits,
  lockWallet,
  lockWallets,
  markDepositCredited,
  markDepositReorged,
  reviveDeposit,
  selectAgentDeposit,
  selectAgentDeposits,
  selectAgentIdByWallet,
  selectAgentIdsByWallet,
  upsertPendingDeposit,
  type DepositRow,
  type NewDeposit,
} from './deposits-queries'
import { publishEvents, type PublishedEvent } from '../events/event-bus'
import { assignWithdrawalAgent, lockUnclaimedWithdrawals } from './withdrawals-queries'

/** The vault log a movement came from, as a ledger reference; a re-inclusion after `round` reorgs gets its own. */
export function chainReference(
  prefix: string,
  event: Pick<IndexedEvent, 'chainId' | 'txHash' | 'logIndex'>,
  round: number,
): string {
  const base = `${prefix}:${event.chainId}:${event.txHash.toLowerCase()}:${event.logIndex}`
  return round === 0 ? base : `${base}:r${round}`
}

/** A `Deposited(account, token, from, amount)` log as a deposit row's columns, hex lowercase. */
function depositedLog(event: IndexedEvent) {
  const args = event.args as { account: string; token: string; from: string; amount: string }
  return {
    chainId: event.chainId,
    txHash: event.txHash.toLowerCase() as Hex,
    logIndex: event.logIndex,
    blockNumber: event.blockNumber,
    account: normalizeAddress(args.account),
    token: normalizeAddress(args.token),
    fromAddress: normalizeAddress(args.from),
    amount: BigInt(args.amount),
  }
}

/**
 * A confirmed `Deposited` log (inside the indexer's transaction): credits the agent holding the
 * account, or holds the money on the platform's unclaimed account until one registers the wallet.
 * Either way the vault account moves by exactly what the chain moved.
 */
export async function applyDeposited(db: Queryable, event: IndexedEvent): Promise<void> {
  await applyDepositedLogs(db, [event])
}

/**
 * `applyDeposited` on consecutive `Deposited` logs, in chain order, in a fixed number of
 * statements however many there are (a backfill credits thousands per block range). A log already
 * booked is skipped; one a reorg had dropped is booked again under its next round's reference.
 */
export async function applyDepositedLogs(db: Queryable, events: IndexedEvent[]): Promise<void> {
  const logs = events.map((event) => ({ event, ...depositedLog(event) })).filter((log) => log.amount !== 0n)
  if (logs.length === 0) return
  await lockWallets(
    db,
    logs.map((log) => log.account),
  )
  const existing = await lockDepositsByLog(db, logs[0]!.chainId, logs)
  const agents = await selectAgentIdsByWallet(db, [...new Set(logs.map((log) => log.account))])
  const bookable = logs.flatMap((log) => {
    const row = existing.get(`${log.txHash}:${log.logIndex}`) ?? null
    if (row && (row.status === 'success' || row.status === 'processing')) return []
    const agentId = agents.get(log.account) ?? null
    const round = row?.reorgCount ?? 0
    const reference = chainReference(agentId ? 'deposit' : 'deposit-unclaimed', log.event, round)
    return [{ log, row, agentId, reference }]
  })
  const transactionIds = await bookDeposits(
    db,
    bookable.map(({ log, agentId, reference }) => ({
      agentId,
      token: log.token,
      amount: log.amount,
      reference,
    })),
  )
  const inserted: NewDeposit[] = []
  const confirmed: PublishedEvent[] = []
  for (const [index, { log, row, agentId }] of bookable.entries()) {
    const status = agentId ? 'success' : 'processing'
    const creditTransactionId = agentId ? transactionIds[index]! : null
    const { event, ...columns } = log
    const depositId = row?.id ?? randomUUID()
    if (row) {
      await reviveDeposit(db, row.id, {
        blockNumber: event.blockNumber,
        status,
        agentId,
        creditTransactionId,
      })
    } else {
      inserted.push({ id: depositId, ...columns, status, agentId, creditTransactionId })
    }
    if (agentId) {
      confirmed.push({
        type: 'deposit_confirmed',
        audience: [agentId],
        data: {
          deposit_id: depositId,
          token_address: log.token,
          amount_base_units: log.amount.toString(),
          tx_hash: log.txHash,
        },
      })
    }
  }
  await insertDeposits(db, inserted)
  await publishEvents(db, confirmed)
}

/**
 * The `Deposited` logs past the safe head (inside the indexer's transaction): each is shown as
 * `pending_deposit` (the agent's `pending` balance) without moving money, and a pending one that
 * is no longer among them was dropped by a reorg and fails. `applyDeposited` credits it once its
 * block has the confirmations.
 */
export async function observeUnconfirmedDeposits(
  db: Queryable,
  events: IndexedEvent[],
  window: UnconfirmedWindow,
): Promise<void> {
  const seen: { txHash: string; logIndex: number }[] = []
  for (const event of events) {
    const log = depositedLog(event)
    if (log.amount === 0n) continue
    seen.push({ txHash: log.txHash, logIndex: log.logIndex })
    await lockWallet(db, log.account)
    await upsertPendingDeposit(db, {
      id: randomUUID(),
      ...log,
      agentId: await selectAgentIdByWallet(db, log.account),
    })
  }
  // Rows below the window count too: the indexer has applied every confirmed log up to it, so a
  // row still pending there was not among them.
  await failPendingDepositsNotIn(db, window.chainId, seen)
}

/**
 * Undoes `applyDeposited` when a reorg drops the log: the same amount goes back to the vault
 * account, from the agent (what it already spent becomes its debt) or from unclaimed. The row
 * stays, marked failed, so the agent sees what happened and a re-inclusion can revive it.
 */
export async function undoDeposited(db: Queryable, event: IndexedEvent): Promise<void> {
  const { account, token, amount } = depositedLog(event)
  if (amount === 0n) return
  await lockWallet(db, account)
  const row = await lockDepositByLog(db, event.chainId, event.txHash.toLowerCase(), event.logIndex)
  if (!row || (row.status !== 'success' && row.status !== 'processing')) return
  await reverseDeposit(db, {
    agentId: row.status === 'success' ? row.agentId : null,
    token,
    amount,
    reference: chainReference('deposit-reversal', event, row.reorgCount),
  })
  await markDepositReorged(db, row.id)
}

/**
 * Moves what the chain did for `wallet` before any agent held it (deposits held as unclaimed, and
 * slow-path exits booked against them) onto the agent that now registers it, in chain order, so
 * the agent never gets more than the vault holds for it. Call it inside the registration transaction.
 */
export async function claimWalletFunds(db: Queryable, agentId: string, wallet: string): Promise<void> {
  const account = wallet.toLowerCase()
  await lockWallet(db, account)
  await assignUncreditedDeposits(db, account, agentId)
  const deposits = await lockUnclaimedDeposits(db, account)
  const exits = await lockUnclaimedWithdrawals(db, account)
  if (deposits.length === 0 && exits.length === 0) return
  const steps = [
    ...deposits.map((deposit) => ({ at: [deposit.blockNumber, deposit.logIndex] as const, deposit })),
    ...exits.map((exit) => ({ at: [exit.eventBlockNumber!, exit.eventLogIndex!] as const, exit })),
  ].sort((a, b) => (a.at[0] === b.at[0] ? a.at[1] - b.at[1] : a.at[0] < b.at[0] ? -1 : 1))
  for (const step of steps) {
    if ('deposit' in step) {
      const { deposit } = step
      const transactionId = await creditDeposit(db, {
        agentId,
        token: deposit.token,
        amount: deposit.amount,
        from: 'unclaimed',
        reference: chainReference('deposit', deposit, deposit.reorgCount),
      })
      await markDepositCredited(db, deposit.id, agentId, transactionId)
    } else {
      const { exit } = step
      await claimChainWithdrawal(db, {
        agentId,
        token: exit.token,
        amount: exit.amount,
        reference: chainReference(
          'chain-withdrawal-claim',
          { chainId: exit.chainId, txHash: exit.eventTxHash!, logIndex: exit.eventLogIndex! },
          exit.reorgCount,
        ),
      })
      await assignWithdrawalAgent(db, exit.id, agentId)
    }
  }
}

function toDeposit(context: Pick<AppContext, 'tokens'>, row: DepositRow): Deposit {
  const token = tokenByAddress(context, row.token)
  return {
    deposit_id: row.id,
    status: row.status,
    chain_id: row.chainId,
    tx_hash: row.txHash,
    log_index: row.logIndex,
    block_number: Number(row.blockNumber),
    token: token?.symbol ?? row.token,
    token_address: row.token,
    amount: formatAmount(row.amount, token?.decimals ?? 0),
    from: getAddress(row.fromAddress),
    account: getAddress(row.account),
    credit_transaction_id: row.creditTransactionId,
    failure_reason: row.failureReason,
    created_at: row.createdAt.toISOString(),
    credited_at: row.creditedAt?.toISOString() ?? null,
    updated_at: row.updatedAt.toISOString(),
  }
}

/** The caller's deposits, newest first. */
export async function listDeposits(
  context: AppContext,
  agent: Actor,
  query: ListDepositsQuery,
): Promise<DepositsPage> {
  const token = query.token === undefined ? undefined : resolveToken(context, query.token)
  const limit = query.limit ?? 50
  const after = await checkHistoryCursor(
    query,
    async (id) => (await selectAgentDeposit(context.pool, agent.id, id)) !== null,
  )
  const rows = await selectAgentDeposits(context.pool, agent.id, {
    status: query.status,
    token: token?.address,
    limit: limit + 1,
    offset: query.offset,
    after,
  })
  return historyPage(rows, limit, (row) => toDeposit(context, row))
}

/** One of the caller's deposits; another agent's is a 404 like a missing one. */
export async function getDeposit(context: AppContext, agent: Actor, depositId: string): Promise<Deposit> {
  const row = await selectAgentDeposit(context.pool, agent.id, depositId)
  if (!row) throw new NotFoundError('deposit_not_found', `deposit ${depositId} not found`)
  return toDeposit(context, row)
}

/** The vault, the tokens and the ways to deposit so that the caller's wallet is credited. */
export async function getDepositAddress(context: AppContext, agent: Actor): Promise<DepositAddressResponse> {
  const vault = context.chain?.deployment.contracts.ClearhouseVault
  if (!context.chain || !vault) {
    throw new ConflictError(
      'chain_unavailable',
      'this coordinator runs without a chain; deposits are not possible',
    )
  }
  const account = getAddress(agent.walletAddress)
  const vaultAddress = getAddress(vault)
  return {
    chain_id: context.chain.deployment.chainId,
    vault_address: vaultAddress,
    account,
    tokens: await Promise.all(
      listTokens(context).map(async (token) => ({
        symbol: token.symbol,
        address: getAddress(token.address),
        decimals: token.decimals,
        allowed: await isTokenAllowed(context.pool, context, token),
      })),
    ),
    methods: [
      {
        method: 'approve_and_deposit',
        description: `From the wallet ${account} itself: approve the vault, then deposit; the sender is credited.`,
        calls: [`token.approve(${vaultAddress}, amount)`, 'vault.deposit(token, amount)'],
      },
      {
        method: 'deposit_for',
        description: `From any wallet (an exchange, a treasury): approve the vault, then deposit for ${account}.`,
        calls: [`token.approve(${vaultAddress}, amount)`, `vault.depositFor(token, amount, ${account})`],
      },
      {
        method: 'deposit_with_permit',
        description: `No approval transaction: ${account} signs an EIP-2612 permit for the vault and anyone submits it; ${account} is credited.`,
        calls: [
          `sign EIP-2612 Permit { owner: ${account}, spender: ${vaultAddress}, value: amount, nonce: token.nonces(owner), deadline }`,
          `vault.depositWithPermit(token, ${account}, amount, deadline, v, r, s)`,
        ],
      },
      {
        method: 'deposit_with_authorization',
        description: `${account} signs an EIP-3009 ReceiveWithAuthorization to the vault (USDC supports it) and anyone submits it; ${account} is credited.`,
        calls: [
          `sign EIP-3009 ReceiveWithAuthorization { from: ${account}, to: ${vaultAddress}, value: amount, validAfter, validBefore, nonce }`,
          `vault.depositWithAuthorization(token, ${account}, amount, validAfter, validBefore, nonce, v, r, s)`,
        ],
      },
    ],
    credited_after:
      'GET /v1/wallet/deposits lists a deposit as pending_deposit (the pending balance) as soon as the indexer sees it, and the ledger credits it once its block has the configured confirmations (0 on the embedded dev chain).',
  }
}
