-- Rebuilds the tables as ordinary rowid tables.
-- Renaming first rewrites the foreign keys among the old tables to the
-- old names, so dropping them at the end cascades into nothing new.
ALTER TABLE clients RENAME TO clients_old;
ALTER TABLE users RENAME TO users_old;
ALTER TABLE sessions RENAME TO sessions_old;
ALTER TABLE tokens RENAME TO tokens_old;

CREATE TABLE clients (
    id TEXT PRIMARY KEY,
    secret_hash TEXT NOT NULL,
    grant_types TEXT NOT NULL,
    scopes TEXT NOT NULL,
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    created BIGINT NOT NULL
);
INSERT INTO clients SELECT * FROM clients_old;

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    created BIGINT NOT NULL
);
INSERT INTO users SELECT * FROM users_old;

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    subject TEXT NOT NULL,
    client_id TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    user_id TEXT REFERENCES users (id) ON DELETE CASCADE,
    created BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    expires BIGINT NOT NULL,
    ended_at BIGINT
);
INSERT INTO sessions SELECT * FROM sessions_old;

CREATE TABLE tokens (
    hash TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    subject TEXT NOT NULL,
    scopes TEXT NOT NULL,
    created BIGINT NOT NULL,
    expires BIGINT NOT NULL,
    revoked_at BIGINT,
    family_id TEXT NOT NULL
);
INSERT INTO tokens SELECT * FROM tokens_old;

DROP TABLE tokens_old;
DROP TABLE sessions_old;
DROP TABLE users_old;
DROP TABLE clients_old;

CREATE INDEX sessions_subject_idx ON sessions (subject);
CREATE INDEX sessions_client_id_idx ON sessions (client_id);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);
CREATE INDEX sessions_ended_at_idx ON sessions (ended_at);
CREATE INDEX sessions_expires_idx ON sessions (expires);
CREATE INDEX tokens_session_id_idx ON tokens (session_id);
CREATE INDEX tokens_family_id_idx ON tokens (family_id);
CREATE INDEX tokens_expires_idx ON tokens (expires);
CREATE INDEX tokens_revoked_at_idx ON tokens (revoked_at);
