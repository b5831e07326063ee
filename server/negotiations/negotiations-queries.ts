import type { NegotiationStatus } from '../../protocol/negotiations'
import type { Queryable } from '../db/pool'

// The negotiations and negotiation_offers tables.

export interface NegotiationRow {
  id: string
  subject: 'service' | 'job'
  service_id: string | null
  job_id: string | null
  buyer_agent_id: string
  seller_agent_id: string
  initiator_agent_id: string
  token_symbol: string
  token_address: string
  token_decimals: number
  amount: string
  last_offer_by: string
  eta_seconds: number
  /** `open` past `expires_at` (by the database's clock) reads `expired`, swept or not. */
  status: NegotiationStatus
  expires_at: Date
  closed_at: Date | null
  awarded_job_id: string | null
  awarded_bid_id: string | null
  assignment_id: string | null
  created_at: Date
  updated_at: Date
}

export interface OfferRow {
  negotiation_id: string
  agent_id: string
  amount: string
  message: string | null
  created_at: Date
}

const COLUMNS = `n.id, n.subject, n.service_id, n.job_id, n.buyer_agent_id, n.seller_agent_id,
  n.initiator_agent_id, n.token_symbol, n.token_address, n.token_decimals, n.amount::text, n.last_offer_by,
  n.eta_seconds,
  CASE WHEN n.status = 'open' AND n.expires_at <= clearhouse_now() THEN 'expired' ELSE n.status END AS status,
  n.expires_at, n.closed_at, n.awarded_job_id, n.awarded_bid_id, n.assignment_id, n.created_at, n.updated_at`

export async function insertNegotiation(
  db: Queryable,
  row: {
    id: string
    subject: 'service' | 'job'
    serviceId: string | null
    jobId: string | null
    buyerId: string
    sellerId: string
    initiatorId: string
    token: { symbol: string; address: string; decimals: number }
    amount: bigint
    etaSeconds: number
    expiresInSeconds: number
  },
): Promise<void> {
  await db.query(
    `INSERT INTO negotiations (id, subject, service_id, job_id, buyer_agent_id, seller_agent_id, initiator_agent_id,
       token_symbol, token_address, token_decimals, amount, last_offer_by, eta_seconds, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::numeric, $7, $12,
       clearhouse_now() + make_interval(secs => $13))`,
    [
      row.id,
      row.subject,
      row.serviceId,
      row.jobId,
      row.buyerId,
      row.sellerId,
      row.initiatorId,
      row.token.symbol,
      row.token.address,
      row.token.decimals,
      row.amount.toString(),
      row.etaSeconds,
      row.expiresInSeconds,
    ],
  )
}

export async function insertOffer(
  db: Queryable,
  offer: { id: string; negotiationId: string; agentId: string; amount: bigint; message: string | null },
): Promise<void> {
  await db.query(
    `INSERT INTO negotiation_offers (id, negotiation_id, agent_id, amount, message)
     VALUES ($1, $2, $3, $4::numeric, $5)`,
    [offer.id, offer.negotiationId, offer.agentId, offer.amount.toString(), offer.message],
  )
}

/** The negotiation, or null; `forUpdate` locks it, ordering its counters, accepts and rejects. */
export async function selectNegotiation(
  db: Queryable,
  id: string,
  options: { forUpdate?: boolean } = {},
): Promise<NegotiationRow | null> {
  const { rows } = await db.query(
    `SELECT ${COLUMNS} FROM negotiations AS n WHERE n.id = $1 ${options.forUpdate ? 'FOR UPDATE' : ''}`,
    [id],
  )
  return (rows[0] as NegotiationRow | undefined) ?? null
}

/** The caller's negotiations as buyer, seller or either, newest first. */
export async function selectAgentNegotiations(
  db: Queryable,
  agentId: string,
  filter: { role: 'buyer' | 'seller' | 'any'; status?: NegotiationStatus; limit: number; offset: number },
): Promise<NegotiationRow[]> {
  const party =
    filter.role === 'buyer'
      ? 'n.buyer_agent_id = $1'
      : filter.role === 'seller'
        ? 'n.seller_agent_id = $1'
        : '(n.buyer_agent_id = $1 OR n.seller_agent_id = $1)'
  const { rows } = await db.query(
    `SELECT * FROM (SELECT ${COLUMNS} FROM negotiations AS n WHERE ${party}) AS n
      WHERE $2::text IS NULL OR n.status = $2::text
      ORDER BY n.created_at DESC, n.id DESC LIMIT $3 OFFSET $4`,
    [agentId, filter.status ?? null, filter.limit, filter.offset],
  )
  return rows as NegotiationRow[]
}

/** The offers of these negotiations, oldest first. */
export async function selectOffers(db: Queryable, negotiationIds: string[]): Promise<OfferRow[]> {
  const { rows } = await db.query(
    `SELECT o.negotiation_id, o.agent_id, o.amount::text, o.message, o.created_at
       FROM negotiation_offers AS o WHERE o.negotiation_id = ANY($1::uuid[])
      ORDER BY o.created_at, o.id`,
    [negotiationIds],
  )
  return rows as OfferRow[]
}

/** The initiator's lapsed open negotiation on the same subject, marked expired so a new one may open. */
export async function expireLapsedOn(
  db: Queryable,
  subject: { serviceId: string | null; jobId: string | null },
  initiatorId: string,
): Promise<void> {
  await db.query(
    `UPDATE negotiations SET status = 'expired', closed_at = expires_at, updated_at = now()
      WHERE status = 'open' AND expires_at <= clearhouse_now() AND initiator_agent_id = $3
        AND (service_id = $1 OR job_id = $2)`,
    [subject.serviceId, subject.jobId, initiatorId],
  )
}

/** The standing offer replaced by a counter: its amount, who made it, and when it lapses. */
export async function setStandingOffer(
  db: Queryable,
  id: string,
  offer: { agentId: string; amount: bigint; expiresInSeconds: number },
): Promise<void> {
  await db.query(
    `UPDATE negotiations SET amount = $2::numeric, last_offer_by = $3,
       expires_at = clearhouse_now() + make_interval(secs => $4), updated_at = now()
     WHERE id = $1`,
    [id, offer.amount.toString(), offer.agentId, offer.expiresInSeconds],
  )
}

export async function markRejected(db: Queryable, id: string): Promise<void> {
  await db.query(
    `UPDATE negotiations SET status = 'rejected', closed_at = clearhouse_now(), updated_at = now() WHERE id = $1`,
    [id],
  )
}

export async function markAccepted(
  db: Queryable,
  id: string,
  award: { jobId: string; bidId: string; assignmentId: string },
): Promise<void> {
  await db.query(
    `UPDATE negotiations SET status = 'accepted', closed_at = clearhouse_now(), updated_at = now(),
       awarded_job_id = $2, awarded_bid_id = $3, assignment_id = $4
     WHERE id = $1`,
    [id, award.jobId, award.bidId, award.assignmentId],
  )
}

/** Open negotiations whose standing offer lapsed, marked expired (the timers' sweep); returns how many. */
export async function expireLapsedNegotiations(db: Queryable, limit: number): Promise<number> {
  const { rowCount } = await db.query(
    `UPDATE negotiations SET status = 'expired', closed_at = expires_at, updated_at = now()
      WHERE id IN (SELECT n.id FROM negotiations AS n
                    WHERE n.status = 'open' AND n.expires_at <= clearhouse_now()
                    ORDER BY n.expires_at LIMIT $1 FOR UPDATE SKIP LOCKED)`,
    [limit],
  )
  return rowCount ?? 0
}
