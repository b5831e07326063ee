import type { Queryable } from '../db/pool'

/**
 * `unsettled` holds what a booked release owes an agent until it lands on-chain; `debt` keeps no
 * running balance: it goes negative when the chain takes back money already spent.
 */
export type AgentAccountKind = 'available' | 'escrow' | 'unsettled' | 'debt' | 'channel'
export type PlatformAccountKind = 'fees' | 'vault' | 'unclaimed'
export type LedgerTransactionKind =
  | 'deposit'
  | 'withdrawal'
  | 'escrow_lock'
  | 'escrow_release'
  | 'escrow_refund'
  | 'deposit_reversal'
  | 'withdrawal_refund'
  | 'withdrawal_reversal'
  | 'debt_repayment'
  | 'escrow_settlement'
  | 'escrow_settlement_reversal'
  | 'escrow_release_reversal'
  | 'escrow_ruling'
  | 'escrow_partial_release'
  | 'reorg_reversal'
  | 'channel_funding'
  | 'channel_funding_return'
  | 'channel_settlement'
  | 'channel_refund'
  | 'x402_payment'

/** Ids of the agents' accounts of the given kinds, created on first use. */
export async function ensureAgentAccounts(
  db: Queryable,
  accounts: { agentId: string; kind: AgentAccountKind }[],
): Promise<Map<string, string>> {
  const agentIds = accounts.map((account) => account.agentId)
  const kinds = accounts.map((account) => account.kind)
  const select = async () => {
    const { rows } = await db.query(
      `SELECT la.id::text AS id, la.agent_id, la.kind FROM ledger_accounts AS la
       WHERE (la.agent_id, la.kind) IN (SELECT * FROM unnest($1::uuid[], $2::text[]))`,
      [agentIds, kinds],
    )
    return new Map(rows.map((row) => [`${row.agent_id}:${row.kind}`, row.id as string]))
  }
  // Accounts are created once and never deleted, so nearly every call finds them all at once.
  const found = await select()
  if (accounts.every((account) => found.has(`${account.agentId}:${account.kind}`))) return found
  // In one global order, as every lock: two transactions creating the same accounts in opposite
  // orders would each wait on the other's uncommitted row.
  await db.query(
    `INSERT INTO ledger_accounts (agent_id, kind)
     SELECT a.agent_id, a.kind FROM unnest($1::uuid[], $2::text[]) AS a (agent_id, kind)
     ORDER BY a.agent_id, a.kind
     ON CONFLICT (agent_id, kind) WHERE agent_id IS NOT NULL DO NOTHING`,
    [agentIds, kinds],
  )
  return select()
}

/** The platform accounts' ids by kind (the three are seeded by the migrations). */
export async function selectPlatformAccountIds(db: Queryable): Promise<Map<PlatformAccountKind, string>> {
  const { rows } = await db.query({
    name: 'ledger-platform-accounts',
    text: 'SELECT la.id::text AS id, la.kind FROM ledger_accounts AS la WHERE la.agent_id IS NULL',
  })
  return new Map(rows.map((row) => [row.kind as PlatformAccountKind, row.id as string]))
}

/** One running balance: an account's balance of one token. */
export interface BalanceKey {
  accountId: string
  token: string
}

/** `accountId:token`, how running balances are keyed in memory. */
export function balanceKey(key: BalanceKey): string {
  return `${key.accountId}:${key.token}`
}

/**
 * Locks the running balances `keys`, creating missing rows at zero. Rows are locked in
 * (account id, token) order so two movements over the same balances never deadlock.
 */
export async function lockBalances(db: Queryable, keys: BalanceKey[]): Promise<Map<string, bigint>> {
  if (keys.length === 0) return new Map()
  const accountIds = keys.map((key) => key.accountId)
  const tokens = keys.map((key) => key.token)
  await db.query(
    `INSERT INTO ledger_balances (account_id, token)
     SELECT b.account_id, b.token FROM unnest($1::bigint[], $2::text[]) AS b (account_id, token)
     ORDER BY b.account_id, b.token
     ON CONFLICT (account_id, token) DO NOTHING`,
    [accountIds, tokens],
  )
  const { rows } = await db.query(
    `SELECT lb.account_id::text AS account_id, lb.token, lb.balance::text AS balance
     FROM ledger_balances AS lb
     WHERE (lb.account_id, lb.token) IN (SELECT * FROM unnest($1::bigint[], $2::text[]))
     ORDER BY lb.account_id, lb.token
     FOR UPDATE`,
    [accountIds, tokens],
  )
  return new Map(
    rows.map((row) => [
      balanceKey({ accountId: row.account_id, token: row.token }),
      BigInt(row.balance as string),
    ]),
  )
}

/** Sets each running balance to its new value; the rows are already locked. */
export async function updateBalances(
  db: Queryable,
  balances: Array<BalanceKey & { balance: bigint }>,
): Promise<void> {
  if (balances.length === 0) return
  await db.query(
    `UPDATE ledger_balances AS lb SET balance = b.balance, updated_at = now()
       FROM unnest($1::bigint[], $2::text[], $3::numeric[]) AS b (account_id, token, balance)
      WHERE lb.account_id = b.account_id AND lb.token = b.token`,
    [
      balances.map((balance) => balance.accountId),
      balances.map((balance) => balance.token),
      balances.map((balance) => balance.balance.toString()),
    ],
  )
}

export interface LedgerTransactionRow {
  id: string
  reference: string
  kind: LedgerTransactionKind
  token: string
  amount: bigint
}

export async function selectTransactionByReference(
  db: Queryable,
  reference: string,
): Promise<LedgerTransactionRow | null> {
  return (await selectTransactionsByReference(db, [reference])).get(reference) ?? null
}

/** The transactions posted under any of `references`, by reference. */
export async function selectTransactionsByReference(
  db: Queryable,
  references: string[],
): Promise<Map<string, LedgerTransactionRow>> {
  const { rows } = await db.query(
    `SELECT lt.id, lt.reference, lt.kind, lt.token, lt.amount::text AS amount
     FROM ledger_transactions AS lt WHERE lt.reference = ANY($1::text[])`,
    [references],
  )
  return new Map(rows.map((row) => [row.reference as string, { ...row, amount: BigInt(row.amount) }]))
}

/** The legs of the transaction posted under `reference`: each account (agent's or platform's) and its amount. */
export async function selectTransactionLegs(
  db: Queryable,
  reference: string,
): Promise<{
  token: string
  amount: bigint
  legs: Array<{ agentId: string | null; kind: string; amount: bigint }>
} | null> {
  const { rows } = await db.query(
    `SELECT lt.token, lt.amount::text AS total, la.agent_id, la.kind, le.amount::text AS amount
       FROM ledger_transactions AS lt
       JOIN ledger_entries AS le ON le.transaction_id = lt.id
       JOIN ledger_accounts AS la ON la.id = le.account_id
      WHERE lt.reference = $1
      ORDER BY le.id`,
    [reference],
  )
  if (rows.length === 0) return null
  return {
    token: rows[0].token,
    amount: BigInt(rows[0].total),
    legs: rows.map((row) => ({ agentId: row.agent_id, kind: row.kind, amount: BigInt(row.amount) })),
  }
}

/** How many transactions have a reference starting with `prefix` (generations of a re-applied booking). */
export async function countReferencesWithPrefix(db: Queryable, prefix: string): Promise<number> {
  const { rows } = await db.query(
    "SELECT count(*)::int AS n FROM ledger_transactions AS lt WHERE lt.reference LIKE $1 || '%'",
    [prefix.replace(/[\\%_]/g, (c) => `\\${c}`)],
  )
  return rows[0].n
}

export interface NewLedgerTransaction {
  id: string
  reference: string
  kind: LedgerTransactionKind
  token: string
  amount: bigint
  entries: { accountId: string; amount: bigint; balanceAfter: bigint | null }[]
}

/** Inserts transactions and their entries, in order, in two statements however many there are. */
export async function insertTransactions(db: Queryable, transactions: NewLedgerTransaction[]): Promise<void> {
  if (transactions.length === 0) return
  await db.query(
    `INSERT INTO ledger_transactions (id, reference, kind, token, amount)
     SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::numeric[])`,
    [
      transactions.map((transaction) => transaction.id),
      transactions.map((transaction) => transaction.reference),
      transactions.map((transaction) => transaction.kind),
      transactions.map((transaction) => transaction.token),
      transactions.map((transaction) => transaction.amount.toString()),
    ],
  )
  const entries = transactions.flatMap((transaction) =>
    transaction.entries.map((entry) => ({
      ...entry,
      transactionId: transaction.id,
      token: transaction.token,
    })),
  )
  if (entries.length === 0) return
  // Entry ids follow the order of the rows, which is the postings' order.
  await db.query(
    `INSERT INTO ledger_entries (transaction_id, account_id, token, amount, balance_after)
     SELECT e.transaction_id, e.account_id, e.token, e.amount, e.balance_after
     FROM unnest($1::uuid[], $2::bigint[], $3::text[], $4::numeric[], $5::numeric[]) WITH ORDINALITY
       AS e (transaction_id, account_id, token, amount, balance_after, position)
     ORDER BY e.position`,
    [
      entries.map((entry) => entry.transactionId),
      entries.map((entry) => entry.accountId),
      entries.map((entry) => entry.token),
      entries.map((entry) => entry.amount.toString()),
      entries.map((entry) => (entry.balanceAfter === null ? null : entry.balanceAfter.toString())),
    ],
  )
}

/** An agent's balances of `token` without locking (for reads). */
export async function selectAgentBalances(
  db: Queryable,
  agentId: string,
  token: string,
): Promise<{ available: bigint; escrow: bigint; unsettled: bigint }> {
  const { rows } = await db.query(
    `SELECT la.kind, lb.balance::text AS balance
     FROM ledger_accounts AS la
     JOIN ledger_balances AS lb ON lb.account_id = la.id AND lb.token = $2
     WHERE la.agent_id = $1`,
    [agentId, token],
  )
  const balances = { available: 0n, escrow: 0n, unsettled: 0n }
  for (const row of rows) balances[row.kind as 'available' | 'escrow' | 'unsettled'] = BigInt(row.balance)
  return balances
}

/**
 * Per token, what agents owe the platform (the sum of their debts, zero or more) and what booked
 * releases owe agents before the vault carried them out (their unsettled balances).
 */
export async function selectDebtAndUnsettledTotals(
  db: Queryable,
): Promise<Map<string, { debt: bigint; unsettled: bigint }>> {
  const { rows } = await db.query(
    `SELECT t.token, coalesce(-sum(t.debt), 0)::text AS debt, coalesce(sum(t.unsettled), 0)::text AS unsettled
       FROM (
         SELECT le.token, le.amount AS debt, 0 AS unsettled
           FROM ledger_entries AS le JOIN ledger_accounts AS la ON la.id = le.account_id AND la.kind = 'debt'
         UNION ALL
         SELECT lb.token, 0, lb.balance
           FROM ledger_balances AS lb JOIN ledger_accounts AS la ON la.id = lb.account_id AND la.kind = 'unsettled'
       ) AS t
      GROUP BY t.token`,
  )
  return new Map(
    rows.map((row) => [row.token as string, { debt: BigInt(row.debt), unsettled: BigInt(row.unsettled) }]),
  )
}

export interface AgentEntryRow {
  id: string
  transactionId: string
  reference: string
  kind: LedgerTransactionKind
  account: AgentAccountKind
  token: string
  amount: bigint
  /** Null on the debt account, which keeps no running balance. */
  balanceAfter: bigint | null
  createdAt: Date
}

/** An agent's entries newest first, keyset-paginated by entry id (`beforeId` exclusive). */
export async function selectAgentEntries(
  db: Queryable,
  agentId: string,
  options: { token?: string; beforeId?: string; limit: number },
): Promise<AgentEntryRow[]> {
  const { rows } = await db.query(
    `SELECT le.id::text AS id, le.transaction_id, lt.reference, lt.kind, la.kind AS account, le.token,
            le.amount::text AS amount, le.balance_after::text AS balance_after, le.created_at
     FROM ledger_entries AS le
     JOIN ledger_accounts AS la ON la.id = le.account_id
     JOIN ledger_transactions AS lt ON lt.id = le.transaction_id
     WHERE la.agent_id = $1
       AND ($2::text IS NULL OR le.token = $2)
       AND ($3::bigint IS NULL OR le.id < $3::bigint)
     ORDER BY le.id DESC
     LIMIT $4`,
    [agentId, options.token ?? null, options.beforeId ?? null, options.limit],
  )
  return rows.map((row) => ({
    id: row.id,
    transactionId: row.transaction_id,
    reference: row.reference,
    kind: row.kind,
    account: row.account,
    token: row.token,
    amount: BigInt(row.amount),
    balanceAfter: row.balance_after === null ? null : BigInt(row.balance_after),
    createdAt: row.created_at,
  }))
}

/** Per token, the sum of every entry (zero when the ledger balances) — for checks and tests. */
export async function selectEntrySumsByToken(db: Queryable): Promise<Map<string, bigint>> {
  const { rows } = await db.query(
    'SELECT le.token, sum(le.amount)::text AS total FROM ledger_entries AS le GROUP BY le.token',
  )
  return new Map(rows.map((row) => [row.token as string, BigInt(row.total)]))
}

/** A platform account's balance of `token`, summed from its entries (it keeps no running balance). */
export async function selectPlatformBalance(
  db: Queryable,
  kind: PlatformAccountKind,
  token: string,
): Promise<bigint> {
  const { rows } = await db.query(
    `SELECT coalesce(sum(le.amount), 0)::text AS total
     FROM ledger_entries AS le
     JOIN ledger_accounts AS la ON la.id = le.account_id
     WHERE la.kind = $1 AND la.agent_id IS NULL AND le.token = $2`,
    [kind, token],
  )
  return BigInt(rows[0]!.total)
}

/**
 * What `agentId` owes in `token` (zero or more): minus the sum of its debt account. Only
 * transactions holding the agent's available row lock write that account, so read it under that lock.
 */
export async function selectAgentDebt(db: Queryable, agentId: string, token: string): Promise<bigint> {
  return (await selectAgentDebts(db, [{ agentId, token }])).get(`${agentId}:${token}`) ?? 0n
}

/** `selectAgentDebt` for several agents and tokens at once, keyed `agentId:token`; absent means zero. */
export async function selectAgentDebts(
  db: Queryable,
  keys: Array<{ agentId: string; token: string }>,
): Promise<Map<string, bigint>> {
  if (keys.length === 0) return new Map()
  const { rows } = await db.query(
    `SELECT la.agent_id, le.token, (-sum(le.amount))::text AS owed
     FROM ledger_entries AS le
     JOIN ledger_accounts AS la ON la.id = le.account_id AND la.kind = 'debt'
     WHERE (la.agent_id, le.token) IN (SELECT * FROM unnest($1::uuid[], $2::text[]))
     GROUP BY la.agent_id, le.token`,
    [keys.map((key) => key.agentId), keys.map((key) => key.token)],
  )
  return new Map(rows.map((row) => [`${row.agent_id}:${row.token}`, BigInt(row.owed)]))
}
