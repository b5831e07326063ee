import { createPublicClient, http, type PublicClient } from 'viem'

/** How often a wait for a receipt asks the node: a settled batch is seen within this of its block. */
export const CHAIN_POLLING_INTERVAL_MS = 500

/**
 * A viem public client over HTTP JSON-RPC; the indexer, the settler's receipts and health checks
 * read the chain through it. viem's default polling (4 s) would hold every batch up to 4 s past
 * its block on a chain with 2 s blocks.
 */
export function createChainClient(rpcUrl: string): PublicClient {
  return createPublicClient({
    transport: http(rpcUrl, { timeout: 10_000, retryCount: 1 }),
    pollingInterval: CHAIN_POLLING_INTERVAL_MS,
  })
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
