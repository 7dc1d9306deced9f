-- What goods cost (services/warehouse/costing.py): a moving average per SKU (base currency, per unit),
-- updated by goods receipts with a purchase price; a standard cost where no purchase is known yet.
ALTER TABLE stock ADD COLUMN unit_cost NUMERIC(18, 4) NOT NULL DEFAULT 0 CHECK (unit_cost >= 0);
ALTER TABLE stock ADD COLUMN standard_cost NUMERIC(18, 4);
UPDATE stock SET standard_cost = c.cost, unit_cost = c.cost
  FROM (VALUES ('SKU-BOLT-M8', 7.10), ('SKU-GEAR-40', 28.00), ('SKU-MOTOR-1K', 210.00), ('SKU-PUMP-X', 800.00),
               ('SKU-VALVE-3', 52.00)) AS c (sku, cost)
 WHERE stock.sku = c.sku;

-- Each on-hand movement at its unit cost (receipts at the purchase price, shipments at the average).
ALTER TABLE stock_movements ADD COLUMN unit_cost NUMERIC(18, 4);
ALTER TABLE goods_receipts ADD COLUMN unit_cost NUMERIC(18, 4);
ALTER TABLE dispatches ADD COLUMN costs JSONB;

-- Returned goods that are scrapped leave the ledger as 'scrapped'.
ALTER TABLE stock_movements DROP CONSTRAINT stock_movements_kind;
ALTER TABLE stock_movements ADD CONSTRAINT stock_movements_kind
    CHECK (kind IN ('opening', 'received', 'shipped', 'returned', 'reserved', 'released', 'expired', 'adjusted',
                    'scrapped'));

-- Customer returns (RMA): expected once approved by sales, received at the dock, inspected.
CREATE TABLE customer_returns (
    rma              TEXT PRIMARY KEY,
    order_id         TEXT NOT NULL,
    lines            JSONB NOT NULL,                   -- what the customer sends back
    reason           TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('expected', 'received', 'inspected')),
    received         JSONB,
    restocked        JSONB,
    scrapped         JSONB,
    restocked_cost   NUMERIC(14, 2),
    expected_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    received_at      TIMESTAMPTZ,
    received_by      JSONB,
    inspected_at     TIMESTAMPTZ,
    inspected_by     JSONB
);
CREATE INDEX customer_returns_by_order ON customer_returns (order_id);
