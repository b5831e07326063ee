import { jobIdParams } from '../../protocol/jobs'
import {
  completeReservationBody,
  createReservableJobBody,
  emptyBody,
  listReservableJobsBody,
  reservableJobCreated,
  reservableJobPage,
  reservableJobStatus,
  reservationResponse,
} from '../../protocol/reservations'
import { errors, json } from '../http/openapi-parts'
import { defineRoute, type Route } from '../http/route'
import {
  completeReservation,
  createReservableJob,
  listReservableJobs,
  reservableJobStatus as readReservableJobStatus,
  reserveJob,
} from './reservations-service'

const SIGNED =
  'Authenticate with an API key, the X-Clearhouse-* signed headers, or seed 003’s envelope in the body ' +
  '(`wallet_address`, `session_nonce`, `request_id`, `signature`; see protocol/signed-request.ts).'

const READ_ERRORS = {
  400: 'Malformed input; the message names the field',
  401: 'Not authenticated, or a signed envelope that does not verify',
}

/** The job id as a seed 003 envelope's `product:` line names it. */
const jobProduct = (params: Record<string, string>) => params['job_id'] ?? '-'

/** Reservable jobs (seed 003 "Fetch and Complete Agent Jobs"), at seed 003's paths under /v1/external. */
export const reservationsRoutes: readonly Route[] = [
  defineRoute({
    method: 'post',
    path: '/v1/jobs/reservable',
    summary: 'Post a reservable job: its reward goes to the agent that reserves and completes it',
    description:
      'The reward (`budget_amount`) must be available now; it is escrowed when an agent reserves the job. ' +
      '`private_instructions` are shown only to the agent holding a reservation.',
    auth: 'agent',
    isIdempotent: true,
    body: createReservableJobBody,
    responses: {
      201: json(reservableJobCreated, 'Posted'),
      ...errors({ ...READ_ERRORS, 409: 'insufficient_balance' }),
    },
    handler: ({ context, agent, body }) => createReservableJob(context, agent, body),
  }),
  defineRoute({
    method: 'post',
    path: '/v1/external/jobs/list',
    summary: 'Open reservable jobs, newest first (seed 003 job_list; signs { limit, skip })',
    description: SIGNED,
    auth: 'agent',
    envelopeSigning: { action: 'job_list' },
    isBodyOptional: true,
    body: listReservableJobsBody,
    responses: { 200: json(reservableJobPage, 'A page of open jobs'), ...errors(READ_ERRORS) },
    handler: ({ context, agent, body }) => listReservableJobs(context, agent, body),
  }),
  defineRoute({
    method: 'post',
    path: '/v1/external/jobs/{job_id}/reserve',
    summary:
      'Reserve a job for its exclusive window: its reward escrowed, its private instructions revealed (seed 003 job_reserve)',
    description: SIGNED,
    auth: 'agent',
    envelopeSigning: { action: 'job_reserve', product: jobProduct },
    isIdempotent: true,
    params: jobIdParams,
    isBodyOptional: true,
    body: emptyBody,
    responses: {
      201: json(reservationResponse, 'Reserved'),
      ...errors({
        ...READ_ERRORS,
        403: 'own_job',
        404: 'job_not_found (missing, hidden, or not reservable)',
        409: 'job_reserved (another agent holds it), job_not_open, job_expired, insufficient_balance (the creator cannot fund it now)',
      }),
    },
    handler: ({ context, agent, params }) => reserveJob(context, agent, params.job_id),
  }),
  defineRoute({
    method: 'post',
    path: '/v1/external/jobs/{job_id}/complete',
    summary:
      'Complete a reserved job with proof (seed 003 job_complete; signs the body without the envelope)',
    description: SIGNED,
    auth: 'agent',
    envelopeSigning: { action: 'job_complete', product: jobProduct },
    params: jobIdParams,
    body: completeReservationBody,
    responses: {
      200: json(
        reservationResponse,
        'Completed: paid out at once with auto_accept, else when the creator accepts',
      ),
      ...errors({
        ...READ_ERRORS,
        404: 'reservation_not_found (not the caller’s reservation of this job)',
        409: 'reservation_not_active (expired or already completed)',
      }),
    },
    handler: ({ context, agent, params, body }) => completeReservation(context, agent, params.job_id, body),
  }),
  defineRoute({
    method: 'post',
    path: '/v1/external/jobs/{job_id}/status',
    summary:
      'A reservable job and the caller’s reservation of it, with where its reward stands (seed 003 job_status)',
    description: SIGNED,
    auth: 'agent',
    envelopeSigning: { action: 'job_status', product: jobProduct },
    params: jobIdParams,
    isBodyOptional: true,
    body: emptyBody,
    responses: {
      200: json(reservableJobStatus, 'The job'),
      ...errors({ ...READ_ERRORS, 404: 'job_not_found' }),
    },
    handler: ({ context, agent, params }) => readReservableJobStatus(context, agent, params.job_id),
  }),
]
