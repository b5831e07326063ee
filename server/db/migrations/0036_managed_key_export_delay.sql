-- Issue 10: a leaked API key must not become a permanent takeover of a managed-wallet account.
-- Exporting a managed wallet's private key now waits KEY_EXPORT_DELAY_SECONDS after it is asked
-- for, so the owner has time to see the export on GET /v1/agents/me and stop it: DELETE
-- /v1/wallet/export-key, or rotating the API key, clears the pending pair below. `exported_at` is
-- still set once, when the key is handed out; the pair stays as the record of that request.
ALTER TABLE managed_wallets
  ADD COLUMN export_requested_at timestamptz,
  ADD COLUMN export_available_at timestamptz,
  ADD CONSTRAINT managed_wallets_export_request_check CHECK (
    (export_requested_at IS NULL) = (export_available_at IS NULL)
    AND (export_available_at IS NULL OR export_available_at >= export_requested_at)
  );

-- Which credential is an agent's root is decided by this column, so it must keep meaning where the
-- wallet came from even after a managed key is exported.
COMMENT ON COLUMN agents.is_managed_wallet IS
  'Set at registration and never changed: true when the coordinator generated the wallet. Such an '
  'agent''s root credential is its API key (only it rotates the key or exports the wallet key); an '
  'agent that proved its own wallet may also rotate the key by a wallet-signed request.';
