-- Several shipments per order, one after the other (ship_partial): only one booking may be open
-- (requested or booked) per order at a time; dispatched ones no longer block a new booking.
DROP INDEX IF EXISTS one_live_shipment;
CREATE UNIQUE INDEX one_open_booking ON shipments (order_id) WHERE status IN ('requested', 'booked');

ALTER TABLE shipments ADD COLUMN address JSONB;            -- the full delivery address
ALTER TABLE shipments ADD COLUMN dispatched_at TIMESTAMPTZ;
ALTER TABLE shipments ADD COLUMN delivered_at TIMESTAMPTZ;
ALTER TABLE shipments ADD COLUMN lines JSONB;              -- what the warehouse handed over (sku, quantity)
ALTER TABLE shipments ADD COLUMN cancel_reason TEXT;
UPDATE shipments SET dispatched_at = updated_at WHERE status IN ('in_transit', 'delivered');

-- The order's current delivery details after an approved change: later bookings use them.
CREATE TABLE order_delivery (
    order_id                 TEXT PRIMARY KEY,
    address                  JSONB,
    requested_delivery_date  DATE,
    updated_at               TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- UpdateDelivery is applied once per change.
CREATE TABLE delivery_changes (
    change_id   TEXT PRIMARY KEY,
    order_id    TEXT NOT NULL,
    summary     TEXT NOT NULL,
    applied_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
