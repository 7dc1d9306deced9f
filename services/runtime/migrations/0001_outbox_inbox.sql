-- Transactional outbox: rows are written in the same transaction as the state change that
-- produced them, and published by the relay in id order.
CREATE TABLE outbox (
    id            BIGSERIAL PRIMARY KEY,
    message_id    UUID        NOT NULL UNIQUE,
    topic         TEXT        NOT NULL,          -- catalogue (logical) name
    message_key   TEXT,
    message_type  TEXT        NOT NULL,
    envelope      JSONB       NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    published_at  TIMESTAMPTZ
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;

-- Wake the relay as soon as a transaction with outbox rows commits.
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('outbox', '');
    RETURN NULL;
END $$;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

-- Inbox: one row per consumed message, written in the same transaction as its effect, so a
-- redelivered message finds its row and is skipped. `message_key` is the envelope's message_id,
-- or topic/partition/offset for a record too broken to have one.
CREATE TABLE inbox (
    message_key   TEXT PRIMARY KEY,
    message_type  TEXT,
    topic         TEXT        NOT NULL,
    kafka_partition INT       NOT NULL,
    kafka_offset  BIGINT      NOT NULL,
    outcome       TEXT        NOT NULL,          -- handled | ignored | dead_lettered
    processed_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- What this service sent to its dead-letter topic, for operators (`orderflow dlq list`).
CREATE TABLE dead_letters (
    id              BIGSERIAL PRIMARY KEY,
    topic           TEXT        NOT NULL,
    kafka_partition INT         NOT NULL,
    kafka_offset    BIGINT      NOT NULL,
    message_type    TEXT,
    reason          TEXT        NOT NULL,
    raw_value       TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (topic, kafka_partition, kafka_offset)
);
