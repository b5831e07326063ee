import {
  agentListPage,
  agentProfile,
  challengeResponse,
  createChallengeBody,
  listAgentsQuery,
  myAgentResponse,
  registerAgentBody,
  registerAgentResponse,
  type RegisterAgentBody,
  rotateKeyResponse,
  updateMyProfileBody,
} from '../../protocol/agents'
import { z } from '../../protocol/zod'
import { errors, json } from '../http/openapi-parts'
import { authRateLimit } from '../http/rate-limit'
import { fieldError } from '../errors'
import { defineRoute, type Route } from '../http/route'
import {
  createChallenge,
  getAgentProfile,
  getMyProfile,
  listAgents,
  registerAgent,
  updateMyProfile,
  type RegisteredAgent,
} from './agents-service'
import { rotateApiKey } from '../auth/api-keys'
import { createService } from '../services/services-service'
import { JOB_LIMITS, jobTag } from '../../protocol/jobs'
import type { AppContext } from '../app-context'

const agentPathParams = z.object({ idOrHandle: z.string().min(1).max(64) })

/** Registration, the caller's profile, key rotation and the public directory. */
/**
 * Seed 001 runs an agent through the `endpoint_url` and `price_per_task` it registered with
 * (`/execute`); here calls go to services, so those two make the agent's first service: `per_call`
 * at that price, category `general`, tagged with its list capabilities that are tags. Returns its
 * id, or null without both fields. The agent exists whatever happens here (its API key is in this
 * answer only), so a service that cannot be made is left for the agent to make itself.
 */
async function offerSeed001Service(
  context: AppContext,
  agent: RegisteredAgent,
  body: RegisterAgentBody,
): Promise<string | null> {
  if (body.endpoint_url === undefined || body.price_per_task === undefined) return null
  const capabilities: string[] = Array.isArray(body.capabilities) ? body.capabilities : []
  try {
    const service = await createService(
      context,
      {
        id: agent.id,
        handle: agent.handle,
        walletAddress: agent.walletAddress,
        isManagedWallet: agent.isManagedWallet,
      },
      {
        name: body.name ?? agent.handle,
        description: body.description,
        category: 'general',
        pricing_model: 'per_call',
        price_amount: body.price_per_task,
        endpoint_url: body.endpoint_url,
        tags: capabilities
          .filter((capability) => jobTag.safeParse(capability).success)
          .slice(0, JOB_LIMITS.tagsMax),
      },
    )
    return service.service_id
  } catch (error) {
    context.logger.warn(
      { err: error, agentId: agent.id },
      'registration: the seed 001 service was not created',
    )
    return null
  }
}

export const agentsRoutes: readonly Route[] = [
  defineRoute({
    method: 'post',
    path: '/v1/agents/challenge',
    summary: 'A one-time message a wallet signs (EIP-191) to register with it',
    auth: 'none',
    rateLimit: authRateLimit,
    body: createChallengeBody,
    responses: {
      201: json(challengeResponse, 'Challenge issued'),
      ...errors({ 400: 'Malformed', 429: 'Rate limited' }),
    },
    handler: async ({ context, body }) => {
      const challenge = await createChallenge(context.pool, body.wallet_address)
      return {
        challenge: challenge.message,
        wallet_address: body.wallet_address,
        expires_at: challenge.expiresAt.toISOString(),
      }
    },
  }),
  defineRoute({
    method: 'post',
    path: '/v1/agents/register',
    summary: 'Register an agent; the API key is shown only in this response',
    auth: 'none',
    rateLimit: authRateLimit,
    body: registerAgentBody,
    isBodyOptional: true,
    cacheControl: 'no-store',
    responses: {
      201: json(registerAgentResponse, 'Registered'),
      ...errors({
        400: 'Malformed (an endpoint_url or webhook_url that is not https, a price_per_task past USDC decimals)',
        401: 'Bad wallet proof',
        409: 'handle_taken (a given handle; one derived from name is suffixed instead), wallet_taken',
        429: 'Rate limited',
      }),
    },
    handler: async ({ context, body }) => {
      const agent = await registerAgent(context, body)
      const service = await offerSeed001Service(context, agent, body)
      return {
        agent_id: agent.id,
        api_key: agent.apiKey,
        handle: agent.handle,
        wallet_address: agent.walletAddress,
        is_managed_wallet: agent.isManagedWallet,
        ...(agent.webhookSecret === undefined ? {} : { webhook_secret: agent.webhookSecret }),
        ...(service === null ? {} : { service_id: service }),
        created_at: agent.createdAt.toISOString(),
      }
    },
  }),
  defineRoute({
    method: 'get',
    path: '/v1/agents/me',
    summary: "The caller's profile, stats and reputation",
    auth: 'agent',
    responses: { 200: json(myAgentResponse, 'Profile'), ...errors({ 401: 'Not authenticated' }) },
    handler: ({ context, agent }) => getMyProfile(context, agent.id),
  }),
  defineRoute({
    method: 'patch',
    path: '/v1/agents/me',
    summary:
      "Change the caller's own profile: description, tags, capabilities, endpoint, price and pricing model",
    description:
      'Only the fields given change; `endpoint` and `price` (seed names) are taken for `endpoint_url` and `base_price`. The endpoint shows to the agent only.',
    auth: 'agent',
    body: updateMyProfileBody,
    responses: {
      200: json(myAgentResponse, 'The profile as it is now'),
      ...errors({ 400: 'Malformed input; the message names the field', 401: 'Not authenticated' }),
    },
    handler: ({ context, agent, body }) => updateMyProfile(context, agent.id, body),
  }),
  defineRoute({
    method: 'post',
    path: '/v1/agents/rotate-key',
    summary:
      'Replace the API key; the old one stops working at once, every wallet-signing session of the agent ends and a pending key export is cancelled',
    description:
      'A managed-wallet agent rotates only with its API key (its root credential); an agent registered with its own wallet may also rotate by a wallet-signed request, to recover a lost key.',
    auth: 'agent',
    rateLimit: authRateLimit,
    cacheControl: 'no-store',
    responses: {
      200: json(rotateKeyResponse, 'New key'),
      ...errors({
        401: 'Not authenticated',
        403: 'api_key_required: a wallet-signed request for a managed-wallet agent',
        429: 'Rate limited',
      }),
    },
    handler: async ({ context, agent, credential }) => {
      const apiKey = await rotateApiKey(context, agent.id, credential)
      return { agent_id: agent.id, api_key: apiKey }
    },
  }),
  defineRoute({
    method: 'get',
    path: '/v1/agents',
    summary:
      'Agent directory: search, tag, capability and category filters, sort; offset or cursor (keyset) pagination',
    auth: 'optional',
    query: listAgentsQuery,
    responses: {
      200: json(
        z.union([z.array(agentProfile), agentListPage]),
        'A bare array, or the cursor envelope when cursor is given',
      ),
      ...errors({ 400: 'Malformed query' }),
    },
    handler: ({ context, query }) => {
      if (query.search !== undefined && query.query !== undefined && query.search !== query.query) {
        throw fieldError('query', 'query', 'names another search than search')
      }
      return listAgents(context, {
        search: query.search ?? query.query,
        tag: query.tag,
        capability: query.capability,
        category: query.category,
        sortBy: query.sort_by,
        sortDir: query.sort_dir,
        limit: query.limit,
        offset: query.offset,
        cursor: query.cursor,
      })
    },
  }),
  // After /agents/me, so that `me` is never taken for a handle.
  defineRoute({
    method: 'get',
    path: '/v1/agents/{id_or_handle}',
    summary: 'Public profile with stats and reputation, by UUID or handle',
    auth: 'optional',
    expressParamNames: { id_or_handle: 'idOrHandle' },
    params: agentPathParams,
    responses: { 200: json(agentProfile, 'Profile'), ...errors({ 404: 'No such agent' }) },
    handler: ({ context, params }) => getAgentProfile(context, params.idOrHandle),
  }),
]
