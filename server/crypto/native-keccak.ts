import path from 'node:path'
import createKeccakHash from 'keccak'
import nodeGypBuild from 'node-gyp-build'
import type { Hex } from 'viem'

/** The `keccak` package's native sponge (prebuilt for Linux x64), used without its stream wrapper. */
interface KeccakState {
  initialize(rate: number, capacity: number): void
  absorb(data: Buffer): void
  squeeze(length: number): Buffer
}

// keccak256's sponge: rate 1088 bits, capacity 512; squeezing pads the absorbed bytes itself.
const RATE = 1088
const CAPACITY = 512

/**
 * One native sponge for the process. The package's own `createKeccakHash` builds a Node stream
 * per hash, which cost more than the hashing (about 4 µs a hash here, against 1.7 µs on the
 * state directly); a hash runs synchronously from initialize to squeeze, so one state serves
 * every caller. Null when the binding does not load: the package's JS build takes over.
 */
const sharedState: KeccakState | null = (() => {
  try {
    const State = nodeGypBuild(path.dirname(require.resolve('keccak/package.json'))) as new () => KeccakState
    return typeof State === 'function' ? new State() : null
  } catch {
    return null
  }
})()

function keccakBuffer(data: Buffer): Buffer {
  if (!sharedState) return createKeccakHash('keccak256').update(data).digest()
  sharedState.initialize(RATE, CAPACITY)
  sharedState.absorb(data)
  return sharedState.squeeze(32)
}

/**
 * keccak256 through the native `keccak` binding (the same family as `secp256k1`), several times
 * @noble/hashes here. For hot paths that hash on every paid call; it takes and returns what
 * viem's `keccak256` does, so protocol functions accept either.
 */
export function nativeKeccak256(data: Hex | Uint8Array): Hex {
  const bytes =
    typeof data === 'string'
      ? Buffer.from(data.slice(2), 'hex')
      : Buffer.from(data.buffer, data.byteOffset, data.byteLength)
  return `0x${keccakBuffer(bytes).toString('hex')}`
}
