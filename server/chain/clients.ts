import { createPublicClient, http, type PublicClient } from 'viem'

/** A viem public client over HTTP JSON-RPC; the indexer and health checks read the chain through it. */
export function createChainClient(rpcUrl: string): PublicClient {
  return createPublicClient({ transport: http(rpcUrl, { timeout: 10_000, retryCount: 1 }) })
}

/**
 * Unix seconds by the later of the wall clock and the chain's latest block: the clock the vault
 * judges deadlines and expiries by (tests move the chain ahead of the wall clock).
 */
export async function chainNow(client: PublicClient | null): Promise<bigint> {
  const wallClock = BigInt(Math.floor(Date.now() / 1000))
  if (!client) return wallClock
  const block = await client.getBlock({ blockTag: 'latest' })
  return block.timestamp > wallClock ? block.timestamp : wallClock
}
