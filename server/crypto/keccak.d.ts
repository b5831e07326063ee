// The native `keccak` package ships no types; this is the part the coordinator uses.
declare module 'keccak' {
  interface KeccakHash {
    update(data: Buffer | string): KeccakHash
    digest(): Buffer
    digest(encoding: 'hex'): string
  }
  export default function createKeccakHash(algorithm: 'keccak256'): KeccakHash
}
