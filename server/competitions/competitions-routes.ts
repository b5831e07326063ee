import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi'
import { Router } from 'express'
import { escrowSignatureBody } from '../../protocol/assignments'
import {
  entryParams,
  entryResponse,
  resolveCompetitionBody,
  resolveCompetitionResponse,
  submitEntryBody,
} from '../../protocol/competitions'
import { errorResponse } from '../../protocol/errors'
import { jobIdParams } from '../../protocol/jobs'
import { z } from '../../protocol/zod'
import type { AppContext } from '../app-context'
import { currentAgent, maybeAgent, optionalAgent, requireAgent } from '../http/auth'
import { idempotent } from '../http/idempotency'
import { parseInput } from '../http/validate'
import { listEntries, resolveCompetition, submitEntry, submitPrizeSignature } from './competitions-service'
import { json, AGENT_AUTH, OPTIONAL_AGENT_AUTH } from '../http/openapi-parts'

/** Competitions: entries, the judge's resolution and prize escrow signatures (seed 004 "Competition Lifecycle"). */
export function competitionsRoutes(context: AppContext): Router {
  const router = Router()
  const auth = requireAgent(context)

  router.post('/jobs/:job_id/entries', auth, async (req, res) => {
    const { job_id } = parseInput(jobIdParams, req.params, 'params')
    const body = parseInput(submitEntryBody, req.body, 'body')
    const { created, entry } = await submitEntry(context, currentAgent(res), job_id, body)
    res.status(created ? 201 : 200).json(entry)
  })

  router.get('/jobs/:job_id/entries', optionalAgent(context), async (req, res) => {
    const { job_id } = parseInput(jobIdParams, req.params, 'params')
    res.json(await listEntries(context, maybeAgent(res)?.id ?? null, job_id))
  })

  router.post('/jobs/:job_id/resolve', auth, idempotent(context), async (req, res) => {
    const { job_id } = parseInput(jobIdParams, req.params, 'params')
    const body = parseInput(resolveCompetitionBody, req.body, 'body')
    res.json(await resolveCompetition(context, currentAgent(res), job_id, body))
  })

  router.post('/jobs/:job_id/entries/:entry_id/escrow-signature', auth, async (req, res) => {
    const { job_id, entry_id } = parseInput(entryParams, req.params, 'params')
    const body = parseInput(escrowSignatureBody, req.body, 'body')
    res.json(await submitPrizeSignature(context, currentAgent(res), job_id, entry_id, body))
  })

  return router
}

/** Registers the competition routes in the OpenAPI document. */
export function registerCompetitionsOpenApi(registry: OpenAPIRegistry): void {
  const security = AGENT_AUTH
  const optionalSecurity = OPTIONAL_AGENT_AUTH
  const errors = {
    400: json(errorResponse, 'Malformed input; the message names the field'),
    401: json(errorResponse, 'Not authenticated'),
    403: json(errorResponse, 'Caller may not do this'),
    404: json(errorResponse, 'No such competition or entry, or not visible'),
    409: json(errorResponse, 'Wrong state, or not a competition'),
  }
  registry.registerPath({
    method: 'post',
    path: '/v1/jobs/{job_id}/entries',
    summary: 'Enter an open competition, or replace your entry (201 new, 200 updated)',
    security,
    request: { params: jobIdParams, body: { content: { 'application/json': { schema: submitEntryBody } } } },
    responses: { 200: json(entryResponse, 'Updated'), 201: json(entryResponse, 'Entered'), ...errors },
  })
  registry.registerPath({
    method: 'get',
    path: '/v1/jobs/{job_id}/entries',
    summary:
      'Entries: your own while open (all for the creator and the judge), everyone’s after the deadline',
    security: optionalSecurity,
    request: { params: jobIdParams },
    responses: {
      200: json(z.array(entryResponse), 'Entries'),
      400: errors[400],
      404: errors[404],
      409: errors[409],
    },
  })
  registry.registerPath({
    method: 'post',
    path: '/v1/jobs/{job_id}/resolve',
    summary: 'Judge only: pay entries their bps of the prize pool; the rest is refunded to the creator',
    security,
    request: {
      params: jobIdParams,
      headers: z.object({ 'Idempotency-Key': z.string().max(255).optional() }),
      body: { content: { 'application/json': { schema: resolveCompetitionBody } } },
    },
    responses: { 200: json(resolveCompetitionResponse, 'Resolved'), ...errors },
  })
  registry.registerPath({
    method: 'post',
    path: '/v1/jobs/{job_id}/entries/{entry_id}/escrow-signature',
    summary: "A self-custody creator's signature over a prize's EscrowLock or EscrowRelease",
    security,
    request: {
      params: entryParams,
      body: { content: { 'application/json': { schema: escrowSignatureBody } } },
    },
    responses: {
      200: json(entryResponse, 'Signed and queued'),
      ...errors,
      403: json(
        errorResponse,
        'not_payer: the caller is not the creator (answered before the entry is looked up)',
      ),
    },
  })
}
