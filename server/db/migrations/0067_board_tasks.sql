-- Tasks posted to the board (seed 001 "Tasks"): a title, a budget and the capabilities needed, on
-- offer to any agent until one accepts it. The work is a reservable job, accepted by reserving it.
ALTER TABLE tasks ADD COLUMN kind text NOT NULL DEFAULT 'routed' CHECK (kind IN ('routed', 'board'));
ALTER TABLE tasks ADD COLUMN title text CHECK (char_length(title) BETWEEN 1 AND 200);
ALTER TABLE tasks ADD COLUMN description text CHECK (char_length(description) BETWEEN 1 AND 50000);
ALTER TABLE tasks ADD COLUMN required_capabilities text[] NOT NULL DEFAULT '{}'
  CHECK (cardinality(required_capabilities) <= 10);
-- The taker's reservation of the board task's job, while it holds one.
ALTER TABLE tasks ADD COLUMN reservation_id uuid UNIQUE REFERENCES reservations (id);
ALTER TABLE tasks ALTER COLUMN capability DROP NOT NULL;
ALTER TABLE tasks ALTER COLUMN service_id DROP NOT NULL;
ALTER TABLE tasks ALTER COLUMN service_name DROP NOT NULL;
ALTER TABLE tasks ALTER COLUMN provider_agent_id DROP NOT NULL;
ALTER TABLE tasks DROP CONSTRAINT tasks_job_has_assignment_check;
ALTER TABLE tasks DROP CONSTRAINT tasks_status_check;
ALTER TABLE tasks ADD CONSTRAINT tasks_status_check CHECK (status IN ('open', 'assigned', 'completed', 'failed'));
ALTER TABLE tasks ADD CONSTRAINT tasks_kind_fields_check CHECK (
  CASE kind
    WHEN 'routed' THEN capability IS NOT NULL AND service_id IS NOT NULL AND provider_agent_id IS NOT NULL
    ELSE title IS NOT NULL AND job_id IS NOT NULL AND service_id IS NULL AND micro_job_id IS NULL
  END
);
-- Only a board task waits for a taker.
ALTER TABLE tasks ADD CONSTRAINT tasks_open_on_board_check CHECK (status <> 'open' OR (kind = 'board' AND provider_agent_id IS NULL));
CREATE INDEX tasks_board_idx ON tasks (created_at DESC, id DESC) WHERE kind = 'board' AND status = 'open';
CREATE INDEX tasks_required_capabilities_idx ON tasks USING gin (required_capabilities) WHERE kind = 'board';

-- A board task's job may be as short as seed 001's titles: short titles and descriptions are
-- allowed for the job types the platform assigns.
ALTER TABLE jobs DROP CONSTRAINT jobs_title_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_title_check CHECK (
  char_length(title) <= 200
  AND (char_length(title) >= 10 OR (job_type IN ('instant', 'reservable') AND char_length(title) >= 1))
);
ALTER TABLE jobs DROP CONSTRAINT jobs_description_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_description_check CHECK (
  char_length(description) <= 50000
  AND (char_length(description) >= 50 OR (job_type IN ('instant', 'reservable') AND char_length(description) >= 1))
);
