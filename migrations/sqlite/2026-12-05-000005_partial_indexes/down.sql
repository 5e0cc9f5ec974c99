DROP INDEX tokens_revoked_at_idx;
CREATE INDEX tokens_revoked_at_idx ON tokens (revoked_at);
DROP INDEX sessions_ended_at_idx;
CREATE INDEX sessions_ended_at_idx ON sessions (ended_at);
DROP INDEX sessions_user_id_idx;
CREATE INDEX sessions_user_id_idx ON sessions (user_id);
