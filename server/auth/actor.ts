import type { Address } from 'viem'
/** Who is calling: the authenticated agent, as every service needs it. */
export interface Actor {
  id: string
  handle: string
  walletAddress: Address
  isManagedWallet: boolean
}

/** How the request proved who it is; rotation needs the API key hash it was made with. */
export type Credential = { kind: 'api_key'; apiKeyHash: string } | { kind: 'wallet_signature' }
