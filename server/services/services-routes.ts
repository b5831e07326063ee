import {
  agentIdParams,
  createServiceBody,
  listServicesQuery,
  matchServicesBody,
  matchServicesResponse,
  serviceIdParams,
  serviceResponse,
  updateServiceBody,
} from '../../protocol/services'
import { z } from '../../protocol/zod'
import { errors, json } from '../http/openapi-parts'
import { defineRoute, type Route } from '../http/route'
import {
  browseServices,
  changeService,
  createService,
  deleteService,
  getService,
  listAgentServices,
  listMyServices,
  matchServices,
} from './services-service'

const SERVICE_ERRORS = {
  400: 'Malformed input; the message names the field',
  401: 'Not authenticated',
  403: 'not_service_owner',
  404: 'No such service, or a disabled one of another agent',
}

/** The service registry (seed 004 "Service Registry"). `/v1/agents/me/…` is declared before `/v1/agents/{agent_id}/…`. */
export const servicesRoutes: readonly Route[] = [
  defineRoute({
    method: 'post',
    path: '/v1/agents/me/services',
    summary: 'Register a service the caller offers',
    auth: 'agent',
    body: createServiceBody,
    responses: {
      201: json(serviceResponse, 'Registered'),
      ...errors({ 400: SERVICE_ERRORS[400], 401: SERVICE_ERRORS[401] }),
    },
    handler: ({ context, agent, body }) => createService(context, agent, body),
  }),
  defineRoute({
    method: 'get',
    path: '/v1/agents/me/services',
    summary: "The caller's services, disabled ones included",
    auth: 'agent',
    responses: { 200: json(z.array(serviceResponse), 'Services'), ...errors({ 401: SERVICE_ERRORS[401] }) },
    handler: ({ context, agent }) => listMyServices(context, agent),
  }),
  defineRoute({
    method: 'get',
    path: '/v1/agents/{agent_id}/services',
    summary: "An agent's enabled services (its disabled ones too, for itself)",
    auth: 'optional',
    params: agentIdParams,
    responses: {
      200: json(z.array(serviceResponse), 'Services'),
      ...errors({ 400: SERVICE_ERRORS[400], 404: 'No such agent' }),
    },
    handler: ({ context, agent, params }) => listAgentServices(context, agent?.id ?? null, params.agent_id),
  }),
  defineRoute({
    method: 'get',
    path: '/v1/services',
    summary: 'Browse enabled services: category, pricing_model, min_price, max_price, agent_id, search, tags',
    auth: 'optional',
    query: listServicesQuery,
    responses: { 200: json(z.array(serviceResponse), 'Services'), ...errors({ 400: SERVICE_ERRORS[400] }) },
    handler: ({ context, agent, query }) => browseServices(context, agent?.id ?? null, query),
  }),
  defineRoute({
    method: 'post',
    path: '/v1/match',
    summary: 'Enabled services ranked for a request: full-text query, category, tags, budget_max',
    description:
      'At least one of query, category and tags. Each match scores 0-1 on text relevance, tag overlap, ' +
      "its agent's reputation, response time and price (within budget_max), weighted over the criteria given.",
    auth: 'agent',
    body: matchServicesBody,
    responses: {
      200: json(matchServicesResponse, 'The best matches first'),
      ...errors({ 400: SERVICE_ERRORS[400], 401: SERVICE_ERRORS[401] }),
    },
    handler: ({ context, body }) => matchServices(context, body),
  }),
  defineRoute({
    method: 'get',
    path: '/v1/services/{service_id}',
    summary: 'One service (a disabled one only for its owner)',
    auth: 'optional',
    params: serviceIdParams,
    responses: {
      200: json(serviceResponse, 'The service'),
      ...errors({ 400: SERVICE_ERRORS[400], 404: SERVICE_ERRORS[404] }),
    },
    handler: ({ context, agent, params }) => getService(context, agent?.id ?? null, params.service_id),
  }),
  defineRoute({
    method: 'patch',
    path: '/v1/services/{service_id}',
    summary: 'Change a service (owner only): any field; null clears a nullable one',
    auth: 'agent',
    params: serviceIdParams,
    body: updateServiceBody,
    responses: { 200: json(serviceResponse, 'Changed'), ...errors(SERVICE_ERRORS) },
    handler: ({ context, agent, params, body }) => changeService(context, agent, params.service_id, body),
  }),
  defineRoute({
    method: 'delete',
    path: '/v1/services/{service_id}',
    summary: 'Delete a service (owner only)',
    auth: 'agent',
    params: serviceIdParams,
    responses: {
      204: { description: 'Deleted' },
      ...errors({ ...SERVICE_ERRORS, 409: 'service_has_channels: disable it instead' }),
    },
    handler: ({ context, agent, params }) => deleteService(context, agent, params.service_id),
  }),
]
