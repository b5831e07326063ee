import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi'
import { Router } from 'express'
import { errorResponse } from '../../protocol/errors'
import {
  listWithdrawalsQuery,
  withdrawBody,
  withdrawal,
  withdrawalIdParams,
  withdrawalSignatureBody,
  withdrawalsPage,
} from '../../protocol/wallet'
import type { AppContext } from '../app-context'
import { currentAgent, requireAgent } from '../http/auth'
import { idempotent } from '../http/idempotency'
import { chainWriteRateLimit } from '../http/rate-limit'
import { parseInput } from '../http/validate'
import {
  getWithdrawal,
  listWithdrawals,
  requestWithdrawal,
  submitWithdrawalSignature,
} from './withdrawals-service'
import { json, AGENT_AUTH, idempotencyKeyHeaders } from '../http/openapi-parts'

/** Fast withdrawals through the settler, and every withdrawal of the caller (both paths). */
export function withdrawalsRoutes(context: AppContext): Router {
  const router = Router()
  const auth = requireAgent(context)

  const chainWrites = chainWriteRateLimit(context)

  router.post('/wallet/withdraw', auth, chainWrites, idempotent(context), async (req, res) => {
    const body = parseInput(withdrawBody, req.body, 'body')
    res.status(201).json(await requestWithdrawal(context, currentAgent(res), body))
  })

  router.get('/withdrawals', auth, async (req, res) => {
    const query = parseInput(listWithdrawalsQuery, req.query, 'query')
    res.json(await listWithdrawals(context, currentAgent(res), query))
  })

  router.get('/withdrawals/:withdrawal_id', auth, async (req, res) => {
    const { withdrawal_id } = parseInput(withdrawalIdParams, req.params, 'params')
    res.json(await getWithdrawal(context, currentAgent(res), withdrawal_id))
  })

  router.post(
    '/withdrawals/:withdrawal_id/signature',
    auth,
    chainWrites,
    idempotent(context),
    async (req, res) => {
      const { withdrawal_id } = parseInput(withdrawalIdParams, req.params, 'params')
      const { signature } = parseInput(withdrawalSignatureBody, req.body, 'body')
      res.json(await submitWithdrawalSignature(context, currentAgent(res), withdrawal_id, signature))
    },
  )

  return router
}

/** Registers the withdrawal routes in the OpenAPI document. */
export function registerWithdrawalsOpenApi(registry: OpenAPIRegistry): void {
  const security = AGENT_AUTH
  const headers = idempotencyKeyHeaders
  registry.registerPath({
    method: 'post',
    path: '/v1/wallet/withdraw',
    summary:
      'Fast withdrawal: debits available and queues the signed Withdrawal for the settler (self-custody wallets get typed_data to sign)',
    security,
    request: { headers, body: { content: { 'application/json': { schema: withdrawBody } } } },
    responses: {
      201: json(withdrawal, 'pending (managed wallet) or awaiting_signature (self-custody wallet)'),
      400: json(errorResponse, 'Malformed'),
      401: json(errorResponse, 'Not authenticated'),
      404: json(errorResponse, 'address_id is not a saved address of the caller'),
      409: json(errorResponse, 'insufficient_balance, chain_unavailable, or Idempotency-Key conflict'),
      429: json(errorResponse, 'rate_limited: CHAIN_WRITE_RATE_LIMIT_PER_MINUTE for this agent'),
    },
  })
  registry.registerPath({
    method: 'get',
    path: '/v1/withdrawals',
    summary: "The caller's withdrawals (fast and slow path), newest first",
    security,
    request: { query: listWithdrawalsQuery },
    responses: {
      200: json(withdrawalsPage, 'Withdrawals'),
      400: json(errorResponse, 'Malformed query'),
      401: json(errorResponse, 'Not authenticated'),
    },
  })
  registry.registerPath({
    method: 'get',
    path: '/v1/withdrawals/{withdrawal_id}',
    summary: 'One withdrawal: awaiting_signature → pending → processing → success | failed (refunded)',
    security,
    request: { params: withdrawalIdParams },
    responses: {
      200: json(withdrawal, 'The withdrawal'),
      400: json(errorResponse, 'Malformed id'),
      401: json(errorResponse, 'Not authenticated'),
      404: json(errorResponse, 'No such withdrawal of the caller'),
    },
  })
  registry.registerPath({
    method: 'post',
    path: '/v1/withdrawals/{withdrawal_id}/signature',
    summary: "A self-custody wallet's EIP-712 signature over the withdrawal's typed_data",
    security,
    request: {
      params: withdrawalIdParams,
      headers,
      body: { content: { 'application/json': { schema: withdrawalSignatureBody } } },
    },
    responses: {
      200: json(withdrawal, 'Debited and queued (pending)'),
      400: json(errorResponse, 'Malformed, or signature_mismatch: not the wallet’s signature'),
      401: json(errorResponse, 'Not authenticated'),
      404: json(errorResponse, 'No such withdrawal of the caller'),
      409: json(errorResponse, 'Not awaiting a signature, expired, or insufficient_balance'),
      429: json(errorResponse, 'rate_limited: CHAIN_WRITE_RATE_LIMIT_PER_MINUTE for this agent'),
    },
  })
}
