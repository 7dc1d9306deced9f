-- on_hand: physically in the warehouse; reserved: promised to orders (never above on_hand).
CREATE TABLE stock (
    sku            TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    on_hand        INT NOT NULL CHECK (on_hand >= 0),
    reserved       INT NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    weight_kg      NUMERIC(10, 3) NOT NULL,
    reorder_point  INT NOT NULL DEFAULT 0,
    CHECK (reserved <= on_hand)
);

CREATE TABLE reservations (
    order_id            TEXT NOT NULL,
    sku                 TEXT NOT NULL REFERENCES stock,
    quantity_requested  INT NOT NULL,
    quantity_reserved   INT NOT NULL,
    status              TEXT NOT NULL,     -- reserved | packed | shipped | released
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (order_id, sku)
);

CREATE TABLE packages (
    order_id   TEXT PRIMARY KEY,
    parcels    INT NOT NULL,
    weight_kg  NUMERIC(10, 3) NOT NULL,
    packed_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE dispatches (
    shipment_id      TEXT PRIMARY KEY,
    order_id         TEXT NOT NULL,
    carrier          TEXT NOT NULL,
    tracking_number  TEXT NOT NULL,
    dispatched_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Every stock change, for audit and the conservation check (sum of deltas = current levels - initial).
CREATE TABLE stock_movements (
    id              BIGSERIAL PRIMARY KEY,
    sku             TEXT NOT NULL REFERENCES stock,
    order_id        TEXT,
    delta_on_hand   INT NOT NULL DEFAULT 0,
    delta_reserved  INT NOT NULL DEFAULT 0,
    reason          TEXT NOT NULL,
    at              TIMESTAMPTZ NOT NULL DEFAULT now()
);
