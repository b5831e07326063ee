import {
  deposit,
  depositAddressResponse,
  depositIdParams,
  depositsPage,
  listDepositsQuery,
} from '../../protocol/wallet'
import { errors, json } from '../http/openapi-parts'
import { defineRoute, type Route } from '../http/route'
import { getDeposit, getDepositAddress, listDeposits } from './deposits-service'

/** Where to deposit, and the caller's deposits as the indexer saw them. */
export const depositsRoutes: readonly Route[] = [
  defineRoute({
    method: 'get',
    path: '/v1/wallet/deposit_address',
    summary: 'The vault and token addresses, and how to deposit (approve+deposit, EIP-2612 permit, EIP-3009)',
    auth: 'agent',
    responses: {
      200: json(depositAddressResponse, 'Where and how to deposit'),
      ...errors({
        401: 'Not authenticated',
        409: 'chain_unavailable: the coordinator runs without a chain',
      }),
    },
    handler: ({ context, agent }) => getDepositAddress(context, agent),
  }),
  defineRoute({
    method: 'get',
    path: '/v1/wallet/deposits',
    summary: "The caller's on-chain deposits, newest first",
    auth: 'agent',
    query: listDepositsQuery,
    responses: {
      200: json(depositsPage, 'Deposits'),
      ...errors({ 400: 'Malformed query', 401: 'Not authenticated' }),
    },
    handler: ({ context, agent, query }) => listDeposits(context, agent, query),
  }),
  defineRoute({
    method: 'get',
    path: '/v1/wallet/deposits/{deposit_id}',
    summary: 'One deposit: pending_deposit → processing → success | failed',
    auth: 'agent',
    params: depositIdParams,
    responses: {
      200: json(deposit, 'The deposit'),
      ...errors({
        400: 'Malformed id',
        401: 'Not authenticated',
        404: 'No such deposit of the caller',
      }),
    },
    handler: ({ context, agent, params }) => getDeposit(context, agent, params.deposit_id),
  }),
]
