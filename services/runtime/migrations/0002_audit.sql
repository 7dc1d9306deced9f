-- Who did what through the HTTP API (services/runtime/audit.py): every non-GET request and every
-- refused one (401/403), with the caller's identity, source address, a bounded excerpt of what was
-- asked (secrets masked) and the outcome. Read through GET /audit (auditor, operator).
CREATE TABLE audit_log (
    id          BIGSERIAL PRIMARY KEY,
    at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    subject     TEXT,                       -- NULL: no valid token
    name        TEXT,
    roles       TEXT[] NOT NULL DEFAULT '{}',
    role        TEXT,                       -- the role the endpoint was called in
    source      TEXT,                       -- client address
    method      TEXT NOT NULL,
    path        TEXT NOT NULL,
    query       TEXT,
    order_id    TEXT,                       -- the order the request was about, when it names one
    request     JSONB,                      -- bounded excerpt of the body
    status      INT NOT NULL,
    outcome     TEXT
);
CREATE INDEX audit_log_by_order ON audit_log (order_id, id) WHERE order_id IS NOT NULL;
CREATE INDEX audit_log_by_subject ON audit_log (subject, id);
CREATE INDEX audit_log_by_time ON audit_log (at);
