import type { AddEvidenceBody, CriterionFinding, DisputeRuling, DisputeStatus } from '../../protocol/disputes'
import type { Queryable } from '../db/pool'

// The disputes and dispute_evidence tables.

export interface DisputeRow {
  id: string
  job_id: string
  assignment_id: string
  /** The disputed assignment's worker (from its assignment), for visibility. */
  worker_agent_id: string
  opened_by_agent_id: string | null
  resolver_agent_id: string
  reason: string
  evidence_urls: string[]
  criteria_in_question: string[]
  deposit_amount: string
  status: DisputeStatus
  ruling: DisputeRuling | null
  split_bps: number | null
  reasoning: string | null
  findings: CriterionFinding[]
  created_at: Date
  resolved_at: Date | null
}

export interface EvidenceRow {
  id: string
  dispute_id: string
  agent_id: string
  type: AddEvidenceBody['type']
  url: string | null
  carrier: string | null
  tracking_number: string | null
  algorithm: string | null
  value: string | null
  description: string | null
  created_at: Date
}

const DISPUTE_COLUMNS = `d.id, d.job_id, d.assignment_id, s.worker_agent_id, d.opened_by_agent_id, d.resolver_agent_id,
  d.reason, d.evidence_urls, d.criteria_in_question, d.deposit_amount::text, d.status, d.ruling, d.split_bps,
  d.reasoning, d.findings, d.created_at, d.resolved_at`

const DISPUTE_FROM = 'disputes AS d JOIN assignments AS s ON s.id = d.assignment_id'

export async function insertDispute(
  db: Queryable,
  dispute: {
    id: string
    jobId: string
    assignmentId: string
    openedByAgentId: string | null
    resolverAgentId: string
    reason: string
    evidenceUrls: string[]
    criteriaInQuestion: string[]
    depositAmount: bigint
  },
): Promise<void> {
  await db.query(
    `INSERT INTO disputes (id, job_id, assignment_id, opened_by_agent_id, resolver_agent_id, reason, evidence_urls,
                           criteria_in_question, deposit_amount)
     VALUES ($1, $2, $3, $4, $5, $6, $7::text[], $8::text[], $9::numeric)`,
    [
      dispute.id,
      dispute.jobId,
      dispute.assignmentId,
      dispute.openedByAgentId,
      dispute.resolverAgentId,
      dispute.reason,
      dispute.evidenceUrls,
      dispute.criteriaInQuestion,
      dispute.depositAmount.toString(),
    ],
  )
}

/** The dispute, or null; `forUpdate` locks its row (callers lock its job first). */
export async function selectDispute(
  db: Queryable,
  disputeId: string,
  options: { forUpdate?: boolean } = {},
): Promise<DisputeRow | null> {
  const { rows } = await db.query(
    `SELECT ${DISPUTE_COLUMNS} FROM ${DISPUTE_FROM} WHERE d.id = $1 ${options.forUpdate ? 'FOR UPDATE OF d' : ''}`,
    [disputeId],
  )
  return (rows[0] as DisputeRow | undefined) ?? null
}

/** The assignment's open dispute, or null. */
export async function selectOpenDispute(db: Queryable, assignmentId: string): Promise<DisputeRow | null> {
  const { rows } = await db.query(
    `SELECT ${DISPUTE_COLUMNS} FROM ${DISPUTE_FROM} WHERE d.assignment_id = $1 AND d.status = 'open'`,
    [assignmentId],
  )
  return (rows[0] as DisputeRow | undefined) ?? null
}

/** A job's disputes, oldest first. */
export async function selectJobDisputes(db: Queryable, jobId: string): Promise<DisputeRow[]> {
  const { rows } = await db.query(
    `SELECT ${DISPUTE_COLUMNS} FROM ${DISPUTE_FROM} WHERE d.job_id = $1 ORDER BY d.created_at, d.id`,
    [jobId],
  )
  return rows as DisputeRow[]
}

export async function recordRuling(
  db: Queryable,
  disputeId: string,
  ruling: {
    ruling: DisputeRuling
    splitBps: number | null
    reasoning: string | null
    findings: CriterionFinding[]
  },
): Promise<void> {
  await db.query(
    `UPDATE disputes SET status = 'resolved', ruling = $2, split_bps = $3, reasoning = $4, findings = $5::jsonb,
       resolved_at = now()
     WHERE id = $1`,
    [disputeId, ruling.ruling, ruling.splitBps, ruling.reasoning, JSON.stringify(ruling.findings)],
  )
}

export async function insertEvidence(
  db: Queryable,
  evidence: { id: string; disputeId: string; agentId: string; body: AddEvidenceBody },
): Promise<void> {
  const { body } = evidence
  await db.query(
    `INSERT INTO dispute_evidence (id, dispute_id, agent_id, type, url, carrier, tracking_number, algorithm, value,
                                   description)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
    [
      evidence.id,
      evidence.disputeId,
      evidence.agentId,
      body.type,
      'url' in body ? body.url : null,
      'carrier' in body ? body.carrier : null,
      'tracking_number' in body ? body.tracking_number : null,
      'algorithm' in body ? body.algorithm : null,
      'value' in body ? body.value : null,
      body.description ?? null,
    ],
  )
}

/** A dispute's evidence, oldest first. */
export async function selectEvidence(db: Queryable, disputeId: string): Promise<EvidenceRow[]> {
  const { rows } = await db.query(
    `SELECT e.id, e.dispute_id, e.agent_id, e.type, e.url, e.carrier, e.tracking_number, e.algorithm, e.value,
            e.description, e.created_at
       FROM dispute_evidence AS e WHERE e.dispute_id = $1 ORDER BY e.created_at, e.id`,
    [disputeId],
  )
  return rows as EvidenceRow[]
}
