import { decimalAmount } from './amounts'
import { entityId } from './jobs'
import { assignmentResponse } from './assignments'
import { microJobResponse } from './micro-jobs'
import { z } from './zod'

// Capability-routed tasks (seed 002 "API Endpoints: /tasks", seed 001 "required capabilities"):
// the caller names what it needs and the most it pays; the platform picks the service.

export const TASK_STATUSES = ['assigned', 'completed', 'failed'] as const
export type TaskStatus = (typeof TASK_STATUSES)[number]

/** Where a task's money stands: `released` to the provider, `refunded` to the caller, `held` during the call, or `free`. */
export const TASK_PAYMENT_STATUSES = ['held', 'released', 'refunded', 'free'] as const
export type TaskPaymentStatus = (typeof TASK_PAYMENT_STATUSES)[number]

export const taskIdParams = z.object({ task_id: entityId })

/** `POST /v1/tasks`. */
export const createTaskBody = z
  .object({
    capability: z
      .string()
      .trim()
      .min(1)
      .max(100)
      .openapi({ example: 'text-translation', description: 'What the task needs, matched against services' }),
    input: z.unknown().optional().openapi({ description: 'Sent to the provider as `{ "input": … }`' }),
    max_price: decimalAmount.openapi({ description: 'The most the caller pays, in token units' }),
    token: z.string().min(1).max(20).optional().openapi({ description: 'The price’s token (USDC)' }),
    payment_type: z.literal('balance').optional().openapi({
      description:
        'Seed 002’s `balance` (the default): the price is held in escrow from the vault balance. There is no `crypto` invoice: deposit on-chain first.',
    }),
  })
  .strict()
  .openapi('CreateTaskBody')
export type CreateTaskBody = z.infer<typeof createTaskBody>

/** `GET /v1/tasks`. */
export const listTasksQuery = z
  .object({
    role: z.enum(['requester', 'provider']).default('requester'),
    status: z.enum(TASK_STATUSES).optional(),
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
    capability: z.string(),
    max_price: decimalAmount,
    token: z.string(),
    service_id: z.string(),
    service_name: z.string(),
    provider_agent_id: z.string(),
    status: z.enum(TASK_STATUSES).openapi({
      description:
        '`assigned` (a provider without an endpoint is working on it: the price held in escrow), `completed` (the provider answered and is paid) or `failed` (it failed, said so, or let its response time pass: refunded)',
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
  .object({ output: z.unknown().openapi({ description: 'The result, any JSON' }) })
  .strict()
  .refine((body) => body.output !== undefined, { message: 'is required', path: ['output'] })
  .openapi('CompleteTaskBody')
export type CompleteTaskBody = z.infer<typeof completeTaskBody>

/** `POST /v1/tasks/{task_id}/fail`: the provider cannot do the task; the requester is refunded. */
export const failTaskBody = z
  .object({ reason: z.string().trim().min(1).max(1000) })
  .strict()
  .openapi('FailTaskBody')
export type FailTaskBody = z.infer<typeof failTaskBody>
