import { normalizeAddress } from '../../protocol/address'
import { randomBytes, randomUUID } from 'node:crypto'
import {
  encodeAbiParameters,
  getAddress,
  recoverTypedDataAddress,
  type PublicClient,
  type Address,
  type Hex,
} from 'viem'
import { formatAmount } from '../../protocol/amounts'
import {
  clearhouseDomain,
  clearhouseTypes,
  OpKind,
  opDataAbi,
  toCompactSignature,
} from '../../protocol/typed-data'
import type {
  ListWithdrawalsQuery,
  Withdrawal,
  WithdrawalsPage,
  WithdrawalTypedData,
  WithdrawBody,
} from '../../protocol/wallet'
import type { AppContext } from '../app-context'
import { chainNow } from '../chain/clients'
import { queueChainOp } from '../chain/settler/op-queue'
import { withTransaction, type Queryable } from '../db/pool'
import { ConflictError, NotFoundError, ValidationError } from '../errors'
import type { Actor } from '../auth/actor'
import { debitWithdrawal, getBalances, getDebt, repayDebt } from '../ledger/ledger-service'
import { resolveToken, tokenByAddress } from '../ledger/tokens'
import { checkHistoryCursor, historyPage } from './history-paging'
import { signTypedDataForAgent } from './managed-wallets'
import { selectWithdrawalAddress, selectDefaultWithdrawalAddress } from './withdrawal-addresses-queries'
import { parseTokenAmount } from './token-amounts'
import {
  insertFastWithdrawal,
  linkWithdrawalOp,
  lockWithdrawal,
  markWithdrawalFailed,
  markWithdrawalSigned,
  selectAgentWithdrawal,
  selectAgentWithdrawals,
  selectInFlightWithdrawalTotals,
  withdrawalOpReference,
  type WithdrawalRow,
} from './withdrawals-queries'

/**
 * How long a fast withdrawal's signature stays valid, from the chain's clock. Only the settler
 * can submit it (the batch signature is the coordinator's co-signature), so this bounds how long
 * a withdrawal may wait for its signature or for a stalled settler before it fails and is refunded.
 */
export const WITHDRAWAL_DEADLINE_SECONDS = 3600n

interface ChainContext {
  client: PublicClient
  chainId: number
  vault: Address
}

function requireChain(context: Pick<AppContext, 'chain'>): ChainContext {
  const vault = context.chain?.deployment.contracts.ClearhouseVault
  if (!context.chain || !vault) {
    throw new ConflictError(
      'chain_unavailable',
      'this coordinator runs without a chain; withdrawals are not possible',
    )
  }
  return {
    client: context.chain.client,
    chainId: context.chain.deployment.chainId,
    vault: normalizeAddress(vault),
  }
}

interface WithdrawalMessage {
  account: Address
  token: Address
  amount: bigint
  to: Address
  nonce: bigint
  deadline: bigint
}

function withdrawalTypedData(chain: Pick<ChainContext, 'chainId' | 'vault'>, message: WithdrawalMessage) {
  return {
    domain: clearhouseDomain(chain.chainId, getAddress(chain.vault)),
    types: { Withdrawal: clearhouseTypes.Withdrawal },
    primaryType: 'Withdrawal' as const,
    message,
  }
}

function messageOf(row: WithdrawalRow): WithdrawalMessage {
  return {
    account: row.account,
    token: row.token,
    amount: row.amount,
    to: row.toAddress,
    nonce: row.nonce!,
    deadline: row.deadline!,
  }
}

/** The settler's op: the owner-signed withdrawal; the batch signature is the coordinator's co-signature. */
function withdrawalOpData(message: WithdrawalMessage, signature: Hex): Hex {
  return encodeAbiParameters(opDataAbi[OpKind.Withdrawal], [message, toCompactSignature(signature)])
}

/** A random 128-bit nonce: never collides with another of the account's unordered vault nonces in practice. */
function newNonce(): bigint {
  return BigInt(`0x${randomBytes(16).toString('hex')}`)
}

/** `to`, else the saved address `address_id`, else the default saved address, else the caller's own wallet. */
async function resolveDestination(
  db: Queryable,
  agent: Actor,
  body: Pick<WithdrawBody, 'to' | 'address_id'>,
): Promise<{ to: Address; addressId: string | null }> {
  if (body.to !== undefined) return { to: body.to, addressId: null }
  if (body.address_id !== undefined) {
    const saved = await selectWithdrawalAddress(db, agent.id, body.address_id)
    if (!saved) {
      throw new NotFoundError(
        'withdrawal_address_not_found',
        `withdrawal address ${body.address_id} not found`,
        {
          details: { field: 'address_id' },
        },
      )
    }
    return { to: saved.address, addressId: saved.id }
  }
  const fallback = await selectDefaultWithdrawalAddress(db, agent.id)
  if (fallback) return { to: fallback.address, addressId: fallback.id }
  return { to: agent.walletAddress, addressId: null }
}

/**
 * Paying the vault itself would move no tokens while the ledger pays out, so they would sit in
 * the vault owned by nobody and reconciliation would never read zero again.
 */
function vaultDestination(body: Pick<WithdrawBody, 'to' | 'address_id'>): ValidationError {
  const field = body.to === undefined && body.address_id !== undefined ? 'address_id' : 'to'
  return new ValidationError('validation_failed', `body ${field}: must not be the vault contract`, {
    details: { where: 'body', fields: [{ field, message: 'must not be the vault contract' }] },
  })
}

/**
 * `POST /v1/wallet/withdraw`, the fast path. A managed wallet is signed for here, and in one
 * transaction the ledger pays out (available → vault, under the row lock, 409 when short) and the
 * op is queued for the settler. A self-custody wallet gets the typed data to sign; nothing moves
 * until `submitWithdrawalSignature`. The settler and indexer take it from there.
 */
export async function requestWithdrawal(
  context: AppContext,
  agent: Actor,
  body: WithdrawBody,
): Promise<Withdrawal> {
  const chain = requireChain(context)
  const token = resolveToken(context, body.token)
  const amount = parseTokenAmount(body.amount, token, 'amount')
  if (amount <= 0n) {
    throw new ValidationError('validation_failed', 'body amount: must be more than 0', {
      details: { where: 'body', fields: [{ field: 'amount', message: 'must be more than 0' }] },
    })
  }
  const destination = await resolveDestination(context.pool, agent, body)
  if (destination.to === chain.vault) throw vaultDestination(body)
  const id = randomUUID()
  const now = await chainNow(chain.client)
  const message: WithdrawalMessage = {
    account: agent.walletAddress,
    token: token.address,
    amount,
    to: destination.to,
    nonce: newNonce(),
    deadline: now + WITHDRAWAL_DEADLINE_SECONDS,
  }
  const row = {
    id,
    agentId: agent.id,
    chainId: chain.chainId,
    account: message.account,
    token: message.token,
    amount,
    toAddress: message.to,
    withdrawalAddressId: destination.addressId,
    nonce: message.nonce,
    deadline: message.deadline,
  }

  if (!agent.isManagedWallet) {
    // Nothing is held before the owner signs: a withdrawal never signed simply expires.
    const [{ available }, debt] = await Promise.all([
      getBalances(context.pool, agent.id, token.address),
      getDebt(context.pool, agent.id, token.address),
    ])
    if (available - debt < amount) throw insufficientBalance(token.address, available - debt, amount)
    await insertFastWithdrawal(context.pool, {
      ...row,
      ownerSignature: null,
      status: 'awaiting_signature',
      debitTransactionId: null,
    })
    return showWithdrawal(context, agent, id, now)
  }

  // Signed before the transaction so no connection idles in it; an unused signature is harmless.
  const signature = await signTypedDataForAgent(
    context.pool,
    context,
    agent.id,
    withdrawalTypedData(chain, message),
  )
  await withTransaction(context.pool, async (db) => {
    const debitTransactionId = await payOut(db, agent.id, id, token.address, amount)
    await insertFastWithdrawal(db, {
      ...row,
      ownerSignature: signature.toLowerCase(),
      status: 'pending',
      debitTransactionId,
    })
    const chainOpId = await queueChainOp(db, {
      chainId: chain.chainId,
      kind: OpKind.Withdrawal,
      data: withdrawalOpData(message, signature),
      reference: withdrawalOpReference(id),
    })
    await linkWithdrawalOp(db, id, chainOpId)
  })
  return showWithdrawal(context, agent, id, now)
}

/** Debt first (an agent may not take out what it owes), then available → vault. */
async function payOut(
  db: Queryable,
  agentId: string,
  withdrawalId: string,
  token: Address,
  amount: bigint,
): Promise<string> {
  await repayDebt(db, { agentId, token, reference: `debt-repayment:withdrawal:${withdrawalId}` })
  return debitWithdrawal(db, { agentId, token, amount, reference: withdrawalOpReference(withdrawalId) })
}

function insufficientBalance(token: string, balance: bigint, required: bigint): ConflictError {
  return new ConflictError('insufficient_balance', `available balance ${balance} is less than ${required}`, {
    details: { account: 'available', token, balance: balance.toString(), required: required.toString() },
  })
}

/**
 * `POST /v1/withdrawals/{id}/signature`: the self-custody owner's EIP-712 signature over the
 * typed data it was given. It must recover to the agent's wallet; then the ledger pays out and
 * the op is queued, exactly as for a managed wallet.
 */
export async function submitWithdrawalSignature(
  context: AppContext,
  agent: Actor,
  withdrawalId: string,
  signature: Hex,
): Promise<Withdrawal> {
  const chain = requireChain(context)
  const now = await chainNow(chain.client)
  const row = await selectAgentWithdrawal(context.pool, agent.id, withdrawalId, now)
  if (!row) throw new NotFoundError('withdrawal_not_found', `withdrawal ${withdrawalId} not found`)
  if (row.status !== 'awaiting_signature') throw notAwaitingSignature(row)
  const message = messageOf(row)
  let signer: string | null = null
  try {
    signer = await recoverTypedDataAddress({ ...withdrawalTypedData(chain, message), signature })
  } catch {
    signer = null
  }
  if (signer?.toLowerCase() !== row.account) {
    throw new ValidationError(
      'signature_mismatch',
      'body signature: not the wallet’s signature over typed_data',
      {
        details: {
          where: 'body',
          fields: [{ field: 'signature', message: `must recover to ${getAddress(row.account)}` }],
        },
      },
    )
  }
  const expired = await withTransaction(context.pool, async (db) => {
    const locked = await lockWithdrawal(db, withdrawalId, now)
    if (!locked || locked.status !== 'awaiting_signature') throw notAwaitingSignature(locked ?? row)
    if (locked.deadline! <= now) {
      await markWithdrawalFailed(db, withdrawalId, 'signature_expired', null)
      return true
    }
    const debitTransactionId = await payOut(db, agent.id, withdrawalId, locked.token, locked.amount)
    await markWithdrawalSigned(db, withdrawalId, signature, debitTransactionId)
    const chainOpId = await queueChainOp(db, {
      chainId: chain.chainId,
      kind: OpKind.Withdrawal,
      data: withdrawalOpData(message, signature),
      reference: withdrawalOpReference(withdrawalId),
    })
    await linkWithdrawalOp(db, withdrawalId, chainOpId)
    return false
  })
  if (expired) {
    throw new ConflictError(
      'withdrawal_expired',
      'the withdrawal’s deadline passed before it was signed; ask again',
    )
  }
  return showWithdrawal(context, agent, withdrawalId, now)
}

function notAwaitingSignature(row: WithdrawalRow): ConflictError {
  return new ConflictError('withdrawal_not_awaiting_signature', `withdrawal ${row.id} is ${row.apiStatus}`, {
    details: { status: row.apiStatus },
  })
}

function toWithdrawal(context: Pick<AppContext, 'tokens' | 'chain'>, row: WithdrawalRow): Withdrawal {
  const token = tokenByAddress(context, row.token)
  const decimals = token?.decimals ?? 0
  const vault = context.chain?.deployment.contracts.ClearhouseVault
  let typedData: WithdrawalTypedData | null = null
  if (row.apiStatus === 'awaiting_signature' && vault) {
    const { domain, types } = withdrawalTypedData({ chainId: row.chainId, vault }, messageOf(row))
    typedData = {
      domain,
      types: { Withdrawal: [...types.Withdrawal] },
      primaryType: 'Withdrawal',
      message: {
        account: getAddress(row.account),
        token: getAddress(row.token),
        amount: row.amount.toString(),
        to: getAddress(row.toAddress),
        nonce: row.nonce!.toString(),
        deadline: row.deadline!.toString(),
      },
    }
  }
  return {
    withdrawal_id: row.id,
    path: row.path,
    status: row.apiStatus,
    chain_id: row.chainId,
    account: getAddress(row.account),
    token: token?.symbol ?? row.token,
    token_address: row.token,
    amount: formatAmount(row.amount, decimals),
    to: getAddress(row.toAddress),
    withdrawal_address_id: row.withdrawalAddressId,
    nonce: row.nonce?.toString() ?? null,
    deadline: row.deadline === null ? null : new Date(Number(row.deadline) * 1000).toISOString(),
    tx_hash: row.eventTxHash,
    failure_reason: row.apiFailureReason,
    typed_data: typedData,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
    completed_at: row.completedAt?.toISOString() ?? null,
  }
}

/**
 * The clock a read judges signature deadlines by: the chain's, as the signature route and the
 * refunds worker do. A read must not fail for the node, so without an answer it falls back to the
 * wall clock, which is never ahead of `chainNow`: an expired withdrawal then reads
 * awaiting_signature a little longer, and its signature is still refused.
 */
async function readClock(context: Pick<AppContext, 'chain' | 'logger'>): Promise<bigint> {
  try {
    return await chainNow(context.chain?.client ?? null)
  } catch (error) {
    context.logger.warn({ err: error }, 'could not read the chain clock; judging deadlines by the wall clock')
    return BigInt(Math.floor(Date.now() / 1000))
  }
}

async function showWithdrawal(
  context: AppContext,
  agent: Actor,
  withdrawalId: string,
  now: bigint,
): Promise<Withdrawal> {
  const row = await selectAgentWithdrawal(context.pool, agent.id, withdrawalId, now)
  if (!row) throw new NotFoundError('withdrawal_not_found', `withdrawal ${withdrawalId} not found`)
  return toWithdrawal(context, row)
}

/**
 * One of the caller's withdrawals (404 for another agent's). Read-only: one that failed and is not
 * yet closed by the refunds worker already reads failed, with its reason (`apiStatus`).
 */
export async function getWithdrawal(
  context: AppContext,
  agent: Actor,
  withdrawalId: string,
): Promise<Withdrawal> {
  return showWithdrawal(context, agent, withdrawalId, await readClock(context))
}

/** The caller's withdrawals of both paths, newest first; read-only, like `getWithdrawal`. */
export async function listWithdrawals(
  context: AppContext,
  agent: Actor,
  query: ListWithdrawalsQuery,
): Promise<WithdrawalsPage> {
  const token = query.token === undefined ? undefined : resolveToken(context, query.token)
  const limit = query.limit ?? 50
  const now = await readClock(context)
  const after = await checkHistoryCursor(
    query,
    async (id) => (await selectAgentWithdrawal(context.pool, agent.id, id, now)) !== null,
  )
  const rows = await selectAgentWithdrawals(context.pool, agent.id, {
    status: query.status,
    token: token?.address,
    limit: limit + 1,
    offset: query.offset,
    after,
    nowSeconds: now,
  })
  return historyPage(rows, limit, (row) => toWithdrawal(context, row))
}

/**
 * Per token, fast withdrawals the ledger has paid out and the indexer has not yet seen leave the
 * vault (reconciliation counts them as still in the vault at the indexed block).
 */
export async function inFlightWithdrawalTotals(db: Queryable, chainId: number): Promise<Map<string, bigint>> {
  return selectInFlightWithdrawalTotals(db, chainId)
}
