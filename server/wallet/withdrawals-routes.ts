import {
  listWithdrawalsQuery,
  withdrawBody,
  withdrawal,
  withdrawalIdParams,
  withdrawalSignatureBody,
  withdrawalsPage,
} from '../../protocol/wallet'
import { errors, json } from '../http/openapi-parts'
import { chainWriteRateLimit } from '../http/rate-limit'
import { defineRoute, type Route } from '../http/route'
import {
  getWithdrawal,
  listWithdrawals,
  requestWithdrawal,
  submitWithdrawalSignature,
} from './withdrawals-service'

/** Fast withdrawals through the settler, and every withdrawal of the caller (both paths). */
export const withdrawalsRoutes: readonly Route[] = [
  defineRoute({
    method: 'post',
    path: '/v1/wallet/withdraw',
    summary:
      'Fast withdrawal: debits available and queues the signed Withdrawal for the settler (self-custody wallets get typed_data to sign)',
    auth: 'agent',
    rateLimit: chainWriteRateLimit,
    isIdempotent: true,
    body: withdrawBody,
    responses: {
      201: json(withdrawal, 'pending (managed wallet) or awaiting_signature (self-custody wallet)'),
      ...errors({
        400: 'Malformed',
        401: 'Not authenticated',
        404: 'address_id is not a saved address of the caller',
        409: 'insufficient_balance, chain_unavailable, or Idempotency-Key conflict',
        429: 'rate_limited: CHAIN_WRITE_RATE_LIMIT_PER_MINUTE for this agent',
      }),
    },
    handler: ({ context, agent, body }) => requestWithdrawal(context, agent, body),
  }),
  defineRoute({
    method: 'get',
    path: '/v1/withdrawals',
    summary: "The caller's withdrawals (fast and slow path), newest first",
    auth: 'agent',
    query: listWithdrawalsQuery,
    responses: {
      200: json(withdrawalsPage, 'Withdrawals'),
      ...errors({ 400: 'Malformed query', 401: 'Not authenticated' }),
    },
    handler: ({ context, agent, query }) => listWithdrawals(context, agent, query),
  }),
  defineRoute({
    method: 'get',
    path: '/v1/withdrawals/{withdrawal_id}',
    summary: 'One withdrawal: awaiting_signature → pending → processing → success | failed (refunded)',
    auth: 'agent',
    params: withdrawalIdParams,
    responses: {
      200: json(withdrawal, 'The withdrawal'),
      ...errors({
        400: 'Malformed id',
        401: 'Not authenticated',
        404: 'No such withdrawal of the caller',
      }),
    },
    handler: ({ context, agent, params }) => getWithdrawal(context, agent, params.withdrawal_id),
  }),
  defineRoute({
    method: 'post',
    path: '/v1/withdrawals/{withdrawal_id}/signature',
    summary: "A self-custody wallet's EIP-712 signature over the withdrawal's typed_data",
    auth: 'agent',
    rateLimit: chainWriteRateLimit,
    isIdempotent: true,
    params: withdrawalIdParams,
    body: withdrawalSignatureBody,
    responses: {
      200: json(withdrawal, 'Debited and queued (pending)'),
      ...errors({
        400: 'Malformed, or signature_mismatch: not the wallet’s signature',
        401: 'Not authenticated',
        404: 'No such withdrawal of the caller',
        409: 'Not awaiting a signature, expired, or insufficient_balance',
        429: 'rate_limited: CHAIN_WRITE_RATE_LIMIT_PER_MINUTE for this agent',
      }),
    },
    handler: ({ context, agent, params, body }) =>
      submitWithdrawalSignature(context, agent, params.withdrawal_id, body.signature),
  }),
]
