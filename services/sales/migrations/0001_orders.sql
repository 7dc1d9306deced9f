-- Master data sales needs at intake (replicated from the company's ERP in real life).
CREATE TABLE customers (
    customer_id      TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    default_address  JSONB NOT NULL
);

CREATE TABLE products (
    sku         TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    list_price  NUMERIC(14, 2) NOT NULL CHECK (list_price >= 0),
    active      BOOLEAN NOT NULL DEFAULT true
);

CREATE SEQUENCE order_number_seq;

-- One row per order: the order as taken, plus its saga state (status + facts learnt).
-- `version` is bumped on every write for optimistic concurrency checks by API callers.
CREATE TABLE orders (
    order_id                UUID PRIMARY KEY,
    order_number            TEXT NOT NULL UNIQUE,
    customer_id             TEXT NOT NULL REFERENCES customers,
    order_type              TEXT NOT NULL,
    payment_method          TEXT NOT NULL,
    channel                 TEXT NOT NULL,
    external_ref            TEXT,
    lines                   JSONB NOT NULL,
    total                   NUMERIC(14, 2) NOT NULL,
    delivery_address        JSONB NOT NULL,
    requested_delivery_date DATE,
    status                  TEXT NOT NULL,
    status_reason           TEXT,
    saga                    JSONB NOT NULL DEFAULT '{}',
    revision                INT NOT NULL DEFAULT 1,
    version                 INT NOT NULL DEFAULT 1,
    created_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (channel, external_ref)
);
CREATE INDEX orders_by_status ON orders (status, created_at);

-- Everything that happened to an order, in every department.
CREATE TABLE order_timeline (
    id           BIGSERIAL PRIMARY KEY,
    order_id     UUID NOT NULL REFERENCES orders,
    at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    department   TEXT NOT NULL,
    kind         TEXT NOT NULL,     -- event | command | status
    type         TEXT NOT NULL,
    message_id   UUID,
    detail       JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX order_timeline_by_order ON order_timeline (order_id, id);
