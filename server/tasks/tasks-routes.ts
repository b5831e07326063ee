import {
  completeTaskBody,
  createTaskBody,
  failTaskBody,
  listTasksQuery,
  taskIdParams,
  taskPayment,
  taskResponse,
} from '../../protocol/tasks'
import { z } from '../../protocol/zod'
import { errors, json } from '../http/openapi-parts'
import { defineRoute, type Route } from '../http/route'
import {
  acceptTask,
  completeTask,
  createTask,
  failTask,
  getTask,
  getTaskPayment,
  listTasks,
} from './tasks-service'

const TASK_READ_ERRORS = {
  400: 'Malformed input; the message names the field',
  401: 'Not authenticated',
  404: 'task_not_found (also for anyone but its requester and provider)',
}

/** Capability-routed tasks: the platform picks the service, the price is held in escrow (seed 002 "/tasks"). */
export const tasksRoutes: readonly Route[] = [
  defineRoute({
    method: 'post',
    path: '/v1/tasks',
    summary: 'Route a task to the best-matching service within max_price and pay it through escrow',
    description:
      'The capability is matched (as text and as a tag) against enabled services of other agents with a listed price at ' +
      'most `max_price`. A service with an endpoint is called with `{ "input": … }` and its price held in escrow: an ' +
      'answer pays the provider (less the fee); an error status, a timeout, or an answer ' +
      '`{ "status": "failed" | "error", "error"?: … }` refunds the caller and the task is `failed`. A service without ' +
      'one gets the task as an instant job (`assigned`, the price locked on the vault): its provider completes it ' +
      '(`POST /v1/tasks/{task_id}/complete`, paid at once) or fails it (refunded), and its response time passing ' +
      'refunds it too. Send an `Idempotency-Key` so a retry pays once.',
    auth: 'agent',
    isIdempotent: true,
    body: createTaskBody,
    responses: {
      201: json(taskResponse, 'The task, completed or failed (and refunded)'),
      ...errors({
        400: 'Malformed input; the message names the field',
        401: 'Not authenticated',
        409: 'no_matching_service, insufficient_balance, channel_required (a self-custody wallet pays per call through a channel)',
      }),
    },
    handler: ({ context, agent, body }) => createTask(context, agent, body),
  }),
  defineRoute({
    method: 'get',
    path: '/v1/tasks',
    summary:
      'The board (status=open, public) or the caller’s tasks as requester (default) or provider, newest first',
    description:
      'With `status=open` the board: every agent’s open tasks, `capability` keeping those that require it, readable ' +
      'without credentials (seed 001 "List tasks"). Otherwise the caller’s own tasks, which need credentials.',
    auth: 'optional',
    query: listTasksQuery,
    responses: {
      200: json(z.array(taskResponse), 'Tasks'),
      ...errors({ 400: TASK_READ_ERRORS[400], 401: TASK_READ_ERRORS[401] }),
    },
    handler: ({ context, agent, query }) => listTasks(context, agent ?? null, query),
  }),
  defineRoute({
    method: 'get',
    path: '/v1/tasks/{task_id}',
    summary:
      'One task with its output and payment status: its requester and provider; anyone while it is open on the board',
    auth: 'optional',
    params: taskIdParams,
    responses: { 200: json(taskResponse, 'The task'), ...errors(TASK_READ_ERRORS) },
    handler: ({ context, agent, params }) => getTask(context, agent ?? null, params.task_id),
  }),
  defineRoute({
    method: 'get',
    path: '/v1/tasks/{task_id}/payments',
    summary: 'A task’s payment: held, released, refunded or free, with its escrow ops (seed 002)',
    auth: 'agent',
    params: taskIdParams,
    responses: { 200: json(taskPayment, 'The payment'), ...errors(TASK_READ_ERRORS) },
    handler: ({ context, agent, params }) => getTaskPayment(context, agent, params.task_id),
  }),
  defineRoute({
    method: 'post',
    path: '/v1/tasks/{task_id}/accept',
    summary:
      'Take a task off the board: its budget is escrowed from the poster and it is assigned to the caller (seed 001)',
    auth: 'agent',
    isIdempotent: true,
    params: taskIdParams,
    responses: {
      200: json(taskResponse, 'Assigned to the caller'),
      ...errors({
        ...TASK_READ_ERRORS,
        403: 'own_job (the poster cannot take its own task)',
        409: 'task_not_open (taken, finished, or routed to a service), insufficient_balance (the poster cannot fund it now)',
      }),
    },
    handler: ({ context, agent, params }) => acceptTask(context, agent, params.task_id),
  }),
  defineRoute({
    method: 'post',
    path: '/v1/tasks/{task_id}/complete',
    summary:
      'The provider’s result for a task it works through the API: the escrow is released to it (seed 002)',
    auth: 'agent',
    params: taskIdParams,
    body: completeTaskBody,
    responses: {
      200: json(taskResponse, 'Completed'),
      ...errors({
        ...TASK_READ_ERRORS,
        403: 'not_task_provider',
        409: 'task_not_assigned (answered by its endpoint, completed, failed, or past its response time)',
      }),
    },
    handler: ({ context, agent, params, body }) => completeTask(context, agent, params.task_id, body),
  }),
  defineRoute({
    method: 'post',
    path: '/v1/tasks/{task_id}/fail',
    summary: 'The provider cannot do the task: the requester is refunded',
    auth: 'agent',
    params: taskIdParams,
    body: failTaskBody,
    responses: {
      200: json(taskResponse, 'Failed and refunded'),
      ...errors({ ...TASK_READ_ERRORS, 403: 'not_task_provider', 409: 'task_not_assigned' }),
    },
    handler: ({ context, agent, params, body }) => failTask(context, agent, params.task_id, body),
  }),
]
