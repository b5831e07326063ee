import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto'
import type { TypedData, TypedDataDefinition } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import type { AppContext } from '../app-context'
import type { Queryable } from '../db/pool'
import { ConfigError, ConflictError, NotFoundError } from '../errors'
import { insertManagedWallet, markManagedKeyExported, selectManagedWallet } from './wallet-queries'

// Deterministic so the embedded dev stack can still decrypt the keys it stored before a restart.
// Public by construction: it protects nothing and is refused outside the dev chain.
const DEV_WALLET_ENCRYPTION_KEY = createHash('sha256').update('clearhouse dev wallet encryption key').digest()

const CIPHER = 'aes-256-gcm'
const FORMAT_VERSION = 'v1'

/**
 * The managed-wallet encryption key from WALLET_ENCRYPTION_KEY, or the public dev key on the
 * embedded dev chain. A configured deployment without it cannot start (one-line `ConfigError`).
 */
export function resolveWalletEncryptionKey(configured: string | undefined, isDevChain: boolean): Buffer {
  if (configured) return Buffer.from(configured.replace(/^0x/, ''), 'hex')
  if (isDevChain) return DEV_WALLET_ENCRYPTION_KEY
  throw new ConfigError(
    'invalid WALLET_ENCRYPTION_KEY: required outside the embedded dev chain (32 bytes of hex)',
  )
}

/** AES-256-GCM with the agent id as associated data: `v1.<iv>.<tag>.<ciphertext>` in base64url. */
export function encryptPrivateKey(key: Buffer, agentId: string, privateKey: `0x${string}`): string {
  const iv = randomBytes(12)
  const cipher = createCipheriv(CIPHER, key, iv)
  cipher.setAAD(Buffer.from(agentId, 'utf8'))
  const ciphertext = Buffer.concat([cipher.update(Buffer.from(privateKey.slice(2), 'hex')), cipher.final()])
  return [FORMAT_VERSION, iv, cipher.getAuthTag(), ciphertext]
    .map((part) => (typeof part === 'string' ? part : part.toString('base64url')))
    .join('.')
}

/** Inverse of `encryptPrivateKey`; throws if the key, the agent id or the ciphertext is wrong. */
export function decryptPrivateKey(key: Buffer, agentId: string, sealed: string): `0x${string}` {
  const [version, iv, tag, ciphertext] = sealed.split('.')
  if (version !== FORMAT_VERSION || !iv || !tag || !ciphertext) {
    throw new Error('managed wallet ciphertext has an unknown format')
  }
  const decipher = createDecipheriv(CIPHER, key, Buffer.from(iv, 'base64url'))
  decipher.setAAD(Buffer.from(agentId, 'utf8'))
  decipher.setAuthTag(Buffer.from(tag, 'base64url'))
  const plain = Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()])
  return `0x${plain.toString('hex')}`
}

/** A fresh key pair for an agent that registers without a wallet: its address and sealed key. */
export function generateManagedWallet(
  context: Pick<AppContext, 'walletEncryptionKey'>,
  agentId: string,
): { address: `0x${string}`; encryptedPrivateKey: string } {
  const privateKey = generatePrivateKey()
  const address = privateKeyToAccount(privateKey).address.toLowerCase() as `0x${string}`
  return { address, encryptedPrivateKey: encryptPrivateKey(context.walletEncryptionKey, agentId, privateKey) }
}

/** Stores a wallet made by `generateManagedWallet` (inside the registration transaction). */
export async function saveManagedWallet(
  db: Queryable,
  agentId: string,
  wallet: { address: `0x${string}`; encryptedPrivateKey: string },
): Promise<void> {
  await insertManagedWallet(db, agentId, wallet.address, wallet.encryptedPrivateKey)
}

/**
 * Signs EIP-712 typed data with an agent's managed wallet (e.g. the payer's EscrowLock at award
 * time). Throws ConflictError `wallet_not_managed` for an agent that holds its own key.
 */
export async function signTypedDataForAgent<
  const typedData extends TypedData | Record<string, unknown>,
  primaryType extends keyof typedData | 'EIP712Domain',
>(
  db: Queryable,
  context: Pick<AppContext, 'walletEncryptionKey'>,
  agentId: string,
  typedData: TypedDataDefinition<typedData, primaryType>,
): Promise<`0x${string}`> {
  const wallet = await selectManagedWallet(db, agentId)
  if (!wallet) {
    throw new ConflictError(
      'wallet_not_managed',
      `agent ${agentId} holds its own wallet key; it must sign itself`,
    )
  }
  const account = privateKeyToAccount(
    decryptPrivateKey(context.walletEncryptionKey, agentId, wallet.encryptedPrivateKey),
  )
  return account.signTypedData(typedData)
}

/**
 * Hands the managed wallet's private key to its owner exactly once (DESIGN trust property 4), so
 * the agent can exit through the chain without the coordinator. The coordinator keeps its copy and
 * goes on signing for the agent, so API-key use is unchanged.
 */
export async function exportManagedKey(
  db: Queryable,
  context: Pick<AppContext, 'walletEncryptionKey'>,
  agentId: string,
): Promise<{ address: `0x${string}`; privateKey: `0x${string}`; exportedAt: Date }> {
  const exported = await markManagedKeyExported(db, agentId)
  if (!exported) {
    const wallet = await selectManagedWallet(db, agentId)
    if (!wallet) throw new ConflictError('wallet_not_managed', 'this agent holds its own wallet key')
    if (wallet.exportedAt) {
      throw new ConflictError('key_already_exported', 'the managed wallet key was already exported', {
        details: { exported_at: wallet.exportedAt.toISOString() },
      })
    }
    throw new NotFoundError('not_found', 'managed wallet not found')
  }
  return {
    address: exported.address,
    privateKey: decryptPrivateKey(context.walletEncryptionKey, agentId, exported.encryptedPrivateKey),
    exportedAt: exported.exportedAt!,
  }
}
