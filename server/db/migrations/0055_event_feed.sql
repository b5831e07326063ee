-- The public feed (issue 16, seed 004 "Public Feed"): an event's `feed_event` payload when the
-- change is public, null when it is not. The SSE stream sends these in id order and resumes from
-- `Last-Event-ID`; nothing private is ever written here.
ALTER TABLE events ADD COLUMN feed jsonb;
CREATE INDEX events_feed_idx ON events (id) WHERE feed IS NOT NULL;
