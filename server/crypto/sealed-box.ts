import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'

// Secrets the coordinator must read back (managed wallets' keys, webhook signing secrets) are
// stored sealed: AES-256-GCM under the coordinator's encryption key, bound to what they belong to
// by associated data, so a sealed value copied to another row does not open.

const CIPHER = 'aes-256-gcm'
const FORMAT_VERSION = 'v1'

/** Seals `plaintext` under `key` (32 bytes), bound to `associatedData`: `v1.<iv>.<tag>.<ciphertext>` in base64url. */
export function seal(key: Buffer, associatedData: string, plaintext: Buffer): string {
  const iv = randomBytes(12)
  const cipher = createCipheriv(CIPHER, key, iv)
  cipher.setAAD(Buffer.from(associatedData, 'utf8'))
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()])
  return [FORMAT_VERSION, iv, cipher.getAuthTag(), ciphertext]
    .map((part) => (typeof part === 'string' ? part : part.toString('base64url')))
    .join('.')
}

/** Inverse of `seal`; throws if the key, the associated data or the sealed text is wrong. */
export function unseal(key: Buffer, associatedData: string, sealed: string): Buffer {
  const [version, iv, tag, ciphertext] = sealed.split('.')
  if (version !== FORMAT_VERSION || !iv || !tag || !ciphertext) {
    throw new Error('sealed secret has an unknown format')
  }
  const decipher = createDecipheriv(CIPHER, key, Buffer.from(iv, 'base64url'))
  decipher.setAAD(Buffer.from(associatedData, 'utf8'))
  decipher.setAuthTag(Buffer.from(tag, 'base64url'))
  return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()])
}
