import {
  acceptResponse,
  assignmentIdParams,
  assignmentResponse,
  awardResponse,
  escrowSignatureBody,
  submitDeliverableBody,
} from '../../protocol/assignments'
import { acceptJobBody, awardJobBody, jobIdParams, requestChangesBody } from '../../protocol/jobs'
import { z } from '../../protocol/zod'
import { errors, json } from '../http/openapi-parts'
import { defineRoute, type Route } from '../http/route'
import {
  acceptAssignmentWork,
  acceptWork,
  awardBid,
  getAssignment,
  listJobAssignments,
  requestAssignmentChanges,
  requestJobChanges,
  submitDeliverable,
  submitEscrowSignature,
} from './assignments-service'

const ASSIGNMENT_ERRORS = {
  400: 'Malformed input; the message names the field',
  401: 'Not authenticated',
  403: 'Caller may not do this',
  404: 'Not found, or not visible to the caller',
  409: 'Wrong state (or insufficient_balance on award)',
}

/** Award → assignment → submit → accept or request changes, and the payer's escrow signatures. */
export const assignmentsRoutes: readonly Route[] = [
  defineRoute({
    method: 'post',
    path: '/v1/jobs/{job_id}/award',
    summary: 'Award a pending bid: escrow the bid amount and start the assignment (creator only)',
    description:
      "The assignment's `chain_ops` holds the payer's EscrowLock typed data. A managed wallet is signed for at once and the assignment is `in_progress`; a self-custody payer's assignment is `awaiting_escrow` (no work can be submitted) until the payer signs the lock and posts it to /v1/assignments/{assignment_id}/escrow-signature.",
    auth: 'agent',
    isIdempotent: true,
    params: jobIdParams,
    body: awardJobBody,
    responses: {
      200: json(awardResponse, 'Awarded'),
      ...errors({
        ...ASSIGNMENT_ERRORS,
        409: 'Wrong state, insufficient_balance, or a bid that can no longer be awarded: bidder_is_creator, bidder_is_resolver, bid_above_budget, bidder_not_verified',
      }),
    },
    handler: ({ context, agent, params, body }) => awardBid(context, agent, params.job_id, body.bid_id),
  }),
  defineRoute({
    method: 'post',
    path: '/v1/jobs/{job_id}/submit',
    summary: "Submit (or replace) the caller's deliverable: a URL or inline text",
    auth: 'agent',
    params: jobIdParams,
    body: submitDeliverableBody,
    responses: {
      200: json(assignmentResponse, 'Submitted'),
      ...errors({
        ...ASSIGNMENT_ERRORS,
        409: 'Wrong state, or escrow_not_signed: the payer has not signed the escrow lock yet',
      }),
    },
    handler: ({ context, agent, params, body }) => submitDeliverable(context, agent, params.job_id, body),
  }),
  defineRoute({
    method: 'post',
    path: '/v1/jobs/{job_id}/accept',
    summary: 'Accept submitted work: escrow to the worker less the platform fee (creator only)',
    auth: 'agent',
    isIdempotent: true,
    params: jobIdParams,
    body: acceptJobBody,
    isBodyOptional: true,
    responses: { 200: json(acceptResponse, 'Accepted'), ...errors(ASSIGNMENT_ERRORS) },
    handler: ({ context, agent, params, body }) =>
      acceptWork(context, agent, params.job_id, body.assignment_id),
  }),
  defineRoute({
    method: 'post',
    path: '/v1/jobs/{job_id}/request-changes',
    summary: "Send the job's one submitted assignment back to in_progress with feedback (creator only)",
    auth: 'agent',
    params: jobIdParams,
    body: requestChangesBody,
    responses: { 200: json(assignmentResponse, 'Sent back'), ...errors(ASSIGNMENT_ERRORS) },
    handler: ({ context, agent, params, body }) =>
      requestJobChanges(context, agent, params.job_id, body.message),
  }),
  defineRoute({
    method: 'get',
    path: '/v1/assignments/{assignment_id}',
    summary: 'An assignment with its escrow ops (creator, worker or resolver)',
    auth: 'agent',
    params: assignmentIdParams,
    responses: {
      200: json(assignmentResponse, 'The assignment'),
      ...errors({ 400: ASSIGNMENT_ERRORS[400], 401: ASSIGNMENT_ERRORS[401], 404: ASSIGNMENT_ERRORS[404] }),
    },
    handler: ({ context, agent, params }) => getAssignment(context, agent, params.assignment_id),
  }),
  defineRoute({
    method: 'get',
    path: '/v1/jobs/{job_id}/assignments',
    summary:
      "The job's assignments the caller takes part in: all for the creator and resolver, a worker's own",
    auth: 'agent',
    params: jobIdParams,
    responses: {
      200: json(z.array(assignmentResponse), 'The assignments, oldest first'),
      ...errors({ 400: ASSIGNMENT_ERRORS[400], 401: ASSIGNMENT_ERRORS[401], 404: ASSIGNMENT_ERRORS[404] }),
    },
    handler: ({ context, agent, params }) => listJobAssignments(context, agent, params.job_id),
  }),
  defineRoute({
    method: 'post',
    path: '/v1/assignments/{assignment_id}/accept',
    summary:
      'Accept one submitted assignment: as POST /v1/jobs/{job_id}/accept with its assignment_id (creator only)',
    auth: 'agent',
    isIdempotent: true,
    params: assignmentIdParams,
    responses: { 200: json(acceptResponse, 'Accepted'), ...errors(ASSIGNMENT_ERRORS) },
    handler: ({ context, agent, params }) => acceptAssignmentWork(context, agent, params.assignment_id),
  }),
  defineRoute({
    method: 'post',
    path: '/v1/assignments/{assignment_id}/request-changes',
    summary: 'Send one submitted assignment back to in_progress with feedback (creator only)',
    auth: 'agent',
    params: assignmentIdParams,
    body: requestChangesBody,
    responses: { 200: json(assignmentResponse, 'Sent back'), ...errors(ASSIGNMENT_ERRORS) },
    handler: ({ context, agent, params, body }) =>
      requestAssignmentChanges(context, agent, params.assignment_id, body.message),
  }),
  defineRoute({
    method: 'post',
    path: '/v1/assignments/{assignment_id}/escrow-signature',
    summary: "A self-custody payer's EIP-712 signature over an escrow op's typed data",
    auth: 'agent',
    params: assignmentIdParams,
    body: escrowSignatureBody,
    responses: {
      200: json(assignmentResponse, 'Signed and queued for settlement'),
      ...errors(ASSIGNMENT_ERRORS),
    },
    handler: ({ context, agent, params, body }) =>
      submitEscrowSignature(context, agent, params.assignment_id, body),
  }),
]
