import type { Address, Hex } from 'viem'
import type { MicroJobStatus } from '../../protocol/micro-jobs'
import type { Queryable } from '../db/pool'

// The micro_jobs table: one row per priced call made without a channel.

export interface MicroJobRow {
  id: string
  service_id: string
  caller_agent_id: string
  provider_agent_id: string
  token_address: Address
  token_symbol: string
  token_decimals: number
  amount: string
  fee_bps: number
  escrow_id: Hex
  request_hash: Hex
  response_hash: Hex | null
  upstream_status: number | null
  duration_ms: number | null
  status: MicroJobStatus
  failure_reason: string | null
  created_at: Date
  finished_at: Date | null
}

const COLUMNS = `m.id, m.service_id, m.caller_agent_id, m.provider_agent_id, m.token_address, m.token_symbol,
  m.token_decimals, m.amount::text, m.fee_bps, m.escrow_id, m.request_hash, m.response_hash,
  m.upstream_status, m.duration_ms, m.status, m.failure_reason, m.created_at, m.finished_at`

export interface NewMicroJob {
  id: string
  serviceId: string
  callerAgentId: string
  providerAgentId: string
  token: { address: Address; symbol: string; decimals: number }
  amount: bigint
  feeBps: number
  escrowId: Hex
  requestHash: Hex
}

export async function insertMicroJob(db: Queryable, job: NewMicroJob): Promise<void> {
  await db.query(
    `INSERT INTO micro_jobs (id, service_id, caller_agent_id, provider_agent_id, token_address, token_symbol,
                             token_decimals, amount, fee_bps, escrow_id, request_hash, status)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'calling')`,
    [
      job.id,
      job.serviceId,
      job.callerAgentId,
      job.providerAgentId,
      job.token.address.toLowerCase(),
      job.token.symbol,
      job.token.decimals,
      job.amount.toString(),
      job.feeBps,
      job.escrowId.toLowerCase(),
      job.requestHash.toLowerCase(),
    ],
  )
}

export async function selectMicroJob(
  db: Queryable,
  id: string,
  options: { forUpdate?: boolean } = {},
): Promise<MicroJobRow | null> {
  const { rows } = await db.query(
    `SELECT ${COLUMNS} FROM micro_jobs AS m WHERE m.id = $1 ${options.forUpdate ? 'FOR UPDATE' : ''}`,
    [id],
  )
  return rows[0] ?? null
}

/** One party's micro-jobs, newest first. */
export async function selectMicroJobPage(
  db: Queryable,
  filter: { agentId: string; role: 'caller' | 'provider'; status?: MicroJobStatus | undefined },
  page: { limit: number; offset: number },
): Promise<MicroJobRow[]> {
  const party = filter.role === 'caller' ? 'caller_agent_id' : 'provider_agent_id'
  const { rows } = await db.query(
    `SELECT ${COLUMNS} FROM micro_jobs AS m
      WHERE m.${party} = $1 AND ($2::text IS NULL OR m.status = $2)
      ORDER BY m.created_at DESC, m.id DESC
      LIMIT $3 OFFSET $4`,
    [filter.agentId, filter.status ?? null, page.limit, page.offset],
  )
  return rows
}

export async function finishMicroJob(
  db: Queryable,
  id: string,
  outcome:
    | { status: 'completed'; responseHash: Hex; upstreamStatus: number; durationMs: number }
    | { status: 'refunded'; reason: string },
): Promise<void> {
  if (outcome.status === 'completed') {
    await db.query(
      `UPDATE micro_jobs SET status = 'completed', response_hash = $2, upstream_status = $3, duration_ms = $4,
              finished_at = now()
        WHERE id = $1`,
      [id, outcome.responseHash.toLowerCase(), outcome.upstreamStatus, outcome.durationMs],
    )
  } else {
    await db.query(
      `UPDATE micro_jobs SET status = 'refunded', failure_reason = $2, finished_at = now() WHERE id = $1`,
      [id, outcome.reason],
    )
  }
}

/**
 * Up to `limit` micro-jobs still `calling` that started more than `ageMs` ago by the database's
 * clock (`clearhouse_now()`), oldest first.
 */
export async function selectStalledMicroJobIds(
  db: Queryable,
  ageMs: number,
  limit: number,
): Promise<string[]> {
  const { rows } = await db.query(
    `SELECT id FROM micro_jobs
      WHERE status = 'calling' AND created_at <= clearhouse_now() - make_interval(secs => $1::double precision / 1000)
      ORDER BY created_at LIMIT $2`,
    [ageMs, limit],
  )
  return rows.map((row) => row.id as string)
}
