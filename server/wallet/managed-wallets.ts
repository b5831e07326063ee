import { normalizeAddress } from '../../protocol/address'
import { createHash } from 'node:crypto'
import type { TypedData, TypedDataDefinition, Address, Hex } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import type { AppContext } from '../app-context'
import { seal, unseal } from '../crypto/sealed-box'
import type { Queryable } from '../db/pool'
import { ConfigError, ConflictError } from '../errors'
import {
  deleteManagedKeyExportRequest,
  insertManagedKeyExportRequest,
  insertManagedWallet,
  markManagedKeyExportDone,
  selectManagedKeyExport,
  selectManagedWallet,
} from './wallet-queries'

// Deterministic so the embedded dev stack can still decrypt the keys it stored before a restart.
// Public by construction: it protects nothing and is refused outside the dev chain.
const DEV_WALLET_ENCRYPTION_KEY = createHash('sha256').update('clearhouse dev wallet encryption key').digest()

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

/** The key sealed with the agent id as associated data (see `seal`). */
export function encryptPrivateKey(key: Buffer, agentId: string, privateKey: Hex): string {
  return seal(key, agentId, Buffer.from(privateKey.slice(2), 'hex'))
}

/** Inverse of `encryptPrivateKey`; throws if the key, the agent id or the ciphertext is wrong. */
export function decryptPrivateKey(key: Buffer, agentId: string, sealed: string): Hex {
  return `0x${unseal(key, agentId, sealed).toString('hex')}`
}

/** A fresh key pair for an agent that registers without a wallet: its address and sealed key. */
export function generateManagedWallet(
  context: Pick<AppContext, 'walletEncryptionKey'>,
  agentId: string,
): { address: Address; encryptedPrivateKey: string } {
  const privateKey = generatePrivateKey()
  const address = normalizeAddress(privateKeyToAccount(privateKey).address)
  return { address, encryptedPrivateKey: encryptPrivateKey(context.walletEncryptionKey, agentId, privateKey) }
}

/** Stores a wallet made by `generateManagedWallet` (inside the registration transaction). */
export async function saveManagedWallet(
  db: Queryable,
  agentId: string,
  wallet: { address: Address; encryptedPrivateKey: string },
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
): Promise<Hex> {
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

/** KEY_EXPORT_DELAY_SECONDS when the context leaves it out: a day to notice a leaked API key. */
export const DEFAULT_KEY_EXPORT_DELAY_SECONDS = 86_400

/** What a POST /v1/wallet/export-key did: started the wait, or handed the key out. */
export type ManagedKeyExport =
  | { status: 'pending'; requestedAt: Date; availableAt: Date }
  | { status: 'exported'; address: Address; privateKey: Hex; exportedAt: Date }

/** An export asked for and neither collected nor cancelled: `ready` once its delay has passed. */
export interface PendingKeyExport {
  status: 'pending' | 'ready'
  requestedAt: Date
  availableAt: Date
}

function notManaged(): ConflictError {
  return new ConflictError('wallet_not_managed', 'this agent holds its own wallet key')
}

function alreadyExported(exportedAt: Date): ConflictError {
  return new ConflictError('key_already_exported', 'the managed wallet key was already exported', {
    details: { exported_at: exportedAt.toISOString() },
  })
}

/**
 * Hands the managed wallet's private key to its owner exactly once (DESIGN trust property 4), so
 * the agent can exit through the chain without the coordinator; the coordinator keeps its copy and
 * goes on signing for the agent, so API-key use is unchanged.
 *
 * Recovery model (issue 10): the root credential of a managed-wallet agent is its API key, and the
 * exported key must never be a way to take that root over. Once out, the key is the vault
 * account's own key: nothing the coordinator does can take it back. So it comes out only after a
 * delay (`keyExportDelaySeconds`, default a day): the first call starts the export and returns
 * `pending` with its `availableAt`; a call at or after that time returns the key; a call before it
 * is 409 `key_export_pending`. Meanwhile GET /v1/agents/me shows the export, and DELETE
 * /v1/wallet/export-key or rotating the API key cancels it, so a thief holding a leaked API key
 * gets nothing if the owner rotates within the delay. With a delay of 0 the first call returns the
 * key. Run inside a transaction: the wallet row stays locked until it ends, so of concurrent calls
 * one hands the key out and the rest get 409. The caller checks the credential (API key only).
 */
export async function exportManagedKey(
  db: Queryable,
  context: Pick<AppContext, 'walletEncryptionKey' | 'keyExportDelaySeconds'>,
  agentId: string,
): Promise<ManagedKeyExport> {
  const wallet = await selectManagedKeyExport(db, agentId, { forUpdate: true })
  if (!wallet) throw notManaged()
  if (wallet.exportedAt) throw alreadyExported(wallet.exportedAt)
  if (wallet.requestedAt === null) {
    const started = await insertManagedKeyExportRequest(
      db,
      agentId,
      context.keyExportDelaySeconds ?? DEFAULT_KEY_EXPORT_DELAY_SECONDS,
    )
    if (!started) throw new Error(`managed wallet of ${agentId} changed under its row lock`)
    if (!started.isAvailable) {
      return { status: 'pending', requestedAt: started.requestedAt!, availableAt: started.availableAt! }
    }
  } else if (!wallet.isAvailable) {
    throw new ConflictError(
      'key_export_pending',
      `the key export was asked for at ${wallet.requestedAt.toISOString()} and is available at ${wallet.availableAt!.toISOString()}`,
      {
        details: {
          requested_at: wallet.requestedAt.toISOString(),
          available_at: wallet.availableAt!.toISOString(),
        },
      },
    )
  }
  const exported = await markManagedKeyExportDone(db, agentId)
  if (!exported) throw new Error(`managed wallet of ${agentId} changed under its row lock`)
  return {
    status: 'exported',
    address: exported.address,
    privateKey: decryptPrivateKey(context.walletEncryptionKey, agentId, exported.encryptedPrivateKey),
    exportedAt: exported.exportedAt!,
  }
}

/**
 * Cancels the agent's pending key export (DELETE /v1/wallet/export-key): 409 `wallet_not_managed`,
 * `key_already_exported` (too late: the key is out) or `key_export_not_pending`.
 */
export async function cancelManagedKeyExport(db: Queryable, agentId: string): Promise<void> {
  const wallet = await selectManagedKeyExport(db, agentId, { forUpdate: true })
  if (!wallet) throw notManaged()
  if (wallet.exportedAt) throw alreadyExported(wallet.exportedAt)
  if (!(await deleteManagedKeyExportRequest(db, agentId))) {
    throw new ConflictError('key_export_not_pending', 'no key export is pending')
  }
}

/** Cancels a pending key export if there is one (an API key rotation does); true when it did. */
export async function dropPendingKeyExport(db: Queryable, agentId: string): Promise<boolean> {
  return deleteManagedKeyExportRequest(db, agentId)
}

/** The agent's pending key export, null when none waits (or the agent holds its own key). */
export async function getPendingKeyExport(db: Queryable, agentId: string): Promise<PendingKeyExport | null> {
  const wallet = await selectManagedKeyExport(db, agentId)
  if (!wallet || wallet.exportedAt || !wallet.requestedAt || !wallet.availableAt) return null
  return {
    status: wallet.isAvailable ? 'ready' : 'pending',
    requestedAt: wallet.requestedAt,
    availableAt: wallet.availableAt,
  }
}
