import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi'
import { Router } from 'express'
import { errorResponse } from '../../protocol/errors'
import {
  createWithdrawalAddressBody,
  updateWithdrawalAddressBody,
  withdrawalAddress,
  withdrawalAddressIdParams,
  withdrawalAddressList,
} from '../../protocol/wallet'
import type { AppContext } from '../app-context'
import { currentAgent, requireAgent } from '../http/auth'
import { parseInput } from '../http/validate'
import {
  createWithdrawalAddress,
  editWithdrawalAddress,
  getWithdrawalAddress,
  listWithdrawalAddresses,
  makeDefaultWithdrawalAddress,
  removeWithdrawalAddress,
} from './withdrawal-addresses-service'
import { json, AGENT_AUTH } from '../http/openapi-parts'

/** Saved payout addresses (seed 002): CRUD and the default. Each agent sees only its own. */
export function withdrawalAddressesRoutes(context: AppContext): Router {
  const router = Router()
  const auth = requireAgent(context)

  router.get('/withdrawal-addresses', auth, async (_req, res) => {
    res.json(await listWithdrawalAddresses(context, currentAgent(res)))
  })

  router.post('/withdrawal-addresses', auth, async (req, res) => {
    const body = parseInput(createWithdrawalAddressBody, req.body, 'body')
    res.status(201).json(await createWithdrawalAddress(context, currentAgent(res), body))
  })

  router.get('/withdrawal-addresses/:address_id', auth, async (req, res) => {
    const { address_id } = parseInput(withdrawalAddressIdParams, req.params, 'params')
    res.json(await getWithdrawalAddress(context, currentAgent(res), address_id))
  })

  router.patch('/withdrawal-addresses/:address_id', auth, async (req, res) => {
    const { address_id } = parseInput(withdrawalAddressIdParams, req.params, 'params')
    const body = parseInput(updateWithdrawalAddressBody, req.body, 'body')
    res.json(await editWithdrawalAddress(context, currentAgent(res), address_id, body))
  })

  router.delete('/withdrawal-addresses/:address_id', auth, async (req, res) => {
    const { address_id } = parseInput(withdrawalAddressIdParams, req.params, 'params')
    await removeWithdrawalAddress(context, currentAgent(res), address_id)
    res.status(204).end()
  })

  router.post('/withdrawal-addresses/:address_id/default', auth, async (req, res) => {
    const { address_id } = parseInput(withdrawalAddressIdParams, req.params, 'params')
    res.json(await makeDefaultWithdrawalAddress(context, currentAgent(res), address_id))
  })

  return router
}

/** Registers the withdrawal-address routes in the OpenAPI document. */
export function registerWithdrawalAddressesOpenApi(registry: OpenAPIRegistry): void {
  const security = AGENT_AUTH
  const notFound = json(errorResponse, 'No such address of the caller')
  registry.registerPath({
    method: 'get',
    path: '/v1/withdrawal-addresses',
    summary: "The caller's saved withdrawal addresses, the default first",
    security,
    responses: {
      200: json(withdrawalAddressList, 'Addresses'),
      401: json(errorResponse, 'Not authenticated'),
    },
  })
  registry.registerPath({
    method: 'post',
    path: '/v1/withdrawal-addresses',
    summary: 'Save a withdrawal address (the first becomes the default)',
    security,
    request: { body: { content: { 'application/json': { schema: createWithdrawalAddressBody } } } },
    responses: {
      201: json(withdrawalAddress, 'Saved'),
      400: json(errorResponse, 'Malformed (bad checksum, zero address…)'),
      401: json(errorResponse, 'Not authenticated'),
      409: json(errorResponse, 'address_exists or too_many_addresses'),
    },
  })
  registry.registerPath({
    method: 'get',
    path: '/v1/withdrawal-addresses/{address_id}',
    summary: 'One saved address',
    security,
    request: { params: withdrawalAddressIdParams },
    responses: {
      200: json(withdrawalAddress, 'The address'),
      400: json(errorResponse, 'Malformed id'),
      401: json(errorResponse, 'Not authenticated'),
      404: notFound,
    },
  })
  registry.registerPath({
    method: 'patch',
    path: '/v1/withdrawal-addresses/{address_id}',
    summary: 'Change the label or the address',
    security,
    request: {
      params: withdrawalAddressIdParams,
      body: { content: { 'application/json': { schema: updateWithdrawalAddressBody } } },
    },
    responses: {
      200: json(withdrawalAddress, 'Updated'),
      400: json(errorResponse, 'Malformed'),
      401: json(errorResponse, 'Not authenticated'),
      404: notFound,
      409: json(errorResponse, 'address_exists'),
    },
  })
  registry.registerPath({
    method: 'delete',
    path: '/v1/withdrawal-addresses/{address_id}',
    summary: 'Delete a saved address',
    security,
    request: { params: withdrawalAddressIdParams },
    responses: {
      204: { description: 'Deleted' },
      400: json(errorResponse, 'Malformed id'),
      401: json(errorResponse, 'Not authenticated'),
      404: notFound,
    },
  })
  registry.registerPath({
    method: 'post',
    path: '/v1/withdrawal-addresses/{address_id}/default',
    summary: 'Make the address the default for withdrawals',
    security,
    request: { params: withdrawalAddressIdParams },
    responses: {
      200: json(withdrawalAddress, 'Now the default'),
      400: json(errorResponse, 'Malformed id'),
      401: json(errorResponse, 'Not authenticated'),
      404: notFound,
    },
  })
}
