import type { Address, Hex } from 'viem'
import type { ChannelStatus } from '../../protocol/channels'
import type { Queryable } from '../db/pool'

// The channels, channel_fundings, channel_calls and channel_settlements tables.

export interface ChannelRow {
  id: string
  chain_id: number
  vault_address: Address
  vault_channel_id: Hex
  service_id: string
  caller_agent_id: string
  provider_agent_id: string
  caller_address: Address
  provider_address: Address
  token_address: Address
  token_symbol: string
  token_decimals: number
  fee_bps: number
  salt: Hex
  settlement_interval: number
  price_per_call: bigint
  status: ChannelStatus
  deposit: bigint
  last_sequence: bigint
  cumulative_amount: bigint
  call_chain: Hex
  voucher_signature: Hex | null
  queued_sequence: bigint
  queued_amount: bigint
  settled_sequence: bigint
  settled_amount: bigint
  closes_at: Date | null
  refund: bigint | null
  last_call_at: Date | null
  created_at: Date
  updated_at: Date
}

const COLUMNS = `c.id, c.chain_id::int AS chain_id, c.vault_address, c.vault_channel_id, c.service_id,
  c.caller_agent_id, c.provider_agent_id, c.caller_address, c.provider_address, c.token_address,
  c.token_symbol, c.token_decimals, c.fee_bps, c.salt, c.settlement_interval, c.price_per_call::text, c.status,
  c.deposit::text, c.last_sequence::text, c.cumulative_amount::text, c.call_chain, c.voucher_signature,
  c.queued_sequence::text, c.queued_amount::text, c.settled_sequence::text, c.settled_amount::text, c.closes_at, c.refund::text,
  c.last_call_at, c.created_at, c.updated_at`

function toChannelRow(row: Record<string, unknown>): ChannelRow {
  return {
    ...(row as unknown as ChannelRow),
    deposit: BigInt(row.deposit as string),
    price_per_call: BigInt(row.price_per_call as string),
    last_sequence: BigInt(row.last_sequence as string),
    cumulative_amount: BigInt(row.cumulative_amount as string),
    queued_sequence: BigInt(row.queued_sequence as string),
    queued_amount: BigInt(row.queued_amount as string),
    settled_sequence: BigInt(row.settled_sequence as string),
    settled_amount: BigInt(row.settled_amount as string),
    refund: row.refund === null ? null : BigInt(row.refund as string),
  }
}

export interface NewChannel {
  id: string
  chainId: number
  vaultAddress: Address
  vaultChannelId: Hex
  serviceId: string
  callerAgentId: string
  providerAgentId: string
  callerAddress: Address
  providerAddress: Address
  token: { address: Address; symbol: string; decimals: number }
  feeBps: number
  salt: Hex
  settlementInterval: number
  pricePerCall: bigint
}

export async function insertChannel(db: Queryable, channel: NewChannel): Promise<void> {
  await db.query(
    `INSERT INTO channels (id, chain_id, vault_address, vault_channel_id, service_id, caller_agent_id,
       provider_agent_id, caller_address, provider_address, token_address, token_symbol, token_decimals,
       fee_bps, salt, settlement_interval, price_per_call, status)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, 'pending_signature')`,
    [
      channel.id,
      channel.chainId,
      channel.vaultAddress.toLowerCase(),
      channel.vaultChannelId.toLowerCase(),
      channel.serviceId,
      channel.callerAgentId,
      channel.providerAgentId,
      channel.callerAddress.toLowerCase(),
      channel.providerAddress.toLowerCase(),
      channel.token.address.toLowerCase(),
      channel.token.symbol,
      channel.token.decimals,
      channel.feeBps,
      channel.salt.toLowerCase(),
      channel.settlementInterval,
      channel.pricePerCall.toString(),
    ],
  )
}

export async function selectChannel(
  db: Queryable,
  channelId: string,
  options: { forUpdate?: boolean } = {},
): Promise<ChannelRow | null> {
  const { rows } = await db.query(
    `SELECT ${COLUMNS} FROM channels AS c WHERE c.id = $1${options.forUpdate ? ' FOR UPDATE OF c' : ''}`,
    [channelId],
  )
  return rows[0] ? toChannelRow(rows[0]) : null
}

export async function selectChannelByVaultId(
  db: Queryable,
  chainId: number,
  vaultChannelId: string,
  options: { forUpdate?: boolean } = {},
): Promise<ChannelRow | null> {
  const { rows } = await db.query(
    `SELECT ${COLUMNS} FROM channels AS c WHERE c.chain_id = $1 AND c.vault_channel_id = $2
     ${options.forUpdate ? 'FOR UPDATE OF c' : ''}`,
    [chainId, vaultChannelId.toLowerCase()],
  )
  return rows[0] ? toChannelRow(rows[0]) : null
}

/** The caller's open channel to a service, if any. */
export async function selectOpenChannel(
  db: Queryable,
  callerAgentId: string,
  serviceId: string,
): Promise<ChannelRow | null> {
  const { rows } = await db.query(
    `SELECT ${COLUMNS} FROM channels AS c
      WHERE c.caller_agent_id = $1 AND c.service_id = $2 AND c.status IN ('pending_signature', 'active')`,
    [callerAgentId, serviceId],
  )
  return rows[0] ? toChannelRow(rows[0]) : null
}

export async function selectChannelPage(
  db: Queryable,
  filter: {
    agentId: string
    role: 'caller' | 'provider'
    status?: ChannelStatus
    limit: number
    offset: number
  },
): Promise<ChannelRow[]> {
  const column = filter.role === 'caller' ? 'c.caller_agent_id' : 'c.provider_agent_id'
  const { rows } = await db.query(
    `SELECT ${COLUMNS} FROM channels AS c
      WHERE ${column} = $1 AND ($2::text IS NULL OR c.status = $2)
      ORDER BY c.created_at DESC, c.id DESC LIMIT $3 OFFSET $4`,
    [filter.agentId, filter.status ?? null, filter.limit, filter.offset],
  )
  return rows.map(toChannelRow)
}

export async function setChannelStatus(
  db: Queryable,
  channelId: string,
  status: ChannelStatus,
  extra: { closesAt?: Date | null; refund?: bigint | null } = {},
): Promise<void> {
  await db.query(
    `UPDATE channels SET status = $2,
       closes_at = CASE WHEN $3::boolean THEN $4::timestamptz ELSE closes_at END,
       refund = CASE WHEN $5::boolean THEN $6::numeric ELSE refund END,
       updated_at = now()
     WHERE id = $1`,
    [
      channelId,
      status,
      extra.closesAt !== undefined,
      extra.closesAt ?? null,
      extra.refund !== undefined,
      extra.refund?.toString() ?? null,
    ],
  )
}

export async function addToChannelDeposit(db: Queryable, channelId: string, delta: bigint): Promise<void> {
  await db.query('UPDATE channels SET deposit = deposit + $2::numeric, updated_at = now() WHERE id = $1', [
    channelId,
    delta.toString(),
  ])
}

/** The newest voucher handed to the settler (never lowered but by `resetQueued`). */
export async function setQueued(
  db: Queryable,
  channelId: string,
  queued: { sequence: bigint; amount: bigint },
): Promise<void> {
  await db.query(
    `UPDATE channels SET queued_sequence = $2::bigint, queued_amount = $3::numeric, updated_at = now()
      WHERE id = $1 AND queued_sequence < $2::bigint`,
    [channelId, queued.sequence.toString(), queued.amount.toString()],
  )
}

/** After a settlement failed: the calls since the last settled voucher are to be queued again. */
export async function resetQueued(db: Queryable, channelId: string): Promise<void> {
  await db.query(
    `UPDATE channels SET queued_sequence = settled_sequence, queued_amount = settled_amount, updated_at = now()
      WHERE id = $1`,
    [channelId],
  )
}

/** Records what the vault settled: its newest settled voucher (never lowered but by `undo`). */
export async function setChannelSettled(
  db: Queryable,
  channelId: string,
  settled: { sequence: bigint; amount: bigint },
): Promise<void> {
  await db.query(
    `UPDATE channels SET settled_sequence = $2::bigint, settled_amount = $3::numeric, updated_at = now()
      WHERE id = $1`,
    [channelId, settled.sequence.toString(), settled.amount.toString()],
  )
}

/** The newest voucher the vault settled, as the channel's settlement records say (after a reorg undid one). */
export async function selectLatestSettled(
  db: Queryable,
  channelId: string,
): Promise<{ sequence: bigint; amount: bigint }> {
  const { rows } = await db.query(
    `SELECT coalesce(max(s.to_sequence), 0)::text AS sequence, coalesce(max(s.cumulative_amount), 0)::text AS amount
       FROM channel_settlements AS s WHERE s.channel_id = $1 AND s.status = 'settled'`,
    [channelId],
  )
  return { sequence: BigInt(rows[0].sequence), amount: BigInt(rows[0].amount) }
}

// ---- Fundings ----

export interface ChannelFundingRow {
  id: string
  channel_id: string
  amount: bigint
  total_deposit: bigint
  nonce: bigint
  signature: Hex | null
  status: 'awaiting_signature' | 'queued' | 'confirmed' | 'failed' | 'abandoned'
  chain_op_id: string | null
  failure_reason: string | null
  created_at: Date
}

function toFundingRow(row: Record<string, unknown>): ChannelFundingRow {
  return {
    ...(row as unknown as ChannelFundingRow),
    id: String(row.id),
    amount: BigInt(row.amount as string),
    total_deposit: BigInt(row.total_deposit as string),
    nonce: BigInt(row.nonce as string),
    chain_op_id: row.chain_op_id === null ? null : String(row.chain_op_id),
  }
}

const FUNDING_COLUMNS = `f.id, f.channel_id, f.amount::text, f.total_deposit::text, f.nonce::text, f.signature,
  f.status, f.chain_op_id, f.failure_reason, f.created_at`

export async function insertFunding(
  db: Queryable,
  funding: { channelId: string; amount: bigint; totalDeposit: bigint; nonce: bigint },
): Promise<ChannelFundingRow> {
  const { rows } = await db.query(
    `INSERT INTO channel_fundings AS f (channel_id, amount, total_deposit, nonce, status)
     VALUES ($1, $2, $3, $4, 'awaiting_signature') RETURNING ${FUNDING_COLUMNS}`,
    [funding.channelId, funding.amount.toString(), funding.totalDeposit.toString(), funding.nonce.toString()],
  )
  return toFundingRow(rows[0])
}

/** The channel's funding awaiting its signature or the vault, newest first. */
export async function selectOpenFundings(db: Queryable, channelId: string): Promise<ChannelFundingRow[]> {
  const { rows } = await db.query(
    `SELECT ${FUNDING_COLUMNS} FROM channel_fundings AS f
      WHERE f.channel_id = $1 AND f.status IN ('awaiting_signature', 'queued') ORDER BY f.id DESC`,
    [channelId],
  )
  return rows.map(toFundingRow)
}

export async function markFundingQueued(
  db: Queryable,
  fundingId: string,
  signature: Hex,
  chainOpId: string,
): Promise<void> {
  await db.query(
    `UPDATE channel_fundings SET status = 'queued', signature = $2, chain_op_id = $3, updated_at = now()
      WHERE id = $1`,
    [fundingId, signature.toLowerCase(), chainOpId],
  )
}

export async function setFundingStatus(
  db: Queryable,
  fundingId: string,
  status: ChannelFundingRow['status'],
  failureReason: string | null = null,
): Promise<void> {
  await db.query(
    'UPDATE channel_fundings SET status = $2, failure_reason = $3, updated_at = now() WHERE id = $1',
    [fundingId, status, failureReason],
  )
}

export async function selectFundingByOp(db: Queryable, chainOpId: string): Promise<ChannelFundingRow | null> {
  const { rows } = await db.query(
    `SELECT ${FUNDING_COLUMNS} FROM channel_fundings AS f WHERE f.chain_op_id = $1 FOR UPDATE`,
    [chainOpId],
  )
  return rows[0] ? toFundingRow(rows[0]) : null
}

/** The queued or confirmed funding of a channel that raised its deposit to `totalDeposit`. */
export async function selectFundingByTotal(
  db: Queryable,
  channelId: string,
  totalDeposit: bigint,
): Promise<ChannelFundingRow | null> {
  const { rows } = await db.query(
    `SELECT ${FUNDING_COLUMNS} FROM channel_fundings AS f
      WHERE f.channel_id = $1 AND f.total_deposit = $2::numeric AND f.status IN ('queued', 'confirmed')
      ORDER BY f.id DESC LIMIT 1`,
    [channelId, totalDeposit.toString()],
  )
  return rows[0] ? toFundingRow(rows[0]) : null
}

/** Per caller wallet, the fundings of `token` queued for the vault and not yet seen landing (reconciliation). */
export async function selectUnlandedFundingsByCaller(
  db: Queryable,
  chainId: number,
  token: string,
): Promise<Map<Address, bigint>> {
  const { rows } = await db.query(
    `SELECT c.caller_address, sum(f.amount)::text AS amount
       FROM channel_fundings AS f JOIN channels AS c ON c.id = f.channel_id
      WHERE c.chain_id = $1 AND c.token_address = $2 AND f.status = 'queued'
      GROUP BY c.caller_address`,
    [chainId, token.toLowerCase()],
  )
  return new Map(rows.map((row) => [row.caller_address as Address, BigInt(row.amount)]))
}

// ---- Calls ----

export interface ChannelCallRow {
  id: string
  channel_id: string
  sequence: bigint
  amount: bigint
  cumulative_amount: bigint
  request_hash: Hex
  response_hash: Hex
  call_record_hash: Hex
  call_chain: Hex
  voucher_signature: Hex
  upstream_status: number
  started_at: Date
  duration_ms: number
  created_at: Date
}

/** A call the fast path is about to record: the voucher it carries and what the provider answered. */
export interface CallToRecord {
  id: string
  channelId: string
  sequence: bigint
  previousCumulative: bigint
  amount: bigint
  cumulativeAmount: bigint
  requestHash: Hex
  responseHash: Hex
  callRecordHash: Hex
  callChain: Hex
  voucherSignature: Hex
  upstreamStatus: number
  startedAt: Date
  durationMs: number
}

/**
 * Records calls on many channels in one statement (so one round trip and one commit when run
 * alone): each channel advances only from the state its call was checked against (the previous
 * sequence and amount, still active, within the deposit), and only the calls whose channel
 * advanced are inserted. Returns the ids of the calls recorded, and which of their channels
 * reached their settlement interval.
 */
export async function recordCalls(
  db: Queryable,
  calls: readonly CallToRecord[],
): Promise<{ recorded: Set<string>; dueForSettlement: string[] }> {
  const { rows } = await db.query(
    `WITH next AS (
       SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::bigint[], $4::numeric[], $5::numeric[], $6::numeric[],
                            $7::text[], $8::text[], $9::text[], $10::text[], $11::int[], $12::timestamptz[], $13::int[],
                            $14::text[])
         AS n(call_id, channel_id, sequence, amount, previous_cumulative, cumulative_amount, request_hash,
              response_hash, call_record_hash, call_chain, upstream_status, started_at, duration_ms, voucher_signature)
     ),
     advanced AS (
       UPDATE channels AS c
          SET last_sequence = n.sequence, cumulative_amount = n.cumulative_amount, call_chain = n.call_chain,
              voucher_signature = n.voucher_signature, last_call_at = n.started_at, updated_at = now()
         FROM next AS n
        WHERE c.id = n.channel_id AND c.status = 'active' AND c.last_sequence = n.sequence - 1
          AND c.cumulative_amount = n.previous_cumulative AND n.cumulative_amount <= c.deposit
       RETURNING c.id, (c.last_sequence - c.queued_sequence >= c.settlement_interval) AS is_due
     ),
     inserted AS (
       INSERT INTO channel_calls (id, channel_id, sequence, amount, cumulative_amount, request_hash,
         response_hash, call_record_hash, call_chain, voucher_signature, upstream_status, started_at, duration_ms)
       SELECT n.call_id, n.channel_id, n.sequence, n.amount, n.cumulative_amount, n.request_hash, n.response_hash,
              n.call_record_hash, n.call_chain, n.voucher_signature, n.upstream_status, n.started_at, n.duration_ms
         FROM next AS n
        WHERE n.channel_id IN (SELECT a.id FROM advanced AS a)
       RETURNING id
     )
     SELECT 'call' AS kind, i.id::text AS id, false AS is_due FROM inserted AS i
     UNION ALL SELECT 'channel', a.id::text, a.is_due FROM advanced AS a`,
    [
      calls.map((call) => call.id),
      calls.map((call) => call.channelId),
      calls.map((call) => call.sequence.toString()),
      calls.map((call) => call.amount.toString()),
      calls.map((call) => call.previousCumulative.toString()),
      calls.map((call) => call.cumulativeAmount.toString()),
      calls.map((call) => call.requestHash.toLowerCase()),
      calls.map((call) => call.responseHash.toLowerCase()),
      calls.map((call) => call.callRecordHash.toLowerCase()),
      calls.map((call) => call.callChain.toLowerCase()),
      calls.map((call) => call.upstreamStatus),
      calls.map((call) => call.startedAt),
      calls.map((call) => call.durationMs),
      calls.map((call) => call.voucherSignature.toLowerCase()),
    ],
  )
  return {
    recorded: new Set(rows.filter((row) => row.kind === 'call').map((row) => row.id as string)),
    dueForSettlement: rows
      .filter((row) => row.kind === 'channel' && row.is_due)
      .map((row) => row.id as string),
  }
}

const CALL_COLUMNS = `k.id, k.channel_id, k.sequence::text, k.amount::text, k.cumulative_amount::text,
  k.request_hash, k.response_hash, k.call_record_hash, k.call_chain, k.voucher_signature,
  k.upstream_status, k.started_at, k.duration_ms, k.created_at`

function toCallRow(row: Record<string, unknown>): ChannelCallRow {
  return {
    ...(row as unknown as ChannelCallRow),
    sequence: BigInt(row.sequence as string),
    amount: BigInt(row.amount as string),
    cumulative_amount: BigInt(row.cumulative_amount as string),
  }
}

export async function selectCallPage(
  db: Queryable,
  channelId: string,
  page: { limit: number; offset: number },
): Promise<ChannelCallRow[]> {
  const { rows } = await db.query(
    `SELECT ${CALL_COLUMNS} FROM channel_calls AS k WHERE k.channel_id = $1
      ORDER BY k.sequence DESC LIMIT $2 OFFSET $3`,
    [channelId, page.limit, page.offset],
  )
  return rows.map(toCallRow)
}

export async function selectCall(db: Queryable, callId: string): Promise<ChannelCallRow | null> {
  const { rows } = await db.query(`SELECT ${CALL_COLUMNS} FROM channel_calls AS k WHERE k.id = $1`, [callId])
  return rows[0] ? toCallRow(rows[0]) : null
}

// ---- Settlements ----

export interface ChannelSettlementRow {
  id: string
  channel_id: string
  kind: 'settle' | 'close'
  from_sequence: bigint
  to_sequence: bigint
  cumulative_amount: bigint
  amount: bigint
  fee: bigint
  status: 'awaiting_signature' | 'pending' | 'settled' | 'failed'
  chain_op_id: string | null
  tx_hash: Hex | null
  failure_reason: string | null
  created_at: Date
  settled_at: Date | null
}

const SETTLEMENT_COLUMNS = `s.id, s.channel_id, s.kind, s.from_sequence::text, s.to_sequence::text,
  s.cumulative_amount::text, s.amount::text, s.fee::text, s.status, s.chain_op_id, s.tx_hash,
  s.failure_reason, s.created_at, s.settled_at`

function toSettlementRow(row: Record<string, unknown>): ChannelSettlementRow {
  return {
    ...(row as unknown as ChannelSettlementRow),
    from_sequence: BigInt(row.from_sequence as string),
    to_sequence: BigInt(row.to_sequence as string),
    cumulative_amount: BigInt(row.cumulative_amount as string),
    amount: BigInt(row.amount as string),
    fee: BigInt(row.fee as string),
    chain_op_id: row.chain_op_id === null ? null : String(row.chain_op_id),
  }
}

export async function insertSettlement(
  db: Queryable,
  settlement: {
    id: string
    channelId: string
    kind: 'settle' | 'close'
    fromSequence: bigint
    toSequence: bigint
    cumulativeAmount: bigint
    amount: bigint
    fee: bigint
    status: 'awaiting_signature' | 'pending'
    chainOpId: string | null
  },
): Promise<void> {
  await db.query(
    `INSERT INTO channel_settlements (id, channel_id, kind, from_sequence, to_sequence, cumulative_amount,
       amount, fee, status, chain_op_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
    [
      settlement.id,
      settlement.channelId,
      settlement.kind,
      settlement.fromSequence.toString(),
      settlement.toSequence.toString(),
      settlement.cumulativeAmount.toString(),
      settlement.amount.toString(),
      settlement.fee.toString(),
      settlement.status,
      settlement.chainOpId,
    ],
  )
}

export async function selectSettlementPage(
  db: Queryable,
  channelId: string,
  page: { limit: number; offset: number },
): Promise<ChannelSettlementRow[]> {
  const { rows } = await db.query(
    `SELECT ${SETTLEMENT_COLUMNS} FROM channel_settlements AS s WHERE s.channel_id = $1
      ORDER BY s.created_at DESC, s.to_sequence DESC LIMIT $2 OFFSET $3`,
    [channelId, page.limit, page.offset],
  )
  return rows.map(toSettlementRow)
}

/** The settlement with id `settlementId`, or null. */
export async function selectSettlement(
  db: Queryable,
  settlementId: string,
): Promise<ChannelSettlementRow | null> {
  return selectOneSettlement(db, 's.id = $1', [settlementId])
}

/** The settlement carried by chain op `chainOpId`, or null. */
export async function selectSettlementByOp(
  db: Queryable,
  chainOpId: string,
): Promise<ChannelSettlementRow | null> {
  return selectOneSettlement(db, 's.chain_op_id = $1', [chainOpId])
}

async function selectOneSettlement(
  db: Queryable,
  condition: string,
  values: unknown[],
): Promise<ChannelSettlementRow | null> {
  const { rows } = await db.query(
    `SELECT ${SETTLEMENT_COLUMNS} FROM channel_settlements AS s WHERE ${condition}`,
    values,
  )
  return rows[0] ? toSettlementRow(rows[0]) : null
}

/** The close awaiting a self-custody provider's signature, if any. */
export async function selectCloseAwaitingSignature(
  db: Queryable,
  channelId: string,
): Promise<ChannelSettlementRow | null> {
  return selectOneSettlement(
    db,
    "s.channel_id = $1 AND s.kind = 'close' AND s.status = 'awaiting_signature'",
    [channelId],
  )
}

export async function markSettlementQueued(
  db: Queryable,
  settlementId: string,
  chainOpId: string,
): Promise<void> {
  await db.query(`UPDATE channel_settlements SET status = 'pending', chain_op_id = $2 WHERE id = $1`, [
    settlementId,
    chainOpId,
  ])
}

/** Marks the channel's pending settlements up to `sequence` settled by `txHash` (or, `txHash` null, pending again). */
export async function markSettlementsSettled(
  db: Queryable,
  channelId: string,
  sequence: bigint,
  txHash: Hex | null,
): Promise<void> {
  if (txHash === null) {
    await db.query(
      `UPDATE channel_settlements SET status = 'pending', tx_hash = NULL, settled_at = NULL
        WHERE channel_id = $1 AND status = 'settled' AND to_sequence >= $2::bigint`,
      [channelId, sequence.toString()],
    )
    return
  }
  await db.query(
    `UPDATE channel_settlements SET status = 'settled', tx_hash = $3, settled_at = now()
      WHERE channel_id = $1 AND status = 'pending' AND to_sequence <= $2::bigint`,
    [channelId, sequence.toString(), txHash.toLowerCase()],
  )
}

export async function setSettlementFailed(
  db: Queryable,
  settlementId: string,
  reason: string | null,
): Promise<void> {
  await db.query(
    `UPDATE channel_settlements SET status = CASE WHEN $2::text IS NULL THEN 'pending' ELSE 'failed' END,
       failure_reason = $2 WHERE id = $1`,
    [settlementId, reason],
  )
}

/** For the timers: active channels with calls not yet handed to the settler, idle at least `idleSeconds`. */
export async function selectChannelsToSettle(
  db: Queryable,
  idleSeconds: number,
  limit: number,
): Promise<string[]> {
  const { rows } = await db.query(
    `SELECT c.id FROM channels AS c
      WHERE c.status = 'active' AND c.last_sequence > c.queued_sequence
        AND c.last_call_at <= clearhouse_now() - make_interval(secs => $1)
      ORDER BY c.last_call_at LIMIT $2`,
    [idleSeconds, limit],
  )
  return rows.map((row) => row.id as string)
}

/** For the timers: active channels with no call (nor opening) for `idleSeconds`. */
export async function selectIdleChannels(
  db: Queryable,
  idleSeconds: number,
  limit: number,
): Promise<string[]> {
  const { rows } = await db.query(
    `SELECT c.id FROM channels AS c
      WHERE c.status = 'active' AND coalesce(c.last_call_at, c.created_at) <= clearhouse_now() - make_interval(secs => $1)
      ORDER BY coalesce(c.last_call_at, c.created_at) LIMIT $2`,
    [idleSeconds, limit],
  )
  return rows.map((row) => row.id as string)
}

/** A settled call's public fields: its record's fields and hashes, nothing of its bodies. */
export interface SettledCallRecordRow {
  chainOpId: string
  /** The call chain before the settlement's first call (zero before the channel's first call). */
  previousCallChain: Hex
  sequence: number
  amount: string
  requestHash: Hex
  responseHash: Hex
  callRecordHash: Hex
}

/**
 * For the channel settlements the settler queued as `chainOpIds`: the calls each one's voucher
 * pays (`from_sequence` to `to_sequence`), in sequence order, with the call chain before them. A
 * settlement that pays no new call (a close at the settled amount) has one row with null fields.
 */
export async function selectSettledCallRecords(
  db: Queryable,
  chainOpIds: readonly string[],
): Promise<Array<SettledCallRecordRow | { chainOpId: string; previousCallChain: Hex; sequence: null }>> {
  const { rows } = await db.query(
    `SELECT s.chain_op_id::text AS chain_op_id,
            coalesce(p.call_chain, '0x0000000000000000000000000000000000000000000000000000000000000000') AS previous_call_chain,
            k.sequence::int AS sequence, k.amount::text AS amount, k.request_hash, k.response_hash, k.call_record_hash
       FROM channel_settlements AS s
       LEFT JOIN channel_calls AS p ON p.channel_id = s.channel_id AND p.sequence = s.from_sequence - 1
       LEFT JOIN channel_calls AS k
         ON k.channel_id = s.channel_id AND k.sequence BETWEEN s.from_sequence AND s.to_sequence
      WHERE s.chain_op_id = ANY($1::bigint[])
      ORDER BY s.chain_op_id, k.sequence`,
    [chainOpIds],
  )
  return rows.map((row) =>
    row.sequence === null
      ? { chainOpId: row.chain_op_id, previousCallChain: row.previous_call_chain, sequence: null }
      : {
          chainOpId: row.chain_op_id,
          previousCallChain: row.previous_call_chain,
          sequence: row.sequence,
          amount: row.amount,
          requestHash: row.request_hash,
          responseHash: row.response_hash,
          callRecordHash: row.call_record_hash,
        },
  )
}
