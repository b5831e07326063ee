import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi'
import { Router } from 'express'
import { errorResponse } from '../../protocol/errors'
import { reconciliationResponse } from '../../protocol/platform'
import type { AppContext } from '../app-context'
import { reconcileAndReport } from './reconciliation-service'

/**
 * `GET /v1/platform/reconciliation`: public, like the chain it is checked against, so an auditor
 * can compare the coordinator's books with the vault without an account.
 */
export function reconciliationRoutes(context: AppContext): Router {
  const router = Router()
  router.get('/platform/reconciliation', async (_req, res) => {
    res.json(await reconcileAndReport(context))
  })
  return router
}

export function registerReconciliationOpenApi(registry: OpenAPIRegistry): void {
  registry.registerPath({
    method: 'get',
    path: '/v1/platform/reconciliation',
    summary: "Per token: the vault's on-chain balance against the ledger and in-flight withdrawals",
    responses: {
      200: {
        description: 'The reconciliation',
        content: { 'application/json': { schema: reconciliationResponse } },
      },
      502: {
        description: 'The chain did not answer',
        content: { 'application/json': { schema: errorResponse } },
      },
    },
  })
}
