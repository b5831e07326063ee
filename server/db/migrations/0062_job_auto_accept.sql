-- A job whose creator accepts every submission as it arrives (seed 004 clients set auto_accept:
-- true): the worker's submission releases its escrow in the same transaction.
ALTER TABLE jobs ADD COLUMN auto_accept boolean NOT NULL DEFAULT false;
