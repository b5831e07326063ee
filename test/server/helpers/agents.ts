import type { Express } from 'express'
import request from 'supertest'
import type { LocalAccount } from 'viem/accounts'

/** What `registerAgent` returns: the key shown once and the caller's own profile (`GET /v1/agents/me`). */
export interface RegisteredTestAgent {
  apiKey: string
  agent: {
    id: string
    agent_id: string
    handle: string
    wallet_address: `0x${string}`
    is_managed_wallet: boolean
    tags: string[]
    capabilities: Record<string, unknown>
    [field: string]: unknown
  }
}

let handleCounter = 0

/** A unique valid handle for tests (`t_<pid>_<n>`-like, 3–20 chars). */
export function uniqueHandle(prefix = 'agent'): string {
  handleCounter += 1
  return `${prefix.slice(0, 8)}_${process.pid.toString(36)}${handleCounter.toString(36)}`.slice(0, 20)
}

/**
 * Registers an agent through the real HTTP route. With `account` the agent proves that wallet via
 * the challenge; without one it gets a managed wallet.
 */
export async function registerAgent(
  app: Express,
  options: {
    handle?: string
    capabilities?: Record<string, unknown> | string[]
    tags?: string[]
    verifiableClaim?: Record<string, unknown>
    account?: LocalAccount
  } = {},
): Promise<RegisteredTestAgent> {
  const body: Record<string, unknown> = { handle: options.handle ?? uniqueHandle() }
  if (options.capabilities) body.capabilities = options.capabilities
  if (options.tags) body.tags = options.tags
  if (options.verifiableClaim) body.verifiable_claim = options.verifiableClaim
  if (options.account) {
    const challenge = await request(app)
      .post('/v1/agents/challenge')
      .send({ wallet_address: options.account.address })
      .expect(201)
    body.wallet_address = options.account.address
    body.challenge = challenge.body.challenge
    body.signature = await options.account.signMessage({ message: challenge.body.challenge })
  }
  const registered = await request(app).post('/v1/agents/register').send(body)
  if (registered.status !== 201) {
    throw new Error(`register failed: ${registered.status} ${JSON.stringify(registered.body)}`)
  }
  const apiKey = registered.body.api_key as string
  const me = await request(app).get('/v1/agents/me').set('Authorization', `Bearer ${apiKey}`).expect(200)
  return { apiKey, agent: { ...me.body, id: me.body.agent_id } }
}

/** Credits `amount` ("100.00", token units) of `token` (default the first allowlisted) via the dev faucet. */
export async function fundAgent(app: Express, apiKey: string, amount: string, token?: string): Promise<void> {
  const res = await request(app)
    .post('/v1/dev/faucet')
    .set('Authorization', `Bearer ${apiKey}`)
    .send(token === undefined ? { amount } : { amount, token })
  if (res.status !== 200) throw new Error(`faucet failed: ${res.status} ${JSON.stringify(res.body)}`)
}

/** `Authorization` header value for an API key. */
export function bearer(apiKey: string): string {
  return `Bearer ${apiKey}`
}
