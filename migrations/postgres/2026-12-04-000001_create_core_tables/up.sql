-- Ids are text and times are unix seconds (BIGINT) so that one diesel schema
-- serves SQLite and PostgreSQL and values round-trip equal on both.

CREATE TABLE clients (
    id TEXT PRIMARY KEY,
    -- SHA-256 of the client secret, lowercase hex.
    secret_hash TEXT NOT NULL,
    -- Space-separated grant types and scopes, as in OAuth requests.
    grant_types TEXT NOT NULL,
    scopes TEXT NOT NULL,
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    created BIGINT NOT NULL
);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    -- Argon2id in PHC string format.
    password_hash TEXT NOT NULL,
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    created BIGINT NOT NULL
);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    -- The user id for a password grant, the client id for client_credentials.
    subject TEXT NOT NULL,
    client_id TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    user_id TEXT REFERENCES users (id) ON DELETE CASCADE,
    created BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    expires BIGINT NOT NULL,
    ended_at BIGINT
);
CREATE INDEX sessions_subject_idx ON sessions (subject);
CREATE INDEX sessions_client_id_idx ON sessions (client_id);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);

CREATE TABLE tokens (
    -- SHA-256 of the handle, lowercase hex; the handle itself is never stored.
    hash TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    subject TEXT NOT NULL,
    scopes TEXT NOT NULL,
    created BIGINT NOT NULL,
    expires BIGINT NOT NULL,
    revoked_at BIGINT,
    -- The grant a token descends from; every rotation of one refresh token
    -- and the access tokens issued with it share it.
    family_id TEXT NOT NULL
);
CREATE INDEX tokens_session_id_idx ON tokens (session_id);
CREATE INDEX tokens_family_id_idx ON tokens (family_id);
CREATE INDEX tokens_expires_idx ON tokens (expires);

CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    algorithm TEXT NOT NULL,
    private_key_pem TEXT NOT NULL,
    public_key_pem TEXT NOT NULL,
    created BIGINT NOT NULL
);

CREATE TABLE tickets (
    id TEXT PRIMARY KEY,
    summary TEXT NOT NULL,
    details TEXT NOT NULL,
    status TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created BIGINT NOT NULL
);
CREATE INDEX tickets_created_idx ON tickets (created);
