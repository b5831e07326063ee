import type { Hex } from 'viem'
import type { Queryable } from '../../db/pool'
import type { IndexedEvent } from './indexed-event'

export interface ChainCursor {
  blockNumber: bigint
  blockHash: Hex
}

export async function lockCursor(
  db: Queryable,
  chainId: number,
  contract: string,
): Promise<ChainCursor | null> {
  const { rows } = await db.query(
    `SELECT c.block_number, c.block_hash FROM chain_cursors AS c
      WHERE c.chain_id = $1 AND c.contract_address = $2 FOR UPDATE`,
    [chainId, contract],
  )
  return rows[0] ? { blockNumber: BigInt(rows[0].block_number), blockHash: rows[0].block_hash } : null
}

export async function readCursor(
  db: Queryable,
  chainId: number,
  contract: string,
): Promise<ChainCursor | null> {
  const { rows } = await db.query(
    `SELECT c.block_number, c.block_hash FROM chain_cursors AS c WHERE c.chain_id = $1 AND c.contract_address = $2`,
    [chainId, contract],
  )
  return rows[0] ? { blockNumber: BigInt(rows[0].block_number), blockHash: rows[0].block_hash } : null
}

export async function saveCursor(
  db: Queryable,
  chainId: number,
  contract: string,
  cursor: ChainCursor,
): Promise<void> {
  await db.query(
    `INSERT INTO chain_cursors (chain_id, contract_address, block_number, block_hash)
     VALUES ($1, $2, $3::bigint, $4)
     ON CONFLICT (chain_id, contract_address)
     DO UPDATE SET block_number = EXCLUDED.block_number, block_hash = EXCLUDED.block_hash, updated_at = now()`,
    [chainId, contract, cursor.blockNumber.toString(), cursor.blockHash],
  )
}

/** Records blocks (number, hash, parent) for reorg checks; a block seen again is overwritten. */
export async function saveBlocks(
  db: Queryable,
  chainId: number,
  blocks: Array<{ number: bigint; hash: Hex; parentHash: Hex }>,
): Promise<void> {
  if (blocks.length === 0) return
  // One row per number: the last one given wins, as it would have row by row.
  const byNumber = new Map(blocks.map((block) => [block.number, block]))
  const rows = [...byNumber.values()]
  await db.query(
    `INSERT INTO chain_blocks (chain_id, block_number, block_hash, parent_hash)
     SELECT $1, b.block_number, b.block_hash, b.parent_hash
       FROM unnest($2::bigint[], $3::text[], $4::text[]) AS b (block_number, block_hash, parent_hash)
     ON CONFLICT (chain_id, block_number) DO UPDATE SET block_hash = EXCLUDED.block_hash, parent_hash = EXCLUDED.parent_hash`,
    [
      chainId,
      rows.map((block) => block.number.toString()),
      rows.map((block) => block.hash),
      rows.map((block) => block.parentHash),
    ],
  )
}

/** Stored blocks at or below `atOrBelow`, newest first: candidates for the common ancestor. */
export async function listBlocksDescending(
  db: Queryable,
  chainId: number,
  atOrBelow: bigint,
  limit: number,
): Promise<Array<{ blockNumber: bigint; blockHash: string }>> {
  const { rows } = await db.query(
    `SELECT b.block_number, b.block_hash FROM chain_blocks AS b
      WHERE b.chain_id = $1 AND b.block_number <= $2::bigint
      ORDER BY b.block_number DESC LIMIT $3`,
    [chainId, atOrBelow.toString(), limit],
  )
  return rows.map((row) => ({ blockNumber: BigInt(row.block_number), blockHash: row.block_hash }))
}

/** Inserts the event unless it is already stored; true when this call stored it. */
/**
 * Stores logs in `chain_events`, each once by `(chain_id, tx_hash, log_index)`, in one statement;
 * returns the ones that were new, in the order given.
 */
export async function insertEvents(db: Queryable, events: IndexedEvent[]): Promise<IndexedEvent[]> {
  if (events.length === 0) return []
  const { rows } = await db.query(
    `INSERT INTO chain_events
       (chain_id, tx_hash, log_index, block_number, block_hash, contract_address, event_name, args)
     SELECT e.chain_id, e.tx_hash, e.log_index, e.block_number, e.block_hash, e.contract_address, e.event_name, e.args
       FROM unnest($1::int[], $2::text[], $3::int[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::jsonb[])
         AS e (chain_id, tx_hash, log_index, block_number, block_hash, contract_address, event_name, args)
     ON CONFLICT (chain_id, tx_hash, log_index) DO NOTHING
     RETURNING tx_hash, log_index`,
    [
      events.map((event) => event.chainId),
      events.map((event) => event.txHash),
      events.map((event) => event.logIndex),
      events.map((event) => event.blockNumber.toString()),
      events.map((event) => event.blockHash),
      events.map((event) => event.contract),
      events.map((event) => event.eventName),
      events.map((event) => JSON.stringify(event.args)),
    ],
  )
  const fresh = new Set(rows.map((row) => `${row.tx_hash}:${row.log_index}`))
  return events.filter((event) => fresh.has(`${event.txHash}:${event.logIndex}`))
}

/** Events above `blockNumber`, newest first, the order in which a rewind undoes them. */
export async function listEventsAbove(
  db: Queryable,
  chainId: number,
  blockNumber: bigint,
): Promise<IndexedEvent[]> {
  const { rows } = await db.query(
    `SELECT e.chain_id, e.tx_hash, e.log_index, e.block_number, e.block_hash, e.contract_address, e.event_name, e.args
       FROM chain_events AS e
      WHERE e.chain_id = $1 AND e.block_number > $2::bigint
      ORDER BY e.block_number DESC, e.log_index DESC`,
    [chainId, blockNumber.toString()],
  )
  return rows.map((row) => ({
    chainId: Number(row.chain_id),
    txHash: row.tx_hash,
    logIndex: row.log_index,
    blockNumber: BigInt(row.block_number),
    blockHash: row.block_hash,
    contract: row.contract_address,
    eventName: row.event_name,
    args: row.args,
  }))
}

export async function deleteAbove(db: Queryable, chainId: number, blockNumber: bigint): Promise<void> {
  await db.query('DELETE FROM chain_events AS e WHERE e.chain_id = $1 AND e.block_number > $2::bigint', [
    chainId,
    blockNumber.toString(),
  ])
  await db.query('DELETE FROM chain_blocks AS b WHERE b.chain_id = $1 AND b.block_number > $2::bigint', [
    chainId,
    blockNumber.toString(),
  ])
}
