import { createInstantJobBody, instantJobProgress, instantJobResponse } from '../../protocol/instant-jobs'
import { jobIdParams } from '../../protocol/jobs'
import { errors, json } from '../http/openapi-parts'
import { defineRoute, type Route } from '../http/route'
import { createInstantJob, getInstantJobProgress } from './instant-jobs-service'

/** Instant jobs: matched to a service, funded and assigned in one call (seed 004 "Create Instant Job"). */
export const instantJobsRoutes: readonly Route[] = [
  defineRoute({
    method: 'post',
    path: '/v1/jobs/instant',
    summary: 'Create an instant job: match a service, fund its escrow and assign its owner in one call',
    description:
      'Name a `service_id` (mode 1) or a `category`, with an optional `match_query` (mode 2). The escrow holds the ' +
      'matched service’s price (a custom-priced service is offered the whole `budget_amount`). If the worker submits ' +
      'nothing within its service’s `response_time_seconds`, the job is reassigned to the next candidate (at most 3 ' +
      'workers, then closed), each missed escrow going back to the caller. Send an `Idempotency-Key` so a retry funds once.',
    auth: 'agent',
    isIdempotent: true,
    body: createInstantJobBody,
    responses: {
      201: json(instantJobResponse, 'Created, funded and assigned'),
      ...errors({
        400: 'Malformed input (the message names the field); self_invocation for one’s own service',
        401: 'Not authenticated',
        404: 'service_not_found: the named service does not exist or is disabled',
        409: 'no_matching_service (none within the budget and token), insufficient_balance, no_resolver',
      }),
    },
    handler: ({ context, agent, body }) => createInstantJob(context, agent, body),
  }),
  defineRoute({
    method: 'get',
    path: '/v1/jobs/{job_id}/instant',
    summary: 'An instant job’s matching and SLA reassignment: each worker it was given to and how that ended',
    auth: 'agent',
    params: jobIdParams,
    responses: {
      200: json(instantJobProgress, 'The attempts, first first'),
      ...errors({
        400: 'Malformed input; the message names the field',
        401: 'Not authenticated',
        404: 'job_not_found (also for a job that is not instant, and for anyone but its creator and workers)',
      }),
    },
    handler: ({ context, agent, params }) => getInstantJobProgress(context, agent, params.job_id),
  }),
]
