import type { Address } from 'viem'
import type { Queryable } from '../db/pool'

export interface WithdrawalAddressRow {
  id: string
  agentId: string
  address: Address
  label: string | null
  isDefault: boolean
  createdAt: Date
  updatedAt: Date
}

const COLUMNS = 'wa.id, wa.agent_id, wa.address, wa.label, wa.is_default, wa.created_at, wa.updated_at'

function toRow(row: Record<string, unknown>): WithdrawalAddressRow {
  return {
    id: row.id as string,
    agentId: row.agent_id as string,
    address: row.address as Address,
    label: (row.label as string | null) ?? null,
    isDefault: row.is_default as boolean,
    createdAt: row.created_at as Date,
    updatedAt: row.updated_at as Date,
  }
}

export async function selectWithdrawalAddress(
  db: Queryable,
  agentId: string,
  id: string,
): Promise<WithdrawalAddressRow | null> {
  const { rows } = await db.query(
    `SELECT ${COLUMNS} FROM withdrawal_addresses AS wa WHERE wa.id = $1 AND wa.agent_id = $2`,
    [id, agentId],
  )
  return rows[0] ? toRow(rows[0]) : null
}

export async function selectDefaultWithdrawalAddress(
  db: Queryable,
  agentId: string,
): Promise<WithdrawalAddressRow | null> {
  const { rows } = await db.query(
    `SELECT ${COLUMNS} FROM withdrawal_addresses AS wa WHERE wa.agent_id = $1 AND wa.is_default`,
    [agentId],
  )
  return rows[0] ? toRow(rows[0]) : null
}

/** The agent's addresses, the default first, then oldest first. */
export async function selectWithdrawalAddresses(
  db: Queryable,
  agentId: string,
): Promise<WithdrawalAddressRow[]> {
  const { rows } = await db.query(
    `SELECT ${COLUMNS} FROM withdrawal_addresses AS wa WHERE wa.agent_id = $1
     ORDER BY wa.is_default DESC, wa.created_at, wa.id`,
    [agentId],
  )
  return rows.map(toRow)
}

/**
 * The agent's address rows, after taking a per-agent lock held until the transaction ends: every
 * change goes through it, so two concurrent first addresses cannot both become the default.
 */
export async function lockWithdrawalAddresses(
  db: Queryable,
  agentId: string,
): Promise<WithdrawalAddressRow[]> {
  await db.query("SELECT pg_advisory_xact_lock(hashtext('clearhouse-withdrawal-addresses:' || $1))", [
    agentId,
  ])
  const { rows } = await db.query(
    `SELECT ${COLUMNS} FROM withdrawal_addresses AS wa WHERE wa.agent_id = $1 ORDER BY wa.id FOR UPDATE`,
    [agentId],
  )
  return rows.map(toRow)
}

export async function insertWithdrawalAddress(
  db: Queryable,
  row: { id: string; agentId: string; address: string; label: string | null; isDefault: boolean },
): Promise<void> {
  await db.query(
    `INSERT INTO withdrawal_addresses (id, agent_id, address, label, is_default) VALUES ($1, $2, $3, $4, $5)`,
    [row.id, row.agentId, row.address, row.label, row.isDefault],
  )
}

export async function updateWithdrawalAddress(
  db: Queryable,
  id: string,
  update: { address?: string; label?: string | null },
): Promise<void> {
  await db.query(
    `UPDATE withdrawal_addresses AS wa
     SET address = coalesce($2, wa.address),
         label = CASE WHEN $3::boolean THEN $4 ELSE wa.label END,
         updated_at = now()
     WHERE wa.id = $1`,
    [id, update.address ?? null, update.label !== undefined, update.label ?? null],
  )
}

/** Makes `id` the agent's only default. */
export async function setDefaultWithdrawalAddress(db: Queryable, agentId: string, id: string): Promise<void> {
  await db.query(
    `UPDATE withdrawal_addresses AS wa SET is_default = false, updated_at = now()
     WHERE wa.agent_id = $1 AND wa.is_default AND wa.id <> $2`,
    [agentId, id],
  )
  await db.query(
    `UPDATE withdrawal_addresses AS wa SET is_default = true, updated_at = now()
     WHERE wa.id = $1 AND NOT wa.is_default`,
    [id],
  )
}

export async function deleteWithdrawalAddress(db: Queryable, id: string): Promise<void> {
  await db.query('DELETE FROM withdrawal_addresses AS wa WHERE wa.id = $1', [id])
}
