-- Customer feedback (services/sales/feedback.py): one per order, editable for a while after it is given.
CREATE TABLE order_feedback (
    order_id     UUID PRIMARY KEY REFERENCES orders,
    customer_id  TEXT NOT NULL,
    rating       INT NOT NULL CHECK (rating BETWEEN 1 AND 5),
    comment      TEXT,
    given_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    given_by     JSONB,
    revisions    INT NOT NULL DEFAULT 1
);
CREATE INDEX order_feedback_by_customer ON order_feedback (customer_id, given_at);

-- Stock value snapshots published by the warehouse (warehouse.stock_valued), for inventory turnover.
CREATE TABLE stock_valuations (
    snapshot_id  TEXT NOT NULL,
    taken_at     TIMESTAMPTZ NOT NULL,
    sku          TEXT NOT NULL,
    on_hand      INT NOT NULL,
    unit_cost    NUMERIC(18, 4) NOT NULL,
    value        NUMERIC(14, 2) NOT NULL,
    PRIMARY KEY (snapshot_id, sku)
);
CREATE INDEX stock_valuations_by_time ON stock_valuations (taken_at);

-- The KPIs read the timeline by type and time.
CREATE INDEX order_timeline_by_type ON order_timeline (type, at);
