-- The platform's own agents (issue 13): the resolver every escrow names when its job names none,
-- so every escrow can be ruled on-chain. One agent per role; it holds a managed wallet the
-- coordinator signs with, and no API key anyone knows. The public directory leaves it out.
ALTER TABLE agents ADD COLUMN platform_role text CHECK (platform_role IN ('resolver'));
CREATE UNIQUE INDEX agents_platform_role_key ON agents (platform_role) WHERE platform_role IS NOT NULL;
