import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'

/**
 * Every Prometheus metric of one coordinator process, created with its registry. Code that
 * observes something takes the field it needs (`Pick<Metrics, 'indexerLag'>`), so each metric
 * has one name and one definition, here.
 */
export interface Metrics {
  registry: Registry
  /** Requests by method, route pattern (never the raw path, to bound cardinality) and status. */
  httpRequests: Counter<'method' | 'route' | 'status'>
  httpDuration: Histogram<'method' | 'route'>
  /** Blocks between the chain head and the indexer's cursor; 0 until an indexer round sets it. */
  indexerLag: Gauge
  /** Per token, vault balance minus liabilities minus withdrawals in flight, in base units. */
  reconciliationDifference: Gauge<'token'>
  reconciliationAccountsMismatched: Gauge<'token'>
  /** Batches by the settler round's outcome: `confirmed`, `op-failed` or `split`. */
  settlerBatches: Counter<'outcome'>
  /** Rounds that threw while the settler led (RPC or database failure, wrong coordinator key); the worker retries. */
  settlerFailedRounds: Counter
  /** By worker name as `/v1/health` spells it: 1 while its last round succeeded, 0 after a failed one or when it should run and cannot. */
  workerUp: Gauge<'worker'>
  /** x402 calls by outcome: `payment_required`, `refused`, `paid`, `replayed`, `upstream_failed`, `settle_failed`. */
  x402Calls: Counter<'outcome'>
}

/** A fresh registry with the process's default metrics and every coordinator metric. */
export function createMetrics(): Metrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'clearhouse_' })
  const registers = [registry]
  return {
    registry,
    httpRequests: new Counter({
      name: 'clearhouse_http_requests_total',
      help: 'HTTP requests by method, route pattern and status',
      labelNames: ['method', 'route', 'status'],
      registers,
    }),
    httpDuration: new Histogram({
      name: 'clearhouse_http_request_duration_seconds',
      help: 'HTTP request latency by method and route pattern',
      labelNames: ['method', 'route'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    indexerLag: new Gauge({
      name: 'clearhouse_indexer_lag_blocks',
      help: 'Blocks between the chain head and the indexer cursor',
      registers,
    }),
    reconciliationDifference: new Gauge({
      name: 'clearhouse_reconciliation_difference',
      help: 'Vault token balance at the indexed block minus ledger liabilities minus withdrawals in flight, in base units',
      labelNames: ['token'],
      registers,
    }),
    reconciliationAccountsMismatched: new Gauge({
      name: 'clearhouse_reconciliation_accounts_mismatched',
      help: 'Vault accounts whose balance at the indexed block differs from what the ledger says they hold',
      labelNames: ['token'],
      registers,
    }),
    settlerBatches: new Counter({
      name: 'clearhouse_settler_batches_total',
      help: 'Settlement batches by outcome: confirmed on-chain, op-failed (dissolved, its failing ops marked failed), split (too large to send)',
      labelNames: ['outcome'],
      registers,
    }),
    settlerFailedRounds: new Counter({
      name: 'clearhouse_settler_failed_rounds_total',
      help: 'Settler rounds that failed with an error while leading; the worker retries them',
      registers,
    }),
    workerUp: new Gauge({
      name: 'clearhouse_worker_up',
      help: "1 while the worker's last round succeeded, 0 after a failed round or when it should run and cannot",
      labelNames: ['worker'],
      registers,
    }),
    x402Calls: new Counter({
      name: 'clearhouse_x402_calls_total',
      help: 'x402 calls by outcome: payment_required (no payment sent), refused (402 with a reason), paid, replayed (a payment identifier answered again), upstream_failed (nothing spent), settle_failed',
      labelNames: ['outcome'],
      registers,
    }),
  }
}
