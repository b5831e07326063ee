-- A routed task whose provider has no endpoint is worked as an instant job: the provider completes
-- it through the API (seed 002 "submits results via the complete endpoint") or declares it failed.
-- Its escrow is the job's assignment's, on the vault; the task's status follows that assignment.
ALTER TABLE tasks ADD COLUMN job_id uuid UNIQUE REFERENCES jobs (id);
ALTER TABLE tasks ADD COLUMN assignment_id uuid UNIQUE REFERENCES assignments (id);
ALTER TABLE tasks DROP CONSTRAINT tasks_status_check;
ALTER TABLE tasks ADD CONSTRAINT tasks_status_check CHECK (status IN ('assigned', 'completed', 'failed'));
ALTER TABLE tasks DROP CONSTRAINT tasks_check;
ALTER TABLE tasks ADD CONSTRAINT tasks_failure_reason_check CHECK ((status = 'failed') = (failure_reason IS NOT NULL));
-- A task is worked one way: called through the proxy (a micro-job, or free) or as a job.
ALTER TABLE tasks ADD CONSTRAINT tasks_one_way_check CHECK (micro_job_id IS NULL OR job_id IS NULL);
ALTER TABLE tasks ADD CONSTRAINT tasks_job_has_assignment_check CHECK ((job_id IS NULL) = (assignment_id IS NULL));
