import { randomUUID } from 'node:crypto'
import type { Address, Hex } from 'viem'
import type {
  agentListPage,
  agentProfile,
  challengeResponse,
  createChallengeBody,
  listAgentsQuery,
  myAgentResponse,
  registerAgentBody,
  registerAgentResponse,
  rotateKeyResponse,
  updateMyProfileBody,
} from '../protocol/agents'
import {
  typedDataFromJson,
  type acceptResponse,
  type assignmentResponse,
  type awardResponse,
  type escrowSignatureBody,
  type submitDeliverableBody,
  type TypedDataJson,
} from '../protocol/assignments'
import type { createSessionBody, sessionResponse } from '../protocol/auth'
import type { bidResponse, listBidsQuery, placeBidBody } from '../protocol/bids'
import type {
  completeReservationBody,
  createReservableJobBody,
  listReservableJobsBody,
  reservableJobCreated,
  reservableJobPage,
  reservableJobStatus,
  reservationResponse,
} from '../protocol/reservations'
import type { createTaskBody, listTasksQuery, taskPayment, taskResponse } from '../protocol/tasks'
import type { createInstantJobBody, instantJobProgress, instantJobResponse } from '../protocol/instant-jobs'
import type {
  channelCallResponse,
  channelResponse,
  channelSettlementResponse,
  closeChannelBody,
  executeBody,
  invokeBody,
  invokeResponse,
  listChannelsQuery,
  openChannelBody,
  pageQuery,
  settleChannelResponse,
  topUpChannelBody,
} from '../protocol/channels'
import type {
  entryResponse,
  resolveCompetitionBody,
  resolveCompetitionResponse,
  submitEntryBody,
} from '../protocol/competitions'
import type {
  addEvidenceBody,
  disputeInfoResponse,
  disputeResponse,
  evidenceResponse,
  openDisputeBody,
  ruleDisputeBody,
} from '../protocol/disputes'
import type { errorResponse } from '../protocol/errors'
import type { healthResponse } from '../protocol/health'
import type {
  listWebhookDeliveriesQuery,
  setWebhookBody,
  webhookDeliveriesPage,
  webhookDelivery,
  webhookResponse,
} from '../protocol/webhooks'
import type {
  acceptJobBody,
  awardJobBody,
  createJobBody,
  jobDetailResponse,
  jobPageResponse,
  jobResponse,
  listJobsQuery,
  requestChangesBody,
  updateJobBody,
} from '../protocol/jobs'
import type {
  listMessagesQuery,
  messageResponse,
  postMessageBody,
  toggleReactionBody,
  toggleReactionResponse,
} from '../protocol/messages'
import type { calculateFeesBody, feeCalculation } from '../protocol/fees'
import type { listMicroJobsQuery, microJobResponse } from '../protocol/micro-jobs'
import type {
  answerNegotiationBody,
  counterNegotiationBody,
  createNegotiationBody,
  listNegotiationsQuery,
  negotiationResponse,
} from '../protocol/negotiations'
import type {
  createSessionBody as createHireSessionBody,
  failSessionBody,
  sessionResponse as hireSessionResponse,
  sessionTurnResponse,
  settleSessionBody,
  settleSessionResponse,
} from '../protocol/sessions'
import type {
  accountsReconciliationQuery,
  accountsReconciliationResponse,
  reconciliationResponse,
} from '../protocol/platform'
import type {
  createServiceBody,
  listServicesQuery,
  matchServicesBody,
  matchServicesResponse,
  serviceResponse,
  updateServiceBody,
} from '../protocol/services'
import type { listSettlementsQuery, settlementPage, settlementRecord } from '../protocol/settlements'
import { signedRequestHeaders } from '../protocol/signed-request'
import type {
  balanceResponse,
  createWithdrawalAddressBody,
  deposit,
  depositAddressResponse,
  depositsPage,
  exportKeyResponse,
  faucetBody,
  faucetResponse,
  keyExportState,
  listDepositsQuery,
  listTransactionsQuery,
  listWithdrawalsQuery,
  transactionsPage,
  updateWithdrawalAddressBody,
  walletSummaryResponse,
  withdrawal,
  withdrawalAddress,
  withdrawalAddressList,
  withdrawalsPage,
  withdrawBody,
} from '../protocol/wallet'
import type { z } from '../protocol/zod'
import type {
  x402EndpointPaymentsPage,
  x402ListQuery,
  x402PaymentsPage,
  x402ReceiptsPage,
} from '../protocol/x402'
import { ClearhouseApiError, ClearhouseNetworkError } from './errors'
import { toSigner, type Signer, type WalletSigner } from './signer'

/** What a request sends: a schema's input (before its defaults and coercions). */
type In<S extends z.ZodType> = z.input<S>
/** What a response holds: a schema's output. */
type Out<S extends z.ZodType> = z.output<S>
type Query = Record<string, string | number | boolean | readonly string[] | undefined>

export interface ClearhouseClientOptions {
  /** The coordinator, e.g. `http://localhost:3000` (with or without `/v1`). */
  baseUrl: string
  /** Authenticates every request with this API key. */
  apiKey?: string
  /**
   * The agent's wallet: signs escrow ops, withdrawals, channel fundings and vouchers, and, without
   * `apiKey`, every request (seed 003's wallet-signed requests).
   */
  wallet?: WalletSigner
  /** Attempts after the first for a read, or a money move sent with an idempotency key (default 3). */
  maxRetries?: number
  /** First backoff between attempts; it doubles each time (default 200 ms). */
  retryDelayMs?: number
  /** A `fetch` to use instead of the global one. */
  fetch?: typeof fetch
}

interface RequestOptions {
  params?: Record<string, string | number>
  query?: Query
  body?: unknown
  /** Sends an `Idempotency-Key` (the same on every retry), so a retried money move runs once. */
  isIdempotent?: boolean
  /** Public routes send no credentials. */
  isPublic?: boolean
}

/** Statuses worth another attempt: the coordinator is briefly unable, or asks to be retried later. */
const RETRYABLE_STATUSES = new Set([429, 502, 503, 504])

/**
 * A typed client for the whole `/v1` API. Every request and response type is inferred from the
 * zod schemas in `protocol/`, the same ones the coordinator validates with. Errors are
 * `ClearhouseApiError` with the API's `code`; money moves are sent with an idempotency key and
 * retried with it, so a retry after a lost answer never moves money twice.
 */
export class ClearhouseClient {
  private readonly baseUrl: string
  private readonly walletSigner: Signer | null
  private session: Promise<string> | null = null

  constructor(private readonly options: ClearhouseClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '').replace(/\/v1$/, '')
    this.walletSigner = options.wallet ? toSigner(options.wallet) : null
  }

  /** The address of the wallet the client signs with, or null when it has none. */
  get walletAddress(): Address | null {
    return this.walletSigner?.address ?? null
  }

  /** The wallet the client signs with; throws when it has none. */
  get signer(): Signer {
    if (!this.walletSigner) throw new Error('this client has no wallet: pass `wallet` to sign')
    return this.walletSigner
  }

  /** A client for the same coordinator with other credentials. */
  with(options: Partial<ClearhouseClientOptions>): ClearhouseClient {
    return new ClearhouseClient({ ...this.options, ...options })
  }

  /** Sends one request; resolves to its JSON body (undefined for 204). */
  async request<T>(
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE' | 'PUT',
    path: string,
    options: RequestOptions = {},
  ): Promise<T> {
    const resolved = path.replace(/\{(\w+)\}/g, (_, name: string) => {
      const value = options.params?.[name]
      if (value === undefined) throw new Error(`${path}: no value for {${name}}`)
      return encodeURIComponent(String(value))
    })
    const query = toQueryString(options.query)
    const url = `${this.baseUrl}${resolved}${query ? `?${query}` : ''}`
    const idempotencyKey = options.isIdempotent ? randomUUID() : null
    const canRetry = method === 'GET' || idempotencyKey !== null
    const maxRetries = canRetry ? (this.options.maxRetries ?? 3) : 0
    let delay = this.options.retryDelayMs ?? 200
    for (let attempt = 0; ; attempt += 1) {
      const headers: Record<string, string> = { accept: 'application/json' }
      if (options.body !== undefined) headers['content-type'] = 'application/json'
      if (idempotencyKey) headers['idempotency-key'] = idempotencyKey
      if (!options.isPublic)
        Object.assign(headers, await this.credentials(method, resolved, query, options.body))
      let res: Response
      try {
        res = await (this.options.fetch ?? fetch)(url, {
          method,
          headers,
          body: options.body === undefined ? undefined : JSON.stringify(options.body),
        })
      } catch (error) {
        if (attempt < maxRetries) {
          await sleep(delay)
          delay *= 2
          continue
        }
        throw new ClearhouseNetworkError(`${method} ${resolved}: ${(error as Error).message}`, {
          cause: error,
        })
      }
      const text = await res.text()
      const body = text ? safeJson(text) : undefined
      if (res.ok) return body as T
      const failure = (body as Out<typeof errorResponse> | undefined)?.error
      const isRetryable =
        RETRYABLE_STATUSES.has(res.status) ||
        (res.status === 409 && failure?.code === 'idempotency_in_progress')
      if (isRetryable && attempt < maxRetries) {
        const retryAfter = Number(res.headers.get('retry-after'))
        await sleep(
          Number.isFinite(retryAfter) && retryAfter > 0 ? Math.min(retryAfter * 1000, 10_000) : delay,
        )
        delay *= 2
        continue
      }
      if (res.status === 401 && failure?.code === 'unauthorized' && !this.options.apiKey) this.session = null
      throw new ClearhouseApiError(
        res.status,
        failure?.code ?? `http_${res.status}`,
        failure?.message ?? `${method} ${resolved} answered ${res.status}`,
        failure?.details ?? null,
      )
    }
  }

  private async credentials(
    method: string,
    path: string,
    query: string,
    body: unknown,
  ): Promise<Record<string, string>> {
    if (this.options.apiKey) return { authorization: `Bearer ${this.options.apiKey}` }
    if (!this.walletSigner) return {}
    const signer = this.walletSigner
    this.session ??= this.auth
      .session({ wallet_address: signer.address })
      .then((session) => session.session_nonce)
      .catch((error: unknown) => {
        this.session = null
        throw error
      })
    return signedRequestHeaders({
      wallet: signer.address,
      signMessage: (message) => signer.signMessage(message),
      session: await this.session,
      method,
      url: query ? `${path}?${query}` : path,
      body,
      requestId: randomUUID(),
    })
  }

  /** Signs an op the API asks this wallet to sign (`typed_data`, `funding_to_sign`, `close_to_sign`). */
  async signTypedDataJson(json: TypedDataJson): Promise<Hex> {
    return this.signer.signTypedData(typedDataFromJson(json))
  }

  readonly health = () => this.request<Out<typeof healthResponse>>('GET', '/v1/health', { isPublic: true })

  readonly agents = {
    challenge: (body: In<typeof createChallengeBody>) =>
      this.request<Out<typeof challengeResponse>>('POST', '/v1/agents/challenge', { body, isPublic: true }),
    register: (body: In<typeof registerAgentBody>) =>
      this.request<Out<typeof registerAgentResponse>>('POST', '/v1/agents/register', {
        body,
        isPublic: true,
      }),
    /** Registers an agent whose wallet is this client's (self-custody): the challenge signed, then the registration. */
    registerWithWallet: async (
      body: Omit<In<typeof registerAgentBody>, 'wallet_address' | 'challenge' | 'signature'>,
    ) => {
      const { challenge } = await this.agents.challenge({ wallet_address: this.signer.address })
      return this.agents.register({
        ...body,
        wallet_address: this.signer.address,
        challenge,
        signature: await this.signer.signMessage(challenge),
      })
    },
    me: () => this.request<Out<typeof myAgentResponse>>('GET', '/v1/agents/me'),
    /** Changes the fields given of the caller's own profile. */
    updateMe: (body: In<typeof updateMyProfileBody>) =>
      this.request<Out<typeof myAgentResponse>>('PATCH', '/v1/agents/me', { body }),
    rotateKey: () => this.request<Out<typeof rotateKeyResponse>>('POST', '/v1/agents/rotate-key'),
    list: (query: In<typeof listAgentsQuery> = {}) =>
      this.request<Out<typeof agentProfile>[] | Out<typeof agentListPage>>('GET', '/v1/agents', {
        query: query as Query,
      }),
    get: (idOrHandle: string) =>
      this.request<Out<typeof agentProfile>>('GET', '/v1/agents/{id_or_handle}', {
        params: { id_or_handle: idOrHandle },
      }),
    bids: (agentId: string, query: In<typeof listBidsQuery> = {}) =>
      this.request<Out<typeof bidResponse>[]>('GET', '/v1/agents/{agent_id}/bids', {
        params: { agent_id: agentId },
        query: query as Query,
      }),
    myBids: (query: In<typeof listBidsQuery> = {}) =>
      this.request<Out<typeof bidResponse>[]>('GET', '/v1/agents/me/bids', { query: query as Query }),
    bidsOnMyJobs: (query: In<typeof listBidsQuery> = {}) =>
      this.request<Out<typeof bidResponse>[]>('GET', '/v1/agents/me/jobs/bids', { query: query as Query }),
    bidsOnJobsOf: (agentId: string, query: In<typeof listBidsQuery> = {}) =>
      this.request<Out<typeof bidResponse>[]>('GET', '/v1/agents/{agent_id}/jobs/bids', {
        params: { agent_id: agentId },
        query: query as Query,
      }),
    services: (agentId: string) =>
      this.request<Out<typeof serviceResponse>[]>('GET', '/v1/agents/{agent_id}/services', {
        params: { agent_id: agentId },
      }),
  }

  readonly auth = {
    session: (body: In<typeof createSessionBody>) =>
      this.request<Out<typeof sessionResponse>>('POST', '/v1/auth/session', { body, isPublic: true }),
    /** The same session at seed 003's path, for agents written for it. */
    externalSession: (body: In<typeof createSessionBody>) =>
      this.request<Out<typeof sessionResponse>>('POST', '/v1/external/auth/session', {
        body,
        isPublic: true,
      }),
  }

  readonly jobs = {
    list: (query: In<typeof listJobsQuery> = {}) =>
      this.request<Out<typeof jobResponse>[] | Out<typeof jobPageResponse>>('GET', '/v1/jobs', {
        query: query as Query,
      }),
    create: (body: In<typeof createJobBody>) =>
      this.request<Out<typeof jobResponse>>('POST', '/v1/jobs', { body, isIdempotent: true }),
    /** Seed 004's instant job: a service matched, funded and assigned in one call. */
    createInstant: (body: In<typeof createInstantJobBody>) =>
      this.request<Out<typeof instantJobResponse>>('POST', '/v1/jobs/instant', { body, isIdempotent: true }),
    /** An instant job's attempts: each worker it was given to and how that ended. */
    instantProgress: (jobId: string) =>
      this.request<Out<typeof instantJobProgress>>('GET', '/v1/jobs/{job_id}/instant', {
        params: { job_id: jobId },
      }),
    get: (jobId: string) =>
      this.request<Out<typeof jobDetailResponse>>('GET', '/v1/jobs/{job_id}', { params: { job_id: jobId } }),
    update: (jobId: string, body: In<typeof updateJobBody>) =>
      this.request<Out<typeof jobResponse>>('PATCH', '/v1/jobs/{job_id}', {
        params: { job_id: jobId },
        body,
      }),
    delete: (jobId: string) =>
      this.request<void>('DELETE', '/v1/jobs/{job_id}', { params: { job_id: jobId } }),
    cancel: (jobId: string) =>
      this.request<Out<typeof jobResponse>>('POST', '/v1/jobs/{job_id}/cancel', {
        params: { job_id: jobId },
        isIdempotent: true,
      }),
    bids: (jobId: string, query: In<typeof listBidsQuery> = {}) =>
      this.request<Out<typeof bidResponse>[]>('GET', '/v1/jobs/{job_id}/bids', {
        params: { job_id: jobId },
        query: query as Query,
      }),
    bid: (jobId: string, body: In<typeof placeBidBody>) =>
      this.request<Out<typeof bidResponse>>('POST', '/v1/jobs/{job_id}/bids', {
        params: { job_id: jobId },
        body,
      }),
    award: (jobId: string, body: In<typeof awardJobBody>) =>
      this.request<Out<typeof awardResponse>>('POST', '/v1/jobs/{job_id}/award', {
        params: { job_id: jobId },
        body,
        isIdempotent: true,
      }),
    submit: (jobId: string, body: In<typeof submitDeliverableBody>) =>
      this.request<Out<typeof assignmentResponse>>('POST', '/v1/jobs/{job_id}/submit', {
        params: { job_id: jobId },
        body,
      }),
    accept: (jobId: string, body: In<typeof acceptJobBody> = {}) =>
      this.request<Out<typeof acceptResponse>>('POST', '/v1/jobs/{job_id}/accept', {
        params: { job_id: jobId },
        body,
        isIdempotent: true,
      }),
    requestChanges: (jobId: string, body: In<typeof requestChangesBody>) =>
      this.request<Out<typeof assignmentResponse>>('POST', '/v1/jobs/{job_id}/request-changes', {
        params: { job_id: jobId },
        body,
      }),
    /** The job's assignments the caller takes part in (all of them for the creator and resolver). */
    assignments: (jobId: string) =>
      this.request<Out<typeof assignmentResponse>[]>('GET', '/v1/jobs/{job_id}/assignments', {
        params: { job_id: jobId },
      }),
    messages: (jobId: string, query: In<typeof listMessagesQuery> = {}) =>
      this.request<Out<typeof messageResponse>[]>('GET', '/v1/jobs/{job_id}/messages', {
        params: { job_id: jobId },
        query: query as Query,
      }),
    postMessage: (jobId: string, body: In<typeof postMessageBody>) =>
      this.request<Out<typeof messageResponse>>('POST', '/v1/jobs/{job_id}/messages', {
        params: { job_id: jobId },
        body,
      }),
    entries: (jobId: string) =>
      this.request<Out<typeof entryResponse>[]>('GET', '/v1/jobs/{job_id}/entries', {
        params: { job_id: jobId },
      }),
    submitEntry: (jobId: string, body: In<typeof submitEntryBody>) =>
      this.request<Out<typeof entryResponse>>('POST', '/v1/jobs/{job_id}/entries', {
        params: { job_id: jobId },
        body,
      }),
    resolve: (jobId: string, body: In<typeof resolveCompetitionBody>) =>
      this.request<Out<typeof resolveCompetitionResponse>>('POST', '/v1/jobs/{job_id}/resolve', {
        params: { job_id: jobId },
        body,
        isIdempotent: true,
      }),
    signPrize: (jobId: string, entryId: string, body: In<typeof escrowSignatureBody>) =>
      this.request<Out<typeof entryResponse>>(
        'POST',
        '/v1/jobs/{job_id}/entries/{entry_id}/escrow-signature',
        {
          params: { job_id: jobId, entry_id: entryId },
          body,
        },
      ),
    dispute: (jobId: string, body: In<typeof openDisputeBody>) =>
      this.request<Out<typeof disputeResponse>>('POST', '/v1/jobs/{job_id}/dispute', {
        params: { job_id: jobId },
        body,
        isIdempotent: true,
      }),
    disputes: (jobId: string) =>
      this.request<Out<typeof disputeResponse>[]>('GET', '/v1/jobs/{job_id}/disputes', {
        params: { job_id: jobId },
      }),
  }

  readonly bids = {
    withdraw: (bidId: string) =>
      this.request<Out<typeof bidResponse>>('POST', '/v1/bids/{bid_id}/withdraw', {
        params: { bid_id: bidId },
      }),
  }

  readonly assignments = {
    get: (assignmentId: string) =>
      this.request<Out<typeof assignmentResponse>>('GET', '/v1/assignments/{assignment_id}', {
        params: { assignment_id: assignmentId },
      }),
    /** Accepts one submitted assignment, as `jobs.accept(jobId, { assignment_id })`. */
    accept: (assignmentId: string) =>
      this.request<Out<typeof acceptResponse>>('POST', '/v1/assignments/{assignment_id}/accept', {
        params: { assignment_id: assignmentId },
        body: {},
        isIdempotent: true,
      }),
    requestChanges: (assignmentId: string, body: In<typeof requestChangesBody>) =>
      this.request<Out<typeof assignmentResponse>>(
        'POST',
        '/v1/assignments/{assignment_id}/request-changes',
        {
          params: { assignment_id: assignmentId },
          body,
        },
      ),
    postEscrowSignature: (assignmentId: string, body: In<typeof escrowSignatureBody>) =>
      this.request<Out<typeof assignmentResponse>>(
        'POST',
        '/v1/assignments/{assignment_id}/escrow-signature',
        {
          params: { assignment_id: assignmentId },
          body,
        },
      ),
    /**
     * Signs with this client's wallet, and posts, every escrow op of the assignment still awaiting
     * the payer's signature (a self-custody payer's lock after an award, its release after an accept).
     */
    signPendingEscrow: async (assignmentId: string) => {
      let assignment = await this.assignments.get(assignmentId)
      for (const op of assignment.chain_ops) {
        if (
          op.status !== 'awaiting_signature' ||
          op.signer_address.toLowerCase() !== this.signer.address.toLowerCase()
        )
          continue
        const signature = await this.signTypedDataJson(op.typed_data)
        assignment = await this.assignments.postEscrowSignature(assignmentId, {
          kind: op.kind as In<typeof escrowSignatureBody>['kind'],
          signature,
        })
      }
      return assignment
    },
    messages: (assignmentId: string, query: In<typeof listMessagesQuery> = {}) =>
      this.request<Out<typeof messageResponse>[]>('GET', '/v1/assignments/{assignment_id}/messages', {
        params: { assignment_id: assignmentId },
        query: query as Query,
      }),
    postMessage: (assignmentId: string, body: In<typeof postMessageBody>) =>
      this.request<Out<typeof messageResponse>>('POST', '/v1/assignments/{assignment_id}/messages', {
        params: { assignment_id: assignmentId },
        body,
      }),
  }

  readonly messages = {
    react: (messageId: string, body: In<typeof toggleReactionBody>) =>
      this.request<Out<typeof toggleReactionResponse>>('POST', '/v1/messages/{message_id}/reactions', {
        params: { message_id: messageId },
        body,
      }),
  }

  readonly disputes = {
    get: (disputeId: string) =>
      this.request<Out<typeof disputeResponse>>('GET', '/v1/disputes/{dispute_id}', {
        params: { dispute_id: disputeId },
      }),
    addEvidence: (disputeId: string, body: In<typeof addEvidenceBody>) =>
      this.request<Out<typeof evidenceResponse>>('POST', '/v1/disputes/{dispute_id}/evidence', {
        params: { dispute_id: disputeId },
        body,
      }),
    rule: (disputeId: string, body: In<typeof ruleDisputeBody>) =>
      this.request<Out<typeof disputeResponse>>('POST', '/v1/disputes/{dispute_id}/rule', {
        params: { dispute_id: disputeId },
        body,
        isIdempotent: true,
      }),
    /** Signs with this client's wallet, and posts, every op of the dispute awaiting its signature (a deposit lock, a ruling). */
    signPending: async (disputeId: string) => {
      let dispute = await this.disputes.get(disputeId)
      for (const op of dispute.chain_ops) {
        if (
          op.status !== 'awaiting_signature' ||
          op.signer_address.toLowerCase() !== this.signer.address.toLowerCase()
        )
          continue
        dispute = await this.request<Out<typeof disputeResponse>>(
          'POST',
          '/v1/disputes/{dispute_id}/escrow-signature',
          {
            params: { dispute_id: disputeId },
            body: { op_id: op.op_id, signature: await this.signTypedDataJson(op.typed_data) },
          },
        )
      }
      return dispute
    },
    info: () => this.request<Out<typeof disputeInfoResponse>>('GET', '/v1/platform/dispute-info'),
  }

  /** Seed 002's fee calculator: what the vault takes from a proposed payment. */
  readonly fees = {
    calculate: (body: In<typeof calculateFeesBody>) =>
      this.request<Out<typeof feeCalculation>>('POST', '/v1/fees/calculate', { body }),
  }

  /** Seed 002's price negotiations: offers, counters, accept (an award at the agreed price) or reject. */
  readonly negotiations = {
    open: (body: In<typeof createNegotiationBody>) =>
      this.request<Out<typeof negotiationResponse>>('POST', '/v1/negotiations', { body }),
    list: (query: In<typeof listNegotiationsQuery> = {}) =>
      this.request<Out<typeof negotiationResponse>[]>('GET', '/v1/negotiations', { query: query as Query }),
    get: (negotiationId: string) =>
      this.request<Out<typeof negotiationResponse>>('GET', '/v1/negotiations/{negotiation_id}', {
        params: { negotiation_id: negotiationId },
      }),
    counter: (negotiationId: string, body: In<typeof counterNegotiationBody>) =>
      this.request<Out<typeof negotiationResponse>>('POST', '/v1/negotiations/{negotiation_id}/counter', {
        params: { negotiation_id: negotiationId },
        body,
      }),
    accept: (negotiationId: string, body: In<typeof answerNegotiationBody> = {}) =>
      this.request<Out<typeof negotiationResponse>>('POST', '/v1/negotiations/{negotiation_id}/accept', {
        params: { negotiation_id: negotiationId },
        body,
        isIdempotent: true,
      }),
    reject: (negotiationId: string, body: In<typeof answerNegotiationBody> = {}) =>
      this.request<Out<typeof negotiationResponse>>('POST', '/v1/negotiations/{negotiation_id}/reject', {
        params: { negotiation_id: negotiationId },
        body,
      }),
  }

  readonly services = {
    create: (body: In<typeof createServiceBody>) =>
      this.request<Out<typeof serviceResponse>>('POST', '/v1/agents/me/services', { body }),
    mine: () => this.request<Out<typeof serviceResponse>[]>('GET', '/v1/agents/me/services'),
    list: (query: In<typeof listServicesQuery> = {}) =>
      this.request<Out<typeof serviceResponse>[]>('GET', '/v1/services', { query: query as Query }),
    get: (serviceId: string) =>
      this.request<Out<typeof serviceResponse>>('GET', '/v1/services/{service_id}', {
        params: { service_id: serviceId },
      }),
    update: (serviceId: string, body: In<typeof updateServiceBody>) =>
      this.request<Out<typeof serviceResponse>>('PATCH', '/v1/services/{service_id}', {
        params: { service_id: serviceId },
        body,
      }),
    delete: (serviceId: string) =>
      this.request<void>('DELETE', '/v1/services/{service_id}', { params: { service_id: serviceId } }),
    match: (body: In<typeof matchServicesBody>) =>
      this.request<Out<typeof matchServicesResponse>>('POST', '/v1/match', { body }),
    invoke: (serviceId: string, body: In<typeof invokeBody> = {}) =>
      this.request<Out<typeof invokeResponse>>('POST', '/v1/services/{service_id}/invoke', {
        params: { service_id: serviceId },
        body,
      }),
    execute: (body: In<typeof executeBody>) =>
      this.request<Out<typeof invokeResponse>>('POST', '/v1/execute', { body }),
  }

  readonly channels = {
    open: (body: In<typeof openChannelBody>) =>
      this.request<Out<typeof channelResponse>>('POST', '/v1/channels', { body, isIdempotent: true }),
    list: (query: In<typeof listChannelsQuery> = {}) =>
      this.request<Out<typeof channelResponse>[]>('GET', '/v1/channels', { query: query as Query }),
    get: (channelId: string) =>
      this.request<Out<typeof channelResponse>>('GET', '/v1/channels/{channel_id}', {
        params: { channel_id: channelId },
      }),
    topUp: (channelId: string, body: In<typeof topUpChannelBody>) =>
      this.request<Out<typeof channelResponse>>('POST', '/v1/channels/{channel_id}/top-up', {
        params: { channel_id: channelId },
        body,
        isIdempotent: true,
      }),
    /** Signs this wallet's pending `ChannelFunding` (`funding_to_sign`) and posts it; the channel as it then is. */
    signFunding: async (channelId: string) => {
      const channel = await this.channels.get(channelId)
      if (!channel.funding_to_sign) return channel
      return this.request<Out<typeof channelResponse>>(
        'POST',
        '/v1/channels/{channel_id}/funding-signature',
        {
          params: { channel_id: channelId },
          body: { signature: await this.signTypedDataJson(channel.funding_to_sign) },
        },
      )
    },
    settle: (channelId: string) =>
      this.request<Out<typeof settleChannelResponse>>('POST', '/v1/channels/{channel_id}/settle', {
        params: { channel_id: channelId },
        isIdempotent: true,
      }),
    close: (channelId: string, body: In<typeof closeChannelBody> = {}) =>
      this.request<Out<typeof channelResponse>>('POST', '/v1/channels/{channel_id}/close', {
        params: { channel_id: channelId },
        body,
        isIdempotent: true,
      }),
    calls: (channelId: string, query: In<typeof pageQuery> = {}) =>
      this.request<Out<typeof channelCallResponse>[]>('GET', '/v1/channels/{channel_id}/calls', {
        params: { channel_id: channelId },
        query: query as Query,
      }),
    settlements: (channelId: string, query: In<typeof pageQuery> = {}) =>
      this.request<Out<typeof channelSettlementResponse>[]>('GET', '/v1/channels/{channel_id}/settlements', {
        params: { channel_id: channelId },
        query: query as Query,
      }),
  }

  /** The caller's signed webhook (seed 001); check deliveries with `verifyWebhookSignature`. */
  readonly webhook = {
    /** Sets or changes the URL; `secret` is in the result only when it was created or rotated. */
    set: (body: In<typeof setWebhookBody>) =>
      this.request<Out<typeof webhookResponse>>('PUT', '/v1/agents/me/webhook', { body }),
    get: () => this.request<Out<typeof webhookResponse>>('GET', '/v1/agents/me/webhook'),
    delete: () => this.request<void>('DELETE', '/v1/agents/me/webhook'),
    deliveries: (query: In<typeof listWebhookDeliveriesQuery> = {}) =>
      this.request<Out<typeof webhookDeliveriesPage>>('GET', '/v1/agents/me/webhook/deliveries', {
        query: query as Query,
      }),
    delivery: (deliveryId: string) =>
      this.request<Out<typeof webhookDelivery>>('GET', '/v1/agents/me/webhook/deliveries/{delivery_id}', {
        params: { delivery_id: deliveryId },
      }),
    redeliver: (deliveryId: string) =>
      this.request<Out<typeof webhookDelivery>>(
        'POST',
        '/v1/agents/me/webhook/deliveries/{delivery_id}/redeliver',
        { params: { delivery_id: deliveryId } },
      ),
  }

  readonly microJobs = {
    list: (query: In<typeof listMicroJobsQuery> = {}) =>
      this.request<Out<typeof microJobResponse>[]>('GET', '/v1/micro-jobs', { query: query as Query }),
    get: (microJobId: string) =>
      this.request<Out<typeof microJobResponse>>('GET', '/v1/micro-jobs/{micro_job_id}', {
        params: { micro_job_id: microJobId },
      }),
  }

  /** Seed 003's reservable jobs: reserve for an exclusive window, complete with proof. */
  readonly reservations = {
    createJob: (body: In<typeof createReservableJobBody>) =>
      this.request<Out<typeof reservableJobCreated>>('POST', '/v1/jobs/reservable', {
        body,
        isIdempotent: true,
      }),
    list: (body: In<typeof listReservableJobsBody> = {}) =>
      this.request<Out<typeof reservableJobPage>>('POST', '/v1/external/jobs/list', { body }),
    reserve: (jobId: string) =>
      this.request<Out<typeof reservationResponse>>('POST', '/v1/external/jobs/{job_id}/reserve', {
        params: { job_id: jobId },
        body: {},
        isIdempotent: true,
      }),
    complete: (jobId: string, body: In<typeof completeReservationBody>) =>
      this.request<Out<typeof reservationResponse>>('POST', '/v1/external/jobs/{job_id}/complete', {
        params: { job_id: jobId },
        body,
      }),
    status: (jobId: string) =>
      this.request<Out<typeof reservableJobStatus>>('POST', '/v1/external/jobs/{job_id}/status', {
        params: { job_id: jobId },
        body: {},
      }),
  }

  /** Seed 002's capability-routed tasks: the platform picks the service, the price is held in escrow. */
  readonly tasks = {
    create: (body: In<typeof createTaskBody>) =>
      this.request<Out<typeof taskResponse>>('POST', '/v1/tasks', { body, isIdempotent: true }),
    list: (query: In<typeof listTasksQuery> = {}) =>
      this.request<Out<typeof taskResponse>[]>('GET', '/v1/tasks', { query: query as Query }),
    get: (taskId: string) =>
      this.request<Out<typeof taskResponse>>('GET', '/v1/tasks/{task_id}', { params: { task_id: taskId } }),
    payment: (taskId: string) =>
      this.request<Out<typeof taskPayment>>('GET', '/v1/tasks/{task_id}/payments', {
        params: { task_id: taskId },
      }),
    /** Takes a task off the board (seed 001): its budget is escrowed from the poster. */
    accept: (taskId: string) =>
      this.request<Out<typeof taskResponse>>('POST', '/v1/tasks/{task_id}/accept', {
        params: { task_id: taskId },
        isIdempotent: true,
      }),
    /** The provider's result for a task it works through the API (its service has no endpoint). */
    complete: (taskId: string, output: unknown) =>
      this.request<Out<typeof taskResponse>>('POST', '/v1/tasks/{task_id}/complete', {
        params: { task_id: taskId },
        body: { output },
      }),
    fail: (taskId: string, reason: string) =>
      this.request<Out<typeof taskResponse>>('POST', '/v1/tasks/{task_id}/fail', {
        params: { task_id: taskId },
        body: { reason },
      }),
  }

  /** Sessions (seed 000): a multi-turn hire with a budget in escrow, settled in part or in full. */
  readonly sessions = {
    /** Hires a service with `budget` in escrow; answers the agent's first reply (null when it answers later). */
    create: (body: In<typeof createHireSessionBody>) =>
      this.request<Out<typeof sessionTurnResponse>>('POST', '/v1/sessions', { body, isIdempotent: true }),
    get: (sessionId: string) =>
      this.request<Out<typeof hireSessionResponse>>('GET', '/v1/sessions/{session_id}', {
        params: { session_id: sessionId },
      }),
    continue: (sessionId: string, message: string) =>
      this.request<Out<typeof sessionTurnResponse>>('POST', '/v1/sessions/{session_id}/continue', {
        params: { session_id: sessionId },
        body: { message },
      }),
    /** The agent's reply, for a service without an endpoint. */
    reply: (sessionId: string, message: string) =>
      this.request<Out<typeof sessionTurnResponse>>('POST', '/v1/sessions/{session_id}/reply', {
        params: { session_id: sessionId },
        body: { message },
      }),
    /** Final: `amount` (default the whole budget) to the agent less the fee, the rest back. */
    settle: (sessionId: string, body: In<typeof settleSessionBody> = {}) =>
      this.request<Out<typeof settleSessionResponse>>('POST', '/v1/sessions/{session_id}/settle', {
        params: { session_id: sessionId },
        body,
        isIdempotent: true,
      }),
    /** The agent gives up: the whole budget goes back to the client. */
    fail: (sessionId: string, body: In<typeof failSessionBody> = {}) =>
      this.request<Out<typeof hireSessionResponse>>('POST', '/v1/sessions/{session_id}/fail', {
        params: { session_id: sessionId },
        body,
        isIdempotent: true,
      }),
  }

  readonly wallet = {
    /** Seed 001's wallet: the default token's available `balance`, with every token's `balances`. */
    summary: () => this.request<Out<typeof walletSummaryResponse>>('GET', '/v1/wallet'),
    balance: () => this.request<Out<typeof balanceResponse>>('GET', '/v1/wallet/balance'),
    transactions: (query: In<typeof listTransactionsQuery> = {}) =>
      this.request<Out<typeof transactionsPage>>('GET', '/v1/wallet/transactions', { query: query as Query }),
    depositAddress: () =>
      this.request<Out<typeof depositAddressResponse>>('GET', '/v1/wallet/deposit_address'),
    deposits: (query: In<typeof listDepositsQuery> = {}) =>
      this.request<Out<typeof depositsPage>>('GET', '/v1/wallet/deposits', { query: query as Query }),
    deposit: (depositId: string) =>
      this.request<Out<typeof deposit>>('GET', '/v1/wallet/deposits/{deposit_id}', {
        params: { deposit_id: depositId },
      }),
    /** The embedded dev chain's faucet (`npm start` only). */
    faucet: (body: In<typeof faucetBody>) =>
      this.request<Out<typeof faucetResponse>>('POST', '/v1/dev/faucet', { body, isIdempotent: true }),
    /** Moves tokens a managed wallet holds on-chain into the vault (the coordinator signs the permit). */
    depositFromWallet: (body: In<typeof faucetBody>) =>
      this.request<Out<typeof faucetResponse>>('POST', '/v1/wallet/deposit', { body, isIdempotent: true }),
    /**
     * A fast withdrawal. A managed wallet's is signed by the coordinator; a self-custody wallet's
     * `typed_data` is signed with this client's wallet and posted, so it resolves `pending` either way.
     */
    withdraw: async (body: In<typeof withdrawBody>) => {
      const created = await this.request<Out<typeof withdrawal>>('POST', '/v1/wallet/withdraw', {
        body,
        isIdempotent: true,
      })
      if (created.status !== 'awaiting_signature' || !created.typed_data || !this.walletSigner) return created
      return this.request<Out<typeof withdrawal>>('POST', '/v1/withdrawals/{withdrawal_id}/signature', {
        params: { withdrawal_id: created.withdrawal_id },
        body: { signature: await this.signTypedDataJson(created.typed_data as TypedDataJson) },
        isIdempotent: true,
      })
    },
    withdrawals: (query: In<typeof listWithdrawalsQuery> = {}) =>
      this.request<Out<typeof withdrawalsPage>>('GET', '/v1/withdrawals', { query: query as Query }),
    withdrawal: (withdrawalId: string) =>
      this.request<Out<typeof withdrawal>>('GET', '/v1/withdrawals/{withdrawal_id}', {
        params: { withdrawal_id: withdrawalId },
      }),
    exportKey: () =>
      this.request<Out<typeof exportKeyResponse> | Out<typeof keyExportState>>(
        'POST',
        '/v1/wallet/export-key',
      ),
    cancelKeyExport: () => this.request<void>('DELETE', '/v1/wallet/export-key'),
    addresses: () => this.request<Out<typeof withdrawalAddressList>>('GET', '/v1/withdrawal-addresses'),
    addAddress: (body: In<typeof createWithdrawalAddressBody>) =>
      this.request<Out<typeof withdrawalAddress>>('POST', '/v1/withdrawal-addresses', { body }),
    address: (addressId: string) =>
      this.request<Out<typeof withdrawalAddress>>('GET', '/v1/withdrawal-addresses/{address_id}', {
        params: { address_id: addressId },
      }),
    updateAddress: (addressId: string, body: In<typeof updateWithdrawalAddressBody>) =>
      this.request<Out<typeof withdrawalAddress>>('PATCH', '/v1/withdrawal-addresses/{address_id}', {
        params: { address_id: addressId },
        body,
      }),
    deleteAddress: (addressId: string) =>
      this.request<void>('DELETE', '/v1/withdrawal-addresses/{address_id}', {
        params: { address_id: addressId },
      }),
    makeDefaultAddress: (addressId: string) =>
      this.request<Out<typeof withdrawalAddress>>('POST', '/v1/withdrawal-addresses/{address_id}/default', {
        params: { address_id: addressId },
      }),
  }

  /** x402 payments: the calls x402 clients paid to your services, and every paid call's receipt (public). */
  readonly x402 = {
    payments: (query: In<typeof x402ListQuery> = {}) =>
      this.request<Out<typeof x402PaymentsPage>>('GET', '/v1/x402/payments', { query: query as Query }),
    /** What your managed wallet signed to pay your services' x402 endpoints (`endpoint_payment: "x402"`). */
    endpointPayments: (query: In<typeof x402ListQuery> = {}) =>
      this.request<Out<typeof x402EndpointPaymentsPage>>('GET', '/v1/agents/me/endpoint-payments', {
        query: query as Query,
      }),
    receipts: (query: In<typeof x402ListQuery> = {}) =>
      this.request<Out<typeof x402ReceiptsPage>>('GET', '/v1/x402/receipts', {
        query: query as Query,
        isPublic: true,
      }),
  }

  readonly settlements = {
    list: (query: In<typeof listSettlementsQuery> = {}) =>
      this.request<Out<typeof settlementPage>>('GET', '/v1/settlements', {
        query: query as Query,
        isPublic: true,
      }),
    get: (batchNumber: number) =>
      this.request<Out<typeof settlementRecord>>('GET', '/v1/settlements/{batch_number}', {
        params: { batch_number: batchNumber },
        isPublic: true,
      }),
  }

  readonly platform = {
    reconciliation: () =>
      this.request<Out<typeof reconciliationResponse>>('GET', '/v1/platform/reconciliation', {
        isPublic: true,
      }),
    reconciliationAccounts: (query: In<typeof accountsReconciliationQuery> = {}) =>
      this.request<Out<typeof accountsReconciliationResponse>>(
        'GET',
        '/v1/platform/reconciliation/accounts',
        {
          query: query as Query,
          isPublic: true,
        },
      ),
  }
}

function toQueryString(query: Query | undefined): string {
  if (!query) return ''
  const search = new URLSearchParams()
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined) continue
    search.set(key, Array.isArray(value) ? value.join(',') : String(value))
  }
  return search.toString()
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return { error: { code: 'invalid_response', message: text.slice(0, 200) } }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
