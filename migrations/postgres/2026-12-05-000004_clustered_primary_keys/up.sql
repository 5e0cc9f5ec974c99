-- PostgreSQL has no WITHOUT ROWID tables; its heap tables with a primary
-- key index stay as they are. The folder exists so that both backends
-- carry the same migration names.
SELECT 1;
