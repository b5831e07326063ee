import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi'
import { Router } from 'express'
import { errorResponse } from '../../protocol/errors'
import {
  balanceResponse,
  exportKeyResponse,
  faucetBody,
  faucetResponse,
  listTransactionsQuery,
  transactionsPage,
  type ExportKeyResponse,
} from '../../protocol/wallet'
import type { AppContext } from '../app-context'
import { NotFoundError } from '../errors'
import { currentAgent, requireAgent } from '../http/auth'
import { idempotent } from '../http/idempotency'
import { authRateLimit, chainWriteRateLimit } from '../http/rate-limit'
import { parseInput } from '../http/validate'
import { ERROR_CODES } from '../../protocol/errors'
import { exportManagedKey } from './managed-wallets'
import { faucet, getWalletBalance, listWalletTransactions } from './wallet-service'
import { json, AGENT_AUTH, idempotencyKeyHeaders } from '../http/openapi-parts'

/** Balances, ledger history, managed-key export and (dev chain only) the faucet. */
export function walletRoutes(context: AppContext): Router {
  const router = Router()
  const auth = requireAgent(context)

  router.get('/wallet/balance', auth, async (_req, res) => {
    res.json(await getWalletBalance(context, currentAgent(res)))
  })

  router.get('/wallet/transactions', auth, async (req, res) => {
    const query = parseInput(listTransactionsQuery, req.query, 'query')
    res.json(await listWalletTransactions(context, currentAgent(res), query))
  })

  // Deliberately not idempotent(): a replay store would keep a copy of the private key.
  router.post('/wallet/export-key', authRateLimit(context), auth, async (_req, res) => {
    const exported = await exportManagedKey(context.pool, context, currentAgent(res).id)
    const response: ExportKeyResponse = {
      wallet_address: exported.address,
      private_key: exported.privateKey,
      exported_at: exported.exportedAt.toISOString(),
    }
    res.setHeader('Cache-Control', 'no-store')
    res.json(response)
  })

  router.post(
    '/dev/faucet',
    (_req, _res, next) => {
      // Outside the dev chain the route does not exist at all, before any authentication.
      if (!context.isDevChain)
        return next(new NotFoundError(ERROR_CODES.notFound, 'no route for POST /v1/dev/faucet'))
      next()
    },
    auth,
    chainWriteRateLimit(context),
    idempotent(context),
    async (req, res) => {
      const body = parseInput(faucetBody, req.body, 'body')
      res.json(await faucet(context, currentAgent(res), body))
    },
  )

  return router
}

/** Registers the wallet routes in the OpenAPI document. */
export function registerWalletOpenApi(registry: OpenAPIRegistry): void {
  const security = AGENT_AUTH
  const idempotencyHeader = idempotencyKeyHeaders
  registry.registerPath({
    method: 'get',
    path: '/v1/wallet/balance',
    summary:
      'Available, escrowed, pending, withdrawing, debt and on-chain (vault) balance per allowlisted token',
    security,
    responses: { 200: json(balanceResponse, 'Balances'), 401: json(errorResponse, 'Not authenticated') },
  })
  registry.registerPath({
    method: 'get',
    path: '/v1/wallet/transactions',
    summary: "The caller's ledger entries, newest first (cursor pagination)",
    security,
    request: { query: listTransactionsQuery },
    responses: {
      200: json(transactionsPage, 'Entries'),
      400: json(errorResponse, 'Malformed query'),
      401: json(errorResponse, 'Not authenticated'),
    },
  })
  registry.registerPath({
    method: 'post',
    path: '/v1/wallet/export-key',
    summary: "Export the managed wallet's private key, once",
    security,
    responses: {
      200: json(exportKeyResponse, 'The key; it is never shown again'),
      401: json(errorResponse, 'Not authenticated'),
      409: json(errorResponse, 'wallet_not_managed or key_already_exported'),
    },
  })
  registry.registerPath({
    method: 'post',
    path: '/v1/dev/faucet',
    summary:
      'Dev chain only: mint and deposit test tokens for the caller on-chain, credited by the indexer (404 elsewhere)',
    security,
    request: {
      headers: idempotencyHeader,
      body: { content: { 'application/json': { schema: faucetBody } } },
    },
    responses: {
      200: json(faucetResponse, 'Credited'),
      400: json(errorResponse, 'Malformed'),
      401: json(errorResponse, 'Not authenticated'),
      404: json(errorResponse, 'Not a dev chain'),
      409: json(errorResponse, 'Idempotency-Key conflict, or faucet_unavailable (no coordinator key)'),
      429: json(errorResponse, 'rate_limited: CHAIN_WRITE_RATE_LIMIT_PER_MINUTE for this agent'),
    },
  })
}
