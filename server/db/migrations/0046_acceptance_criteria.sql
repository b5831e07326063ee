-- Acceptance criteria (issue 13): what a job's creator will check, item by item, so a submission
-- can answer each and a resolver has something concrete to rule on. Both are the API's validated
-- shapes ({ id, description } and { criterion_id, status, note }), stored as given.
ALTER TABLE jobs ADD COLUMN acceptance_criteria jsonb NOT NULL DEFAULT '[]'
  CHECK (jsonb_typeof(acceptance_criteria) = 'array' AND jsonb_array_length(acceptance_criteria) <= 20);
ALTER TABLE assignments ADD COLUMN criteria_answers jsonb NOT NULL DEFAULT '[]'
  CHECK (jsonb_typeof(criteria_answers) = 'array' AND jsonb_array_length(criteria_answers) <= 20);
