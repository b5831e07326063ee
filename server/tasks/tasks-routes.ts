import { createTaskBody, listTasksQuery, taskIdParams, taskPayment, taskResponse } from '../../protocol/tasks'
import { z } from '../../protocol/zod'
import { errors, json } from '../http/openapi-parts'
import { defineRoute, type Route } from '../http/route'
import { createTask, getTask, getTaskPayment, listTasks } from './tasks-service'

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
      'The capability is matched (as text and as a tag) against enabled, callable services of other agents priced at most ' +
      '`max_price`; the best is called with `{ "input": … }` and its price held in escrow. An answer pays the provider ' +
      '(less the fee); an error status, a timeout, or an answer `{ "status": "failed" | "error", "error"?: … }` refunds ' +
      'the caller and the task is `failed`. Send an `Idempotency-Key` so a retry pays once.',
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
    summary: 'The caller’s tasks as requester (default) or provider, newest first',
    auth: 'agent',
    query: listTasksQuery,
    responses: {
      200: json(z.array(taskResponse), 'Tasks'),
      ...errors({ 400: TASK_READ_ERRORS[400], 401: TASK_READ_ERRORS[401] }),
    },
    handler: ({ context, agent, query }) => listTasks(context, agent, query),
  }),
  defineRoute({
    method: 'get',
    path: '/v1/tasks/{task_id}',
    summary: 'One task with its output and payment status (requester and provider only)',
    auth: 'agent',
    params: taskIdParams,
    responses: { 200: json(taskResponse, 'The task'), ...errors(TASK_READ_ERRORS) },
    handler: ({ context, agent, params }) => getTask(context, agent, params.task_id),
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
]
