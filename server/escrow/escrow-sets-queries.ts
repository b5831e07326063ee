import type { Address, Hex } from 'viem'
import type { Queryable } from '../db/pool'

/** Where an `EscrowLocked` log placed an escrow. */
export interface EscrowLockRow {
  escrowId: Hex
  setId: bigint
  index: number
}

/** Records an `EscrowLocked` log; idempotent (a re-indexed log changes nothing). */
export async function insertEscrowLock(
  db: Queryable,
  lock: { chainId: number; escrowId: string; setId: bigint; index: number; txHash: string; logIndex: number },
): Promise<void> {
  await db.query(
    `INSERT INTO escrow_locks (chain_id, escrow_id, set_id, set_index, tx_hash, log_index)
     VALUES ($1, $2, $3::numeric, $4, $5, $6) ON CONFLICT DO NOTHING`,
    [
      lock.chainId,
      lock.escrowId.toLowerCase(),
      lock.setId.toString(),
      lock.index,
      lock.txHash.toLowerCase(),
      lock.logIndex,
    ],
  )
}

/** Forgets the `EscrowLocked` log a reorg dropped. */
export async function deleteEscrowLock(
  db: Queryable,
  log: { chainId: number; txHash: string; logIndex: number },
): Promise<void> {
  await db.query(
    'DELETE FROM escrow_locks AS l WHERE l.chain_id = $1 AND l.tx_hash = $2 AND l.log_index = $3',
    [log.chainId, log.txHash.toLowerCase(), log.logIndex],
  )
}

/** Records an `EscrowSetCommitted` log; idempotent. */
export async function insertEscrowSet(
  db: Queryable,
  set: { chainId: number; setId: bigint; root: string; count: number; txHash: string; logIndex: number },
): Promise<void> {
  await db.query(
    `INSERT INTO escrow_sets (chain_id, set_id, root, escrow_count, tx_hash, log_index)
     VALUES ($1, $2::numeric, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
    [
      set.chainId,
      set.setId.toString(),
      set.root.toLowerCase(),
      set.count,
      set.txHash.toLowerCase(),
      set.logIndex,
    ],
  )
}

/** Forgets the `EscrowSetCommitted` log a reorg dropped. */
export async function deleteEscrowSet(
  db: Queryable,
  log: { chainId: number; txHash: string; logIndex: number },
): Promise<void> {
  await db.query(
    'DELETE FROM escrow_sets AS s WHERE s.chain_id = $1 AND s.tx_hash = $2 AND s.log_index = $3',
    [log.chainId, log.txHash.toLowerCase(), log.logIndex],
  )
}

/** Where escrow `escrowId` was locked, or null before its lock is indexed. */
export async function findEscrowLock(
  db: Queryable,
  chainId: number,
  escrowId: string,
): Promise<EscrowLockRow | null> {
  const { rows } = await db.query(
    `SELECT l.escrow_id, l.set_id::text AS set_id, l.set_index FROM escrow_locks AS l
      WHERE l.chain_id = $1 AND l.escrow_id = $2`,
    [chainId, escrowId.toLowerCase()],
  )
  const row = rows[0]
  return row ? { escrowId: row.escrow_id, setId: BigInt(row.set_id), index: row.set_index } : null
}

/** The committed root and size of set `setId`, or null before its `EscrowSetCommitted` is indexed. */
export async function findEscrowSet(
  db: Queryable,
  chainId: number,
  setId: bigint,
): Promise<{ root: Hex; count: number } | null> {
  const { rows } = await db.query(
    'SELECT s.root, s.escrow_count FROM escrow_sets AS s WHERE s.chain_id = $1 AND s.set_id = $2::numeric',
    [chainId, setId.toString()],
  )
  return rows[0] ? { root: rows[0].root, count: rows[0].escrow_count } : null
}

/** The escrow ids of set `setId` in index order. */
export async function selectEscrowSetIds(db: Queryable, chainId: number, setId: bigint): Promise<Address[]> {
  const { rows } = await db.query(
    `SELECT l.escrow_id FROM escrow_locks AS l
      WHERE l.chain_id = $1 AND l.set_id = $2::numeric ORDER BY l.set_index`,
    [chainId, setId.toString()],
  )
  return rows.map((row) => row.escrow_id)
}
