import { decodeErrorResult, type Hex } from 'viem'
import { clearhouseVaultAbi } from '../../../protocol/vault-abi'

/**
 * A vault op's revert data as a readable reason: the custom error with its arguments
 * (`VaultInsufficientBalance(0x…, 0x…, 5, 10)`), or the raw data for a token's own revert string
 * or an unknown error.
 */
export function describeRevert(data: Hex): string {
  try {
    const decoded = decodeErrorResult({ abi: clearhouseVaultAbi, data })
    return `${decoded.errorName}(${(decoded.args ?? []).map(String).join(', ')})`
  } catch {
    return data
  }
}
