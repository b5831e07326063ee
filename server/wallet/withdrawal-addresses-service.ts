import { randomUUID } from 'node:crypto'
import { getAddress } from 'viem'
import type {
  CreateWithdrawalAddressBody,
  UpdateWithdrawalAddressBody,
  WithdrawalAddress,
  WithdrawalAddressList,
} from '../../protocol/wallet'
import type { AppContext } from '../app-context'
import { withTransaction } from '../db/pool'
import { ConflictError, NotFoundError } from '../errors'
import type { Actor } from '../auth/actor'
import {
  deleteWithdrawalAddress,
  insertWithdrawalAddress,
  lockWithdrawalAddresses,
  selectWithdrawalAddress,
  selectWithdrawalAddresses,
  setDefaultWithdrawalAddress,
  updateWithdrawalAddress,
  type WithdrawalAddressRow,
} from './withdrawal-addresses-queries'

/** Most saved addresses one agent may keep. */
export const MAX_WITHDRAWAL_ADDRESSES = 50

function toWithdrawalAddress(row: WithdrawalAddressRow): WithdrawalAddress {
  return {
    address_id: row.id,
    address: getAddress(row.address),
    label: row.label,
    is_default: row.isDefault,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  }
}

function notFound(id: string): NotFoundError {
  return new NotFoundError('withdrawal_address_not_found', `withdrawal address ${id} not found`)
}

function addressExists(address: string): ConflictError {
  return new ConflictError('address_exists', `${getAddress(address)} is already saved`, {
    details: { field: 'address' },
  })
}

/** The caller's saved addresses, the default first. */
export async function listWithdrawalAddresses(
  context: AppContext,
  agent: Actor,
): Promise<WithdrawalAddressList> {
  const rows = await selectWithdrawalAddresses(context.pool, agent.id)
  return { data: rows.map(toWithdrawalAddress) }
}

/** One of the caller's addresses; another agent's is a 404 like a missing one. */
export async function getWithdrawalAddress(
  context: AppContext,
  agent: Actor,
  id: string,
): Promise<WithdrawalAddress> {
  const row = await selectWithdrawalAddress(context.pool, agent.id, id)
  if (!row) throw notFound(id)
  return toWithdrawalAddress(row)
}

/** Saves an address; the agent's first one becomes its default unless `is_default` is false. */
export async function createWithdrawalAddress(
  context: AppContext,
  agent: Actor,
  body: CreateWithdrawalAddressBody,
): Promise<WithdrawalAddress> {
  const id = randomUUID()
  await withTransaction(context.pool, async (db) => {
    const existing = await lockWithdrawalAddresses(db, agent.id)
    if (existing.some((row) => row.address === body.address)) throw addressExists(body.address)
    if (existing.length >= MAX_WITHDRAWAL_ADDRESSES) {
      throw new ConflictError('too_many_addresses', `at most ${MAX_WITHDRAWAL_ADDRESSES} saved addresses`)
    }
    const isDefault = body.is_default ?? existing.length === 0
    await insertWithdrawalAddress(db, {
      id,
      agentId: agent.id,
      address: body.address,
      label: body.label ?? null,
      isDefault: false,
    })
    if (isDefault) await setDefaultWithdrawalAddress(db, agent.id, id)
  })
  return getWithdrawalAddress(context, agent, id)
}

/** Changes an address's label or address; withdrawals already asked for keep their destination. */
export async function editWithdrawalAddress(
  context: AppContext,
  agent: Actor,
  id: string,
  body: UpdateWithdrawalAddressBody,
): Promise<WithdrawalAddress> {
  await withTransaction(context.pool, async (db) => {
    const rows = await lockWithdrawalAddresses(db, agent.id)
    const row = rows.find((candidate) => candidate.id === id)
    if (!row) throw notFound(id)
    if (
      body.address !== undefined &&
      rows.some((other) => other.id !== id && other.address === body.address)
    ) {
      throw addressExists(body.address)
    }
    await updateWithdrawalAddress(db, id, { address: body.address, label: body.label })
  })
  return getWithdrawalAddress(context, agent, id)
}

/** Makes the address the caller's default (idempotent). */
export async function makeDefaultWithdrawalAddress(
  context: AppContext,
  agent: Actor,
  id: string,
): Promise<WithdrawalAddress> {
  await withTransaction(context.pool, async (db) => {
    const rows = await lockWithdrawalAddresses(db, agent.id)
    if (!rows.some((row) => row.id === id)) throw notFound(id)
    await setDefaultWithdrawalAddress(db, agent.id, id)
  })
  return getWithdrawalAddress(context, agent, id)
}

/** Deletes the address; deleting the default leaves the agent with none (withdrawals then go to its own wallet). */
export async function removeWithdrawalAddress(context: AppContext, agent: Actor, id: string): Promise<void> {
  await withTransaction(context.pool, async (db) => {
    const rows = await lockWithdrawalAddresses(db, agent.id)
    if (!rows.some((row) => row.id === id)) throw notFound(id)
    await deleteWithdrawalAddress(db, id)
  })
}
