import type { Address, Hex } from 'viem'
import type { DepositStatus } from '../../protocol/wallet'
import type { Queryable } from '../db/pool'

export interface DepositRow {
  id: string
  chainId: number
  txHash: Hex
  logIndex: number
  blockNumber: bigint
  account: Address
  token: Address
  fromAddress: Address
  amount: bigint
  status: DepositStatus
  agentId: string | null
  creditTransactionId: string | null
  failureReason: string | null
  reorgCount: number
  createdAt: Date
  creditedAt: Date | null
  updatedAt: Date
}

const COLUMNS = `d.id, d.chain_id, d.tx_hash, d.log_index, d.block_number, d.account, d.token, d.from_address,
  d.amount::text AS amount, d.status, d.agent_id, d.credit_transaction_id, d.failure_reason, d.reorg_count,
  d.created_at, d.credited_at, d.updated_at`

function toDeposit(row: Record<string, unknown>): DepositRow {
  return {
    id: row.id as string,
    chainId: Number(row.chain_id),
    txHash: row.tx_hash as Hex,
    logIndex: row.log_index as number,
    blockNumber: BigInt(row.block_number as string),
    account: row.account as Address,
    token: row.token as Address,
    fromAddress: row.from_address as Address,
    amount: BigInt(row.amount as string),
    status: row.status as DepositStatus,
    agentId: (row.agent_id as string | null) ?? null,
    creditTransactionId: (row.credit_transaction_id as string | null) ?? null,
    failureReason: (row.failure_reason as string | null) ?? null,
    reorgCount: row.reorg_count as number,
    createdAt: row.created_at as Date,
    creditedAt: (row.credited_at as Date | null) ?? null,
    updatedAt: row.updated_at as Date,
  }
}

/** The deposit of one log, locked. */
export async function lockDepositByLog(
  db: Queryable,
  chainId: number,
  txHash: string,
  logIndex: number,
): Promise<DepositRow | null> {
  return (await lockDepositsByLog(db, chainId, [{ txHash, logIndex }])).get(`${txHash}:${logIndex}`) ?? null
}

/** The deposits of the logs `(txHash, logIndex)` on `chainId`, locked, keyed `txHash:logIndex`. */
export async function lockDepositsByLog(
  db: Queryable,
  chainId: number,
  logs: Array<{ txHash: string; logIndex: number }>,
): Promise<Map<string, DepositRow>> {
  if (logs.length === 0) return new Map()
  const { rows } = await db.query(
    `SELECT ${COLUMNS} FROM deposits AS d
     WHERE d.chain_id = $1 AND (d.tx_hash, d.log_index) IN (SELECT * FROM unnest($2::text[], $3::int[]))
     ORDER BY d.id FOR UPDATE`,
    [chainId, logs.map((log) => log.txHash), logs.map((log) => log.logIndex)],
  )
  return new Map(rows.map((row) => [`${row.tx_hash}:${row.log_index}`, toDeposit(row)]))
}

/** A deposit row as the indexer first writes it. */
export type NewDeposit = Pick<
  DepositRow,
  | 'id'
  | 'chainId'
  | 'txHash'
  | 'logIndex'
  | 'blockNumber'
  | 'account'
  | 'token'
  | 'fromAddress'
  | 'amount'
  | 'status'
  | 'agentId'
  | 'creditTransactionId'
>

/** Inserts deposits in one statement however many there are. */
export async function insertDeposits(db: Queryable, deposits: NewDeposit[]): Promise<void> {
  if (deposits.length === 0) return
  const column = <T>(pick: (deposit: NewDeposit) => T) => deposits.map(pick)
  await db.query(
    `INSERT INTO deposits (id, chain_id, tx_hash, log_index, block_number, account, token, from_address, amount,
       status, agent_id, credit_transaction_id, credited_at)
     SELECT d.id, d.chain_id, d.tx_hash, d.log_index, d.block_number, d.account, d.token, d.from_address, d.amount,
       d.status, d.agent_id, d.credit_transaction_id, CASE WHEN d.status = 'success' THEN now() END
       FROM unnest($1::uuid[], $2::int[], $3::text[], $4::int[], $5::bigint[], $6::text[], $7::text[], $8::text[],
                   $9::numeric[], $10::text[], $11::uuid[], $12::uuid[])
         AS d (id, chain_id, tx_hash, log_index, block_number, account, token, from_address, amount, status,
               agent_id, credit_transaction_id)`,
    [
      column((deposit) => deposit.id),
      column((deposit) => deposit.chainId),
      column((deposit) => deposit.txHash),
      column((deposit) => deposit.logIndex),
      column((deposit) => deposit.blockNumber.toString()),
      column((deposit) => deposit.account),
      column((deposit) => deposit.token),
      column((deposit) => deposit.fromAddress),
      column((deposit) => deposit.amount.toString()),
      column((deposit) => deposit.status),
      column((deposit) => deposit.agentId),
      column((deposit) => deposit.creditTransactionId),
    ],
  )
}

/** A log seen again on the canonical chain after a reorg had dropped it (or a pending one confirmed). */
export async function reviveDeposit(
  db: Queryable,
  id: string,
  update: {
    blockNumber: bigint
    status: DepositStatus
    agentId: string | null
    creditTransactionId: string | null
  },
): Promise<void> {
  await db.query(
    `UPDATE deposits AS d SET block_number = $2::bigint, status = $3, agent_id = $4, credit_transaction_id = $5,
       failure_reason = NULL, credited_at = CASE WHEN $3 = 'success' THEN now() END, updated_at = now()
     WHERE d.id = $1`,
    [id, update.blockNumber.toString(), update.status, update.agentId, update.creditTransactionId],
  )
}

/**
 * Records a log seen past the safe head as `pending_deposit`, or moves it to the block it is in
 * now. Only a pending row or one a reorg failed is touched: a confirmed one (`processing`,
 * `success`) is the confirmed pass's, and a preview must never downgrade it. True when written.
 */
export async function upsertPendingDeposit(
  db: Queryable,
  deposit: Pick<
    DepositRow,
    'id' | 'chainId' | 'txHash' | 'logIndex' | 'blockNumber' | 'account' | 'token' | 'fromAddress' | 'amount'
  > & { agentId: string | null },
): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO deposits AS d (id, chain_id, tx_hash, log_index, block_number, account, token, from_address,
       amount, status, agent_id)
     VALUES ($1, $2, $3, $4, $5::bigint, $6, $7, $8, $9::numeric, 'pending_deposit', $10)
     ON CONFLICT (chain_id, tx_hash, log_index) DO UPDATE
       SET block_number = EXCLUDED.block_number, status = 'pending_deposit', failure_reason = NULL,
         agent_id = coalesce(d.agent_id, EXCLUDED.agent_id), updated_at = now()
       WHERE d.status = 'failed'
         OR (d.status = 'pending_deposit' AND (d.block_number <> EXCLUDED.block_number
           OR d.agent_id IS DISTINCT FROM coalesce(d.agent_id, EXCLUDED.agent_id)))`,
    [
      deposit.id,
      deposit.chainId,
      deposit.txHash,
      deposit.logIndex,
      deposit.blockNumber.toString(),
      deposit.account,
      deposit.token,
      deposit.fromAddress,
      deposit.amount.toString(),
      deposit.agentId,
    ],
  )
  return rowCount === 1
}

/**
 * Fails every `pending_deposit` of the chain whose log is not among `seen` (the logs the indexer
 * has yet to confirm): its block was reorganised away before it had its confirmations. No money
 * moved for it, so nothing is reversed. Returns how many were failed.
 */
export async function failPendingDepositsNotIn(
  db: Queryable,
  chainId: number,
  seen: { txHash: string; logIndex: number }[],
): Promise<number> {
  const { rowCount } = await db.query(
    `UPDATE deposits AS d SET status = 'failed', failure_reason = 'dropped by a reorg before confirmation',
       updated_at = now()
     WHERE d.chain_id = $1 AND d.status = 'pending_deposit'
       AND NOT EXISTS (
         SELECT 1 FROM unnest($2::text[], $3::int[]) AS s(tx_hash, log_index)
         WHERE s.tx_hash = d.tx_hash AND s.log_index = d.log_index
       )`,
    [chainId, seen.map((log) => log.txHash), seen.map((log) => log.logIndex)],
  )
  return rowCount ?? 0
}

/**
 * Gives `agentId` the deposits to `account` that moved no money yet (pending, or failed before
 * any agent held the wallet), so its deposit list shows them; claiming credits the rest.
 */
export async function assignUncreditedDeposits(
  db: Queryable,
  account: string,
  agentId: string,
): Promise<void> {
  await db.query(
    `UPDATE deposits AS d SET agent_id = $2, updated_at = now()
     WHERE d.account = $1 AND d.agent_id IS NULL AND d.status IN ('pending_deposit', 'failed')`,
    [account, agentId],
  )
}

/** Credited to `agentId` (a claim at registration). */
export async function markDepositCredited(
  db: Queryable,
  id: string,
  agentId: string,
  creditTransactionId: string,
): Promise<void> {
  await db.query(
    `UPDATE deposits AS d SET status = 'success', agent_id = $2, credit_transaction_id = $3, credited_at = now(),
       updated_at = now()
     WHERE d.id = $1`,
    [id, agentId, creditTransactionId],
  )
}

/** Un-credited because a reorg dropped its block; a later re-inclusion revives it. */
export async function markDepositReorged(db: Queryable, id: string): Promise<void> {
  await db.query(
    `UPDATE deposits AS d SET status = 'failed', failure_reason = 'reorganised out of the chain',
       credit_transaction_id = NULL, credited_at = NULL, reorg_count = d.reorg_count + 1, updated_at = now()
     WHERE d.id = $1`,
    [id],
  )
}

/** Deposits to `account` that wait for an agent to hold it, in chain order, locked. */
export async function lockUnclaimedDeposits(db: Queryable, account: string): Promise<DepositRow[]> {
  const { rows } = await db.query(
    `SELECT ${COLUMNS} FROM deposits AS d
     WHERE d.account = $1 AND d.status = 'processing' AND d.agent_id IS NULL
     ORDER BY d.block_number, d.log_index FOR UPDATE`,
    [account],
  )
  return rows.map(toDeposit)
}

export async function selectAgentDeposit(
  db: Queryable,
  agentId: string,
  depositId: string,
): Promise<DepositRow | null> {
  const { rows } = await db.query(
    `SELECT ${COLUMNS} FROM deposits AS d WHERE d.id = $1 AND d.agent_id = $2`,
    [depositId, agentId],
  )
  return rows[0] ? toDeposit(rows[0]) : null
}

/** The agent's deposits, newest first. */
export async function selectAgentDeposits(
  db: Queryable,
  agentId: string,
  options: { status?: DepositStatus; token?: string; limit: number; offset: number; after?: string },
): Promise<DepositRow[]> {
  // `after`: the last deposit of the previous page; rows strictly after it in the listing order.
  const { rows } = await db.query(
    `SELECT ${COLUMNS} FROM deposits AS d
     WHERE d.agent_id = $1 AND ($2::text IS NULL OR d.status = $2) AND ($3::text IS NULL OR d.token = $3)
       AND ($6::uuid IS NULL OR (d.created_at, d.block_number, d.log_index, d.id) <
         (SELECT c.created_at, c.block_number, c.log_index, c.id FROM deposits AS c WHERE c.id = $6))
     ORDER BY d.created_at DESC, d.block_number DESC, d.log_index DESC, d.id DESC
     LIMIT $4 OFFSET $5`,
    [
      agentId,
      options.status ?? null,
      options.token ?? null,
      options.limit,
      options.offset,
      options.after ?? null,
    ],
  )
  return rows.map(toDeposit)
}

/** The deposit made by transaction `txHash` for `account`, if the indexer has recorded it. */
export async function selectDepositByTransaction(
  db: Queryable,
  chainId: number,
  txHash: string,
  account: string,
): Promise<DepositRow | null> {
  const { rows } = await db.query(
    `SELECT ${COLUMNS} FROM deposits AS d WHERE d.chain_id = $1 AND d.tx_hash = $2 AND d.account = $3
     ORDER BY d.log_index LIMIT 1`,
    [chainId, txHash, account],
  )
  return rows[0] ? toDeposit(rows[0]) : null
}

/** The agent holding `wallet` (lowercase), or null: read here so the agents module need not import this one. */
export async function selectAgentIdByWallet(db: Queryable, wallet: string): Promise<string | null> {
  return (await selectAgentIdsByWallet(db, [wallet])).get(wallet) ?? null
}

/** The agents holding any of `wallets`, by wallet; a wallet no agent holds is absent. */
export async function selectAgentIdsByWallet(db: Queryable, wallets: string[]): Promise<Map<string, string>> {
  if (wallets.length === 0) return new Map()
  const { rows } = await db.query(
    'SELECT a.wallet_address, a.id FROM agents AS a WHERE a.wallet_address = ANY($1::text[])',
    [wallets],
  )
  return new Map(rows.map((row) => [row.wallet_address as string, row.id as string]))
}

/**
 * Serialises everything that decides who a vault account's money belongs to (the indexer crediting
 * a deposit, registration claiming it) for one wallet, until the transaction ends.
 */
export async function lockWallet(db: Queryable, wallet: string): Promise<void> {
  await lockWallets(db, [wallet])
}

/** `lockWallet` for several wallets, taken in one order so two lockers of overlapping sets never deadlock. */
export async function lockWallets(db: Queryable, wallets: string[]): Promise<void> {
  if (wallets.length === 0) return
  await db.query(
    `SELECT pg_advisory_xact_lock(hashtext('clearhouse-wallet:' || w.wallet))
       FROM (SELECT DISTINCT wallet FROM unnest($1::text[]) AS u (wallet) ORDER BY wallet) AS w`,
    [wallets],
  )
}
