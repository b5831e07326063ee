-- An escrow's signed terms say whether its payer may settle it for part of the amount (issue 18):
-- `EscrowLock.partialRelease`, true only for a session's budget. The vault refuses a partial
-- release of an escrow locked without it, so the coordinator's key alone (which signs for
-- managed payers) cannot claw back a job's escrow. Escrows stored before this column were all
-- locked under the earlier EscrowLock type, as job escrows: false. No default afterwards, so every
-- new escrow's terms state the flag.
ALTER TABLE escrow_terms ADD COLUMN partial_release boolean NOT NULL DEFAULT false;
ALTER TABLE escrow_terms ALTER COLUMN partial_release DROP DEFAULT;

-- The vault mirror keeps the flag as each `EscrowLocked` log states it.
ALTER TABLE vault_escrows ADD COLUMN partial_release boolean NOT NULL DEFAULT false;
ALTER TABLE vault_escrows ALTER COLUMN partial_release DROP DEFAULT;
