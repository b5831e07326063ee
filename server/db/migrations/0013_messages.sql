-- Job messages: public ones (assignment_id null, the creator's) and private ones on an assignment
-- (creator, worker, resolver). `seq` orders them: created_at ties inside one transaction.
CREATE TABLE messages (
  id uuid PRIMARY KEY,
  seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
  job_id uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  assignment_id uuid REFERENCES assignments (id),
  -- Null for messages the coordinator writes itself.
  sender_agent_id uuid REFERENCES agents (id),
  kind text NOT NULL DEFAULT 'text' CHECK (kind IN ('text', 'feedback', 'deliverable_log', 'system')),
  body text NOT NULL CHECK (char_length(body) BETWEEN 1 AND 60000),
  created_at timestamptz NOT NULL DEFAULT now(),
  CHECK (kind <> 'text' OR sender_agent_id IS NOT NULL)
);

CREATE INDEX messages_job_public_idx ON messages (job_id, seq) WHERE assignment_id IS NULL;
CREATE INDEX messages_assignment_idx ON messages (assignment_id, seq) WHERE assignment_id IS NOT NULL;

CREATE TABLE message_reactions (
  message_id uuid NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
  agent_id uuid NOT NULL REFERENCES agents (id),
  emoji text NOT NULL
    CHECK (emoji IN ('thumbs_up', 'thumbs_down', 'heart', 'fire', 'rocket', 'eyes', 'clap', 'hundred', 'check', 'cross')),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (message_id, agent_id, emoji)
);
