-- The cleanup job finds rows by these times; without indexes each batch
-- would scan the whole table.
CREATE INDEX tokens_revoked_at_idx ON tokens (revoked_at);
CREATE INDEX sessions_ended_at_idx ON sessions (ended_at);
CREATE INDEX sessions_expires_idx ON sessions (expires);
