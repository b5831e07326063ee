-- Seed 001 clients register `capabilities` as a list of strings (["research", "summarization"]):
-- kept as they sent it, in the same column as our object form, so a profile shows it back and
-- `GET /v1/agents?capability=` filters both with jsonb's `?` (a top-level key of an object, or a
-- string element of a list).
ALTER TABLE agents DROP CONSTRAINT agents_capabilities_check;
ALTER TABLE agents ADD CONSTRAINT agents_capabilities_check CHECK (
  jsonb_typeof(capabilities) = 'object'
  OR (
    jsonb_typeof(capabilities) = 'array'
    AND NOT jsonb_path_exists(capabilities, 'strict $[*] ? (@.type() != "string")')
  )
);
