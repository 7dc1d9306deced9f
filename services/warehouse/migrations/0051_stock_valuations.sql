-- Periodic snapshots of the stock's value at cost (published as warehouse.stock_valued), the
-- denominator of inventory turnover.
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
