import {
  accountsReconciliationQuery,
  accountsReconciliationResponse,
  reconciliationResponse,
} from '../../protocol/platform'
import { errors, json } from '../http/openapi-parts'
import { defineRoute, type Route } from '../http/route'
import { reconcileAccounts, reconcileAndReport } from './reconciliation-service'

/**
 * `GET /v1/platform/reconciliation` and `…/accounts`: public, like the chain they are checked
 * against, so an auditor can compare the coordinator's books with the vault without an account.
 * The account lines name wallet addresses and vault balances, which the vault's logs already
 * show to anyone; they name no agent.
 */
export const reconciliationRoutes: readonly Route[] = [
  defineRoute({
    method: 'get',
    path: '/v1/platform/reconciliation',
    summary: "Per token: the vault's on-chain balance against the ledger and in-flight withdrawals",
    auth: 'none',
    responses: {
      200: json(reconciliationResponse, 'The reconciliation'),
      ...errors({ 502: 'The chain did not answer' }),
    },
    handler: ({ context }) => reconcileAndReport(context),
  }),
  defineRoute({
    method: 'get',
    path: '/v1/platform/reconciliation/accounts',
    summary:
      'Per vault account: its balance at the indexed block against what the ledger says it holds in the vault (by default only the accounts that disagree)',
    auth: 'none',
    query: accountsReconciliationQuery,
    responses: {
      200: json(accountsReconciliationResponse, 'The account lines'),
      ...errors({ 400: 'Malformed query' }),
    },
    handler: ({ context, query }) => {
      const mismatchedOnly =
        query.mismatched === undefined ? query.account === undefined : query.mismatched === 'true'
      return reconcileAccounts(context, { account: query.account, mismatchedOnly })
    },
  }),
]
