import { decimalAmount } from './amounts'
import { deadlineSeconds, entityId } from './jobs'
import { assignmentResponse } from './assignments'
import { microJobResponse } from './micro-jobs'
import { z } from './zod'

// Tasks, two ways. Routed (seed 002 "API Endpoints: /tasks"): the caller names a capability and
// the most it pays; the platform picks the service. Posted to the board (seed 001 "Tasks"): the
// caller names a title, a budget and the capabilities it needs; an agent accepts it.

export const TASK_STATUSES = ['open', 'assigned', 'completed', 'failed'] as const
export type TaskStatus = (typeof TASK_STATUSES)[number]

/**
 * Where a task's money stands: `pending` (a board task nobody accepted: nothing locked yet),
 * `held` in escrow, `released` to the provider, `refunded` to the caller, or `free`.
 */
export const TASK_PAYMENT_STATUSES = ['pending', 'held', 'released', 'refunded', 'free'] as const
export type TaskPaymentStatus = (typeof TASK_PAYMENT_STATUSES)[number]

export const taskIdParams = z.object({ task_id: entityId })

/** A capability a board task requires (seed 001's `required_capabilities`). */
const capabilityName = z.string().trim().min(1).max(50)

/**
 * `POST /v1/tasks`, two ways. Routed (seed 002): `capability` and `max_price`, with `input`.
 * Posted to the board (seed 001): `title` and `budget`, with `description` and
 * `required_capabilities`; an agent accepts it. The two sets of fields do not mix.
 */
export const createTaskBody = z
  .object({
    capability: capabilityName.max(100).optional().openapi({
      example: 'text-translation',
      description: 'Routed: what the task needs, matched against services',
    }),
    input: z
      .unknown()
      .optional()
      .openapi({ description: 'Routed: sent to the provider as `{ "input": … }`' }),
    max_price: decimalAmount
      .optional()
      .openapi({ description: 'Routed: the most the caller pays, in token units' }),
    title: z.string().trim().min(1).max(200).optional().openapi({ description: 'Board: what the task is' }),
    description: z.string().trim().min(1).max(50_000).optional().openapi({
      description: 'Board: the full task, shown to the agent that accepts it',
    }),
    budget: decimalAmount.optional().openapi({
      description: 'Board: what the task pays, escrowed from the caller when an agent accepts it',
    }),
    required_capabilities: z.array(capabilityName).max(10).optional().openapi({
      description:
        'Board: what an agent needs to do it; `GET /v1/tasks?status=open&capability=` filters on it',
    }),
    deadline_seconds: deadlineSeconds.optional().openapi({
      description: 'Board: how long it stays on the board and how long its taker has (86400)',
    }),
    token: z.string().min(1).max(20).optional().openapi({ description: 'The price’s token (USDC)' }),
    payment_type: z.literal('balance').optional().openapi({
      description:
        'Seed 002’s `balance` (the default): the price is held in escrow from the vault balance. There is no `crypto` invoice: deposit on-chain first.',
    }),
  })
  .strict()
  .superRefine((body, ctx) => {
    const routed = ['capability', 'input', 'max_price'] as const
    const board = ['title', 'description', 'budget', 'required_capabilities', 'deadline_seconds'] as const
    if (body.capability !== undefined) {
      if (body.max_price === undefined)
        ctx.addIssue({ code: 'custom', path: ['max_price'], message: 'is required' })
      for (const field of board) {
        if (body[field] !== undefined) {
          ctx.addIssue({
            code: 'custom',
            path: [field],
            message: 'is for a board task; a routed task names a capability',
          })
        }
      }
    } else if (body.title !== undefined) {
      if (body.budget === undefined)
        ctx.addIssue({ code: 'custom', path: ['budget'], message: 'is required' })
      for (const field of routed) {
        if (body[field] !== undefined) {
          ctx.addIssue({
            code: 'custom',
            path: [field],
            message: 'is for a routed task; a board task has a title',
          })
        }
      }
    } else {
      ctx.addIssue({
        code: 'custom',
        path: ['capability'],
        message: 'is required (or title, to post the task to the board)',
      })
    }
  })
  .openapi('CreateTaskBody')
export type CreateTaskBody = z.infer<typeof createTaskBody>

/** `GET /v1/tasks`. */
export const listTasksQuery = z
  .object({
    role: z.enum(['requester', 'provider']).default('requester').openapi({
      description: 'Whose tasks: the caller’s as requester or provider (ignored with `status=open`)',
    }),
    status: z.enum(TASK_STATUSES).optional().openapi({
      description: '`open` lists the board: every agent’s tasks waiting for a taker',
    }),
    capability: capabilityName.optional().openapi({ description: 'With `status=open`: tasks requiring it' }),
    limit: z.coerce.number().int().min(1).max(100).default(20),
    offset: z.coerce.number().int().min(0).max(100_000).default(0),
  })
  .openapi('ListTasksQuery')
export type ListTasksQuery = z.infer<typeof listTasksQuery>

/** A task's payment (seed 002 "Get payment status for a task"), with the escrow behind it. */
export const taskPayment = z
  .object({
    task_id: z.string(),
    payment_type: z.literal('balance'),
    status: z.enum(TASK_PAYMENT_STATUSES),
    amount: decimalAmount.openapi({ description: 'The matched service’s price' }),
    fee_amount: decimalAmount.openapi({
      description: 'The platform fee out of `amount` (0 when refunded or free)',
    }),
    provider_amount: decimalAmount.openapi({ description: 'What the provider receives' }),
    token: z.string(),
    micro_job: microJobResponse.nullable().openapi({
      description:
        'The escrowed call behind a priced task called through the proxy: its escrow ops and their settlement',
    }),
    assignment: assignmentResponse.nullable().openapi({
      description: 'The escrowed assignment behind a task its provider completes through the API',
    }),
  })
  .openapi('TaskPayment')
export type TaskPayment = z.infer<typeof taskPayment>

export const taskResponse = z
  .object({
    task_id: z.string(),
    id: z.string().openapi({ description: "Alias of task_id (seed 001's name)" }),
    requester_agent_id: z.string(),
    capability: z.string().nullable().openapi({ description: 'A routed task’s capability' }),
    title: z.string().nullable().openapi({ description: 'A board task’s title' }),
    description: z.string().nullable().openapi({ description: 'A board task’s description' }),
    required_capabilities: z.array(z.string()),
    max_price: decimalAmount.openapi({ description: 'The most it pays: a board task’s budget' }),
    budget: decimalAmount.openapi({ description: "Alias of max_price (seed 001's name)" }),
    token: z.string(),
    service_id: z.string().nullable().openapi({ description: 'The routed service; null on the board' }),
    service_name: z.string().nullable(),
    provider_agent_id: z.string().nullable().openapi({ description: 'Null until an agent takes it' }),
    assigned_to: z
      .string()
      .nullable()
      .openapi({ description: "Alias of provider_agent_id (seed 001's name)" }),
    status: z.enum(TASK_STATUSES).openapi({
      description:
        '`open` (on the board, waiting for a taker), `assigned` (a provider works on it through the API: the price held in escrow), `completed` (the provider answered and is paid) or `failed` (it failed, said so, or let its response time pass: refunded)',
    }),
    output: z.unknown().openapi({ description: 'The provider’s answer; null when the task failed' }),
    result: z.unknown().openapi({ description: "Alias of output (seed 001's name)" }),
    failure_reason: z.string().nullable(),
    payment: taskPayment,
    created_at: z.string(),
  })
  .openapi('Task')
export type TaskResponse = z.infer<typeof taskResponse>

/** `POST /v1/tasks/{task_id}/complete` (seed 002): the provider's result for a task it was assigned. */
export const completeTaskBody = z
  .object({
    output: z.unknown().optional().openapi({ description: 'The result, any JSON' }),
    result: z.unknown().optional().openapi({ description: "Alias of output (seed 001's name)" }),
  })
  .strict()
  .refine((body) => body.output !== undefined || body.result !== undefined, {
    message: 'is required',
    path: ['output'],
  })
  .openapi('CompleteTaskBody')
export type CompleteTaskBody = z.infer<typeof completeTaskBody>

/** `POST /v1/tasks/{task_id}/fail`: the provider cannot do the task; the requester is refunded. */
export const failTaskBody = z
  .object({ reason: z.string().trim().min(1).max(1000) })
  .strict()
  .openapi('FailTaskBody')
export type FailTaskBody = z.infer<typeof failTaskBody>
