-- Facts that one service records for the others, such as the access token
-- format the Auth servers issue.
CREATE TABLE service_state (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated BIGINT NOT NULL
);
