-- The outbox keeps each message as the relay sends it: the envelope's JSON bytes (encoded once,
-- when emitted) and its Kafka headers (identifying fields and trace context, per row). Published
-- rows are deleted by the relay, so the table holds only what is still to be sent. Rows written
-- before this migration (envelope JSONB, no body) are still published from `envelope`.
ALTER TABLE outbox ADD COLUMN body BYTEA;
ALTER TABLE outbox ADD COLUMN headers JSONB;
ALTER TABLE outbox ALTER COLUMN envelope DROP NOT NULL;
DELETE FROM outbox WHERE published_at IS NOT NULL;
DROP INDEX IF EXISTS outbox_unpublished;

-- The inbox is pruned by age (ORDERFLOW_INBOX_RETENTION_SECONDS, longer than any topic's
-- retention, so no record that can still be redelivered has lost its row).
CREATE INDEX inbox_by_age ON inbox (processed_at);
