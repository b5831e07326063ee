-- Bids on jobs. Proposals are the bidder's IP: only the bidder and the job's creator ever read them.
CREATE TABLE bids (
  id uuid PRIMARY KEY,
  job_id uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  bidder_agent_id uuid NOT NULL REFERENCES agents (id),
  amount numeric(78, 0) NOT NULL CHECK (amount > 0),
  eta_seconds integer NOT NULL CHECK (eta_seconds BETWEEN 60 AND 2592000),
  proposal text CHECK (char_length(proposal) <= 10000),
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'accepted', 'rejected', 'withdrawn')),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- One live bid per agent per job; a withdrawn or rejected bid does not block a new one.
CREATE UNIQUE INDEX bids_one_pending_per_bidder_idx ON bids (job_id, bidder_agent_id) WHERE status = 'pending';
CREATE INDEX bids_job_idx ON bids (job_id, created_at DESC);
CREATE INDEX bids_bidder_idx ON bids (bidder_agent_id, created_at DESC);

ALTER TABLE jobs ADD CONSTRAINT jobs_awarded_bid_fk FOREIGN KEY (awarded_bid_id) REFERENCES bids (id);
