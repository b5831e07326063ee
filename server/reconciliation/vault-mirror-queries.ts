import { normalizeAddress } from '../../protocol/address'
import type { Address } from 'viem'
import type { Queryable } from '../db/pool'

/** Where one log sits: the key of everything it changed. */
export interface LogKey {
  chainId: number
  txHash: string
  logIndex: number
}

/** One account's balance change made by one log. */
export interface BalanceChange {
  account: Address
  token: Address
  delta: bigint
}

/**
 * Applies each log's `changes` (merged per account and token, zeros dropped) to the mirrored
 * balances and records them under the log, so `revertBalanceChanges` can take exactly them back;
 * a change already recorded under its log is not applied again. One statement for any number of logs.
 */
export async function applyBalanceChanges(
  db: Queryable,
  logs: ReadonlyArray<{ log: LogKey; changes: readonly BalanceChange[] }>,
): Promise<void> {
  const rows: Array<LogKey & BalanceChange> = []
  for (const { log, changes } of logs) {
    const merged = new Map<string, BalanceChange>()
    for (const change of changes) {
      const key = `${change.account.toLowerCase()}:${change.token.toLowerCase()}`
      const previous = merged.get(key)
      merged.set(key, {
        account: normalizeAddress(change.account),
        token: normalizeAddress(change.token),
        delta: (previous?.delta ?? 0n) + change.delta,
      })
    }
    for (const change of merged.values()) if (change.delta !== 0n) rows.push({ ...log, ...change })
  }
  if (rows.length === 0) return
  await db.query(
    `WITH recorded AS (
       INSERT INTO vault_balance_changes (chain_id, tx_hash, log_index, account, token, delta)
       SELECT * FROM unnest($1::int[], $2::text[], $3::int[], $4::text[], $5::text[], $6::numeric[])
       ON CONFLICT DO NOTHING
       RETURNING chain_id, account, token, delta
     )
     INSERT INTO vault_balances AS b (chain_id, account, token, balance)
     SELECT r.chain_id, r.account, r.token, sum(r.delta) FROM recorded AS r
      GROUP BY r.chain_id, r.account, r.token
     ON CONFLICT (chain_id, account, token) DO UPDATE SET balance = b.balance + EXCLUDED.balance`,
    [
      rows.map((row) => row.chainId),
      rows.map((row) => row.txHash.toLowerCase()),
      rows.map((row) => row.logIndex),
      rows.map((row) => row.account),
      rows.map((row) => row.token),
      rows.map((row) => row.delta.toString()),
    ],
  )
}

/** Takes back what `applyBalanceChanges` recorded under the log (a reorg dropped it). */
export async function revertBalanceChanges(db: Queryable, log: LogKey): Promise<void> {
  await db.query(
    `WITH removed AS (
       DELETE FROM vault_balance_changes AS c
        WHERE c.chain_id = $1 AND c.tx_hash = $2 AND c.log_index = $3
       RETURNING c.account, c.token, c.delta
     )
     UPDATE vault_balances AS b SET balance = b.balance - r.delta
       FROM removed AS r
      WHERE b.chain_id = $1 AND b.account = r.account AND b.token = r.token`,
    [log.chainId, log.txHash.toLowerCase(), log.logIndex],
  )
}

/** An escrow as its `EscrowLocked` log states it. */
export interface MirroredEscrow {
  escrowId: string
  payer: Address
  payee: Address
  resolver: Address
  token: Address
  amount: bigint
  /** The payer may settle it for part of the amount (`EscrowTerms.partialRelease`: a session's budget). */
  partialRelease: boolean
  isOpen: boolean
}

export async function insertMirroredEscrow(
  db: Queryable,
  log: LogKey,
  escrow: Omit<MirroredEscrow, 'isOpen'>,
): Promise<void> {
  await db.query(
    `INSERT INTO vault_escrows (chain_id, escrow_id, payer, payee, resolver, token, amount, partial_release,
                                tx_hash, log_index)
     VALUES ($1, $2, $3, $4, $5, $6, $7::numeric, $8, $9, $10) ON CONFLICT DO NOTHING`,
    [
      log.chainId,
      escrow.escrowId.toLowerCase(),
      escrow.payer.toLowerCase(),
      escrow.payee.toLowerCase(),
      escrow.resolver.toLowerCase(),
      escrow.token.toLowerCase(),
      escrow.amount.toString(),
      escrow.partialRelease,
      log.txHash.toLowerCase(),
      log.logIndex,
    ],
  )
}

export async function deleteMirroredEscrow(db: Queryable, log: LogKey): Promise<void> {
  await db.query(
    'DELETE FROM vault_escrows AS e WHERE e.chain_id = $1 AND e.tx_hash = $2 AND e.log_index = $3',
    [log.chainId, log.txHash.toLowerCase(), log.logIndex],
  )
}

export async function findMirroredEscrow(
  db: Queryable,
  chainId: number,
  escrowId: string,
): Promise<MirroredEscrow | null> {
  const { rows } = await db.query(
    `SELECT e.escrow_id, e.payer, e.payee, e.resolver, e.token, e.amount::text, e.partial_release, e.closed_tx_hash
       FROM vault_escrows AS e WHERE e.chain_id = $1 AND e.escrow_id = $2`,
    [chainId, escrowId.toLowerCase()],
  )
  const row = rows[0]
  if (!row) return null
  return {
    escrowId: row.escrow_id,
    payer: row.payer,
    payee: row.payee,
    resolver: row.resolver,
    token: row.token,
    amount: BigInt(row.amount),
    partialRelease: row.partial_release,
    isOpen: row.closed_tx_hash === null,
  }
}

/** Marks the escrow paid out by the log, or (`log` null) open again when a reorg drops that log. */
export async function setMirroredEscrowClosed(
  db: Queryable,
  chainId: number,
  escrowId: string,
  log: LogKey | null,
): Promise<void> {
  await db.query(
    `UPDATE vault_escrows AS e SET closed_tx_hash = $3, closed_log_index = $4
      WHERE e.chain_id = $1 AND e.escrow_id = $2`,
    [chainId, escrowId.toLowerCase(), log?.txHash.toLowerCase() ?? null, log?.logIndex ?? null],
  )
}

/** A payment channel as its `ChannelOpened` log configures it. */
export interface MirroredChannel {
  channelId: string
  caller: Address
  provider: Address
  token: Address
  feeBps: number
}

export async function insertMirroredChannel(
  db: Queryable,
  log: LogKey,
  channel: MirroredChannel,
): Promise<void> {
  await db.query(
    `INSERT INTO vault_channels (chain_id, channel_id, caller, provider, token, fee_bps, tx_hash, log_index)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
    [
      log.chainId,
      channel.channelId.toLowerCase(),
      channel.caller.toLowerCase(),
      channel.provider.toLowerCase(),
      channel.token.toLowerCase(),
      channel.feeBps,
      log.txHash.toLowerCase(),
      log.logIndex,
    ],
  )
}

export async function deleteMirroredChannel(db: Queryable, log: LogKey): Promise<void> {
  await db.query(
    'DELETE FROM vault_channels AS c WHERE c.chain_id = $1 AND c.tx_hash = $2 AND c.log_index = $3',
    [log.chainId, log.txHash.toLowerCase(), log.logIndex],
  )
}

export async function findMirroredChannel(
  db: Queryable,
  chainId: number,
  channelId: string,
): Promise<MirroredChannel | null> {
  const { rows } = await db.query(
    `SELECT c.channel_id, c.caller, c.provider, c.token, c.fee_bps
       FROM vault_channels AS c WHERE c.chain_id = $1 AND c.channel_id = $2`,
    [chainId, channelId.toLowerCase()],
  )
  const row = rows[0]
  if (!row) return null
  return {
    channelId: row.channel_id,
    caller: row.caller,
    provider: row.provider,
    token: row.token,
    feeBps: row.fee_bps,
  }
}

export async function insertTreasuryChange(
  db: Queryable,
  log: LogKey & { blockNumber: bigint },
  treasury: Address,
): Promise<void> {
  await db.query(
    `INSERT INTO vault_treasuries (chain_id, block_number, log_index, tx_hash, treasury)
     VALUES ($1, $2::bigint, $3, $4, $5) ON CONFLICT DO NOTHING`,
    [log.chainId, log.blockNumber.toString(), log.logIndex, log.txHash.toLowerCase(), treasury.toLowerCase()],
  )
}

export async function deleteTreasuryChange(db: Queryable, log: LogKey): Promise<void> {
  await db.query(
    'DELETE FROM vault_treasuries AS t WHERE t.chain_id = $1 AND t.tx_hash = $2 AND t.log_index = $3',
    [log.chainId, log.txHash.toLowerCase(), log.logIndex],
  )
}

/** The treasury as of the latest indexed `TreasuryChanged`, or null before the first one. */
export async function selectCurrentTreasury(db: Queryable, chainId: number): Promise<Address | null> {
  const { rows } = await db.query(
    `SELECT t.treasury FROM vault_treasuries AS t WHERE t.chain_id = $1
      ORDER BY t.block_number DESC, t.log_index DESC LIMIT 1`,
    [chainId],
  )
  return rows[0]?.treasury ?? null
}

/** Every mirrored balance of `token` that is not zero, by account. */
export async function selectMirroredBalances(
  db: Queryable,
  chainId: number,
  token: string,
): Promise<Map<Address, bigint>> {
  const { rows } = await db.query(
    `SELECT b.account, b.balance::text FROM vault_balances AS b
      WHERE b.chain_id = $1 AND b.token = $2 AND b.balance <> 0`,
    [chainId, token.toLowerCase()],
  )
  return new Map(rows.map((row) => [row.account as Address, BigInt(row.balance)]))
}

/** The mirrored vault balances of `account`, by token (tokens it never held are absent). */
export async function selectMirroredAccountBalances(
  db: Queryable,
  chainId: number,
  account: Address,
): Promise<Map<string, bigint>> {
  // Every balance read runs it: prepared once per connection.
  const { rows } = await db.query({
    name: 'vault-mirror-account-balances',
    text: 'SELECT b.token, b.balance::text FROM vault_balances AS b WHERE b.chain_id = $1 AND b.account = $2',
    values: [chainId, account.toLowerCase()],
  })
  return new Map(rows.map((row) => [normalizeAddress(row.token as string), BigInt(row.balance as string)]))
}
