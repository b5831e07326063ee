import { randomUUID } from 'node:crypto'
import { AmountPrecisionError, formatAmount, parseAmount } from '../../protocol/amounts'
import type { BalanceResponse, FaucetResponse, TransactionsPage } from '../../protocol/wallet'
import type { AppContext } from '../app-context'
import { withTransaction } from '../db/pool'
import { ValidationError } from '../errors'
import type { AuthenticatedAgent } from '../http/auth'
import { selectAgentEntries } from '../ledger/ledger-queries'
import { creditDeposit, getBalances } from '../ledger/ledger-service'
import { listTokens, resolveToken, tokenByAddress, type TokenInfo } from '../ledger/tokens'

/** Most one faucet call credits, in token units: enough for any test, not a way to overflow. */
export const FAUCET_MAX_UNITS = 1_000_000n

/** Parses a decimal amount for `token`, or throws 400 naming `field`. */
export function parseTokenAmount(value: string, token: TokenInfo, field: string): bigint {
  try {
    return parseAmount(value, token.decimals)
  } catch (error) {
    if (error instanceof AmountPrecisionError) {
      throw new ValidationError(
        'validation_failed',
        `body ${field}: ${token.symbol} has ${token.decimals} decimals`,
        {
          details: {
            where: 'body',
            fields: [{ field, message: `at most ${token.decimals} decimal places` }],
          },
        },
      )
    }
    throw error
  }
}

/** Available, escrowed and pending balances of every allowlisted token. */
export async function getWalletBalance(
  context: AppContext,
  agent: AuthenticatedAgent,
): Promise<BalanceResponse> {
  const balances = await Promise.all(
    listTokens(context).map(async (token) => {
      const { available, escrow } = await getBalances(context.pool, agent.id, token.address)
      return {
        token: token.symbol,
        token_address: token.address,
        decimals: token.decimals,
        available: formatAmount(available, token.decimals),
        escrowed: formatAmount(escrow, token.decimals),
        // Deposits are credited once the indexer confirms them; nothing is pending before it exists.
        pending: '0',
      }
    }),
  )
  return { agent_id: agent.id, wallet_address: agent.walletAddress, balances }
}

/** The caller's ledger entries, newest first; `cursor` is the last entry id of the previous page. */
export async function listWalletTransactions(
  context: AppContext,
  agent: AuthenticatedAgent,
  query: { token?: string; limit?: number; cursor?: string },
): Promise<TransactionsPage> {
  const token = query.token === undefined ? undefined : resolveToken(context, query.token)
  if (query.cursor !== undefined && query.cursor !== '' && !/^\d{1,18}$/.test(query.cursor)) {
    throw new ValidationError('invalid_cursor', 'query cursor: not a cursor this API returned', {
      details: { where: 'query', fields: [{ field: 'cursor', message: 'not a cursor this API returned' }] },
    })
  }
  const limit = query.limit ?? 50
  const rows = await selectAgentEntries(context.pool, agent.id, {
    token: token?.address,
    beforeId: query.cursor || undefined,
    limit: limit + 1,
  })
  const page = rows.slice(0, limit)
  return {
    data: page.map((row) => {
      const info = tokenByAddress(context, row.token)
      const decimals = info?.decimals ?? 0
      return {
        entry_id: row.id,
        transaction_id: row.transactionId,
        kind: row.kind,
        account: row.account,
        token: info?.symbol ?? row.token,
        token_address: row.token,
        amount: formatAmount(row.amount, decimals),
        balance_after: row.balanceAfter === null ? null : formatAmount(row.balanceAfter, decimals),
        reference: row.reference,
        created_at: row.createdAt.toISOString(),
      }
    }),
    has_more: rows.length > limit,
    next_cursor: rows.length > limit ? page[page.length - 1]!.id : null,
  }
}

/** Dev chain only: credits `amount` of `token` to the caller as if deposited. */
export async function faucet(
  context: AppContext,
  agent: AuthenticatedAgent,
  body: { amount: string; token?: string },
): Promise<FaucetResponse> {
  const token = resolveToken(context, body.token)
  const amount = parseTokenAmount(body.amount, token, 'amount')
  if (amount <= 0n || amount > FAUCET_MAX_UNITS * 10n ** BigInt(token.decimals)) {
    throw new ValidationError(
      'validation_failed',
      `body amount: must be more than 0 and at most ${FAUCET_MAX_UNITS}`,
      {
        details: {
          where: 'body',
          fields: [{ field: 'amount', message: `must be in (0, ${FAUCET_MAX_UNITS}]` }],
        },
      },
    )
  }
  const { transactionId, balances } = await withTransaction(context.pool, async (client) => {
    const transactionId = await creditDeposit(client, {
      agentId: agent.id,
      token: token.address,
      amount,
      reference: `faucet:${randomUUID()}`,
    })
    return { transactionId, balances: await getBalances(client, agent.id, token.address) }
  })
  return {
    transaction_id: transactionId,
    token: token.symbol,
    token_address: token.address,
    amount: formatAmount(amount, token.decimals),
    available: formatAmount(balances.available, token.decimals),
    escrowed: formatAmount(balances.escrow, token.decimals),
  }
}
