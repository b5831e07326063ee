import { createPublicClient, http, type PublicClient } from 'viem'

/** A viem public client over HTTP JSON-RPC; the indexer and health checks read the chain through it. */
export function createChainClient(rpcUrl: string): PublicClient {
  return createPublicClient({ transport: http(rpcUrl, { timeout: 10_000, retryCount: 1 }) })
}
