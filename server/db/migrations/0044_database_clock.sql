-- One clock for every deadline and timer (issue 13): the database's, shared by every replica
-- whatever its host's clock says. `clock_offset` shifts it: tests move time forward with it
-- instead of sleeping; nothing in the coordinator writes it, so in production it stays zero.
CREATE TABLE clock_offset (
  only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
  shift interval NOT NULL DEFAULT interval '0'
);
INSERT INTO clock_offset DEFAULT VALUES;

CREATE FUNCTION clearhouse_now() RETURNS timestamptz
  LANGUAGE sql STABLE
  AS $$ SELECT now() + coalesce((SELECT c.shift FROM clock_offset AS c), interval '0') $$;
