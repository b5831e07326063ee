import { normalizeAddress } from '../../protocol/address'
import { erc20Abi, type Address } from 'viem'
import type {
  AccountReconciliation,
  AccountsReconciliationResponse,
  ReconciliationResponse,
} from '../../protocol/platform'
import { formatAmount } from '../../protocol/amounts'
import type { AppContext } from '../app-context'
import { readIndexedCursor } from '../chain/indexer/vault-indexer'
import { withTransaction, type Queryable } from '../db/pool'
import { debtAndUnsettledTotals, feeFor, platformBalance, vaultLiabilities } from '../ledger/ledger-service'
import { inFlightWithdrawalTotals } from '../wallet/withdrawals-service'
import { unlandedChannelFundings } from '../channels/channels-service'
import {
  selectAgentLedgerPositions,
  selectInFlightWithdrawalsByAgent,
  selectOpenEscrowLocks,
} from './reconciliation-queries'
import { selectCurrentTreasury, selectMirroredBalances } from './vault-mirror-queries'

/** One vault account compared in base units; `account` null sums the wallets no agent holds. */
export interface AccountComparison {
  account: Address | null
  holder: AccountReconciliation['holder']
  onChain: bigint
  ledger: bigint
}

/**
 * Every vault account of `token` against the ledger, in the caller's snapshot. The vault side is
 * the mirror the indexer keeps from the vault's logs (at the indexed block); the ledger side is
 * what the ledger says each account holds *in the vault*, which is not its spendable balance:
 * - an agent's wallet: available − debt + escrow, corrected for where each of its open escrows'
 *   money sits in the vault: still in the payer's balance while the lock has not landed (so a
 *   release already booked to the payee still counts here), out of it once locked (so escrow the
 *   ledger still holds does not), plus fast withdrawals paid out in the ledger not yet out of
 *   the vault; unsettled pay is not in the payee's vault balance until its release lands; money
 *   in its channels is out of it, but a funding queued and not yet landed is still in it;
 * - the treasury: the ledger's fees less the fees of booked releases that have not landed;
 * - every other address together: the ledger's unclaimed account.
 */
export async function compareAccounts(
  db: Queryable,
  chainId: number,
  token: Address,
): Promise<AccountComparison[]> {
  const onChain = await selectMirroredBalances(db, chainId, token)
  const treasury = await selectCurrentTreasury(db, chainId)
  const positions = await selectAgentLedgerPositions(db, token)
  const inFlight = await selectInFlightWithdrawalsByAgent(db, chainId, token)
  const unlandedFundings = await unlandedChannelFundings(db, chainId, token)
  const escrowCorrection = new Map<Address, bigint>()
  let unlandedFees = 0n
  for (const lock of await selectOpenEscrowLocks(db, chainId, token)) {
    const correction =
      !lock.isLocked && lock.isReleaseBooked
        ? lock.amount
        : lock.isLocked && !lock.isReleaseBooked
          ? -lock.amount
          : 0n
    escrowCorrection.set(lock.payer, (escrowCorrection.get(lock.payer) ?? 0n) + correction)
    if (lock.isReleaseBooked) unlandedFees += feeFor(lock.amount, lock.feeBps)
  }

  const lines: AccountComparison[] = []
  const seen = new Set<Address>()
  for (const position of positions) {
    seen.add(position.wallet)
    lines.push({
      account: position.wallet,
      holder: 'agent',
      onChain: onChain.get(position.wallet) ?? 0n,
      ledger:
        position.available -
        position.debt +
        position.escrow +
        (escrowCorrection.get(position.wallet) ?? 0n) +
        (inFlight.get(position.agentId) ?? 0n) +
        (unlandedFundings.get(position.wallet.toLowerCase() as Address) ?? 0n),
    })
  }
  if (treasury && !seen.has(treasury)) {
    seen.add(treasury)
    lines.push({
      account: treasury,
      holder: 'treasury',
      onChain: onChain.get(treasury) ?? 0n,
      ledger: (await platformBalance(db, 'fees', token)) - unlandedFees,
    })
  }
  let unclaimedOnChain = 0n
  for (const [account, balance] of onChain) if (!seen.has(account)) unclaimedOnChain += balance
  lines.push({
    account: null,
    holder: 'unclaimed',
    onChain: unclaimedOnChain,
    ledger: await platformBalance(db, 'unclaimed', token),
  })
  return lines
}

function toAccountLine(
  comparison: AccountComparison,
  token: { symbol: string; address: string; decimals: number },
): AccountReconciliation {
  const difference = comparison.onChain - comparison.ledger
  return {
    account: comparison.account,
    holder: comparison.holder,
    token: token.symbol,
    token_address: token.address,
    on_chain: formatAmount(comparison.onChain, token.decimals),
    ledger: formatAmount(comparison.ledger, token.decimals),
    difference: formatAmount(difference, token.decimals),
    difference_base_units: difference.toString(),
    is_balanced: difference === 0n,
  }
}

/**
 * The design's invariant, per token: the vault's token balance on-chain equals what the ledger
 * says the vault owes (agents' available + escrow, platform fees) plus what has left the ledger
 * but not yet the chain (fast withdrawals debited and not yet seen on-chain). The chain is read at
 * the block the indexer has reached, in the same snapshot as the ledger, so a deposit or a settled
 * withdrawal the indexer has not processed yet is on neither side: any difference is a bug or a loss.
 */
export async function reconcile(
  context: Pick<AppContext, 'pool' | 'chain' | 'tokens'>,
): Promise<ReconciliationResponse> {
  if (!context.chain) return { checked_at: new Date().toISOString(), block_number: null, tokens: [] }
  const { client, deployment } = context.chain
  const vault = normalizeAddress(deployment.contracts.ClearhouseVault!)
  const tokens = context.tokens.map((token) => ({
    ...token,
    address: normalizeAddress(token.address),
  }))
  const snapshot = await withTransaction(
    context.pool,
    async (db) => {
      const cursor = await readIndexedCursor(db, deployment.chainId, vault)
      const inFlight = await inFlightWithdrawalTotals(db, deployment.chainId)
      const owed = new Map<string, bigint>()
      for (const token of tokens) owed.set(token.address, await vaultLiabilities(db, token.address))
      const debtAndUnsettled = await debtAndUnsettledTotals(db)
      const accounts = new Map<string, AccountComparison[]>()
      for (const token of tokens) {
        accounts.set(token.address, await compareAccounts(db, deployment.chainId, token.address))
      }
      return { cursor, inFlight, owed, debtAndUnsettled, accounts }
    },
    'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY',
  )
  // Until the indexer has reached the deployment's first block the vault holds nothing the ledger
  // could know of, and a token deployed with it has no code yet, so there is nothing to read. The
  // cursor is below that block before the first round, and after a reorg rewound past the deployment.
  const deploymentBlock = BigInt(deployment.deploymentBlock)
  const cursorBlock = snapshot.cursor?.blockNumber ?? null
  const indexedBlock = cursorBlock !== null && cursorBlock >= deploymentBlock ? cursorBlock : null
  const blockNumber = cursorBlock ?? (deploymentBlock > 0n ? deploymentBlock - 1n : 0n)
  const lines = await Promise.all(
    tokens.map(async (token) => {
      const onChain =
        indexedBlock === null
          ? 0n
          : await client.readContract({
              address: token.address,
              abi: erc20Abi,
              functionName: 'balanceOf',
              args: [vault],
              blockNumber,
            })
      const ledger = snapshot.owed.get(token.address) ?? 0n
      const pending = snapshot.inFlight.get(token.address) ?? 0n
      const difference = onChain - ledger - pending
      return {
        token: token.symbol,
        token_address: token.address,
        on_chain: formatAmount(onChain, token.decimals),
        ledger: formatAmount(ledger, token.decimals),
        in_flight: formatAmount(pending, token.decimals),
        difference: formatAmount(difference, token.decimals),
        difference_base_units: difference.toString(),
        is_balanced: difference === 0n,
        debt: formatAmount(snapshot.debtAndUnsettled.get(token.address)?.debt ?? 0n, token.decimals),
        unsettled: formatAmount(
          snapshot.debtAndUnsettled.get(token.address)?.unsettled ?? 0n,
          token.decimals,
        ),
        accounts_checked: snapshot.accounts.get(token.address)?.length ?? 0,
        accounts_mismatched: (snapshot.accounts.get(token.address) ?? []).filter(
          (account) => account.onChain !== account.ledger,
        ).length,
      }
    }),
  )
  return { checked_at: new Date().toISOString(), block_number: Number(blockNumber), tokens: lines }
}

/**
 * `GET /v1/platform/reconciliation/accounts`: the account lines of every token (or of `account`
 * alone), in one snapshot at the indexed block; by default only the accounts that disagree.
 */
export async function reconcileAccounts(
  context: Pick<AppContext, 'pool' | 'chain' | 'tokens'>,
  filter: { account?: string; mismatchedOnly: boolean },
): Promise<AccountsReconciliationResponse> {
  const checkedAt = new Date().toISOString()
  if (!context.chain) return { checked_at: checkedAt, block_number: null, accounts: [] }
  const { deployment } = context.chain
  const vault = deployment.contracts.ClearhouseVault!.toLowerCase()
  const account = filter.account?.toLowerCase()
  return withTransaction(
    context.pool,
    async (db) => {
      const cursor = await readIndexedCursor(db, deployment.chainId, vault)
      const accounts: AccountReconciliation[] = []
      for (const token of context.tokens) {
        const address = normalizeAddress(token.address)
        for (const comparison of await compareAccounts(db, deployment.chainId, address)) {
          if (account !== undefined && comparison.account !== account) continue
          if (filter.mismatchedOnly && comparison.onChain === comparison.ledger) continue
          accounts.push(toAccountLine(comparison, { ...token, address }))
        }
      }
      return {
        checked_at: checkedAt,
        block_number: cursor ? Number(cursor.blockNumber) : null,
        accounts,
      }
    },
    'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY',
  )
}

/** Runs `reconcile`, sets the gauges, and logs any difference loudly. */
export async function reconcileAndReport(context: AppContext): Promise<ReconciliationResponse> {
  const report = await reconcile(context)
  const { reconciliationDifference, reconciliationAccountsMismatched } = context.metrics
  for (const token of report.tokens) {
    reconciliationDifference.set({ token: token.token }, Number(token.difference_base_units))
    reconciliationAccountsMismatched.set({ token: token.token }, token.accounts_mismatched)
    if (!token.is_balanced) {
      context.logger.error(
        { token: token.token, difference: token.difference, block: report.block_number },
        'RECONCILIATION MISMATCH: vault balance and ledger disagree',
      )
    }
    if (token.accounts_mismatched > 0) {
      context.logger.error(
        { token: token.token, accounts: token.accounts_mismatched, block: report.block_number },
        'RECONCILIATION MISMATCH: vault accounts disagree with the ledger (GET /v1/platform/reconciliation/accounts)',
      )
    }
  }
  return report
}
