import { Gauge, type Registry } from 'prom-client'
import { erc20Abi } from 'viem'
import type { ReconciliationResponse } from '../../protocol/platform'
import { formatAmount } from '../../protocol/amounts'
import type { AppContext } from '../app-context'
import { vaultLiabilities } from '../ledger/ledger-service'
import { selectInFlightWithdrawalTotals } from '../wallet/withdrawals-queries'

/**
 * The design's invariant, per token: the vault's token balance on-chain equals what the ledger
 * says the vault owes (agents' available + escrow, platform fees) plus what has left the ledger
 * but not yet the chain (fast withdrawals debited and not yet confirmed or refunded). A deposit the indexer has not
 * reached yet shows as a passing positive difference; anything else is a bug or a loss.
 */
export async function reconcile(
  context: Pick<AppContext, 'pool' | 'chain' | 'tokens'>,
): Promise<ReconciliationResponse> {
  if (!context.chain) return { checked_at: new Date().toISOString(), block_number: null, tokens: [] }
  const { client, deployment } = context.chain
  const vault = deployment.contracts.ClearhouseVault!
  const blockNumber = await client.getBlockNumber({ cacheTime: 0 })
  const inFlight = await selectInFlightWithdrawalTotals(context.pool, deployment.chainId)
  const tokens = await Promise.all(
    context.tokens.map(async (token) => {
      const address = token.address.toLowerCase() as `0x${string}`
      const [onChain, ledger] = await Promise.all([
        client.readContract({
          address,
          abi: erc20Abi,
          functionName: 'balanceOf',
          args: [vault],
          blockNumber,
        }),
        vaultLiabilities(context.pool, address),
      ])
      const pending = inFlight.get(address) ?? 0n
      const difference = onChain - ledger - pending
      return {
        token: token.symbol,
        token_address: address,
        on_chain: formatAmount(onChain, token.decimals),
        ledger: formatAmount(ledger, token.decimals),
        in_flight: formatAmount(pending, token.decimals),
        difference: formatAmount(difference, token.decimals),
        difference_base_units: difference.toString(),
        is_balanced: difference === 0n,
      }
    }),
  )
  return { checked_at: new Date().toISOString(), block_number: Number(blockNumber), tokens }
}

/** The `clearhouse_reconciliation_difference` gauge (base units, per token), created once per registry. */
export function reconciliationGauge(registry: Registry): Gauge<'token'> {
  return (
    (registry.getSingleMetric('clearhouse_reconciliation_difference') as Gauge<'token'> | undefined) ??
    new Gauge({
      name: 'clearhouse_reconciliation_difference',
      help: 'Vault token balance on-chain minus ledger liabilities minus unsettled withdrawals, in base units',
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
