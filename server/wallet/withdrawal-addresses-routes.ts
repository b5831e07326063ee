import {
  createWithdrawalAddressBody,
  updateWithdrawalAddressBody,
  withdrawalAddress,
  withdrawalAddressIdParams,
  withdrawalAddressList,
} from '../../protocol/wallet'
import { errors, json } from '../http/openapi-parts'
import { defineRoute, type Route } from '../http/route'
import {
  createWithdrawalAddress,
  editWithdrawalAddress,
  getWithdrawalAddress,
  listWithdrawalAddresses,
  makeDefaultWithdrawalAddress,
  removeWithdrawalAddress,
} from './withdrawal-addresses-service'

const notFound = 'No such address of the caller'

/** Saved payout addresses (seed 002): CRUD and the default. Each agent sees only its own. */
export const withdrawalAddressesRoutes: readonly Route[] = [
  defineRoute({
    method: 'get',
    path: '/v1/withdrawal-addresses',
    summary: "The caller's saved withdrawal addresses, the default first",
    auth: 'agent',
    responses: { 200: json(withdrawalAddressList, 'Addresses'), ...errors({ 401: 'Not authenticated' }) },
    handler: ({ context, agent }) => listWithdrawalAddresses(context, agent),
  }),
  defineRoute({
    method: 'post',
    path: '/v1/withdrawal-addresses',
    summary: 'Save a withdrawal address (the first becomes the default)',
    auth: 'agent',
    body: createWithdrawalAddressBody,
    responses: {
      201: json(withdrawalAddress, 'Saved'),
      ...errors({
        400: 'Malformed (bad checksum, zero address…)',
        401: 'Not authenticated',
        409: 'address_exists or too_many_addresses',
      }),
    },
    handler: ({ context, agent, body }) => createWithdrawalAddress(context, agent, body),
  }),
  defineRoute({
    method: 'get',
    path: '/v1/withdrawal-addresses/{address_id}',
    summary: 'One saved address',
    auth: 'agent',
    params: withdrawalAddressIdParams,
    responses: {
      200: json(withdrawalAddress, 'The address'),
      ...errors({ 400: 'Malformed id', 401: 'Not authenticated', 404: notFound }),
    },
    handler: ({ context, agent, params }) => getWithdrawalAddress(context, agent, params.address_id),
  }),
  defineRoute({
    method: 'patch',
    path: '/v1/withdrawal-addresses/{address_id}',
    summary: 'Change the label or the address',
    auth: 'agent',
    params: withdrawalAddressIdParams,
    body: updateWithdrawalAddressBody,
    responses: {
      200: json(withdrawalAddress, 'Updated'),
      ...errors({ 400: 'Malformed', 401: 'Not authenticated', 404: notFound, 409: 'address_exists' }),
    },
    handler: ({ context, agent, params, body }) =>
      editWithdrawalAddress(context, agent, params.address_id, body),
  }),
  defineRoute({
    method: 'delete',
    path: '/v1/withdrawal-addresses/{address_id}',
    summary: 'Delete a saved address',
    auth: 'agent',
    params: withdrawalAddressIdParams,
    responses: {
      204: { description: 'Deleted' },
      ...errors({ 400: 'Malformed id', 401: 'Not authenticated', 404: notFound }),
    },
    handler: ({ context, agent, params }) => removeWithdrawalAddress(context, agent, params.address_id),
  }),
  defineRoute({
    method: 'post',
    path: '/v1/withdrawal-addresses/{address_id}/default',
    summary: 'Make the address the default for withdrawals',
    auth: 'agent',
    params: withdrawalAddressIdParams,
    responses: {
      200: json(withdrawalAddress, 'Now the default'),
      ...errors({ 400: 'Malformed id', 401: 'Not authenticated', 404: notFound }),
    },
    handler: ({ context, agent, params }) => makeDefaultWithdrawalAddress(context, agent, params.address_id),
  }),
]
