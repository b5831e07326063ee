import { z } from './zod'

/** The one error shape every 4xx and 5xx response body has. */
export const errorResponse = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    details: z.unknown(),
  }),
})

export type ErrorResponse = z.infer<typeof errorResponse>

/** Error codes the coordinator itself emits outside any domain. */
export const ERROR_CODES = {
  validation: 'validation_failed',
  notFound: 'not_found',
  malformedJson: 'malformed_json',
  payloadTooLarge: 'payload_too_large',
  rateLimited: 'rate_limited',
  internal: 'internal_error',
  databaseUnavailable: 'database_unavailable',
} as const

/**
 * Every error code the API answers with, its one HTTP status, and what it means. A code means one
 * thing at one status everywhere; the server's error classes accept only the codes of their own
 * status (`ErrorCodeFor<409>` for `ConflictError`, say), so a mismatch does not compile.
 */
export const ERROR_CATALOGUE = {
  // 400: the request itself is wrong; nothing was done.
  validation_failed: {
    status: 400,
    description: 'A field, parameter or header is malformed; `details.fields` names each',
  },
  malformed_json: { status: 400, description: 'The body is not valid JSON' },
  bad_request: { status: 400, description: 'The request could not be read (encoding, content type)' },
  invalid_cursor: { status: 400, description: 'A paging cursor that this list did not hand out' },
  invalid_input: { status: 400, description: "The call's input does not match the service's input_schema" },
  self_invocation: {
    status: 400,
    description: 'An agent cannot call, open a channel to or hire its own service',
  },
  service_not_callable: {
    status: 400,
    description: 'The service has no endpoint_url or no price, so it cannot be called through the proxy',
  },
  invalid_voucher: {
    status: 400,
    description:
      "The voucher is not the caller's signature of the channel's next state (forged, wrong channel, wrong chain)",
  },
  invalid_verifiable_claim: {
    status: 400,
    description: 'A verifiable claim whose issuer signature does not check out',
  },
  unknown_token: { status: 400, description: 'A token symbol or address the deployment does not allow' },
  signature_mismatch: {
    status: 400,
    description:
      'A signature in the body (a withdrawal, an escrow op) that is not the expected wallet’s over the expected message',
  },
  // 401: who is calling could not be established.
  unauthorized: {
    status: 401,
    description: 'Missing, malformed or wrong credentials; `details.reason` says which',
  },
  invalid_signature: {
    status: 401,
    description: 'The challenge was not signed by the wallet being registered',
  },
  invalid_challenge: { status: 401, description: 'The registration challenge is unknown, used or expired' },
  // 403: the caller is known and may not do this.
  api_key_required: {
    status: 403,
    description: "The action needs the agent's API key, not a wallet-signed request",
  },
  cannot_enter: { status: 403, description: 'The caller may not enter this competition' },
  not_assigned: { status: 403, description: 'The caller holds no assignment on this job' },
  not_bidder: { status: 403, description: 'Only the bidder may do this to a bid' },
  not_dispute_party: {
    status: 403,
    description: 'Only the job’s creator, a worker on it or a resolver may see or open its disputes',
  },
  not_job_creator: { status: 403, description: 'Only the job creator may do this' },
  not_judge: { status: 403, description: 'Only the competition’s judge may do this' },
  not_payer: { status: 403, description: 'Only the payer of the escrow may sign its ops' },
  not_resolver: { status: 403, description: 'Only the dispute’s resolver may rule on it' },
  not_task_provider: { status: 403, description: 'Only the task’s provider may complete or fail it' },
  not_service_owner: { status: 403, description: 'Only its owner may change or delete a service' },
  not_session_agent: {
    status: 403,
    description: "Only the session's agent may reply to it or mark it failed",
  },
  not_session_client: { status: 403, description: "Only the session's client may continue or settle it" },
  not_channel_caller: { status: 403, description: "Only the channel's caller may do this" },
  not_signer: { status: 403, description: 'Only the wallet an op names may sign it' },
  own_job: { status: 403, description: 'An agent may not bid on its own job' },
  own_service: { status: 403, description: 'An agent cannot negotiate on its own service' },
  resolver_cannot_bid: { status: 403, description: 'A job’s resolver may not bid on it' },
  verifiable_claim_required: {
    status: 403,
    description: 'The job accepts only bidders with a verified claim',
  },
  // 404: nothing there, or nothing the caller may see (the two read the same).
  not_found: { status: 404, description: 'No such route' },
  agent_not_found: { status: 404, description: 'No such agent' },
  assignment_not_found: { status: 404, description: 'No such assignment visible to the caller' },
  bid_not_found: { status: 404, description: 'No such bid visible to the caller' },
  deposit_not_found: { status: 404, description: 'No such deposit of the caller' },
  dispute_not_found: { status: 404, description: 'No such dispute visible to the caller' },
  entry_not_found: { status: 404, description: 'No such competition entry visible to the caller' },
  job_not_found: { status: 404, description: 'No such job visible to the caller' },
  message_not_found: { status: 404, description: 'No such message visible to the caller' },
  negotiation_not_found: {
    status: 404,
    description: 'No such negotiation, or the caller is not one of its parties',
  },
  channel_not_found: { status: 404, description: 'No such channel, or one the caller is not a party to' },
  settlement_not_found: { status: 404, description: 'No settlement batch with that number' },
  reservation_not_found: { status: 404, description: 'No such reservation of this job by the caller' },
  task_not_found: {
    status: 404,
    description: 'No such task, or the caller is neither its requester nor its provider',
  },
  micro_job_not_found: {
    status: 404,
    description: 'No such micro-job, or one the caller is neither the caller nor the provider of',
  },
  service_not_found: { status: 404, description: 'No such service, or a disabled one of another agent' },
  session_not_found: {
    status: 404,
    description: 'No such session, or one the caller is neither the client nor the agent of',
  },
  webhook_not_found: { status: 404, description: 'The caller has no webhook set' },
  webhook_delivery_not_found: { status: 404, description: "No such delivery of the caller's webhook" },
  withdrawal_address_not_found: { status: 404, description: 'No such withdrawal address of the caller' },
  withdrawal_not_found: { status: 404, description: 'No such withdrawal of the caller' },
  // 409: the request is well formed but the state it meets does not allow it.
  token_not_allowed: {
    status: 409,
    description:
      "The vault's owner took the token off its allowlist: no new deposits, escrows or channel fundings in it (withdrawals still work)",
  },
  address_exists: { status: 409, description: 'The caller already saved this withdrawal address' },
  ambiguous_assignment: {
    status: 409,
    description: 'More than one assignment matches; name one with `assignment_id`',
  },
  assignment_not_active: {
    status: 409,
    description: 'The assignment is not in a state that takes this action',
  },
  assignment_not_submitted: { status: 409, description: 'Only submitted work can be accepted or sent back' },
  dispute_open: { status: 409, description: 'The assignment already has an open dispute' },
  dispute_resolved: { status: 409, description: 'The dispute is already ruled on' },
  bid_above_budget: { status: 409, description: 'The bid is above the job’s current budget' },
  bid_exists: { status: 409, description: 'The caller already has a bid on this job' },
  bid_not_pending: { status: 409, description: 'Only pending bids can be awarded or withdrawn' },
  bidder_is_creator: { status: 409, description: 'The bidder created the job' },
  bidder_is_resolver: { status: 409, description: 'The bidder is the job’s resolver' },
  bidder_not_verified: {
    status: 409,
    description: 'The job requires a verified claim the bidder no longer holds',
  },
  chain_unavailable: {
    status: 409,
    description: 'This coordinator runs without a chain, so it cannot do this',
  },
  competition_job: { status: 409, description: 'Competitions are resolved by their judge, not awarded' },
  escrow_not_signed: {
    status: 409,
    description: 'The payer has not signed the escrow lock yet; no work can start',
  },
  escrow_op_not_found: {
    status: 409,
    description: 'The assignment has no escrow op of this kind awaiting a signature',
  },
  deposit_failed: {
    status: 409,
    description: "The chain refused a managed wallet's deposit (POST /v1/wallet/deposit)",
  },
  escrow_op_signed: { status: 409, description: 'The escrow op is already signed' },
  escrow_parties_not_distinct: {
    status: 409,
    description: 'Payer, payee and resolver of an escrow must all differ',
  },
  faucet_unavailable: {
    status: 409,
    description: 'The dev faucet cannot deposit (no coordinator key, or the chain refused)',
  },
  handle_taken: { status: 409, description: 'Another agent has this handle' },
  idempotency_claim_lost: {
    status: 409,
    description: 'A retry took this Idempotency-Key over while the request ran; it did nothing',
  },
  idempotency_in_progress: {
    status: 409,
    description: 'A request with this Idempotency-Key is still running',
  },
  idempotency_key_reused: {
    status: 409,
    description: 'This Idempotency-Key was used for a different request',
  },
  idempotency_outcome_unrecorded: {
    status: 409,
    description:
      'The request with this Idempotency-Key took effect but its response was lost; read the resource',
  },
  insufficient_balance: { status: 409, description: 'The available balance does not cover the amount' },
  insufficient_wallet_balance: {
    status: 409,
    description: 'The managed wallet holds less of the token on-chain than the deposit asks for',
  },
  instant_job: {
    status: 409,
    description:
      'An instant job is assigned to its matched services by the platform: it takes no bids or awards',
  },
  reservable_job: {
    status: 409,
    description: 'A reservable job is taken by reserving it: it takes no bids or awards',
  },
  reservation_not_active: {
    status: 409,
    description: 'The reservation expired or was completed: its job is no longer yours to complete',
  },
  task_not_open: {
    status: 409,
    description: 'The task is not on the board: taken, finished, or routed to a service',
  },
  task_not_assigned: {
    status: 409,
    description: 'The task is not waiting for its provider: answered by its endpoint, completed, or failed',
  },
  job_reserved: { status: 409, description: 'Another agent holds a live reservation of this job' },
  job_expired: { status: 409, description: 'The job passed its deadline' },
  job_not_deletable: { status: 409, description: 'Only open or cancelled jobs without work can be deleted' },
  job_not_judging: { status: 409, description: 'The competition is not being judged' },
  job_not_open: { status: 409, description: 'The job is not open' },
  judge_cannot_create: {
    status: 409,
    description: 'The platform judge may not create a competition it would judge',
  },
  negotiation_exists: {
    status: 409,
    description: 'The caller already has an open negotiation on this service or job: counter there',
  },
  negotiation_expired: {
    status: 409,
    description: "The negotiation's standing offer expired; it can no longer be accepted or countered",
  },
  negotiation_not_open: { status: 409, description: 'The negotiation was accepted or rejected already' },
  key_already_exported: { status: 409, description: 'The managed wallet’s key was already exported' },
  key_export_not_pending: { status: 409, description: 'No key export is pending' },
  key_export_pending: { status: 409, description: 'The key export waits for its delay' },
  ledger_reference_reused: {
    status: 409,
    description: 'A ledger posting reference was used for a different posting',
  },
  no_open_slots: { status: 409, description: 'Every slot of the job is filled' },
  no_matching_service: {
    status: 409,
    description: 'No enabled service of another agent matches the request within its budget and token',
  },
  no_platform_judge: {
    status: 409,
    description: 'This coordinator has no platform judge, so it runs no competitions',
  },
  no_resolver: {
    status: 409,
    description:
      'The job names no resolver and the coordinator has no platform resolver: its escrow could never be ruled',
  },
  no_submitted_work: { status: 409, description: 'Nothing submitted to accept or send back' },
  session_not_active: {
    status: 409,
    description: 'The session is already settled or failed: settlement is final',
  },
  not_a_competition: { status: 409, description: 'The job is not a competition' },
  not_your_turn: {
    status: 409,
    description:
      'The standing offer is the caller’s own: only the other party may counter, accept or reject it',
  },
  price_not_negotiable: {
    status: 409,
    description: 'The service is priced fixed or per_call: its listed price is the price',
  },
  price_over_budget: {
    status: 409,
    description:
      'The service costs more a call than the `budget` sent (seed 001 POST /v1/execute); nothing was charged',
  },
  too_many_addresses: {
    status: 409,
    description: 'The caller has saved the most withdrawal addresses allowed',
  },
  wallet_not_managed: {
    status: 409,
    description: 'The wallet is the agent’s own; the coordinator holds no key for it',
  },
  wallet_taken: { status: 409, description: 'Another agent holds this wallet' },
  withdrawal_expired: { status: 409, description: 'The withdrawal’s signature deadline passed' },
  service_has_channels: {
    status: 409,
    description:
      'The service has payment channels or paid calls (micro-jobs) whose records name it; disable it instead of deleting it',
  },
  service_ambiguous: {
    status: 409,
    description: 'The agent offers several services; name the one to call with `service_id`',
  },
  channel_exists: { status: 409, description: 'The caller already has an open channel to this service' },
  channel_not_active: {
    status: 409,
    description: 'The channel is not active (awaiting its funding, closing or closed)',
  },
  channel_busy: {
    status: 409,
    description: "A call on this channel is in flight; a channel's calls are paid in order, one at a time",
  },
  voucher_out_of_order: {
    status: 409,
    description:
      "The voucher's sequence or amount does not follow the channel's newest voucher (replayed or skipped)",
  },
  voucher_over_deposit: {
    status: 409,
    description: "The voucher's cumulative amount is over the channel's deposit",
  },
  voucher_required: {
    status: 409,
    description: 'A self-custody caller with an active channel must send the voucher paying the call',
  },
  channel_required: {
    status: 409,
    description: 'A paid call from a self-custody wallet needs an active channel to the service',
  },
  payment_identifier_reused: {
    status: 409,
    description: 'An x402 payment identifier this payer already used for another request to the service',
  },
  payment_in_progress: {
    status: 409,
    description: 'The x402 payment with this identifier is still being made; ask again shortly',
  },
  payment_identifier_failed: {
    status: 409,
    description:
      'The call paid with this x402 payment identifier failed and nothing was charged; send a new identifier',
  },
  channel_not_awaiting_signature: {
    status: 409,
    description: 'The channel has nothing waiting for that signature',
  },
  withdrawal_not_awaiting_signature: {
    status: 409,
    description: 'The withdrawal does not wait for a signature',
  },
  // 413 and 429.
  payload_too_large: { status: 413, description: 'The body is larger than the limit' },
  rate_limited: { status: 429, description: 'Too many requests; `Retry-After` says when to try again' },
  // 5xx: the coordinator or what it depends on failed; the request may be retried.
  internal_error: {
    status: 500,
    description: 'An unexpected error; `details.request_id` finds it in the log',
  },
  chain_error: { status: 502, description: 'The chain node answered with an error' },
  upstream_error: {
    status: 502,
    description:
      "The service's endpoint failed, answered an error, or sent more than 1 MB; nothing was charged",
  },
  upstream_refused: {
    status: 502,
    description:
      "The service's endpoint resolves to an address the proxy does not call (private, loopback, link-local)",
  },
  feed_unavailable: { status: 503, description: 'This coordinator does not serve the public feed' },
  x402_unavailable: {
    status: 503,
    description:
      'This coordinator takes no x402 payments: it runs without a chain, a vault or the coordinator key',
  },
  database_unavailable: {
    status: 503,
    description: 'The database is unavailable; `Retry-After` says when to try again',
  },
  chain_timeout: { status: 504, description: 'The chain node did not answer in time' },
  upstream_timeout: {
    status: 504,
    description: "The service's endpoint did not answer in time; nothing was charged",
  },
} as const satisfies Record<string, { status: number; description: string }>

export type ErrorCode = keyof typeof ERROR_CATALOGUE

/** The codes whose status is `S`. */
export type ErrorCodeFor<S extends number> = {
  [C in ErrorCode]: (typeof ERROR_CATALOGUE)[C]['status'] extends S ? C : never
}[ErrorCode]
