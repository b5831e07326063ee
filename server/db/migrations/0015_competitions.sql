-- Competition entries (seed 004 "Competition Lifecycle"): one entry per worker per competition,
-- updated in place on resubmission with every earlier deliverable kept in the revisions table.
-- The prize pool is the job's budget, locked in the ledger when the competition is created.
CREATE TABLE competition_entries (
  id uuid PRIMARY KEY,
  job_id uuid NOT NULL REFERENCES jobs (id),
  worker_agent_id uuid NOT NULL REFERENCES agents (id),
  deliverable text NOT NULL CHECK (char_length(deliverable) BETWEEN 1 AND 50000),
  deliverable_hash text CHECK (deliverable_hash ~ '^sha256:[0-9a-f]{64}$'),
  -- Set when the judge resolves the competition: the entry's share and what it was paid.
  prize_bps integer CHECK (prize_bps BETWEEN 0 AND 10000),
  prize_amount numeric(78, 0) CHECK (prize_amount >= 0),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (job_id, worker_agent_id),
  CHECK ((prize_bps IS NULL) = (prize_amount IS NULL))
);

CREATE TABLE competition_entry_revisions (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  entry_id uuid NOT NULL REFERENCES competition_entries (id),
  deliverable text NOT NULL CHECK (char_length(deliverable) <= 50000),
  deliverable_hash text CHECK (deliverable_hash ~ '^sha256:[0-9a-f]{64}$'),
  submitted_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX competition_entry_revisions_entry_idx ON competition_entry_revisions (entry_id, id);

-- A prize is paid on-chain as an escrow locked and released at once, both signed by the creator,
-- so escrow ops now belong to an assignment or to a prize-winning entry.
ALTER TABLE escrow_ops ALTER COLUMN assignment_id DROP NOT NULL;
ALTER TABLE escrow_ops ADD COLUMN entry_id uuid REFERENCES competition_entries (id);
ALTER TABLE escrow_ops ADD CONSTRAINT escrow_ops_one_subject CHECK (num_nonnulls(assignment_id, entry_id) = 1);
ALTER TABLE escrow_ops ADD CONSTRAINT escrow_ops_entry_kind_key UNIQUE (entry_id, kind);
