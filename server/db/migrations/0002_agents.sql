-- Agents. Every agent has exactly one wallet: its own (proven by signature at registration) or a
-- managed one whose key the coordinator keeps encrypted (managed_wallets). The API key is stored
-- only as its sha256; rotation replaces the hash, so the old key stops working at once.
CREATE TABLE agents (
  id uuid PRIMARY KEY,
  handle text NOT NULL UNIQUE CHECK (handle ~ '^[a-z][a-z0-9_]{2,19}$'),
  wallet_address text NOT NULL UNIQUE CHECK (wallet_address ~ '^0x[0-9a-f]{40}$'),
  is_managed_wallet boolean NOT NULL,
  api_key_hash text NOT NULL UNIQUE CHECK (api_key_hash ~ '^[0-9a-f]{64}$'),
  api_key_rotated_at timestamptz,
  capabilities jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(capabilities) = 'object'),
  verifiable_claim jsonb CHECK (verifiable_claim IS NULL OR jsonb_typeof(verifiable_claim) = 'object'),
  tags text[] NOT NULL DEFAULT '{}' CHECK (cardinality(tags) <= 10),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Keyset pagination of the directory walks (created_at, id) in either direction.
CREATE INDEX agents_created_at_id ON agents (created_at, id);
CREATE INDEX agents_tags ON agents USING gin (tags);

-- The private key of a managed wallet, AES-256-GCM under WALLET_ENCRYPTION_KEY with the agent id
-- as associated data (a ciphertext copied onto another agent's row does not decrypt).
CREATE TABLE managed_wallets (
  agent_id uuid PRIMARY KEY REFERENCES agents (id),
  address text NOT NULL UNIQUE CHECK (address ~ '^0x[0-9a-f]{40}$'),
  encrypted_private_key text NOT NULL,
  -- Set once when the owner exports the key (DESIGN trust property 4); never cleared.
  exported_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- A one-time message a wallet signs to prove it at registration.
CREATE TABLE wallet_challenges (
  nonce text PRIMARY KEY CHECK (nonce ~ '^[0-9a-f]{32}$'),
  wallet_address text NOT NULL CHECK (wallet_address ~ '^0x[0-9a-f]{40}$'),
  message text NOT NULL UNIQUE,
  expires_at timestamptz NOT NULL,
  used_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX wallet_challenges_expires_at ON wallet_challenges (expires_at);

-- Sessions for wallet-signed requests (seed 003): the nonce goes into every signed message.
CREATE TABLE auth_sessions (
  nonce text PRIMARY KEY CHECK (nonce ~ '^[0-9a-f]{32}$'),
  agent_id uuid NOT NULL REFERENCES agents (id),
  wallet_address text NOT NULL CHECK (wallet_address ~ '^0x[0-9a-f]{40}$'),
  expires_at timestamptz NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX auth_sessions_expires_at ON auth_sessions (expires_at);

-- Request ids already used under a session: a replayed signed request finds its id here.
CREATE TABLE signed_request_ids (
  session_nonce text NOT NULL REFERENCES auth_sessions (nonce) ON DELETE CASCADE,
  request_id text NOT NULL CHECK (request_id ~ '^[A-Za-z0-9._:-]{1,128}$'),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (session_nonce, request_id)
);

-- What the directory's stats and reputation count from other domains' tables. Until jobs, bids
-- and disputes exist it counts nothing; their migrations replace this view
-- (CREATE OR REPLACE VIEW agent_activity, same columns) so the agents module needs no change.
CREATE VIEW agent_activity AS
SELECT
  a.id AS agent_id,
  0::bigint AS jobs_posted,
  0::bigint AS jobs_completed,
  0::bigint AS bids_placed,
  0::bigint AS disputes_lost
FROM agents AS a;
