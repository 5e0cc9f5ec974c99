DROP TABLE tickets;
DROP TABLE signing_keys;
DROP TABLE tokens;
DROP TABLE sessions;
DROP TABLE users;
DROP TABLE clients;
