import type { RequestHandler } from 'express'
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client'

/** The Prometheus registry of one coordinator process and the HTTP metrics every route feeds. */
export interface Metrics {
  registry: Registry
  httpRequests: Counter<'method' | 'route' | 'status'>
  httpDuration: Histogram<'method' | 'route'>
}

export function createMetrics(): Metrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'clearhouse_' })
  return {
    registry,
    httpRequests: new Counter({
      name: 'clearhouse_http_requests_total',
      help: 'HTTP requests by method, route pattern and status',
      labelNames: ['method', 'route', 'status'],
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'clearhouse_http_request_duration_seconds',
      help: 'HTTP request latency by method and route pattern',
      labelNames: ['method', 'route'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
  }
}

/** Records each response; labels use the route pattern, never the raw path, to keep cardinality bounded. */
export function metricsMiddleware(metrics: Metrics): RequestHandler {
  return (req, res, next) => {
    const stop = metrics.httpDuration.startTimer()
    res.on('finish', () => {
      const route = (req.route?.path as string | undefined) ?? 'unmatched'
      const labels = { method: req.method, route: `${req.baseUrl}${route}` }
      stop(labels)
      metrics.httpRequests.inc({ ...labels, status: String(res.statusCode) })
    })
    next()
  }
}
