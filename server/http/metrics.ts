import type { RequestHandler } from 'express'
import type { Metrics } from '../metrics'

/** Records each response; labels use the route pattern, never the raw path, to keep cardinality bounded. */
export function metricsMiddleware(metrics: Pick<Metrics, 'httpRequests' | 'httpDuration'>): RequestHandler {
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
