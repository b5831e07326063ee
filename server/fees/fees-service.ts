import type { CalculateFeesBody, FeeCalculation, FeeKind } from '../../protocol/fees'
import type { AppContext } from '../app-context'
import { protocolFeeBps } from '../chain/vault-fees'
import { ESCROW_RESOLVER_FEE_BPS } from '../escrow/escrow-ops'
import { formatUnits, parseTokenAmount } from '../jobs/job-tokens'
import { feeFor } from '../ledger/ledger-service'
import { resolveToken } from '../ledger/tokens'

/** How `amount` base units split between the provider, the treasury and the resolver. */
export interface FeeSplit {
  fee: bigint
  resolverFee: bigint
  net: bigint
}

/**
 * The vault's split of a payment of `amount` (FeeMath.sol): a job's release and a service call's
 * settlement pay `amount − fee` with `fee = amount·feeBps/10000` rounded down (`takeFee`); a
 * ruling takes the resolver fee off the top first and the protocol fee on the rest, here for a
 * ruling wholly for the provider (`splitRuling` with payeeBps 10000). The parts sum to `amount`.
 */
export function splitPayment(
  amount: bigint,
  kind: FeeKind,
  feeBps: number,
  resolverFeeBps: number,
): FeeSplit {
  const resolverFee = kind === 'dispute' ? feeFor(amount, resolverFeeBps) : 0n
  const fee = feeFor(amount - resolverFee, feeBps)
  return { fee, resolverFee, net: amount - resolverFee - fee }
}

/**
 * `POST /v1/fees/calculate` (seed 002 "Financial Negotiation"): the fees the vault would take
 * from `amount` of `token` at its current configuration. Free work ($0) pays no fee of any kind.
 */
export async function calculateFees(
  context: Pick<AppContext, 'chain' | 'tokens'>,
  body: CalculateFeesBody,
): Promise<FeeCalculation> {
  const token = resolveToken(context, body.token, 'token')
  const kind = body.kind
  const amount = parseTokenAmount(body.amount, token.decimals, 'amount')
  const feeBps = await protocolFeeBps(context)
  const split = splitPayment(amount, kind, feeBps, ESCROW_RESOLVER_FEE_BPS)
  const format = (units: bigint) => formatUnits(units, token.decimals)
  return {
    amount: format(amount),
    token: token.symbol,
    kind,
    fee_bps: feeBps,
    resolver_fee_bps: ESCROW_RESOLVER_FEE_BPS,
    fee: format(split.fee),
    resolver_fee: format(split.resolverFee),
    net: format(split.net),
    is_free: amount === 0n,
    base_units: {
      amount: amount.toString(),
      fee: split.fee.toString(),
      resolver_fee: split.resolverFee.toString(),
      net: split.net.toString(),
    },
  }
}
