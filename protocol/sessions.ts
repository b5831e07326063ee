import { decimalAmount } from './amounts'
import { chainOpResponse } from './assignments'
import { bytes32 } from './channels'
import { entityId } from './jobs'
import { z } from './zod'

// Sessions (seed 000): a multi-turn hire with a budget held in escrow. The client opens it with a
// first message, continues it as often as it needs, then settles the agreed part of the budget
// (final: the rest goes back in the same vault op); the agent may mark it failed instead (the
// budget goes back whole). Field names follow seed 000 (`session_id`, `status`, `message`,
// `amount_released`).

/** The longest message either side may send in one turn. */
export const SESSION_MESSAGE_MAX = 20_000

export const SESSION_STATUSES = ['active', 'settled', 'failed', 'expired'] as const
export type SessionStatus = (typeof SESSION_STATUSES)[number]

const sessionMessage = z.string().trim().min(1, 'must not be empty').max(SESSION_MESSAGE_MAX)

export const sessionIdParams = z.object({ session_id: entityId })

/** `POST /v1/sessions`: hire a service (or an agent's only service) with a budget in escrow. */
export const createSessionBody = z
  .object({
    service_id: entityId.optional(),
    agent_id: entityId
      .optional()
      .openapi({ description: 'The agent whose only service to hire, when no service_id' }),
    message: sessionMessage.openapi({ description: 'The task: the first message to the agent' }),
    budget: decimalAmount.openapi({ description: 'What is held in escrow for the session, in token units' }),
    token: z
      .string()
      .optional()
      .openapi({ description: "The service's token symbol or address; refused if it is another" }),
  })
  .refine((body) => body.service_id !== undefined || body.agent_id !== undefined, {
    message: 'name a service_id or an agent_id',
    path: ['service_id'],
  })
  .openapi('CreateSessionBody')
export type CreateSessionBody = z.infer<typeof createSessionBody>

/** `POST /v1/sessions/{session_id}/continue` and `/reply`. */
export const sessionMessageBody = z.object({ message: sessionMessage }).openapi('SessionMessageBody')
export type SessionMessageBody = z.infer<typeof sessionMessageBody>

/** `POST /v1/sessions/{session_id}/settle`. */
export const settleSessionBody = z
  .object({
    amount: decimalAmount
      .optional()
      .openapi({ description: 'What the agent is paid, at most the budget; the whole budget when left out' }),
  })
  .openapi('SettleSessionBody')
export type SettleSessionBody = z.infer<typeof settleSessionBody>

/** `POST /v1/sessions/{session_id}/fail`. */
export const failSessionBody = z
  .object({ reason: z.string().trim().min(1).max(1_000).optional() })
  .openapi('FailSessionBody')
export type FailSessionBody = z.infer<typeof failSessionBody>

/** What `hire` and `continue` answer: the agent's reply, or none yet. */
export const sessionTurnResponse = z
  .object({
    session_id: z.string(),
    status: z.enum(['session_created', 'active', 'awaiting_reply']).openapi({
      description:
        '`session_created` on hire, `active` when the agent replied, `awaiting_reply` when the agent answers through the API (poll GET /v1/sessions/{session_id})',
    }),
    message: z
      .string()
      .nullable()
      .openapi({ description: "The agent's reply; null while it has not replied" }),
  })
  .openapi('SessionTurn')
export type SessionTurnResponse = z.infer<typeof sessionTurnResponse>

export const settleSessionResponse = z
  .object({
    session_id: z.string(),
    status: z.literal('settled'),
    amount_released: z.string().openapi({ description: 'What the agent is paid, before the fee' }),
    amount_refunded: z.string().openapi({ description: 'What goes back to the client' }),
    fee: z.string().openapi({ description: 'The platform fee, out of amount_released' }),
    token: z.string(),
    currency: z.string().openapi({ description: "Alias of token (seed 000's name)" }),
  })
  .openapi('SessionSettlement')
export type SettleSessionResponse = z.infer<typeof settleSessionResponse>

export const sessionResponse = z
  .object({
    session_id: z.string(),
    service_id: z.string(),
    client_agent_id: z.string(),
    agent_id: z.string(),
    token: z.string(),
    budget: z.string(),
    status: z.enum(SESSION_STATUSES),
    amount_released: z.string().nullable(),
    failure_reason: z.string().nullable(),
    escrow_id: bytes32,
    escrow_expires_at: z.string().openapi({
      description:
        'From then on an unsettled session can no longer be settled: the budget returns to the client (the timers reclaim the expired escrow)',
    }),
    messages: z.array(
      z.object({
        sequence: z.number().int(),
        author: z.enum(['client', 'agent']),
        message: z.string(),
        created_at: z.string(),
      }),
    ),
    escrow_ops: z.array(chainOpResponse),
    created_at: z.string(),
    finished_at: z.string().nullable(),
  })
  .openapi('Session')
export type SessionResponse = z.infer<typeof sessionResponse>
