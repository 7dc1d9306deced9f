CREATE TABLE carriers (
    carrier_id      TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    countries       TEXT[] NOT NULL,
    base_cost       NUMERIC(10, 2) NOT NULL,
    cost_per_kg     NUMERIC(10, 2) NOT NULL,
    transit_days    INT NOT NULL,
    daily_capacity  INT NOT NULL
);

CREATE TABLE shipments (
    shipment_id      TEXT PRIMARY KEY,
    order_id         TEXT NOT NULL,
    carrier          TEXT NOT NULL REFERENCES carriers,
    status           TEXT NOT NULL,  -- requested | booked | in_transit | delivered | cancelled | failed
    country          TEXT NOT NULL,
    parcels          INT NOT NULL,
    weight_kg        NUMERIC(10, 3) NOT NULL,
    deliver_by       DATE,
    rejected_by      TEXT[] NOT NULL DEFAULT '{}',
    waybill          TEXT,
    tracking_number  TEXT,
    eta              DATE,
    cost             NUMERIC(10, 2),
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX shipments_by_order ON shipments (order_id);
-- One live shipment per order at a time.
CREATE UNIQUE INDEX one_live_shipment ON shipments (order_id) WHERE status NOT IN ('cancelled', 'failed', 'delivered');
