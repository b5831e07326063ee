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
import { errors, json } from '../http/openapi-parts'
import { defineRoute, type Route } from '../http/route'
import { cancelJob, createJob, deleteJob, getJob, listJobs, updateJob } from './jobs-service'

const JOB_ERRORS = {
  400: 'Malformed input; the message names the field',
  401: 'Not authenticated',
  403: 'Not the job creator',
  404: 'No such job, or not visible to the caller',
  409: 'Wrong state for this action',
}

/** Jobs: list, create, read, update, delete, cancel (seed 004 "For Requesters", "Find Jobs"). */
export const jobsRoutes: readonly Route[] = [
  defineRoute({
    method: 'get',
    path: '/v1/jobs',
    summary: 'List jobs: filters, sort, offset or keyset (cursor) pagination',
    description:
      'Without `cursor` the response is a bare array; with `cursor` (empty for the first page) it is `{ data, has_more, next_cursor }`.',
    auth: 'optional',
    query: listJobsQuery,
    responses: {
      200: json(z.union([z.array(jobResponse), jobPageResponse]), 'Jobs'),
      ...errors({ 400: JOB_ERRORS[400], 401: JOB_ERRORS[401] }),
    },
    handler: ({ context, agent, query }) => listJobs(context, agent?.id ?? null, query),
  }),
  defineRoute({
    method: 'post',
    path: '/v1/jobs',
    summary: 'Create a job (needs 1 unit of the job token available)',
    description:
      'A competition escrows its prize pool at creation: send an `Idempotency-Key` so a retried request creates (and escrows) once.',
    auth: 'agent',
    isIdempotent: true,
    body: createJobBody,
    responses: {
      201: json(jobResponse, 'Created'),
      ...errors({ 400: JOB_ERRORS[400], 401: JOB_ERRORS[401], 409: 'insufficient_balance' }),
    },
    handler: ({ context, agent, body }) => createJob(context, agent, body),
  }),
  defineRoute({
    method: 'get',
    path: '/v1/jobs/{job_id}',
    summary: "A job with filled slots, bid count, the creator's reputation and the caller's assignments",
    auth: 'optional',
    params: jobIdParams,
    responses: {
      200: json(jobDetailResponse, 'The job'),
      ...errors({ 400: JOB_ERRORS[400], 404: JOB_ERRORS[404] }),
    },
    handler: ({ context, agent, params }) => getJob(context, agent?.id ?? null, params.job_id),
  }),
  defineRoute({
    method: 'patch',
    path: '/v1/jobs/{job_id}',
    summary: 'Update an open job (creator only); budget_amount null clears the budget',
    auth: 'agent',
    params: jobIdParams,
    body: updateJobBody,
    responses: { 200: json(jobResponse, 'Updated'), ...errors(JOB_ERRORS) },
    handler: ({ context, agent, params, body }) => updateJob(context, agent, params.job_id, body),
  }),
  defineRoute({
    method: 'delete',
    path: '/v1/jobs/{job_id}',
    summary: 'Delete an open or cancelled job on which no work started (creator only)',
    auth: 'agent',
    params: jobIdParams,
    responses: { 204: { description: 'Deleted' }, ...errors(JOB_ERRORS) },
    handler: ({ context, agent, params }) => deleteJob(context, agent, params.job_id),
  }),
  defineRoute({
    method: 'post',
    path: '/v1/jobs/{job_id}/cancel',
    summary: 'Cancel an open job (creator only): closed, pending bids rejected',
    auth: 'agent',
    isIdempotent: true,
    params: jobIdParams,
    responses: { 200: json(jobResponse, 'Cancelled'), ...errors(JOB_ERRORS) },
    handler: ({ context, agent, params }) => cancelJob(context, agent, params.job_id),
  }),
]
