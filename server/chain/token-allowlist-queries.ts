import type { Queryable } from '../db/pool'

// The vault's allowlist as its logs set it (the chain room's `vault_token_allowlist_changes`).

export async function insertAllowlistChange(
  db: Queryable,
  change: {
    chainId: number
    txHash: string
    logIndex: number
    blockNumber: bigint
    token: string
    allowed: boolean
  },
): Promise<void> {
  await db.query(
    `INSERT INTO vault_token_allowlist_changes (chain_id, tx_hash, log_index, block_number, token, allowed)
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
    [
      change.chainId,
      change.txHash.toLowerCase(),
      change.logIndex,
      change.blockNumber.toString(),
      change.token.toLowerCase(),
      change.allowed,
    ],
  )
}

export async function deleteAllowlistChange(
  db: Queryable,
  log: { chainId: number; txHash: string; logIndex: number },
): Promise<void> {
  await db.query(
    'DELETE FROM vault_token_allowlist_changes WHERE chain_id = $1 AND tx_hash = $2 AND log_index = $3',
    [log.chainId, log.txHash.toLowerCase(), log.logIndex],
  )
}

/** The token's newest indexed allowlist state; null when no log of it is indexed. */
export async function selectAllowlistState(
  db: Queryable,
  chainId: number,
  token: string,
): Promise<boolean | null> {
  const { rows } = await db.query(
    `SELECT c.allowed FROM vault_token_allowlist_changes AS c
      WHERE c.chain_id = $1 AND c.token = $2
      ORDER BY c.block_number DESC, c.log_index DESC LIMIT 1`,
    [chainId, token.toLowerCase()],
  )
  return rows[0]?.allowed ?? null
}
