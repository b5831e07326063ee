import { z } from '../../protocol/zod'
import {
  addEvidenceBody,
  disputeIdParams,
  disputeInfoResponse,
  disputeResponse,
  disputeSignatureBody,
  evidenceResponse,
  openDisputeBody,
  ruleDisputeBody,
} from '../../protocol/disputes'
import { jobIdParams } from '../../protocol/jobs'
import { errors, json } from '../http/openapi-parts'
import { defineRoute, type Route } from '../http/route'
import {
  addEvidence,
  disputeInfo,
  getDispute,
  listJobDisputes,
  openDispute,
  ruleDispute,
  submitDisputeSignature,
} from './disputes-service'

const DISPUTE_ERRORS = {
  400: 'Malformed input; the message names the field',
  401: 'Not authenticated',
  403: 'Caller may not do this (not_dispute_party, not_resolver, not_signer)',
  404: 'No such dispute, or not one of its parties',
  409: 'Wrong state (dispute_resolved, escrow_op_signed)',
}

/** Disputes (seed 004 "Disputes"): open, list, read, add evidence, rule, and the self-custody signatures. */
export const disputesRoutes: readonly Route[] = [
  defineRoute({
    method: 'post',
    path: '/v1/jobs/{job_id}/dispute',
    summary:
      'Dispute a submitted assignment (its creator or its worker), with a deposit of dispute_deposit_bps of the escrow',
    description:
      "The deposit leaves the opener's available balance into a vault escrow of its own, payable to the counterparty and ruled on by the disputed escrow's resolver; its EscrowLock is in `chain_ops` (a self-custody opener signs it and posts it to /v1/disputes/{dispute_id}/escrow-signature).",
    auth: 'agent',
    isIdempotent: true,
    params: jobIdParams,
    body: openDisputeBody,
    responses: {
      201: json(disputeResponse, 'Opened'),
      ...errors({
        ...DISPUTE_ERRORS,
        404: 'No such job visible to the caller, or an assignment_id not the caller’s to dispute',
        409: 'assignment_not_submitted, dispute_open, ambiguous_assignment, insufficient_balance, no_resolver',
      }),
    },
    handler: ({ context, agent, params, body }) => openDispute(context, agent, params.job_id, body),
  }),
  defineRoute({
    method: 'get',
    path: '/v1/jobs/{job_id}/disputes',
    summary: "A job's disputes: all of them for its creator, their own for a worker or a resolver",
    auth: 'agent',
    params: jobIdParams,
    responses: {
      200: json(z.array(disputeResponse), 'Disputes'),
      ...errors({ ...DISPUTE_ERRORS, 404: 'No such job visible to the caller' }),
    },
    handler: ({ context, agent, params }) => listJobDisputes(context, agent, params.job_id),
  }),
  defineRoute({
    method: 'get',
    path: '/v1/disputes/{dispute_id}',
    summary: 'A dispute with its evidence and chain ops (its creator, worker and resolver only)',
    auth: 'agent',
    params: disputeIdParams,
    responses: { 200: json(disputeResponse, 'The dispute'), ...errors(DISPUTE_ERRORS) },
    handler: ({ context, agent, params }) => getDispute(context, agent, params.dispute_id),
  }),
  defineRoute({
    method: 'post',
    path: '/v1/disputes/{dispute_id}/evidence',
    summary: 'Add evidence to an open dispute (its creator or worker): url, photo, tracking or hash',
    auth: 'agent',
    params: disputeIdParams,
    body: addEvidenceBody,
    responses: { 201: json(evidenceResponse, 'Added'), ...errors(DISPUTE_ERRORS) },
    handler: ({ context, agent, params, body }) => addEvidence(context, agent, params.dispute_id, body),
  }),
  defineRoute({
    method: 'post',
    path: '/v1/disputes/{dispute_id}/rule',
    summary:
      'Rule on an open dispute (its resolver only): requester_wins, worker_wins, split (split_bps) or redo',
    description:
      "A ruling other than `redo` is carried out on the vault as EscrowRuling ops signed by the resolver's wallet (a managed one at once; a self-custody resolver signs each op's typed_data and posts it to /v1/disputes/{dispute_id}/escrow-signature). Balances move when the vault's EscrowRuled is indexed.",
    auth: 'agent',
    isIdempotent: true,
    params: disputeIdParams,
    body: ruleDisputeBody,
    responses: { 200: json(disputeResponse, 'Ruled'), ...errors(DISPUTE_ERRORS) },
    handler: ({ context, agent, params, body }) => ruleDispute(context, agent, params.dispute_id, body),
  }),
  defineRoute({
    method: 'post',
    path: '/v1/disputes/{dispute_id}/escrow-signature',
    summary:
      "A self-custody signer's EIP-712 signature on one of the dispute's ops (`op_id` from `chain_ops`)",
    auth: 'agent',
    params: disputeIdParams,
    body: disputeSignatureBody,
    responses: {
      200: json(disputeResponse, 'Signed'),
      ...errors({ ...DISPUTE_ERRORS, 409: 'escrow_op_signed, escrow_op_not_found' }),
    },
    handler: ({ context, agent, params, body }) =>
      submitDisputeSignature(context, agent, params.dispute_id, body),
  }),
  defineRoute({
    method: 'get',
    path: '/v1/platform/dispute-info',
    summary: "The resolver's fee, the dispute deposit and the platform resolver",
    auth: 'none',
    responses: { 200: json(disputeInfoResponse, 'Dispute terms') },
    handler: ({ context }) => disputeInfo(context),
  }),
]
