// The native `keccak` package ships no types; this is the part the coordinator uses.
declare module 'keccak' {
  interface KeccakHash {
    update(data: Buffer | string): KeccakHash
    digest(): Buffer
    digest(encoding: 'hex'): string
  }
  export default function createKeccakHash(algorithm: 'keccak256'): KeccakHash
}

// node-gyp-build (a dependency of `keccak` and `secp256k1`) ships no types either.
declare module 'node-gyp-build' {
  export default function nodeGypBuild(directory: string): unknown
}
