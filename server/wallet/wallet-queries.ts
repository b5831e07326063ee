import type { Address } from 'viem'
import type { Queryable } from '../db/pool'
import { apiStatus, NO_CLOCK, WITHDRAWALS_FROM } from './withdrawals-queries'

export interface ManagedWalletRow {
  agentId: string
  address: Address
  encryptedPrivateKey: string
  exportedAt: Date | null
}

function toManagedWallet(row: Record<string, unknown>): ManagedWalletRow {
  return {
    agentId: row.agent_id as string,
    address: row.address as Address,
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

/** A managed wallet's key-export state; the pending pair is null when no export waits. */
export interface ManagedKeyExportRow {
  address: Address
  exportedAt: Date | null
  requestedAt: Date | null
  availableAt: Date | null
  /** `available_at <= now()` by the database's clock, false without a pending export. */
  isAvailable: boolean
}

function toManagedKeyExport(row: Record<string, unknown>): ManagedKeyExportRow {
  return {
    address: row.address as Address,
    exportedAt: (row.exported_at as Date | null) ?? null,
    requestedAt: (row.export_requested_at as Date | null) ?? null,
    availableAt: (row.export_available_at as Date | null) ?? null,
    isAvailable: row.export_is_available === true,
  }
}

const KEY_EXPORT_COLUMNS = `mw.address, mw.exported_at, mw.export_requested_at, mw.export_available_at,
  coalesce(mw.export_available_at <= now(), false) AS export_is_available`

/** The key-export state of the agent's managed wallet, or null when the agent holds its own key. */
export async function selectManagedKeyExport(
  db: Queryable,
  agentId: string,
  options: { forUpdate?: boolean } = {},
): Promise<ManagedKeyExportRow | null> {
  const { rows } = await db.query(
    `SELECT ${KEY_EXPORT_COLUMNS} FROM managed_wallets AS mw WHERE mw.agent_id = $1
     ${options.forUpdate ? 'FOR UPDATE' : ''}`,
    [agentId],
  )
  return rows[0] ? toManagedKeyExport(rows[0]) : null
}

/** Starts an export available `delaySeconds` from now; null when one is pending or the key is out. */
export async function insertManagedKeyExportRequest(
  db: Queryable,
  agentId: string,
  delaySeconds: number,
): Promise<ManagedKeyExportRow | null> {
  const { rows } = await db.query(
    `UPDATE managed_wallets AS mw
     SET export_requested_at = now(), export_available_at = now() + make_interval(secs => $2::double precision)
     WHERE mw.agent_id = $1 AND mw.exported_at IS NULL AND mw.export_requested_at IS NULL
     RETURNING ${KEY_EXPORT_COLUMNS}`,
    [agentId, delaySeconds],
  )
  return rows[0] ? toManagedKeyExport(rows[0]) : null
}

/** Marks the key exported if its export is pending and due; null otherwise. */
export async function markManagedKeyExportDone(
  db: Queryable,
  agentId: string,
): Promise<ManagedWalletRow | null> {
  const { rows } = await db.query(
    `UPDATE managed_wallets AS mw SET exported_at = now()
     WHERE mw.agent_id = $1 AND mw.exported_at IS NULL AND mw.export_available_at <= now()
     RETURNING mw.agent_id, mw.address, mw.encrypted_private_key, mw.exported_at`,
    [agentId],
  )
  return rows[0] ? toManagedWallet(rows[0]) : null
}

/** Clears a pending (not yet collected) export; false when there was none. */
export async function deleteManagedKeyExportRequest(db: Queryable, agentId: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE managed_wallets AS mw SET export_requested_at = NULL, export_available_at = NULL
     WHERE mw.agent_id = $1 AND mw.exported_at IS NULL AND mw.export_requested_at IS NOT NULL`,
    [agentId],
  )
  return rowCount === 1
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

/** An agent's money in one token, every figure the balance shows but the vault's own. */
export interface WalletPositionRow {
  available: bigint
  escrow: bigint
  unsettled: bigint
  debt: bigint
  /** Deposits seen and not yet confirmed. */
  pendingDeposits: bigint
  /** Fast withdrawals debited and not yet seen leaving the vault, failed ones aside. */
  withdrawing: bigint
  /** Failed fast withdrawals whose refund is not yet booked. */
  refundDue: bigint
}

/**
 * The agent's position in every token it has any, by lowercase token address, in one statement:
 * one snapshot of the ledger's published positions, its unconfirmed deposits and its fast
 * withdrawals in flight, so a refund booked meanwhile cannot show twice, and one round trip.
 */
export async function selectWalletPositions(
  db: Queryable,
  agentId: string,
): Promise<Map<string, WalletPositionRow>> {
  // Every balance read runs it: prepared once per connection, not planned every time.
  const { rows } = await db.query({
    name: 'wallet-positions',
    text: `SELECT token,
            sum(available)::text AS available, sum(escrow)::text AS escrow, sum(unsettled)::text AS unsettled,
            sum(debt)::text AS debt, sum(pending_deposits)::text AS pending_deposits,
            sum(withdrawing)::text AS withdrawing, sum(refund_due)::text AS refund_due
       FROM (
         SELECT p.token, p.available, p.escrow, p.unsettled, p.debt,
                0 AS pending_deposits, 0 AS withdrawing, 0 AS refund_due
           FROM agent_token_positions AS p WHERE p.agent_id = $1
         UNION ALL
         SELECT d.token, 0, 0, 0, 0, d.amount, 0, 0
           FROM deposits AS d WHERE d.agent_id = $1 AND d.status = 'pending_deposit'
         UNION ALL
         SELECT w.token, 0, 0, 0, 0, 0,
                CASE WHEN ${apiStatus(NO_CLOCK)} <> 'failed' THEN w.amount ELSE 0 END,
                CASE WHEN ${apiStatus(NO_CLOCK)} = 'failed' THEN w.amount ELSE 0 END
           FROM ${WITHDRAWALS_FROM} WHERE w.agent_id = $1 AND w.status = 'pending'
       ) AS position
      GROUP BY token`,
    values: [agentId],
  })
  return new Map(
    rows.map((row) => [
      (row.token as string).toLowerCase(),
      {
        available: BigInt(row.available),
        escrow: BigInt(row.escrow),
        unsettled: BigInt(row.unsettled),
        debt: BigInt(row.debt),
        pendingDeposits: BigInt(row.pending_deposits),
        withdrawing: BigInt(row.withdrawing),
        refundDue: BigInt(row.refund_due),
      },
    ]),
  )
}
