-- Indexes on columns that are NULL when a row is inserted only need the
-- rows where they are set: revoked tokens, ended sessions and sessions of
-- a user. As partial indexes, issuing a token no longer writes to them,
-- and the queries that use them (`revoked_at < $1`, `ended_at < $1`,
-- `user_id = $1`) imply the condition.
DROP INDEX tokens_revoked_at_idx;
CREATE INDEX tokens_revoked_at_idx ON tokens (revoked_at) WHERE revoked_at IS NOT NULL;
DROP INDEX sessions_ended_at_idx;
CREATE INDEX sessions_ended_at_idx ON sessions (ended_at) WHERE ended_at IS NOT NULL;
DROP INDEX sessions_user_id_idx;
CREATE INDEX sessions_user_id_idx ON sessions (user_id) WHERE user_id IS NOT NULL;
