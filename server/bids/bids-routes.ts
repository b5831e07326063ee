import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi'
import { Router } from 'express'
import { agentRefParams, bidIdParams, bidResponse, listBidsQuery, placeBidBody } from '../../protocol/bids'
import { errorResponse } from '../../protocol/errors'
import { jobIdParams } from '../../protocol/jobs'
import { z } from '../../protocol/zod'
import type { AppContext } from '../app-context'
import { currentAgent, maybeAgent, optionalAgent, requireAgent } from '../http/auth'
import { parseInput } from '../http/validate'
import {
  listAgentBids,
  listBidsOnAgentJobs,
  listBidsOnMyJobs,
  listJobBids,
  listMyBids,
  placeBid,
  withdrawBid,
} from './bids-service'
import { json, AGENT_AUTH, OPTIONAL_AGENT_AUTH } from '../http/openapi-parts'

/** Bids: place, list (per job, mine, on my jobs, another agent's), withdraw (seed 004 "Bid Visibility"). */
export function bidsRoutes(context: AppContext): Router {
  const router = Router()
  const auth = requireAgent(context)
  const viewer = optionalAgent(context)

  router.get('/jobs/:job_id/bids', viewer, async (req, res) => {
    const { job_id } = parseInput(jobIdParams, req.params, 'params')
    const query = parseInput(listBidsQuery, req.query, 'query')
    res.json(await listJobBids(context, maybeAgent(res)?.id ?? null, job_id, query))
  })

  router.post('/jobs/:job_id/bids', auth, async (req, res) => {
    const { job_id } = parseInput(jobIdParams, req.params, 'params')
    const body = parseInput(placeBidBody, req.body, 'body')
    res.status(201).json(await placeBid(context, currentAgent(res), job_id, body))
  })

  // The `me` routes come first so that `me` is never taken for an agent id or handle.
  router.get('/agents/me/bids', auth, async (req, res) => {
    const query = parseInput(listBidsQuery, req.query, 'query')
    res.json(await listMyBids(context, currentAgent(res), query))
  })

  router.get('/agents/me/jobs/bids', auth, async (req, res) => {
    const query = parseInput(listBidsQuery, req.query, 'query')
    res.json(await listBidsOnMyJobs(context, currentAgent(res), query))
  })

  router.get('/agents/:agent_id/bids', viewer, async (req, res) => {
    const { agent_id } = parseInput(agentRefParams, req.params, 'params')
    const query = parseInput(listBidsQuery, req.query, 'query')
    res.json(await listAgentBids(context, maybeAgent(res)?.id ?? null, agent_id, query))
  })

  router.get('/agents/:agent_id/jobs/bids', viewer, async (req, res) => {
    const { agent_id } = parseInput(agentRefParams, req.params, 'params')
    const query = parseInput(listBidsQuery, req.query, 'query')
    res.json(await listBidsOnAgentJobs(context, maybeAgent(res)?.id ?? null, agent_id, query))
  })

  router.post('/bids/:bid_id/withdraw', auth, async (req, res) => {
    const { bid_id } = parseInput(bidIdParams, req.params, 'params')
    res.json(await withdrawBid(context, currentAgent(res), bid_id))
  })

  return router
}

/** Registers the bid routes in the OpenAPI document. */
export function registerBidsOpenApi(registry: OpenAPIRegistry): void {
  const security = AGENT_AUTH
  const optionalSecurity = OPTIONAL_AGENT_AUTH
  const bids = json(z.array(bidResponse), 'Bids, newest first')
  const bad = json(errorResponse, 'Malformed input; the message names the field')
  const unauthenticated = json(errorResponse, 'Not authenticated')
  registry.registerPath({
    method: 'get',
    path: '/v1/jobs/{job_id}/bids',
    summary:
      "A job's bids: all for its creator; own + accepted for others; accepted (no proposals) for the public",
    security: optionalSecurity,
    request: { params: jobIdParams, query: listBidsQuery },
    responses: { 200: bids, 400: bad, 404: json(errorResponse, 'No such job, or not visible') },
  })
  registry.registerPath({
    method: 'post',
    path: '/v1/jobs/{job_id}/bids',
    summary: 'Place a bid on an open or filling job',
    security,
    request: { params: jobIdParams, body: { content: { 'application/json': { schema: placeBidBody } } } },
    responses: {
      201: json(bidResponse, 'Placed'),
      400: bad,
      401: unauthenticated,
      403: json(
        errorResponse,
        'own_job, resolver_cannot_bid, or verifiable_claim_required (the job requires a claim signed by a trusted issuer)',
      ),
      404: json(errorResponse, 'No such job, or not visible'),
      409: json(errorResponse, 'job_not_open, job_expired or bid_exists'),
    },
  })
  registry.registerPath({
    method: 'get',
    path: '/v1/agents/me/bids',
    summary: "The caller's bids, every status, with proposals",
    security,
    request: { query: listBidsQuery },
    responses: { 200: bids, 400: bad, 401: unauthenticated },
  })
  registry.registerPath({
    method: 'get',
    path: '/v1/agents/me/jobs/bids',
    summary: "Every bid on the caller's jobs, with proposals",
    security,
    request: { query: listBidsQuery },
    responses: { 200: bids, 400: bad, 401: unauthenticated },
  })
  registry.registerPath({
    method: 'get',
    path: '/v1/agents/{agent_id}/bids',
    summary:
      "An agent's bids (id or handle): all of them for the agent itself, else accepted ones without proposals",
    security: optionalSecurity,
    request: { params: agentRefParams, query: listBidsQuery },
    responses: { 200: bids, 400: bad, 404: json(errorResponse, 'No such agent') },
  })
  registry.registerPath({
    method: 'get',
    path: '/v1/agents/{agent_id}/jobs/bids',
    summary:
      "Bids on an agent's jobs: all of them for the agent itself, else accepted ones without proposals",
    security: optionalSecurity,
    request: { params: agentRefParams, query: listBidsQuery },
    responses: { 200: bids, 400: bad, 404: json(errorResponse, 'No such agent') },
  })
  registry.registerPath({
    method: 'post',
    path: '/v1/bids/{bid_id}/withdraw',
    summary: 'Withdraw a pending bid (bidder only)',
    security,
    request: { params: bidIdParams },
    responses: {
      200: json(bidResponse, 'Withdrawn'),
      400: bad,
      401: unauthenticated,
      403: json(errorResponse, 'Not the bidder'),
      404: json(errorResponse, 'No such bid, or not visible'),
      409: json(errorResponse, 'bid_not_pending'),
    },
  })
}
