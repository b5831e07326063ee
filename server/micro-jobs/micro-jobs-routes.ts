import { z } from '../../protocol/zod'
import { listMicroJobsQuery, microJobIdParams, microJobResponse } from '../../protocol/micro-jobs'
import { errors, json } from '../http/openapi-parts'
import { defineRoute, type Route } from '../http/route'
import { getMicroJob, listMicroJobs } from './micro-jobs-service'

/** Micro-jobs: priced calls made without a channel, paid through escrow (seed 004 "Invoke Service"). */
export const microJobsRoutes: readonly Route[] = [
  defineRoute({
    method: 'get',
    path: '/v1/micro-jobs',
    summary: 'The caller’s micro-jobs (priced calls made without a channel), as caller or provider',
    auth: 'agent',
    query: listMicroJobsQuery,
    responses: {
      200: json(z.array(microJobResponse), 'Micro-jobs, newest first'),
      ...errors({ 400: 'Malformed input; the message names the field', 401: 'Not authenticated' }),
    },
    handler: ({ context, agent, query }) => listMicroJobs(context, agent, query),
  }),
  defineRoute({
    method: 'get',
    path: '/v1/micro-jobs/{micro_job_id}',
    summary: 'One micro-job: what the call cost, its hashes and its escrow ops (caller and provider only)',
    auth: 'agent',
    params: microJobIdParams,
    responses: {
      200: json(microJobResponse, 'The micro-job'),
      ...errors({
        400: 'Malformed input; the message names the field',
        401: 'Not authenticated',
        404: 'micro_job_not_found (also for anyone but its caller and provider)',
      }),
    },
    handler: ({ context, agent, params }) => getMicroJob(context, agent, params.micro_job_id),
  }),
]
