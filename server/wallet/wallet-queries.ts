import type { Queryable } from '../db/pool'

export interface ManagedWalletRow {
  agentId: string
  address: `0x${string}`
  encryptedPrivateKey: string
  exportedAt: Date | null
}

function toManagedWallet(row: Record<string, unknown>): ManagedWalletRow {
  return {
    agentId: row.agent_id as string,
    address: row.address as `0x${string}`,
    encryptedPrivateKey: row.encrypted_private_key as string,
    exportedAt: (row.exported_at as Date | null) ?? null,
  }
}

export async function insertManagedWallet(
  db: Queryable,
  agentId: string,
  address: string,
  encryptedPrivateKey: string,
): Promise<void> {
  await db.query(
    'INSERT INTO managed_wallets (agent_id, address, encrypted_private_key) VALUES ($1, $2, $3)',
    [agentId, address, encryptedPrivateKey],
  )
}

export async function selectManagedWallet(db: Queryable, agentId: string): Promise<ManagedWalletRow | null> {
  const { rows } = await db.query(
    `SELECT mw.agent_id, mw.address, mw.encrypted_private_key, mw.exported_at
     FROM managed_wallets AS mw WHERE mw.agent_id = $1`,
    [agentId],
  )
  return rows[0] ? toManagedWallet(rows[0]) : null
}

/** Marks the key exported if it was not yet; null when it is not managed or already exported. */
export async function markManagedKeyExported(
  db: Queryable,
  agentId: string,
): Promise<ManagedWalletRow | null> {
  const { rows } = await db.query(
    `UPDATE managed_wallets AS mw SET exported_at = now()
     WHERE mw.agent_id = $1 AND mw.exported_at IS NULL
     RETURNING mw.agent_id, mw.address, mw.encrypted_private_key, mw.exported_at`,
    [agentId],
  )
  return rows[0] ? toManagedWallet(rows[0]) : null
}

/** Takes the next coordinator-allocated vault nonce counter of `account` (0, 1, 2, ...). */
export async function takeVaultNonceCounter(db: Queryable, account: string): Promise<bigint> {
  const { rows } = await db.query(
    `INSERT INTO vault_nonces AS n (account, next_nonce) VALUES ($1, 1)
     ON CONFLICT (account) DO UPDATE SET next_nonce = n.next_nonce + 1
     RETURNING n.next_nonce - 1 AS taken`,
    [account.toLowerCase()],
  )
  return BigInt(rows[0].taken)
}
