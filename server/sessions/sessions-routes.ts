import {
  createSessionBody,
  failSessionBody,
  sessionIdParams,
  sessionMessageBody,
  sessionResponse,
  sessionTurnResponse,
  settleSessionBody,
  settleSessionResponse,
} from '../../protocol/sessions'
import { errors, json } from '../http/openapi-parts'
import { defineRoute, type Route } from '../http/route'
import {
  continueSession,
  createSession,
  failSession,
  getSession,
  replyToSession,
  settleSession,
} from './sessions-service'

const malformed = 'Malformed input; the message names the field'
const notFound = 'session_not_found (also for anyone but its client and its agent)'

/** Sessions (seed 000): a multi-turn hire with a budget in escrow, settled in part or in full. */
export const sessionsRoutes: readonly Route[] = [
  defineRoute({
    method: 'post',
    path: '/v1/sessions',
    summary:
      "Hire a service for a multi-turn session: its budget goes into escrow; answers the agent's first reply",
    description:
      "The caller's budget is locked in escrow from its managed wallet to the service's agent. The first message goes to the service's endpoint and its answer comes back as `message`; a service without an endpoint answers through POST /v1/sessions/{session_id}/reply (`message` is null until then). A session never settled returns its budget to the client at the escrow's expiry (`escrow_expires_at`, 7 days).",
    auth: 'agent',
    isIdempotent: true,
    body: createSessionBody,
    responses: {
      201: json(sessionTurnResponse, 'Session created'),
      ...errors({
        400: `${malformed}; self_invocation`,
        401: 'Not authenticated',
        404: 'service_not_found or agent_not_found',
        409: 'insufficient_balance, wallet_not_managed (the client needs a managed wallet) or service_ambiguous',
      }),
    },
    handler: ({ context, agent, body }) => createSession(context, agent, body),
  }),
  defineRoute({
    method: 'get',
    path: '/v1/sessions/{session_id}',
    summary: 'One session: its conversation, budget, status and escrow ops (client and agent only)',
    auth: 'agent',
    params: sessionIdParams,
    responses: {
      200: json(sessionResponse, 'The session'),
      ...errors({ 400: malformed, 401: 'Not authenticated', 404: notFound }),
    },
    handler: ({ context, agent, params }) => getSession(context, agent, params.session_id),
  }),
  defineRoute({
    method: 'post',
    path: '/v1/sessions/{session_id}/continue',
    summary: "The client's next message, relayed to the agent; answers its reply, or awaiting_reply",
    auth: 'agent',
    params: sessionIdParams,
    body: sessionMessageBody,
    responses: {
      200: json(sessionTurnResponse, "The agent's reply, or status awaiting_reply"),
      ...errors({
        400: malformed,
        401: 'Not authenticated',
        403: 'not_session_client',
        404: notFound,
        409: 'session_not_active (settled, failed or expired)',
      }),
    },
    handler: ({ context, agent, params, body }) =>
      continueSession(context, agent, params.session_id, body.message),
  }),
  defineRoute({
    method: 'post',
    path: '/v1/sessions/{session_id}/reply',
    summary: "The agent's reply, for services that answer through the API",
    auth: 'agent',
    params: sessionIdParams,
    body: sessionMessageBody,
    responses: {
      200: json(sessionTurnResponse, 'Stored'),
      ...errors({
        400: malformed,
        401: 'Not authenticated',
        403: 'not_session_agent',
        404: notFound,
        409: 'session_not_active',
      }),
    },
    handler: ({ context, agent, params, body }) =>
      replyToSession(context, agent, params.session_id, body.message),
  }),
  defineRoute({
    method: 'post',
    path: '/v1/sessions/{session_id}/settle',
    summary:
      'Settle the session (final): `amount` (default the whole budget) to the agent less the fee, the rest back',
    description:
      "Signs the client's EscrowPartialRelease and queues it for the vault, which pays the agent `amount` less the fee and returns the rest to the client in one op. Balances move once the batch lands. A second settle is 409 session_not_active.",
    auth: 'agent',
    isIdempotent: true,
    params: sessionIdParams,
    body: settleSessionBody,
    isBodyOptional: true,
    responses: {
      200: json(settleSessionResponse, 'Settled'),
      ...errors({
        400: `${malformed} (an amount above the budget names amount)`,
        401: 'Not authenticated',
        403: 'not_session_client',
        404: notFound,
        409: 'session_not_active (already settled, failed or expired)',
      }),
    },
    handler: ({ context, agent, params, body }) => settleSession(context, agent, params.session_id, body),
  }),
  defineRoute({
    method: 'post',
    path: '/v1/sessions/{session_id}/fail',
    summary: 'The agent gives up: its EscrowRefund returns the whole budget to the client',
    auth: 'agent',
    isIdempotent: true,
    params: sessionIdParams,
    body: failSessionBody,
    isBodyOptional: true,
    responses: {
      200: json(sessionResponse, 'Failed; the refund is queued'),
      ...errors({
        400: malformed,
        401: 'Not authenticated',
        403: 'not_session_agent',
        404: notFound,
        409: 'session_not_active',
      }),
    },
    handler: ({ context, agent, params, body }) =>
      failSession(context, agent, params.session_id, body.reason),
  }),
]
