import { clearhouseVaultAbi } from '../../protocol/vault-abi'
import type { AppContext } from '../app-context'
import type { ChainEventHandler } from './indexer/indexed-event'

/**
 * The protocol fee without a chain (tests and tools that run the coordinator alone): the deploy
 * scripts' default, so amounts computed off-chain match a freshly deployed vault's.
 */
export const DEFAULT_PROTOCOL_FEE_BPS = 100

/**
 * How long a fee read from the vault is trusted. A fee change is announced (`FeeChangeProposed`)
 * at least the admin delay ahead and forgets the cache when its `FeeChanged` is indexed; the TTL
 * bounds staleness in replicas whose indexer is not the one writing.
 */
const FEE_TTL_MS = 60_000

type Chain = NonNullable<AppContext['chain']>

const cachedFees = new WeakMap<Chain, { feeBps: number; readAt: number }>()

/**
 * The vault's protocol fee in basis points, the fee written into every escrow lock: the vault
 * refuses a lock whose fee exceeds it, and pays the treasury what the lock names.
 */
export async function protocolFeeBps(context: Pick<AppContext, 'chain'>): Promise<number> {
  const chain = context.chain
  const vault = chain?.deployment.contracts.ClearhouseVault
  if (!chain || !vault) return DEFAULT_PROTOCOL_FEE_BPS
  const cached = cachedFees.get(chain)
  if (cached && Date.now() - cached.readAt < FEE_TTL_MS) return cached.feeBps
  const feeBps = Number(
    await chain.client.readContract({ address: vault, abi: clearhouseVaultAbi, functionName: 'feeBps' }),
  )
  cachedFees.set(chain, { feeBps, readAt: Date.now() })
  return feeBps
}

/** Forgets the cached fee when the vault applies a new one (or a reorg takes that back). */
export function feeChangedHandler(context: Pick<AppContext, 'chain'>): ChainEventHandler {
  const forget = async () => {
    if (context.chain) cachedFees.delete(context.chain)
  }
  return { eventName: 'FeeChanged', apply: forget, undo: forget }
}
