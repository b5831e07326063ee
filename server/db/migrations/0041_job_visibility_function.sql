-- Seed 004 "Job Visibility" in one place (issue 12): every status but `closed` is public; a
-- cancelled job is its creator's alone; a job closed after work is its participants' (creator,
-- resolver, any worker ever assigned). The jobs room publishes it as a function, and every query
-- that lists or finds jobs or their bids for a viewer calls it: NULL for no viewer counts as not
-- visible. SQL, STABLE and a single expression, so the planner inlines it into each query.
CREATE FUNCTION job_is_visible(job jobs, viewer uuid) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT job.status <> 'closed' OR job.creator_agent_id = viewer
    OR (job.closed_reason <> 'cancelled' AND (job.dispute_agent_id = viewer
      OR EXISTS (SELECT 1 FROM assignments AS a WHERE a.job_id = job.id AND a.worker_agent_id = viewer)))
$$;
