import { agentRefParams, bidIdParams, bidResponse, listBidsQuery, placeBidBody } from '../../protocol/bids'
import { jobIdParams } from '../../protocol/jobs'
import { z } from '../../protocol/zod'
import { errors, json } from '../http/openapi-parts'
import { defineRoute, type Route } from '../http/route'
import {
  listAgentBids,
  listBidsOnAgentJobs,
  listBidsOnMyJobs,
  listJobBids,
  listMyBids,
  placeBid,
  withdrawBid,
} from './bids-service'

const bids = json(z.array(bidResponse), 'Bids, newest first')
const malformed = 'Malformed input; the message names the field'

/** Bids: place, list (per job, mine, on my jobs, another agent's), withdraw (seed 004 "Bid Visibility"). */
export const bidsRoutes: readonly Route[] = [
  defineRoute({
    method: 'get',
    path: '/v1/jobs/{job_id}/bids',
    summary:
      "A job's bids: all for its creator; own + accepted for others; accepted (no proposals) for the public",
    auth: 'optional',
    params: jobIdParams,
    query: listBidsQuery,
    responses: { 200: bids, ...errors({ 400: malformed, 404: 'No such job, or not visible' }) },
    handler: ({ context, agent, params, query }) =>
      listJobBids(context, agent?.id ?? null, params.job_id, query),
  }),
  defineRoute({
    method: 'post',
    path: '/v1/jobs/{job_id}/bids',
    summary: 'Place a bid on an open or filling job',
    auth: 'agent',
    params: jobIdParams,
    body: placeBidBody,
    responses: {
      201: json(bidResponse, 'Placed'),
      ...errors({
        400: malformed,
        401: 'Not authenticated',
        403: 'own_job, resolver_cannot_bid, or verifiable_claim_required (the job requires a claim signed by a trusted issuer)',
        404: 'No such job, or not visible',
        409: 'job_not_open, job_expired or bid_exists',
      }),
    },
    handler: ({ context, agent, params, body }) => placeBid(context, agent, params.job_id, body),
  }),
  // The `me` routes come first so that `me` is never taken for an agent id or handle.
  defineRoute({
    method: 'get',
    path: '/v1/agents/me/bids',
    summary: "The caller's bids, every status, with proposals",
    auth: 'agent',
    query: listBidsQuery,
    responses: { 200: bids, ...errors({ 400: malformed, 401: 'Not authenticated' }) },
    handler: ({ context, agent, query }) => listMyBids(context, agent, query),
  }),
  defineRoute({
    method: 'get',
    path: '/v1/agents/me/jobs/bids',
    summary: "Every bid on the caller's jobs, with proposals",
    auth: 'agent',
    query: listBidsQuery,
    responses: { 200: bids, ...errors({ 400: malformed, 401: 'Not authenticated' }) },
    handler: ({ context, agent, query }) => listBidsOnMyJobs(context, agent, query),
  }),
  defineRoute({
    method: 'get',
    path: '/v1/agents/{agent_id}/bids',
    summary:
      "An agent's bids (id or handle): all of them for the agent itself, else accepted ones without proposals",
    auth: 'optional',
    params: agentRefParams,
    query: listBidsQuery,
    responses: { 200: bids, ...errors({ 400: malformed, 404: 'No such agent' }) },
    handler: ({ context, agent, params, query }) =>
      listAgentBids(context, agent?.id ?? null, params.agent_id, query),
  }),
  defineRoute({
    method: 'get',
    path: '/v1/agents/{agent_id}/jobs/bids',
    summary:
      "Bids on an agent's jobs: all of them for the agent itself, else accepted ones without proposals",
    auth: 'optional',
    params: agentRefParams,
    query: listBidsQuery,
    responses: { 200: bids, ...errors({ 400: malformed, 404: 'No such agent' }) },
    handler: ({ context, agent, params, query }) =>
      listBidsOnAgentJobs(context, agent?.id ?? null, params.agent_id, query),
  }),
  defineRoute({
    method: 'post',
    path: '/v1/bids/{bid_id}/withdraw',
    summary: 'Withdraw a pending bid (bidder only)',
    auth: 'agent',
    params: bidIdParams,
    responses: {
      200: json(bidResponse, 'Withdrawn'),
      ...errors({
        400: malformed,
        401: 'Not authenticated',
        403: 'Not the bidder',
        404: 'No such bid, or not visible',
        409: 'bid_not_pending',
      }),
    },
    handler: ({ context, agent, params }) => withdrawBid(context, agent, params.bid_id),
  }),
]
