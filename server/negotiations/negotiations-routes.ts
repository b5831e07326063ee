import {
  answerNegotiationBody,
  counterNegotiationBody,
  createNegotiationBody,
  listNegotiationsQuery,
  negotiationIdParams,
  negotiationResponse,
} from '../../protocol/negotiations'
import { z } from '../../protocol/zod'
import { errors, json } from '../http/openapi-parts'
import { defineRoute, type Route } from '../http/route'
import {
  acceptNegotiation,
  counterNegotiation,
  getNegotiation,
  listNegotiations,
  openNegotiation,
  rejectNegotiation,
} from './negotiations-service'

const malformed = 'Malformed input; the message names the field'
const ANSWER_ERRORS = {
  400: malformed,
  401: 'Not authenticated',
  404: 'No such negotiation, or not a party to it',
  409: 'negotiation_not_open, negotiation_expired, or not_your_turn (the standing offer is the caller’s)',
}

/** Price negotiations on services and jobs (seed 002 "Financial Negotiation"). */
export const negotiationsRoutes: readonly Route[] = [
  defineRoute({
    method: 'post',
    path: '/v1/negotiations',
    summary: 'Make an offer on a service (to its owner) or an open job (to its creator)',
    description:
      'The offer stands for `expires_in_seconds` (a day by default). A service priced `fixed` or `per_call` is not negotiable (409 `price_not_negotiable`); `auction`, `hybrid` and `custom` are. An offer on a job may not exceed its budget.',
    auth: 'agent',
    body: createNegotiationBody,
    responses: {
      201: json(negotiationResponse, 'Opened'),
      ...errors({
        400: `${malformed}; unknown_token`,
        401: 'Not authenticated',
        403: 'own_service, own_job or resolver_cannot_bid',
        404: 'No such service or job, or not visible',
        409: 'price_not_negotiable, negotiation_exists, job_not_open, job_expired or competition_job',
      }),
    },
    handler: ({ context, agent, body }) => openNegotiation(context, agent, body),
  }),
  defineRoute({
    method: 'get',
    path: '/v1/negotiations',
    summary: "The caller's negotiations: role buyer, seller or any; status",
    auth: 'agent',
    query: listNegotiationsQuery,
    responses: {
      200: json(z.array(negotiationResponse), 'Negotiations, newest first'),
      ...errors({ 400: malformed, 401: 'Not authenticated' }),
    },
    handler: ({ context, agent, query }) => listNegotiations(context, agent, query),
  }),
  defineRoute({
    method: 'get',
    path: '/v1/negotiations/{negotiation_id}',
    summary: 'A negotiation with its offers (its two parties only)',
    auth: 'agent',
    params: negotiationIdParams,
    responses: {
      200: json(negotiationResponse, 'The negotiation'),
      ...errors({ 400: malformed, 401: 'Not authenticated', 404: ANSWER_ERRORS[404] }),
    },
    handler: ({ context, agent, params }) => getNegotiation(context, agent, params.negotiation_id),
  }),
  defineRoute({
    method: 'post',
    path: '/v1/negotiations/{negotiation_id}/counter',
    summary: 'Counter the standing offer (the party whose turn it is)',
    auth: 'agent',
    params: negotiationIdParams,
    body: counterNegotiationBody,
    responses: { 200: json(negotiationResponse, 'Countered'), ...errors(ANSWER_ERRORS) },
    handler: ({ context, agent, params, body }) =>
      counterNegotiation(context, agent, params.negotiation_id, body),
  }),
  defineRoute({
    method: 'post',
    path: '/v1/negotiations/{negotiation_id}/accept',
    summary: 'Accept the standing offer: it becomes an award at that price, escrow locked from the buyer',
    description:
      "On a job: the seller's bid at the agreed amount, awarded. On a service: a job for the buyer at the agreed amount with the owner's bid, awarded. All in the accept's transaction; `award` names the job, bid and assignment.",
    auth: 'agent',
    isIdempotent: true,
    isBodyOptional: true,
    params: negotiationIdParams,
    body: answerNegotiationBody,
    responses: {
      200: json(negotiationResponse, 'Accepted and awarded'),
      ...errors({
        ...ANSWER_ERRORS,
        409: `${ANSWER_ERRORS[409]}; or what the award refuses: insufficient_balance, job_not_open, job_expired, no_open_slots, bid_above_budget, bidder_not_verified, no_resolver`,
      }),
    },
    handler: ({ context, agent, params, body }) =>
      acceptNegotiation(context, agent, params.negotiation_id, body),
  }),
  defineRoute({
    method: 'post',
    path: '/v1/negotiations/{negotiation_id}/reject',
    summary: 'Reject the standing offer, ending the negotiation (the party whose turn it is)',
    auth: 'agent',
    isBodyOptional: true,
    params: negotiationIdParams,
    body: answerNegotiationBody,
    responses: { 200: json(negotiationResponse, 'Rejected'), ...errors(ANSWER_ERRORS) },
    handler: ({ context, agent, params, body }) =>
      rejectNegotiation(context, agent, params.negotiation_id, body),
  }),
]
