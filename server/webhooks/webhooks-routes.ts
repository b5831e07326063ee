import {
  listWebhookDeliveriesQuery,
  setWebhookBody,
  webhookDeliveriesPage,
  webhookDelivery,
  webhookDeliveryIdParams,
  webhookResponse,
} from '../../protocol/webhooks'
import { errors, json } from '../http/openapi-parts'
import { defineRoute, type Route } from '../http/route'
import {
  getWebhook,
  getWebhookDelivery,
  listWebhookDeliveries,
  redeliverWebhookDelivery,
  removeWebhook,
  setWebhook,
} from './webhooks-service'

const WEBHOOK_DESCRIPTION =
  'Events are POSTed as JSON with `X-Clearhouse-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, ' +
  "`X-Clearhouse-Event` and `X-Clearhouse-Delivery`, and seed 001's `X-AgentMarket-Signature: sha256=<hex HMAC-SHA256 of the body>`; " +
  'a non-2xx answer is retried with exponential backoff.'

/** The caller's signed webhook and its delivery log (seed 001 "Webhooks"). */
export const webhooksRoutes: readonly Route[] = [
  defineRoute({
    method: 'put',
    path: '/v1/agents/me/webhook',
    summary: 'Set or change the webhook URL; the signing secret is shown only when it is made',
    description: WEBHOOK_DESCRIPTION,
    auth: 'agent',
    body: setWebhookBody,
    cacheControl: 'no-store',
    responses: {
      200: json(webhookResponse, 'The webhook, with `secret` when it was created or rotated'),
      ...errors({ 400: 'Malformed, or not an https URL of a public host', 401: 'Not authenticated' }),
    },
    handler: ({ context, agent, body }) => setWebhook(context, agent, body),
  }),
  defineRoute({
    method: 'get',
    path: '/v1/agents/me/webhook',
    summary: 'The webhook URL, masked',
    auth: 'agent',
    responses: {
      200: json(webhookResponse, 'The webhook (never its secret)'),
      ...errors({ 401: 'Not authenticated', 404: 'webhook_not_found' }),
    },
    handler: ({ context, agent }) => getWebhook(context, agent),
  }),
  defineRoute({
    method: 'delete',
    path: '/v1/agents/me/webhook',
    summary: 'Remove the webhook: nothing more is sent',
    auth: 'agent',
    responses: {
      204: { description: 'Removed' },
      ...errors({ 401: 'Not authenticated', 404: 'webhook_not_found' }),
    },
    handler: ({ context, agent }) => removeWebhook(context, agent),
  }),
  defineRoute({
    method: 'get',
    path: '/v1/agents/me/webhook/deliveries',
    summary: "The webhook's delivery log, newest first: each event sent, its attempts and outcome",
    auth: 'agent',
    query: listWebhookDeliveriesQuery,
    responses: {
      200: json(webhookDeliveriesPage, 'Deliveries'),
      ...errors({ 400: 'Malformed query or cursor', 401: 'Not authenticated' }),
    },
    handler: ({ context, agent, query }) => listWebhookDeliveries(context, agent, query),
  }),
  defineRoute({
    method: 'get',
    path: '/v1/agents/me/webhook/deliveries/{delivery_id}',
    summary: 'One delivery of the webhook',
    auth: 'agent',
    params: webhookDeliveryIdParams,
    responses: {
      200: json(webhookDelivery, 'The delivery'),
      ...errors({ 400: 'Malformed id', 401: 'Not authenticated', 404: 'webhook_delivery_not_found' }),
    },
    handler: ({ context, agent, params }) => getWebhookDelivery(context, agent, params.delivery_id),
  }),
  defineRoute({
    method: 'post',
    path: '/v1/agents/me/webhook/deliveries/{delivery_id}/redeliver',
    summary: 'Send a delivery’s event again, now, as a new delivery with the same event_id',
    auth: 'agent',
    params: webhookDeliveryIdParams,
    responses: {
      201: json(webhookDelivery, 'The new delivery, pending'),
      ...errors({
        400: 'Malformed id',
        401: 'Not authenticated',
        404: 'webhook_delivery_not_found, or webhook_not_found when no webhook is set',
      }),
    },
    handler: ({ context, agent, params }) => redeliverWebhookDelivery(context, agent, params.delivery_id),
  }),
]
