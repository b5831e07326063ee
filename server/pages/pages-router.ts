import { Router, type ErrorRequestHandler, type RequestHandler } from 'express'
import type { AppContext } from '../app-context'
import { isDatabaseUnavailable } from '../db/database-errors'
import { AppError, NotFoundError, ValidationError } from '../errors'
import { renderAgentPage, renderAgentsPage } from './agents-pages'
import { renderDashboardPage } from './dashboard-page'
import { renderDocsPage } from './docs-page'
import { renderHomePage } from './home-page'
import { renderJobPage, renderJobsPage } from './jobs-pages'
import { PageAssets } from './page-assets'
import { presentQuery } from './page-format'
import { renderErrorPage, type PageHandler, type RenderedPage } from './page-layout'
import { renderSettlementPage, renderSettlementsPage } from './settlements-pages'

/** Every public page, by its Express path. None is under `/v1`: these are for people, not the API. */
const PAGES: readonly { path: string; render: PageHandler }[] = [
  { path: '/', render: renderHomePage },
  { path: '/jobs', render: renderJobsPage },
  { path: '/jobs/:jobId', render: renderJobPage },
  { path: '/agents', render: renderAgentsPage },
  { path: '/agents/:idOrHandle', render: renderAgentPage },
  { path: '/dashboard', render: renderDashboardPage },
  { path: '/settlements', render: renderSettlementsPage },
  { path: '/settlements/:batchNumber', render: renderSettlementPage },
  { path: '/docs', render: renderDocsPage },
]

/** The pages' paths as Express spells them (the OpenAPI coverage test leaves them out: they are not API). */
export const PAGE_PATHS: readonly string[] = PAGES.map((page) => page.path)

function send(res: Parameters<RequestHandler>[1], page: RenderedPage): void {
  // Pages show live data: a browser may keep a copy but must ask again before showing it.
  res.setHeader('Cache-Control', 'no-cache')
  res.status(page.status).type('html').send(page.body.value)
}

/**
 * The server-rendered public pages and their assets (issue 16), mounted at the root. Every page
 * reads through the same service functions as the anonymous `GET /v1/…` routes, with no viewer, so
 * a page can show nothing those routes would not show anyone. A failure is an HTML page too: 404
 * for what does not exist (a malformed id included), 400 for a bad filter, 503 while the
 * database is away, and 500, logged, for a bug.
 */
export function pagesRouter(context: AppContext): Router {
  const assets = new PageAssets()
  const router = Router()
  router.use(assets.router())
  for (const page of PAGES) {
    router.get(page.path, async (req, res) => {
      const result = await page.render(context, assets, {
        params: req.params as Record<string, string>,
        query: presentQuery(req.query),
      })
      if ('redirect' in result) res.redirect(301, result.redirect)
      else send(res, result)
    })
  }
  const renderError: ErrorRequestHandler = (error: unknown, req, res, next) => {
    if (res.headersSent) return next(error)
    // Express refuses a path whose escapes do not decode (`/jobs/%E0%A4%A`) with a 400 of its own.
    const isBadPath = (error as { status?: number }).status === 400 && !(error instanceof AppError)
    if (error instanceof NotFoundError) {
      return send(res, renderErrorPage(assets, 404, 'Not found', `${error.message}.`))
    }
    if (error instanceof ValidationError || isBadPath) {
      const message = error instanceof ValidationError ? error.message : 'the address could not be read'
      return send(res, renderErrorPage(assets, 400, 'Bad request', `${message}.`))
    }
    if (isDatabaseUnavailable(error)) {
      context.logger.warn({ reqId: req.id }, 'page: database unavailable')
      res.setHeader('Retry-After', '2')
      return send(
        res,
        renderErrorPage(
          assets,
          503,
          'Unavailable',
          'The market is unavailable for a moment; try again shortly.',
        ),
      )
    }
    context.logger.error({ err: error, reqId: req.id }, 'page: unexpected error')
    send(
      res,
      renderErrorPage(assets, 500, 'Something went wrong', `The page failed (request ${String(req.id)}).`),
    )
  }
  router.use(renderError)
  return router
}
