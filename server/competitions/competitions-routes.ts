import { escrowSignatureBody } from '../../protocol/assignments'
import {
  entryParams,
  entryResponse,
  resolveCompetitionBody,
  resolveCompetitionResponse,
  submitEntryBody,
} from '../../protocol/competitions'
import { jobIdParams } from '../../protocol/jobs'
import { z } from '../../protocol/zod'
import { errors, json } from '../http/openapi-parts'
import { defineRoute, type Route } from '../http/route'
import { listEntries, resolveCompetition, submitEntry, submitPrizeSignature } from './competitions-service'

const COMPETITION_ERRORS = {
  400: 'Malformed input; the message names the field',
  401: 'Not authenticated',
  403: 'Caller may not do this',
  404: 'No such competition or entry, or not visible',
  409: 'Wrong state, or not a competition',
}

/** Competitions: entries, the judge's resolution and prize escrow signatures (seed 004 "Competition Lifecycle"). */
export const competitionsRoutes: readonly Route[] = [
  defineRoute({
    method: 'post',
    path: '/v1/jobs/{job_id}/entries',
    summary: 'Enter an open competition, or replace your entry (201 new, 200 updated)',
    auth: 'agent',
    params: jobIdParams,
    body: submitEntryBody,
    responses: {
      200: json(entryResponse, 'Updated'),
      201: json(entryResponse, 'Entered'),
      ...errors(COMPETITION_ERRORS),
    },
    handler: async ({ context, agent, params, body, reply }) => {
      const { created, entry } = await submitEntry(context, agent, params.job_id, body)
      return reply(created ? 201 : 200, entry)
    },
  }),
  defineRoute({
    method: 'get',
    path: '/v1/jobs/{job_id}/entries',
    summary:
      'Entries: your own while open (all for the creator and the judge), everyone’s after the deadline',
    auth: 'optional',
    params: jobIdParams,
    responses: {
      200: json(z.array(entryResponse), 'Entries'),
      ...errors({
        400: COMPETITION_ERRORS[400],
        404: COMPETITION_ERRORS[404],
        409: COMPETITION_ERRORS[409],
      }),
    },
    handler: ({ context, agent, params }) => listEntries(context, agent?.id ?? null, params.job_id),
  }),
  defineRoute({
    method: 'post',
    path: '/v1/jobs/{job_id}/resolve',
    summary: 'Judge only: pay entries their bps of the prize pool; the rest is refunded to the creator',
    auth: 'agent',
    isIdempotent: true,
    params: jobIdParams,
    body: resolveCompetitionBody,
    responses: { 200: json(resolveCompetitionResponse, 'Resolved'), ...errors(COMPETITION_ERRORS) },
    handler: ({ context, agent, params, body }) => resolveCompetition(context, agent, params.job_id, body),
  }),
  defineRoute({
    method: 'post',
    path: '/v1/jobs/{job_id}/entries/{entry_id}/escrow-signature',
    summary: "A self-custody creator's signature over a prize's EscrowLock or EscrowRelease",
    auth: 'agent',
    params: entryParams,
    body: escrowSignatureBody,
    responses: {
      200: json(entryResponse, 'Signed and queued'),
      ...errors({
        ...COMPETITION_ERRORS,
        403: 'not_payer: the caller is not the creator (answered before the entry is looked up)',
      }),
    },
    handler: ({ context, agent, params, body }) =>
      submitPrizeSignature(context, agent, params.job_id, params.entry_id, body),
  }),
]
