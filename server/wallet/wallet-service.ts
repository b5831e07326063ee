import { eip2612PermitTypes } from '../../protocol/typed-data'
import { tokenSignatureAbi } from '../chain/token-abi'
import { requireTokenAllowed } from '../chain/token-allowlist'
import { randomUUID } from 'node:crypto'
import { erc20Abi, parseAbi, parseSignature, type Hex } from 'viem'
import { sendConfirmed, senderOverClient, type TransactionSender } from '../chain/settler/transaction-sender'
import { clearhouseVaultAbi } from '../../protocol/vault-abi'
import { formatAmount } from '../../protocol/amounts'
import type {
  BalanceResponse,
  FaucetResponse,
  TransactionsPage,
  WalletSummaryResponse,
} from '../../protocol/wallet'
import type { AppContext } from '../app-context'
import { cursorSerial, decodeCursor, encodeCursor } from '../cursor'
import { withTransaction, type Queryable } from '../db/pool'
import { holdApiKey } from '../agents/agents-service'
import { requireApiKey } from '../auth/api-keys'
import { ConflictError, fieldError, UnauthorizedError, ValidationError } from '../errors'
import type { Actor, Credential } from '../auth/actor'
import { creditDeposit, getBalances, listAgentEntries } from '../ledger/ledger-service'
import { indexedVaultBalances } from '../reconciliation/indexed-balances'
import { defaultToken, listTokens, resolveToken, tokenByAddress, type TokenInfo } from '../ledger/tokens'
import { selectDepositByTransaction } from './deposits-queries'
import {
  cancelManagedKeyExport,
  exportManagedKey,
  signTypedDataForAgent,
  type ManagedKeyExport,
} from './managed-wallets'
import { parseTokenAmount } from './token-amounts'
import { selectWalletPositions, takeVaultNonceCounter, type WalletPositionRow } from './wallet-queries'

/** Most one faucet call credits, in token units: enough for any test, not a way to overflow. */
export const FAUCET_MAX_UNITS = 1_000_000n

const EMPTY_POSITION: WalletPositionRow = {
  available: 0n,
  escrow: 0n,
  unsettled: 0n,
  debt: 0n,
  pendingDeposits: 0n,
  withdrawing: 0n,
  refundDue: 0n,
}

/**
 * Per allowlisted token: available, escrowed, booked payments the vault has not yet made
 * (unsettled), money on its way in (pending), fast withdrawals in flight, debt, and the wallet's
 * balance inside the vault contract (null without a chain) as of the indexed block, from the
 * mirror the indexer keeps of the vault's logs: no read waits on the chain's RPC. The booked
 * figures are one statement, so one snapshot: a fast withdrawal that failed and that the refunds
 * worker has not yet refunded is money coming back, so it counts as pending, not withdrawing,
 * until the refund makes it available (or repays debt), and never shows twice.
 */
export async function getWalletBalance(context: AppContext, agent: Actor): Promise<BalanceResponse> {
  const chainId = context.chain?.deployment.contracts.ClearhouseVault
    ? context.chain.deployment.chainId
    : null
  const [positions, inVault] = await Promise.all([
    selectWalletPositions(context.pool, agent.id),
    chainId === null ? null : indexedVaultBalances(context.pool, chainId, agent.walletAddress),
  ])
  const balances = listTokens(context).map((token) => {
    const position = positions.get(token.address) ?? EMPTY_POSITION
    const onChain = inVault === null ? null : (inVault.get(token.address) ?? 0n)
    return {
      token: token.symbol,
      token_address: token.address,
      decimals: token.decimals,
      available: formatAmount(position.available, token.decimals),
      escrowed: formatAmount(position.escrow, token.decimals),
      unsettled: formatAmount(position.unsettled, token.decimals),
      // Only deposits the indexer recorded before confirmation count; with the embedded chain's
      // zero confirmations a deposit goes straight to available.
      pending: formatAmount(position.pendingDeposits + position.refundDue, token.decimals),
      withdrawing: formatAmount(position.withdrawing, token.decimals),
      debt: formatAmount(position.debt, token.decimals),
      on_chain: onChain === null ? null : formatAmount(onChain, token.decimals),
    }
  })
  return { agent_id: agent.id, wallet_address: agent.walletAddress, balances }
}

/**
 * `GET /v1/wallet` (seed 001's wallet): `getWalletBalance`'s figures, and the default token's
 * available balance as the one `balance` seed 001 clients read.
 */
export async function getWalletSummary(context: AppContext, agent: Actor): Promise<WalletSummaryResponse> {
  const { balances } = await getWalletBalance(context, agent)
  const token = defaultToken(context)
  const position = token && balances.find((balance) => balance.token_address === token.address)
  return {
    agent_id: agent.id,
    balance: position?.available ?? '0',
    token: token?.symbol ?? null,
    balances,
  }
}

/** A transactions page's cursor: the last entry's id. */
const transactionCursor = { entryId: cursorSerial }

/** The caller's ledger entries, newest first; `cursor` (empty for the first page) is the previous page's next_cursor. */
export async function listWalletTransactions(
  context: AppContext,
  agent: Actor,
  query: { token?: string; limit?: number; cursor?: string },
): Promise<TransactionsPage> {
  const token = query.token === undefined ? undefined : resolveToken(context, query.token)
  const after = query.cursor ? decodeCursor(query.cursor, transactionCursor) : undefined
  const limit = query.limit ?? 50
  const rows = await listAgentEntries(context.pool, agent.id, {
    token: token?.address,
    beforeId: after?.entryId,
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
    next_cursor:
      rows.length > limit ? encodeCursor({ entryId: page[page.length - 1]!.id }, transactionCursor) : null,
  }
}

/**
 * Dev chain only: credits `amount` of `token` to the caller, on-chain through the vault when there
 * is a chain (see `faucetOnChain`), else straight into the ledger (unit tests without a chain).
 */
export async function faucet(
  context: AppContext,
  agent: Actor,
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
  if (context.chain) return faucetOnChain(context, agent, token, amount)
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
    status: 'success',
    tx_hash: null,
    deposit_id: null,
  }
}

/** How long the on-chain faucet waits for the indexer to credit its deposit before answering `processing`. */
export const FAUCET_CREDIT_WAIT_MS = 5_000

const mockTokenAbi = parseAbi(['function mint(address to, uint256 amount)'])
let faucetSequences: Promise<unknown> = Promise.resolve()

/**
 * The dev faucet with a chain: mints the token (MockUSDC's open mint) to the coordinator's dev
 * account and deposits it into the vault for the agent's wallet, so the indexer credits it like
 * any deposit and reconciliation stays exact. A ledger-only credit here would be money the vault
 * does not hold. It sends through the settler's sender of the coordinator key, queued with the
 * settler's own batches, so the two never race for a nonce.
 */
async function faucetOnChain(
  context: AppContext,
  agent: Actor,
  token: TokenInfo,
  amount: bigint,
): Promise<FaucetResponse> {
  const chain = context.chain!
  await requireTokenAllowed(context.pool, context, token, "the faucet's deposit")
  const vault = chain.deployment.contracts.ClearhouseVault
  const account = context.coordinatorAccount
  if (!vault || !account) {
    throw new ConflictError(
      'faucet_unavailable',
      'the dev faucet deposits on-chain with the coordinator key, and this coordinator has none',
    )
  }
  const client = chain.client
  // The coordinator key's sender, queued with the settler's sends of the same key.
  const sender = senderOverClient(client, account)
  const send = (request: Parameters<TransactionSender['writeContract']>[0]) =>
    sendConfirmed(client, sender, request, 'faucet')
  // Mint, approve and deposit run as one sequence per call: an approval is a setting, not a sum,
  // so two calls' approvals must not interleave with each other's deposits.
  const run = faucetSequences.then(async () => {
    await send({
      address: token.address,
      abi: mockTokenAbi,
      functionName: 'mint',
      args: [account.address, amount],
    })
    await send({ address: token.address, abi: erc20Abi, functionName: 'approve', args: [vault, amount] })
    return send({
      address: vault,
      abi: clearhouseVaultAbi,
      functionName: 'depositFor',
      args: [token.address, amount, agent.walletAddress],
    })
  })
  faucetSequences = run.catch(() => undefined)
  let txHash: Hex
  try {
    txHash = await run
  } catch (error) {
    throw new ConflictError(
      'faucet_unavailable',
      `the on-chain faucet deposit failed: ${(error as Error).message.split('\n')[0]}`,
      {
        cause: error,
      },
    )
  }

  return depositAnswer(context, agent, token, amount, txHash)
}

/**
 * What a deposit the coordinator sent for `agent` did, once the indexer credits it (waiting up to
 * FAUCET_CREDIT_WAIT_MS) or, past that, as deposited and not yet credited.
 */
async function depositAnswer(
  context: AppContext,
  agent: Actor,
  token: TokenInfo,
  amount: bigint,
  txHash: Hex,
): Promise<FaucetResponse> {
  const chain = context.chain!
  const waitUntil = Date.now() + FAUCET_CREDIT_WAIT_MS
  let deposit = await selectDepositByTransaction(
    context.pool,
    chain.deployment.chainId,
    txHash,
    agent.walletAddress,
  )
  while (deposit?.status !== 'success' && Date.now() < waitUntil) {
    await new Promise((resolve) => setTimeout(resolve, 100))
    deposit = await selectDepositByTransaction(
      context.pool,
      chain.deployment.chainId,
      txHash,
      agent.walletAddress,
    )
  }
  const balances = await getBalances(context.pool, agent.id, token.address)
  return {
    transaction_id: deposit?.status === 'success' ? deposit.creditTransactionId : null,
    token: token.symbol,
    token_address: token.address,
    amount: formatAmount(amount, token.decimals),
    available: formatAmount(balances.available, token.decimals),
    escrowed: formatAmount(balances.escrow, token.decimals),
    status: deposit?.status === 'success' ? 'success' : 'processing',
    tx_hash: txHash,
    deposit_id: deposit?.id ?? null,
  }
}

/**
 * `POST /v1/wallet/deposit`: moves `amount` of the tokens the caller's managed wallet holds on-chain
 * into the vault for it. The coordinator signs an EIP-2612 permit with the managed key and submits
 * `depositWithPermit` from its own account (it pays the gas), so the indexer credits the deposit
 * like any other. A self-custody wallet deposits itself: the 409 says how.
 */
export async function depositFromManagedWallet(
  context: AppContext,
  agent: Actor,
  body: { amount: string; token?: string },
): Promise<FaucetResponse> {
  const token = resolveToken(context, body.token)
  const amount = parseTokenAmount(body.amount, token, 'amount')
  if (amount <= 0n) throw fieldError('body', 'amount', 'must be more than 0')
  const chain = context.chain
  const vault = chain?.deployment.contracts.ClearhouseVault
  const account = context.coordinatorAccount
  if (!chain || !vault || !account) {
    throw new ConflictError(
      'chain_unavailable',
      'this coordinator runs without a chain; deposits are not possible',
    )
  }
  if (!agent.isManagedWallet) {
    throw new ConflictError(
      'wallet_not_managed',
      `your wallet ${agent.walletAddress} holds its own key: deposit from it yourself (GET /v1/wallet/deposit_address lists the calls)`,
      {
        details: {
          vault_address: vault,
          account: agent.walletAddress,
          how: 'GET /v1/wallet/deposit_address',
        },
      },
    )
  }
  await requireTokenAllowed(context.pool, context, token, 'a deposit')
  const client = chain.client
  const owner = agent.walletAddress
  const [held, nonce, domain, block] = await Promise.all([
    client.readContract({ address: token.address, abi: erc20Abi, functionName: 'balanceOf', args: [owner] }),
    client.readContract({
      address: token.address,
      abi: tokenSignatureAbi,
      functionName: 'nonces',
      args: [owner],
    }),
    client.readContract({ address: token.address, abi: tokenSignatureAbi, functionName: 'eip712Domain' }),
    client.getBlock(),
  ])
  if (held < amount) {
    throw new ConflictError(
      'insufficient_wallet_balance',
      `your wallet holds ${formatAmount(held, token.decimals)} ${token.symbol} on-chain, less than ${formatAmount(amount, token.decimals)}`,
      {
        details: {
          token: token.symbol,
          on_chain: formatAmount(held, token.decimals),
          required: formatAmount(amount, token.decimals),
        },
      },
    )
  }
  const deadline = block.timestamp + PERMIT_LIFETIME_SECONDS
  const signature = parseSignature(
    await signTypedDataForAgent(context.pool, context, agent.id, {
      domain: {
        name: domain[1],
        version: domain[2],
        chainId: chain.deployment.chainId,
        verifyingContract: token.address,
      },
      types: eip2612PermitTypes,
      primaryType: 'Permit',
      message: { owner, spender: vault, value: amount, nonce, deadline },
    }),
  )
  const sender = senderOverClient(client, account)
  let txHash: Hex
  try {
    txHash = await sendConfirmed(
      client,
      sender,
      {
        address: vault,
        abi: clearhouseVaultAbi,
        functionName: 'depositWithPermit',
        args: [token.address, owner, amount, deadline, Number(signature.v), signature.r, signature.s],
      },
      'deposit',
    )
  } catch (error) {
    throw new ConflictError(
      'deposit_failed',
      `the on-chain deposit failed: ${(error as Error).message.split('\n')[0]}`,
      { cause: error },
    )
  }
  return depositAnswer(context, agent, token, amount, txHash)
}

/** How long the permit a managed-wallet deposit signs stays valid. */
const PERMIT_LIFETIME_SECONDS = 3_600n

/**
 * Where the unordered vault nonces the coordinator hands out begin: far above the small or random
 * (128-bit) nonces a wallet or a withdrawal uses, so they never meet.
 */
export const COORDINATOR_NONCE_BASE = 1n << 192n

/**
 * A fresh unordered vault nonce of `account` for a message the coordinator asks it to sign (an
 * escrow lock). Consecutive per account, so an account's locks share the vault's nonce bitmap
 * words, and a lock writes a used word instead of a new one.
 */
export async function allocateVaultNonce(db: Queryable, account: string): Promise<bigint> {
  return COORDINATOR_NONCE_BASE + (await takeVaultNonceCounter(db, account))
}

/**
 * POST /v1/wallet/export-key: starts the export of the caller's managed wallet key, or hands the
 * key out once its delay has passed (`exportManagedKey` holds the recovery model). Only the API key,
 * the root credential of a managed-wallet agent, may do it (403 `api_key_required` otherwise), and
 * the key must still be current when the export is decided: a request that passed authentication
 * just before the owner rotated the key gets 401 instead of starting a new export.
 */
export async function exportWalletKey(
  context: Pick<AppContext, 'pool' | 'walletEncryptionKey' | 'keyExportDelaySeconds'>,
  agentId: string,
  credential: Credential,
): Promise<ManagedKeyExport> {
  requireApiKey(credential, "exporting the managed wallet's key")
  return withTransaction(context.pool, async (client) => {
    // The agent row before the wallet row, in the order a rotation takes them.
    if (!(await holdApiKey(client, agentId, credential.apiKeyHash))) {
      throw new UnauthorizedError('unauthorized', 'API key is not valid', {
        details: { reason: 'invalid_api_key' },
      })
    }
    return exportManagedKey(client, context, agentId)
  })
}

/** DELETE /v1/wallet/export-key: cancels the caller's pending key export (any credential may). */
export async function cancelWalletKeyExport(
  context: Pick<AppContext, 'pool'>,
  agentId: string,
): Promise<void> {
  await withTransaction(context.pool, (client) => cancelManagedKeyExport(client, agentId))
}
