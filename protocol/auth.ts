import { walletAddress } from './agents'
import { z } from './zod'

/** `POST /v1/auth/session`: a session nonce for wallet-signed requests (see protocol/signed-request.ts). */
export const createSessionBody = z.object({ wallet_address: walletAddress })
export type CreateSessionBody = z.infer<typeof createSessionBody>

export const sessionResponse = z.object({
  session_nonce: z.string(),
  wallet_address: z.string(),
  agent_id: z.string().uuid(),
  expires_at: z.string(),
})
export type SessionResponse = z.infer<typeof sessionResponse>
