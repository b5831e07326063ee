-- Micro-jobs (issue 14, seed 004 "Invoke Service": "creates a micro-job under the hood for billing
-- and audit"). A priced call made without a channel is paid through escrow: the caller's price is
-- held in escrow while the provider is called, and only an answered call queues the lock and the
-- release for the vault; a failed one returns the escrow and nothing reaches the chain. The
-- micro-jobs room owns this table.
CREATE TABLE micro_jobs (
  id uuid PRIMARY KEY,
  service_id uuid NOT NULL REFERENCES services (id),
  caller_agent_id uuid NOT NULL REFERENCES agents (id),
  provider_agent_id uuid NOT NULL REFERENCES agents (id) CHECK (provider_agent_id <> caller_agent_id),
  token_address text NOT NULL CHECK (token_address ~ '^0x[0-9a-f]{40}$'),
  token_symbol text NOT NULL,
  token_decimals integer NOT NULL CHECK (token_decimals BETWEEN 0 AND 36),
  amount numeric(78, 0) NOT NULL CHECK (amount > 0),
  fee_bps integer NOT NULL CHECK (fee_bps BETWEEN 0 AND 10000),
  escrow_id text NOT NULL UNIQUE CHECK (escrow_id ~ '^0x[0-9a-f]{64}$'),
  -- keccak256 of the RFC 8785 JSON of the input, as a channel call's request hash.
  request_hash text NOT NULL CHECK (request_hash ~ '^0x[0-9a-f]{64}$'),
  response_hash text CHECK (response_hash ~ '^0x[0-9a-f]{64}$'),
  upstream_status integer,
  duration_ms integer CHECK (duration_ms >= 0),
  -- `calling` while the provider is called (the escrow held in the ledger only); `completed` once
  -- answered (lock and release queued for the vault); `refunded` when the call failed or never
  -- finished (escrow back to the caller, nothing queued).
  status text NOT NULL CHECK (status IN ('calling', 'completed', 'refunded')),
  failure_reason text,
  created_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  CHECK ((status = 'calling') = (finished_at IS NULL)),
  CHECK (status <> 'completed' OR response_hash IS NOT NULL),
  CHECK ((status = 'refunded') = (failure_reason IS NOT NULL))
);

CREATE INDEX micro_jobs_caller_idx ON micro_jobs (caller_agent_id, created_at DESC, id DESC);
CREATE INDEX micro_jobs_provider_idx ON micro_jobs (provider_agent_id, created_at DESC, id DESC);
-- The timers' sweep of calls a crash left open.
CREATE INDEX micro_jobs_calling_idx ON micro_jobs (created_at) WHERE status = 'calling';

ALTER TABLE escrow_ops ADD COLUMN micro_job_id uuid REFERENCES micro_jobs (id);
ALTER TABLE escrow_ops DROP CONSTRAINT escrow_ops_one_subject;
ALTER TABLE escrow_ops ADD CONSTRAINT escrow_ops_one_subject
  CHECK (num_nonnulls(assignment_id, entry_id, dispute_id, micro_job_id) = 1);
ALTER TABLE escrow_ops ADD CONSTRAINT escrow_ops_micro_job_kind_key UNIQUE (micro_job_id, kind);
