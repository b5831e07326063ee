import type { BidStatus } from '../../protocol/bids'
import type { Queryable } from '../db/pool'

/** A bid row with its job's creator and token, which every visibility and format decision needs. */
export interface BidRow {
  id: string
  job_id: string
  bidder_agent_id: string
  amount: string
  eta_seconds: number
  proposal: string | null
  status: BidStatus
  created_at: Date
  updated_at: Date
  job_creator_agent_id: string
  token_symbol: string
  token_decimals: number
}

const BID_COLUMNS = `b.id, b.job_id, b.bidder_agent_id, b.amount::text, b.eta_seconds, b.proposal, b.status,
  b.created_at, b.updated_at, j.creator_agent_id AS job_creator_agent_id, j.token_symbol, j.token_decimals`

export async function insertBid(
  db: Queryable,
  bid: {
    id: string
    jobId: string
    bidderAgentId: string
    amount: bigint
    etaSeconds: number
    proposal: string | null
  },
): Promise<void> {
  await db.query(
    `INSERT INTO bids (id, job_id, bidder_agent_id, amount, eta_seconds, proposal)
     VALUES ($1, $2, $3, $4::numeric, $5, $6)`,
    [bid.id, bid.jobId, bid.bidderAgentId, bid.amount.toString(), bid.etaSeconds, bid.proposal],
  )
}

/** The bid, or null; `forUpdate` locks the bid row (not its job). */
export async function selectBid(
  db: Queryable,
  bidId: string,
  options: { forUpdate?: boolean } = {},
): Promise<BidRow | null> {
  const { rows } = await db.query(
    `SELECT ${BID_COLUMNS} FROM bids AS b JOIN jobs AS j ON j.id = b.job_id WHERE b.id = $1
     ${options.forUpdate ? 'FOR UPDATE OF b' : ''}`,
    [bidId],
  )
  return (rows[0] as BidRow | undefined) ?? null
}

/** The agent's pending bid on a job, locked, or null (one per agent and job, by a unique index). */
export async function selectPendingBidBy(
  db: Queryable,
  jobId: string,
  bidderId: string,
): Promise<string | null> {
  const { rows } = await db.query(
    `SELECT b.id FROM bids AS b WHERE b.job_id = $1 AND b.bidder_agent_id = $2 AND b.status = 'pending'
     FOR UPDATE`,
    [jobId, bidderId],
  )
  return (rows[0]?.id as string | undefined) ?? null
}

/** Sets a pending bid's amount and ETA (a negotiation agreed on another price). */
export async function setBidTerms(
  db: Queryable,
  bidId: string,
  amount: bigint,
  etaSeconds: number,
): Promise<void> {
  await db.query('UPDATE bids SET amount = $2::numeric, eta_seconds = $3, updated_at = now() WHERE id = $1', [
    bidId,
    amount.toString(),
    etaSeconds,
  ])
}

export async function setBidStatus(db: Queryable, bidId: string, status: BidStatus): Promise<void> {
  await db.query('UPDATE bids SET status = $2, updated_at = now() WHERE id = $1', [bidId, status])
}

/** Rejects every still-pending bid on a job (its slots filled, it was cancelled or it expired). */
export async function rejectPendingBids(db: Queryable, jobId: string): Promise<number> {
  const { rowCount } = await db.query(
    "UPDATE bids SET status = 'rejected', updated_at = now() WHERE job_id = $1 AND status = 'pending'",
    [jobId],
  )
  return rowCount ?? 0
}

/** Bids that are not withdrawn: the market activity a job shows everyone (seed 004 "Bid count"). */
export async function countJobBids(db: Queryable, jobId: string): Promise<number> {
  const { rows } = await db.query(
    "SELECT count(*)::int AS n FROM bids AS b WHERE b.job_id = $1 AND b.status <> 'withdrawn'",
    [jobId],
  )
  return rows[0].n as number
}

/** What a bid list is restricted to; every list also filters by the viewer's job visibility. */
export interface BidScope {
  viewerId: string | null
  jobId?: string
  bidderId?: string
  jobCreatorId?: string
  status?: BidStatus
  /**
   * Which bids the viewer may see in this list: `all`, `accepted` only, or the viewer's own in
   * any status plus everyone's accepted ones (`own_or_accepted`).
   */
  reach: 'all' | 'accepted' | 'own_or_accepted'
}

/** Bids in `scope`, newest first. */
export async function selectBids(
  db: Queryable,
  scope: BidScope,
  page: { limit: number; offset: number },
): Promise<BidRow[]> {
  const params: unknown[] = [scope.viewerId]
  // Bidders always see their own bids, even on a job since closed to them.
  const where: string[] = [`(b.bidder_agent_id = $1::uuid OR job_is_visible(j, $1::uuid))`]
  const add = (value: unknown) => {
    params.push(value)
    return `$${params.length}`
  }
  if (scope.jobId) where.push(`b.job_id = ${add(scope.jobId)}::uuid`)
  if (scope.bidderId) where.push(`b.bidder_agent_id = ${add(scope.bidderId)}::uuid`)
  if (scope.jobCreatorId) where.push(`j.creator_agent_id = ${add(scope.jobCreatorId)}::uuid`)
  if (scope.status) where.push(`b.status = ${add(scope.status)}`)
  if (scope.reach === 'accepted') where.push("b.status = 'accepted'")
  if (scope.reach === 'own_or_accepted') where.push("(b.status = 'accepted' OR b.bidder_agent_id = $1::uuid)")
  const { rows } = await db.query(
    `SELECT ${BID_COLUMNS} FROM bids AS b JOIN jobs AS j ON j.id = b.job_id
      WHERE ${where.join(' AND ')}
      ORDER BY b.created_at DESC, b.id DESC
      LIMIT ${add(page.limit)} OFFSET ${add(page.offset)}`,
    params,
  )
  return rows as BidRow[]
}
