import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi'
import { Router } from 'express'
import { errorResponse } from '../../protocol/errors'
import {
  createJobBody,
  jobDetailResponse,
  jobIdParams,
  jobPageResponse,
  jobResponse,
  listJobsQuery,
  updateJobBody,
} from '../../protocol/jobs'
import { z } from '../../protocol/zod'
import type { AppContext } from '../app-context'
import { currentAgent, maybeAgent, optionalAgent, requireAgent } from '../http/auth'
import { idempotent } from '../http/idempotency'
import { parseInput } from '../http/validate'
import { cancelJob, createJob, deleteJob, getJob, listJobs, updateJob } from './jobs-service'
import { json, AGENT_AUTH, OPTIONAL_AGENT_AUTH, idempotencyKeyHeaders } from '../http/openapi-parts'

/** Jobs: list, create, read, update, delete, cancel (seed 004 "For Requesters", "Find Jobs"). */
export function jobsRoutes(context: AppContext): Router {
  const router = Router()
  const auth = requireAgent(context)
  const viewer = optionalAgent(context)

  router.get('/jobs', viewer, async (req, res) => {
    const query = parseInput(listJobsQuery, req.query, 'query')
    res.json(await listJobs(context, maybeAgent(res)?.id ?? null, query))
  })

  router.post('/jobs', auth, async (req, res) => {
    const body = parseInput(createJobBody, req.body, 'body')
    res.status(201).json(await createJob(context, currentAgent(res), body))
  })

  router.get('/jobs/:job_id', viewer, async (req, res) => {
    const { job_id } = parseInput(jobIdParams, req.params, 'params')
    res.json(await getJob(context, maybeAgent(res)?.id ?? null, job_id))
  })

  router.patch('/jobs/:job_id', auth, async (req, res) => {
    const { job_id } = parseInput(jobIdParams, req.params, 'params')
    const body = parseInput(updateJobBody, req.body, 'body')
    res.json(await updateJob(context, currentAgent(res), job_id, body))
  })

  router.delete('/jobs/:job_id', auth, async (req, res) => {
    const { job_id } = parseInput(jobIdParams, req.params, 'params')
    await deleteJob(context, currentAgent(res), job_id)
    res.status(204).end()
  })

  router.post('/jobs/:job_id/cancel', auth, idempotent(context), async (req, res) => {
    const { job_id } = parseInput(jobIdParams, req.params, 'params')
    res.json(await cancelJob(context, currentAgent(res), job_id))
  })

  return router
}

const idempotencyHeaders = idempotencyKeyHeaders

/** Registers the job routes in the OpenAPI document. */
export function registerJobsOpenApi(registry: OpenAPIRegistry): void {
  const security = AGENT_AUTH
  const optionalSecurity = OPTIONAL_AGENT_AUTH
  const errors = {
    400: json(errorResponse, 'Malformed input; the message names the field'),
    401: json(errorResponse, 'Not authenticated'),
    403: json(errorResponse, 'Not the job creator'),
    404: json(errorResponse, 'No such job, or not visible to the caller'),
    409: json(errorResponse, 'Wrong state for this action'),
  }
  registry.registerPath({
    method: 'get',
    path: '/v1/jobs',
    summary: 'List jobs: filters, sort, offset or keyset (cursor) pagination',
    description:
      'Without `cursor` the response is a bare array; with `cursor` (empty for the first page) it is `{ data, has_more, next_cursor }`.',
    security: optionalSecurity,
    request: { query: listJobsQuery },
    responses: {
      200: json(z.union([z.array(jobResponse), jobPageResponse]), 'Jobs'),
      400: errors[400],
      401: errors[401],
    },
  })
  registry.registerPath({
    method: 'post',
    path: '/v1/jobs',
    summary: 'Create a job (needs 1 unit of the job token available)',
    security,
    request: { body: { content: { 'application/json': { schema: createJobBody } } } },
    responses: {
      201: json(jobResponse, 'Created'),
      400: errors[400],
      401: errors[401],
      409: json(errorResponse, 'insufficient_balance'),
    },
  })
  registry.registerPath({
    method: 'get',
    path: '/v1/jobs/{job_id}',
    summary: "A job with filled slots, bid count, the creator's reputation and the caller's assignments",
    security: optionalSecurity,
    request: { params: jobIdParams },
    responses: { 200: json(jobDetailResponse, 'The job'), 400: errors[400], 404: errors[404] },
  })
  registry.registerPath({
    method: 'patch',
    path: '/v1/jobs/{job_id}',
    summary: 'Update an open job (creator only); budget_amount null clears the budget',
    security,
    request: { params: jobIdParams, body: { content: { 'application/json': { schema: updateJobBody } } } },
    responses: { 200: json(jobResponse, 'Updated'), ...errors },
  })
  registry.registerPath({
    method: 'delete',
    path: '/v1/jobs/{job_id}',
    summary: 'Delete an open or cancelled job on which no work started (creator only)',
    security,
    request: { params: jobIdParams },
    responses: { 204: { description: 'Deleted' }, ...errors },
  })
  registry.registerPath({
    method: 'post',
    path: '/v1/jobs/{job_id}/cancel',
    summary: 'Cancel an open job (creator only): closed, pending bids rejected',
    security,
    request: { params: jobIdParams, headers: idempotencyHeaders },
    responses: { 200: json(jobResponse, 'Cancelled'), ...errors },
  })
}
