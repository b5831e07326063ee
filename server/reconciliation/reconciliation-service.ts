import { Gauge, type Registry } from 'prom-client'
import { erc20Abi } from 'viem'
import type { ReconciliationResponse } from '../../protocol/platform'
import { formatAmount } from '../../protocol/amounts'
import type { AppContext } from '../app-context'
import { readCursor } from '../chain/indexer/indexer-queries'
import { withTransaction } from '../db/pool'
import { debtAndUnsettledTotals, vaultLiabilities } from '../ledger/ledger-service'
import { selectInFlightWithdrawalTotals } from '../wallet/withdrawals-queries'

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
  const vault = deployment.contracts.ClearhouseVault!.toLowerCase() as `0x${string}`
  const tokens = context.tokens.map((token) => ({
    ...token,
    address: token.address.toLowerCase() as `0x${string}`,
  }))
  const snapshot = await withTransaction(
    context.pool,
    async (db) => {
      const cursor = await readCursor(db, deployment.chainId, vault)
      const inFlight = await selectInFlightWithdrawalTotals(db, deployment.chainId)
      const owed = new Map<string, bigint>()
      for (const token of tokens) owed.set(token.address, await vaultLiabilities(db, token.address))
      const debtAndUnsettled = await debtAndUnsettledTotals(db)
      return { cursor, inFlight, owed, debtAndUnsettled }
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
      }
    }),
  )
  return { checked_at: new Date().toISOString(), block_number: Number(blockNumber), tokens: lines }
}

/** The `clearhouse_reconciliation_difference` gauge (base units, per token), created once per registry. */
export function reconciliationGauge(registry: Registry): Gauge<'token'> {
  return (
    (registry.getSingleMetric('clearhouse_reconciliation_difference') as Gauge<'token'> | undefined) ??
    new Gauge({
      name: 'clearhouse_reconciliation_difference',
      help: 'Vault token balance at the indexed block minus ledger liabilities minus withdrawals in flight, in base units',
      labelNames: ['token'],
      registers: [registry],
    })
  )
}

/** Runs `reconcile`, sets the gauge, and logs any difference loudly. */
export async function reconcileAndReport(context: AppContext): Promise<ReconciliationResponse> {
  const report = await reconcile(context)
  const gauge = reconciliationGauge(context.metrics.registry)
  for (const token of report.tokens) {
    gauge.set({ token: token.token }, Number(token.difference_base_units))
    if (!token.is_balanced) {
      context.logger.error(
        { token: token.token, difference: token.difference, block: report.block_number },
        'RECONCILIATION MISMATCH: vault balance and ledger disagree',
      )
    }
  }
  return report
}
