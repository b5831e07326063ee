import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi'
import { Router } from 'express'
import { errorResponse } from '../../protocol/errors'
import {
  accountsReconciliationQuery,
  accountsReconciliationResponse,
  reconciliationResponse,
} from '../../protocol/platform'
import type { AppContext } from '../app-context'
import { parseInput } from '../http/validate'
import { reconcileAccounts, reconcileAndReport } from './reconciliation-service'

/**
 * `GET /v1/platform/reconciliation` and `…/accounts`: public, like the chain they are checked
 * against, so an auditor can compare the coordinator's books with the vault without an account.
 * The account lines name wallet addresses and vault balances, which the vault's logs already
 * show to anyone; they name no agent.
 */
export function reconciliationRoutes(context: AppContext): Router {
  const router = Router()
  router.get('/platform/reconciliation', async (_req, res) => {
    res.json(await reconcileAndReport(context))
  })
  router.get('/platform/reconciliation/accounts', async (req, res) => {
    const query = parseInput(accountsReconciliationQuery, req.query, 'query')
    const mismatchedOnly =
      query.mismatched === undefined ? query.account === undefined : query.mismatched === 'true'
    res.json(await reconcileAccounts(context, { account: query.account, mismatchedOnly }))
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
  registry.registerPath({
    method: 'get',
    path: '/v1/platform/reconciliation/accounts',
    summary:
      'Per vault account: its balance at the indexed block against what the ledger says it holds in the vault (by default only the accounts that disagree)',
    request: { query: accountsReconciliationQuery },
    responses: {
      200: {
        description: 'The account lines',
        content: { 'application/json': { schema: accountsReconciliationResponse } },
      },
      400: {
        description: 'Malformed query',
        content: { 'application/json': { schema: errorResponse } },
      },
    },
  })
}
