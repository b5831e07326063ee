import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi'
import { Router } from 'express'
import { errorResponse } from '../../protocol/errors'
import {
  balanceResponse,
  exportKeyResponse,
  faucetBody,
  faucetResponse,
  keyExportState,
  listTransactionsQuery,
  transactionsPage,
  type ExportKeyResponse,
  type KeyExportState,
} from '../../protocol/wallet'
import type { AppContext } from '../app-context'
import { NotFoundError } from '../errors'
import { currentAgent, currentCredential, requireAgent } from '../http/auth'
import { idempotent } from '../http/idempotency'
import { authRateLimit, chainWriteRateLimit } from '../http/rate-limit'
import { parseInput } from '../http/validate'
import { ERROR_CODES } from '../../protocol/errors'
import {
  cancelWalletKeyExport,
  exportWalletKey,
  faucet,
  getWalletBalance,
  listWalletTransactions,
} from './wallet-service'
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
  // Authentication first: it claims a signed request's id, so a request refused 429 is spent too.
  router.post('/wallet/export-key', auth, authRateLimit(context), async (_req, res) => {
    const exported = await exportWalletKey(context, currentAgent(res).id, currentCredential(res))
    res.setHeader('Cache-Control', 'no-store')
    if (exported.status === 'pending') {
      const pending: KeyExportState = {
        status: 'pending',
        requested_at: exported.requestedAt.toISOString(),
        available_at: exported.availableAt.toISOString(),
      }
      res.status(202).json(pending)
      return
    }
    const response: ExportKeyResponse = {
      wallet_address: exported.address,
      private_key: exported.privateKey,
      exported_at: exported.exportedAt.toISOString(),
    }
    res.json(response)
  })

  router.delete('/wallet/export-key', auth, async (_req, res) => {
    await cancelWalletKeyExport(context, currentAgent(res).id)
    res.status(204).end()
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
    summary: "Export the managed wallet's private key, once, after a delay",
    description:
      'The first call starts the export and answers 202 with available_at (KEY_EXPORT_DELAY_SECONDS later; with 0 the key comes at once); a call from available_at on answers 200 with the key, exactly once. GET /v1/agents/me shows the export meanwhile; DELETE this route or rotating the API key cancels it. API key only.',
    security: [{ bearerAuth: [] }],
    responses: {
      200: json(exportKeyResponse, 'The key; it is never shown again'),
      202: json(keyExportState, 'Export started: POST again from available_at'),
      401: json(errorResponse, 'Not authenticated'),
      403: json(errorResponse, 'api_key_required: a wallet-signed request'),
      409: json(
        errorResponse,
        'wallet_not_managed, key_already_exported, or key_export_pending (details.available_at)',
      ),
      429: json(errorResponse, 'Rate limited'),
    },
  })
  registry.registerPath({
    method: 'delete',
    path: '/v1/wallet/export-key',
    summary: 'Cancel a pending export of the managed wallet key',
    security,
    responses: {
      204: { description: 'Cancelled' },
      401: json(errorResponse, 'Not authenticated'),
      409: json(errorResponse, 'wallet_not_managed, key_already_exported or key_export_not_pending'),
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
