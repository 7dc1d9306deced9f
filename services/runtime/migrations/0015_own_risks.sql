-- Each department's own risk register (services/runtime/risks.py): what it has raised and not yet
-- closed, so that a risk is announced once, updated only when it changes, and closed once.
CREATE TABLE own_risks (
    risk_id     TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    cause       TEXT NOT NULL,
    severity    TEXT NOT NULL,
    summary     TEXT NOT NULL,
    subject     JSONB NOT NULL DEFAULT '{}',
    status      TEXT NOT NULL CHECK (status IN ('open', 'closed')),
    raised_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    closed_at   TIMESTAMPTZ
);
CREATE INDEX own_risks_open ON own_risks (cause) WHERE status = 'open';
