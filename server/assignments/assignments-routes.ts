import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi'
import { Router } from 'express'
import {
  acceptResponse,
  assignmentIdParams,
  assignmentResponse,
  awardResponse,
  escrowSignatureBody,
  submitDeliverableBody,
} from '../../protocol/assignments'
import { errorResponse } from '../../protocol/errors'
import { acceptJobBody, awardJobBody, jobIdParams, requestChangesBody } from '../../protocol/jobs'
import { z } from '../../protocol/zod'
import type { AppContext } from '../app-context'
import { currentAgent, requireAgent } from '../http/auth'
import { idempotent } from '../http/idempotency'
import { parseInput } from '../http/validate'
import {
  acceptWork,
  awardBid,
  getAssignment,
  requestAssignmentChanges,
  requestJobChanges,
  submitDeliverable,
  submitEscrowSignature,
} from './assignments-service'
import { json, AGENT_AUTH, idempotencyKeyHeaders } from '../http/openapi-parts'

/** Award → assignment → submit → accept or request changes, and the payer's escrow signatures. */
export function assignmentsRoutes(context: AppContext): Router {
  const router = Router()
  const auth = requireAgent(context)

  router.post('/jobs/:job_id/award', auth, idempotent(context), async (req, res) => {
    const { job_id } = parseInput(jobIdParams, req.params, 'params')
    const body = parseInput(awardJobBody, req.body, 'body')
    res.json(await awardBid(context, currentAgent(res), job_id, body.bid_id))
  })

  router.post('/jobs/:job_id/submit', auth, async (req, res) => {
    const { job_id } = parseInput(jobIdParams, req.params, 'params')
    const body = parseInput(submitDeliverableBody, req.body, 'body')
    res.json(await submitDeliverable(context, currentAgent(res), job_id, body))
  })

  router.post('/jobs/:job_id/accept', auth, idempotent(context), async (req, res) => {
    const { job_id } = parseInput(jobIdParams, req.params, 'params')
    const body = parseInput(acceptJobBody, req.body ?? {}, 'body')
    res.json(await acceptWork(context, currentAgent(res), job_id, body.assignment_id))
  })

  router.post('/jobs/:job_id/request-changes', auth, async (req, res) => {
    const { job_id } = parseInput(jobIdParams, req.params, 'params')
    const body = parseInput(requestChangesBody, req.body, 'body')
    res.json(await requestJobChanges(context, currentAgent(res), job_id, body.message))
  })

  router.get('/assignments/:assignment_id', auth, async (req, res) => {
    const { assignment_id } = parseInput(assignmentIdParams, req.params, 'params')
    res.json(await getAssignment(context, currentAgent(res), assignment_id))
  })

  router.post('/assignments/:assignment_id/request-changes', auth, async (req, res) => {
    const { assignment_id } = parseInput(assignmentIdParams, req.params, 'params')
    const body = parseInput(requestChangesBody, req.body, 'body')
    res.json(await requestAssignmentChanges(context, currentAgent(res), assignment_id, body.message))
  })

  router.post('/assignments/:assignment_id/escrow-signature', auth, async (req, res) => {
    const { assignment_id } = parseInput(assignmentIdParams, req.params, 'params')
    const body = parseInput(escrowSignatureBody, req.body, 'body')
    res.json(await submitEscrowSignature(context, currentAgent(res), assignment_id, body))
  })

  return router
}

const body = <T extends z.ZodType>(schema: T) => ({ content: { 'application/json': { schema } } })

const idempotencyHeaders = idempotencyKeyHeaders

/** Registers the assignment routes in the OpenAPI document. */
export function registerAssignmentsOpenApi(registry: OpenAPIRegistry): void {
  const security = AGENT_AUTH
  const errors = {
    400: json(errorResponse, 'Malformed input; the message names the field'),
    401: json(errorResponse, 'Not authenticated'),
    403: json(errorResponse, 'Caller may not do this'),
    404: json(errorResponse, 'Not found, or not visible to the caller'),
    409: json(errorResponse, 'Wrong state (or insufficient_balance on award)'),
  }
  registry.registerPath({
    method: 'post',
    path: '/v1/jobs/{job_id}/award',
    summary: 'Award a pending bid: escrow the bid amount and start the assignment (creator only)',
    description:
      "The assignment's `chain_ops` holds the payer's EscrowLock typed data. A managed wallet is signed for at once and the assignment is `in_progress`; a self-custody payer's assignment is `awaiting_escrow` (no work can be submitted) until the payer signs the lock and posts it to /v1/assignments/{assignment_id}/escrow-signature.",
    security,
    request: { params: jobIdParams, headers: idempotencyHeaders, body: body(awardJobBody) },
    responses: {
      200: json(awardResponse, 'Awarded'),
      ...errors,
      409: json(
        errorResponse,
        'Wrong state, insufficient_balance, or a bid that can no longer be awarded: bidder_is_creator, bidder_is_resolver, bid_above_budget, bidder_not_verified',
      ),
    },
  })
  registry.registerPath({
    method: 'post',
    path: '/v1/jobs/{job_id}/submit',
    summary: "Submit (or replace) the caller's deliverable: a URL or inline text",
    security,
    request: { params: jobIdParams, body: body(submitDeliverableBody) },
    responses: {
      200: json(assignmentResponse, 'Submitted'),
      ...errors,
      409: json(
        errorResponse,
        'Wrong state, or escrow_not_signed: the payer has not signed the escrow lock yet',
      ),
    },
  })
  registry.registerPath({
    method: 'post',
    path: '/v1/jobs/{job_id}/accept',
    summary: 'Accept submitted work: escrow to the worker less the platform fee (creator only)',
    security,
    request: { params: jobIdParams, headers: idempotencyHeaders, body: body(acceptJobBody) },
    responses: { 200: json(acceptResponse, 'Accepted'), ...errors },
  })
  registry.registerPath({
    method: 'post',
    path: '/v1/jobs/{job_id}/request-changes',
    summary: "Send the job's one submitted assignment back to in_progress with feedback (creator only)",
    security,
    request: { params: jobIdParams, body: body(requestChangesBody) },
    responses: { 200: json(assignmentResponse, 'Sent back'), ...errors },
  })
  registry.registerPath({
    method: 'get',
    path: '/v1/assignments/{assignment_id}',
    summary: 'An assignment with its escrow ops (creator, worker or resolver)',
    security,
    request: { params: assignmentIdParams },
    responses: {
      200: json(assignmentResponse, 'The assignment'),
      400: errors[400],
      401: errors[401],
      404: errors[404],
    },
  })
  registry.registerPath({
    method: 'post',
    path: '/v1/assignments/{assignment_id}/request-changes',
    summary: 'Send one submitted assignment back to in_progress with feedback (creator only)',
    security,
    request: { params: assignmentIdParams, body: body(requestChangesBody) },
    responses: { 200: json(assignmentResponse, 'Sent back'), ...errors },
  })
  registry.registerPath({
    method: 'post',
    path: '/v1/assignments/{assignment_id}/escrow-signature',
    summary: "A self-custody payer's EIP-712 signature over an escrow op's typed data",
    security,
    request: { params: assignmentIdParams, body: body(escrowSignatureBody) },
    responses: { 200: json(assignmentResponse, 'Signed and queued for settlement'), ...errors },
  })
}
