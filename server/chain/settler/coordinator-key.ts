import type { PublicClient, Address } from 'viem'
import { clearhouseVaultAbi } from '../../../protocol/vault-abi'
import { ConfigError } from '../../errors'

/** How long start-up waits for the chain to say who the coordinator is. */
const COORDINATOR_CHECK_TIMEOUT_MS = 10_000

/**
 * Start-up's check that COORDINATOR_PRIVATE_KEY is the vault's coordinator: a wrong key would sign
 * batches the vault refuses, so the process refuses to start with one line naming both addresses.
 * A chain that does not answer in time is not a configuration error: the settler checks again
 * before every batch. Returns whether the check could be made.
 */
export async function checkCoordinatorKey(
  client: PublicClient,
  vault: Address,
  keyAddress: Address,
): Promise<boolean> {
  let coordinator: string
  try {
    coordinator = await Promise.race([
      client.readContract({ address: vault, abi: clearhouseVaultAbi, functionName: 'coordinator' }),
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('timed out')), COORDINATOR_CHECK_TIMEOUT_MS).unref(),
      ),
    ])
  } catch {
    return false
  }
  if (coordinator.toLowerCase() !== keyAddress.toLowerCase()) {
    throw new ConfigError(
      `invalid COORDINATOR_PRIVATE_KEY: its address ${keyAddress} is not the vault's coordinator ${coordinator}`,
    )
  }
  return true
}
