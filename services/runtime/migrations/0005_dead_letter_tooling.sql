-- Dead-letter tooling (services/runtime/dead_letters.py): what a replay needs (key, headers, the
-- topic the record counts as), its state (open, replayed, skipped) and who resolved it, and a log
-- of every operator action that outlives a purge. Expand-only: older versions ignore the columns.
ALTER TABLE dead_letters
    ADD COLUMN message_key   TEXT,
    ADD COLUMN headers       JSONB,
    ADD COLUMN message_id    TEXT,                 -- the envelope's message_id, when it had one
    ADD COLUMN origin_topic  TEXT,                 -- catalogue topic it counts as (a replay: its original topic)
    ADD COLUMN replay_of     BIGINT REFERENCES dead_letters (id) ON DELETE SET NULL,  -- a replay that failed again
    ADD COLUMN status        TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'replayed', 'skipped')),
    ADD COLUMN resolved_at   TIMESTAMPTZ,
    ADD COLUMN resolved_by   TEXT,
    ADD COLUMN replayed_as   UUID;                 -- message_id of the replayed record
CREATE INDEX dead_letters_open ON dead_letters (created_at) WHERE status = 'open';

CREATE TABLE dead_letter_actions (
    id              BIGSERIAL PRIMARY KEY,
    dead_letter_id  BIGINT      NOT NULL,          -- no foreign key: the record survives a purge
    action          TEXT        NOT NULL CHECK (action IN ('replay', 'skip', 'purge')),
    at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    subject         TEXT        NOT NULL,
    name            TEXT,
    role            TEXT,
    new_message_id  UUID,
    note            TEXT,
    detail          JSONB
);
CREATE INDEX dead_letter_actions_by_letter ON dead_letter_actions (dead_letter_id, id);
