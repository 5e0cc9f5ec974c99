DROP INDEX sessions_expires_idx;
DROP INDEX sessions_ended_at_idx;
DROP INDEX tokens_revoked_at_idx;
