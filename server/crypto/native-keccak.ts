import createKeccakHash from 'keccak'
import type { Hex } from 'viem'

/**
 * keccak256 through the native `keccak` binding (the same family as `secp256k1`, prebuilt for
 * Linux x64), about 4× @noble/hashes here. For hot paths that hash on every paid call; it takes
 * and returns what viem's `keccak256` does, so protocol functions accept either.
 */
export function nativeKeccak256(data: Hex | Uint8Array): Hex {
  const bytes = typeof data === 'string' ? Buffer.from(data.slice(2), 'hex') : data
  return `0x${createKeccakHash('keccak256')
    .update(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))
    .digest('hex')}`
}
