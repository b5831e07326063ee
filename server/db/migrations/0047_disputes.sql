-- Disputes (issue 13, seed 004 "Disputes"): a party to a submitted assignment disputes it, with a
-- deposit held in a vault escrow of its own; the resolver rules, and the ruling is carried out on
-- the vault as EscrowRuling ops signed by the resolver's wallet, on the job's escrow and on the
-- deposit's. The disputes room owns these tables.
CREATE TABLE disputes (
  id uuid PRIMARY KEY,
  job_id uuid NOT NULL REFERENCES jobs (id),
  assignment_id uuid NOT NULL REFERENCES assignments (id),
  -- Null when the coordinator opened it (a review timeout), which takes no deposit.
  opened_by_agent_id uuid REFERENCES agents (id),
  resolver_agent_id uuid NOT NULL REFERENCES agents (id),
  reason text NOT NULL CHECK (char_length(reason) BETWEEN 1 AND 5000),
  evidence_urls text[] NOT NULL DEFAULT '{}' CHECK (cardinality(evidence_urls) <= 10),
  -- The job's acceptance criteria the dispute is about.
  criteria_in_question text[] NOT NULL DEFAULT '{}' CHECK (cardinality(criteria_in_question) <= 20),
  deposit_amount numeric(78, 0) NOT NULL CHECK (deposit_amount >= 0),
  status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
  ruling text CHECK (ruling IN ('requester_wins', 'worker_wins', 'split', 'redo')),
  split_bps integer CHECK (split_bps BETWEEN 0 AND 10000),
  reasoning text CHECK (char_length(reasoning) <= 5000),
  -- Per criterion in question, the resolver's finding: [{ criterion_id, finding, note }].
  findings jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(findings) = 'array'),
  created_at timestamptz NOT NULL DEFAULT now(),
  resolved_at timestamptz,
  CHECK ((status = 'resolved') = (ruling IS NOT NULL)),
  CHECK ((ruling = 'split') = (split_bps IS NOT NULL))
);
CREATE UNIQUE INDEX disputes_one_open_per_assignment ON disputes (assignment_id) WHERE status = 'open';
CREATE INDEX disputes_job_idx ON disputes (job_id, created_at);

CREATE TABLE dispute_evidence (
  id uuid PRIMARY KEY,
  dispute_id uuid NOT NULL REFERENCES disputes (id),
  agent_id uuid NOT NULL REFERENCES agents (id),
  type text NOT NULL CHECK (type IN ('url', 'photo', 'tracking', 'hash')),
  url text CHECK (char_length(url) <= 2000),
  carrier text CHECK (char_length(carrier) <= 100),
  tracking_number text CHECK (char_length(tracking_number) <= 100),
  algorithm text CHECK (char_length(algorithm) <= 40),
  value text CHECK (char_length(value) <= 200),
  description text CHECK (char_length(description) <= 5000),
  created_at timestamptz NOT NULL DEFAULT now(),
  CHECK (type NOT IN ('url', 'photo') OR url IS NOT NULL),
  CHECK (type <> 'tracking' OR (carrier IS NOT NULL AND tracking_number IS NOT NULL)),
  CHECK (type <> 'hash' OR (algorithm IS NOT NULL AND value IS NOT NULL))
);
CREATE INDEX dispute_evidence_dispute_idx ON dispute_evidence (dispute_id, created_at);

-- A dispute's deposit escrow is a third kind of escrow subject; rulings a third kind of op.
ALTER TABLE escrow_ops ADD COLUMN dispute_id uuid REFERENCES disputes (id);
ALTER TABLE escrow_ops DROP CONSTRAINT escrow_ops_one_subject;
ALTER TABLE escrow_ops ADD CONSTRAINT escrow_ops_one_subject
  CHECK (num_nonnulls(assignment_id, entry_id, dispute_id) = 1);
ALTER TABLE escrow_ops ADD CONSTRAINT escrow_ops_dispute_kind_key UNIQUE (dispute_id, kind);
ALTER TABLE escrow_ops DROP CONSTRAINT escrow_ops_kind_check;
ALTER TABLE escrow_ops ADD CONSTRAINT escrow_ops_kind_check
  CHECK (kind IN ('escrow_lock', 'escrow_release', 'escrow_ruling'));
-- What a ruling gives the payee, in basis points of the escrow left after the resolver's fee.
ALTER TABLE escrow_ops ADD COLUMN payee_bps integer CHECK (payee_bps BETWEEN 0 AND 10000);
ALTER TABLE escrow_ops ADD CONSTRAINT escrow_ops_ruling_bps_check
  CHECK ((kind = 'escrow_ruling') = (payee_bps IS NOT NULL));

-- Reputation: a dispute is lost by the side the ruling went against (a split or a redo loses no one).
CREATE OR REPLACE VIEW agent_activity AS
SELECT
  a.id AS agent_id,
  (SELECT count(*) FROM jobs AS j WHERE j.creator_agent_id = a.id)::bigint AS jobs_posted,
  (SELECT count(*) FROM assignments AS s WHERE s.worker_agent_id = a.id AND s.status = 'accepted')::bigint
    AS jobs_completed,
  (SELECT count(*) FROM bids AS b WHERE b.bidder_agent_id = a.id)::bigint AS bids_placed,
  (SELECT count(*) FROM disputes AS d
     JOIN assignments AS s ON s.id = d.assignment_id
     JOIN jobs AS j ON j.id = d.job_id
    WHERE (d.ruling = 'requester_wins' AND s.worker_agent_id = a.id)
       OR (d.ruling = 'worker_wins' AND j.creator_agent_id = a.id))::bigint AS disputes_lost
FROM agents AS a;
