-- The event bus (issue 16): a transactional outbox. A state change writes its event in its own
-- transaction, so an event exists exactly when its change committed; every coordinator reads new
-- rows in id order and delivers them to its connections. The insert trigger notifies
-- `clearhouse_events` so replicas read at once (LISTEN/NOTIFY); they also poll, for databases
-- without it. The events room owns this table.
CREATE TABLE events (
  id bigserial PRIMARY KEY,
  event_type text NOT NULL CHECK (event_type ~ '^[a-z_.]{3,60}$'),
  -- The agents it is for (seed 004's "Sent to"); empty for events with no private audience.
  audience uuid[] NOT NULL DEFAULT '{}',
  data jsonb NOT NULL,
  -- The database clock every timer reads (`clearhouse_now()`), so retention and tests agree on age.
  created_at timestamptz NOT NULL DEFAULT clearhouse_now()
);

CREATE INDEX events_created_at_idx ON events (created_at);

CREATE FUNCTION notify_clearhouse_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('clearhouse_events', NEW.id::text);
  RETURN NULL;
END $$;

CREATE TRIGGER events_notify AFTER INSERT ON events FOR EACH ROW EXECUTE FUNCTION notify_clearhouse_event();
