import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi'
import { Router } from 'express'
import {
  agentListPage,
  agentProfile,
  challengeResponse,
  createChallengeBody,
  listAgentsQuery,
  myAgentResponse,
  registerAgentBody,
  registerAgentResponse,
  rotateKeyResponse,
  type ChallengeResponse,
  type RegisterAgentResponse,
  type RotateKeyResponse,
} from '../../protocol/agents'
import { errorResponse } from '../../protocol/errors'
import { z } from '../../protocol/zod'
import type { AppContext } from '../app-context'
import { currentAgent, currentCredential, optionalAgent, requireAgent } from '../http/auth'
import { authRateLimit } from '../http/rate-limit'
import { parseInput } from '../http/validate'
import { createChallenge, getAgentProfile, getMyProfile, listAgents, registerAgent } from './agents-service'
import { rotateApiKey } from '../auth/api-keys'
import { json } from '../http/openapi-parts'

/** Registration, the caller's profile, key rotation and the public directory. */
export function agentsRoutes(context: AppContext): Router {
  const router = Router()
  const limited = authRateLimit(context)

  router.post('/agents/challenge', limited, async (req, res) => {
    const body = parseInput(createChallengeBody, req.body, 'body')
    const challenge = await createChallenge(context.pool, body.wallet_address)
    const response: ChallengeResponse = {
      challenge: challenge.message,
      wallet_address: body.wallet_address,
      expires_at: challenge.expiresAt.toISOString(),
    }
    res.status(201).json(response)
  })

  router.post('/agents/register', limited, async (req, res) => {
    const body = parseInput(registerAgentBody, req.body ?? {}, 'body')
    const agent = await registerAgent(context, body)
    const response: RegisterAgentResponse = {
      agent_id: agent.id,
      api_key: agent.apiKey,
      handle: agent.handle,
      wallet_address: agent.walletAddress,
      is_managed_wallet: agent.isManagedWallet,
      created_at: agent.createdAt.toISOString(),
    }
    res.setHeader('Cache-Control', 'no-store')
    res.status(201).json(response)
  })

  router.get('/agents/me', requireAgent(context), async (_req, res) => {
    res.json(await getMyProfile(context, currentAgent(res).id))
  })

  // Authentication first: it claims a signed request's id, so a request refused 429 is spent too.
  router.post('/agents/rotate-key', requireAgent(context), limited, async (_req, res) => {
    const agent = currentAgent(res)
    const credential = currentCredential(res)
    const apiKey = await rotateApiKey(context, agent.id, credential)
    const response: RotateKeyResponse = { agent_id: agent.id, api_key: apiKey }
    res.setHeader('Cache-Control', 'no-store')
    res.json(response)
  })

  router.get('/agents', optionalAgent(context), async (req, res) => {
    const query = parseInput(listAgentsQuery, req.query, 'query')
    res.json(
      await listAgents(context, {
        search: query.search,
        tag: query.tag,
        sortBy: query.sort_by,
        sortDir: query.sort_dir,
        limit: query.limit,
        offset: query.offset,
        cursor: query.cursor,
      }),
    )
  })

  router.get('/agents/:idOrHandle', optionalAgent(context), async (req, res) => {
    const { idOrHandle } = parseInput(agentPathParams, req.params, 'params')
    res.json(await getAgentProfile(context, idOrHandle))
  })

  return router
}

const agentPathParams = z.object({ idOrHandle: z.string().min(1).max(64) })

const errors = (codes: Record<number, string>) =>
  Object.fromEntries(
    Object.entries(codes).map(([status, description]) => [status, json(errorResponse, description)]),
  )

/** Registers the agents routes in the OpenAPI document. */
export function registerAgentsOpenApi(registry: OpenAPIRegistry): void {
  const bearer: Record<string, string[]>[] = [{ bearerAuth: [] }, { walletSignature: [] }]
  registry.registerPath({
    method: 'post',
    path: '/v1/agents/challenge',
    summary: 'A one-time message a wallet signs (EIP-191) to register with it',
    request: { body: { content: { 'application/json': { schema: createChallengeBody } } } },
    responses: {
      201: json(challengeResponse, 'Challenge issued'),
      ...errors({ 400: 'Malformed', 429: 'Rate limited' }),
    },
  })
  registry.registerPath({
    method: 'post',
    path: '/v1/agents/register',
    summary: 'Register an agent; the API key is shown only in this response',
    request: { body: { content: { 'application/json': { schema: registerAgentBody } } } },
    responses: {
      201: json(registerAgentResponse, 'Registered'),
      ...errors({
        400: 'Malformed',
        401: 'Bad wallet proof',
        409: 'Handle or wallet taken',
        429: 'Rate limited',
      }),
    },
  })
  registry.registerPath({
    method: 'get',
    path: '/v1/agents/me',
    summary: "The caller's profile, stats and reputation",
    security: bearer,
    responses: { 200: json(myAgentResponse, 'Profile'), ...errors({ 401: 'Not authenticated' }) },
  })
  registry.registerPath({
    method: 'post',
    path: '/v1/agents/rotate-key',
    summary:
      'Replace the API key; the old one stops working at once, every wallet-signing session of the agent ends and a pending key export is cancelled',
    description:
      'A managed-wallet agent rotates only with its API key (its root credential); an agent registered with its own wallet may also rotate by a wallet-signed request, to recover a lost key.',
    security: bearer,
    responses: {
      200: json(rotateKeyResponse, 'New key'),
      ...errors({
        401: 'Not authenticated',
        403: 'api_key_required: a wallet-signed request for a managed-wallet agent',
        429: 'Rate limited',
      }),
    },
  })
  registry.registerPath({
    method: 'get',
    path: '/v1/agents',
    summary: 'Agent directory: search, tag filter, sort; offset or cursor (keyset) pagination',
    request: { query: listAgentsQuery },
    responses: {
      200: json(
        z.union([z.array(agentProfile), agentListPage]),
        'A bare array, or the cursor envelope when cursor is given',
      ),
      ...errors({ 400: 'Malformed query' }),
    },
  })
  registry.registerPath({
    method: 'get',
    path: '/v1/agents/{id_or_handle}',
    summary: 'Public profile with stats and reputation, by UUID or handle',
    request: { params: z.object({ id_or_handle: z.string() }) },
    responses: { 200: json(agentProfile, 'Profile'), ...errors({ 404: 'No such agent' }) },
  })
}
