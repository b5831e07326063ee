import express, { type Express } from 'express'
import helmet from 'helmet'
import { pinoHttp } from 'pino-http'
import { randomUUID } from 'node:crypto'
import type { AppContext } from './app-context'
import { ConfigError } from './errors'
import { errorHandler, notFoundHandler } from './http/errors-middleware'
import { metricsMiddleware } from './http/metrics'
import { createOpenApiRegistry, generateOpenApiDocument } from './http/openapi'
import { API_PREFIX, buildRouter, type Route } from './http/route'
import { healthRoutes } from './health/health-routes'
import { agentsRoutes } from './agents/agents-routes'
import { authRoutes } from './auth/auth-routes'
import { walletRoutes } from './wallet/wallet-routes'
import { depositsRoutes } from './wallet/deposits-routes'
import { withdrawalsRoutes } from './wallet/withdrawals-routes'
import { withdrawalAddressesRoutes } from './wallet/withdrawal-addresses-routes'
import { jobsRoutes } from './jobs/jobs-routes'
import { instantJobsRoutes } from './instant-jobs/instant-jobs-routes'
import { reservationsRoutes } from './reservations/reservations-routes'
import { bidsRoutes } from './bids/bids-routes'
import { assignmentsRoutes } from './assignments/assignments-routes'
import { messagesRoutes } from './messages/messages-routes'
import { competitionsRoutes } from './competitions/competitions-routes'
import { disputesRoutes } from './disputes/disputes-routes'
import { feedStream, FEED_STREAM_PATH, registerFeedStream } from './events/feed-stream'
import { microJobsRoutes } from './micro-jobs/micro-jobs-routes'
import { tasksRoutes } from './tasks/tasks-routes'
import { sessionsRoutes } from './sessions/sessions-routes'
import { settlementsRoutes } from './settlements/settlements-routes'
import { channelsRoutes } from './channels/channels-routes'
import { invokeRoutes } from './invoke/invoke-routes'
import { servicesRoutes } from './services/services-routes'
import { webhooksRoutes } from './webhooks/webhooks-routes'
import { reconciliationRoutes } from './reconciliation/reconciliation-routes'
import { feesRoutes } from './fees/fees-routes'
import { negotiationsRoutes } from './negotiations/negotiations-routes'
import { registerX402Transport, x402Router, x402Routes } from './x402/x402-routes'
import { rejectUnsafeInput } from './http/storable-text'
import { pagesRouter } from './pages/pages-router'

/** Largest JSON body accepted; deliverables and messages fit well inside it. */
export const BODY_LIMIT = '256kb'

/** Every room's routes, served and documented in this order; each room gets its own router. */
const ROUTE_GROUPS: readonly (readonly Route[])[] = [
  healthRoutes,
  // First: the paid-call hot path should not walk every other router's routes.
  invokeRoutes,
  // Before agentsRoutes: /v1/agents/me/services and /v1/agents/me/webhook are not agent ids.
  servicesRoutes,
  webhooksRoutes,
  agentsRoutes,
  authRoutes,
  walletRoutes,
  depositsRoutes,
  withdrawalsRoutes,
  withdrawalAddressesRoutes,
  // Before jobsRoutes: /v1/jobs/instant and /v1/jobs/reservable are not job ids.
  instantJobsRoutes,
  reservationsRoutes,
  jobsRoutes,
  bidsRoutes,
  assignmentsRoutes,
  messagesRoutes,
  competitionsRoutes,
  disputesRoutes,
  channelsRoutes,
  microJobsRoutes,
  tasksRoutes,
  sessionsRoutes,
  settlementsRoutes,
  reconciliationRoutes,
  feesRoutes,
  negotiationsRoutes,
  x402Routes,
]

/** Builds the Express app: plumbing first, then the `/v1` routes, then 404 and the error renderer. */
export function createApp(context: AppContext): Express {
  const app = express()
  app.disable('x-powered-by')
  // Only configured proxies may name the client with X-Forwarded-For; by default (false) the
  // client is the connecting peer, so no local process or pass-through proxy picks its own IP
  // for the per-IP limits.
  try {
    app.set('trust proxy', context.trustProxy ?? false)
  } catch (error) {
    // proxy-addr refuses what is not an address, CIDR or known name: say which variable it was.
    throw new ConfigError(`invalid TRUST_PROXY: ${(error as Error).message}`)
  }
  app.use(helmet())
  app.use(
    pinoHttp({
      logger: context.logger,
      genReqId: (req, res) => {
        const incoming = req.headers['x-request-id']
        const id = typeof incoming === 'string' && /^[\w-]{1,64}$/.test(incoming) ? incoming : randomUUID()
        res.setHeader('X-Request-Id', id)
        return id
      },
      autoLogging: { ignore: (req) => req.url === '/metrics' || req.url === '/v1/health' },
    }),
  )
  app.use(metricsMiddleware(context.metrics))
  app.use(express.json({ limit: BODY_LIMIT }))
  // Before every route, so before authentication: a hostile body is a 400 before anything hashes it.
  app.use(rejectUnsafeInput)

  const registry = createOpenApiRegistry(ROUTE_GROUPS)
  registerFeedStream(registry)
  registerX402Transport(registry)
  const openApiDocument = generateOpenApiDocument(registry, context.version)

  app.get('/metrics', async (_req, res) => {
    res.type(context.metrics.registry.contentType).send(await context.metrics.registry.metrics())
  })
  app.get('/v1/openapi.json', (_req, res) => {
    res.json(openApiDocument)
  })
  // Before the API's routes: the invoke endpoint without credentials is x402's.
  app.use(x402Router(context))
  for (const routes of ROUTE_GROUPS) app.use(API_PREFIX, buildRouter(context, routes))
  app.get(FEED_STREAM_PATH, feedStream(context))
  app.use(pagesRouter(context))

  app.use(notFoundHandler)
  app.use(errorHandler(context.logger))
  return app
}
