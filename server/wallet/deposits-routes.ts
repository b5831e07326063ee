import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi'
import { Router } from 'express'
import { errorResponse } from '../../protocol/errors'
import {
  deposit,
  depositAddressResponse,
  depositIdParams,
  depositsPage,
  listDepositsQuery,
} from '../../protocol/wallet'
import type { AppContext } from '../app-context'
import { currentAgent, requireAgent } from '../http/auth'
import { parseInput } from '../http/validate'
import { getDeposit, getDepositAddress, listDeposits } from './deposits-service'
import { json, AGENT_AUTH } from '../http/openapi-parts'

/** Where to deposit, and the caller's deposits as the indexer saw them. */
export function depositsRoutes(context: AppContext): Router {
  const router = Router()
  const auth = requireAgent(context)

  router.get('/wallet/deposit_address', auth, (_req, res) => {
    res.json(getDepositAddress(context, currentAgent(res)))
  })

  router.get('/wallet/deposits', auth, async (req, res) => {
    const query = parseInput(listDepositsQuery, req.query, 'query')
    res.json(await listDeposits(context, currentAgent(res), query))
  })

  router.get('/wallet/deposits/:deposit_id', auth, async (req, res) => {
    const { deposit_id } = parseInput(depositIdParams, req.params, 'params')
    res.json(await getDeposit(context, currentAgent(res), deposit_id))
  })

  return router
}

/** Registers the deposit routes in the OpenAPI document. */
export function registerDepositsOpenApi(registry: OpenAPIRegistry): void {
  const security = AGENT_AUTH
  registry.registerPath({
    method: 'get',
    path: '/v1/wallet/deposit_address',
    summary: 'The vault and token addresses, and how to deposit (approve+deposit, EIP-2612 permit, EIP-3009)',
    security,
    responses: {
      200: json(depositAddressResponse, 'Where and how to deposit'),
      401: json(errorResponse, 'Not authenticated'),
      409: json(errorResponse, 'chain_unavailable: the coordinator runs without a chain'),
    },
  })
  registry.registerPath({
    method: 'get',
    path: '/v1/wallet/deposits',
    summary: "The caller's on-chain deposits, newest first",
    security,
    request: { query: listDepositsQuery },
    responses: {
      200: json(depositsPage, 'Deposits'),
      400: json(errorResponse, 'Malformed query'),
      401: json(errorResponse, 'Not authenticated'),
    },
  })
  registry.registerPath({
    method: 'get',
    path: '/v1/wallet/deposits/{deposit_id}',
    summary: 'One deposit: pending_deposit → processing → success | failed',
    security,
    request: { params: depositIdParams },
    responses: {
      200: json(deposit, 'The deposit'),
      400: json(errorResponse, 'Malformed id'),
      401: json(errorResponse, 'Not authenticated'),
      404: json(errorResponse, 'No such deposit of the caller'),
    },
  })
}
