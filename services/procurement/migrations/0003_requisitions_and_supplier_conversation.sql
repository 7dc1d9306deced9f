-- What has to be bought, and why (an order's shortfall, or replenishment when order_id is NULL).
-- Several purchase orders may serve one requisition: primary supplier first, then backups.
CREATE TABLE requisitions (
    requisition_id     TEXT PRIMARY KEY,
    order_id           TEXT,                       -- NULL: replenishment of stock
    sku                TEXT NOT NULL,
    quantity           INT NOT NULL CHECK (quantity >= 0),   -- still needed (cancellations reduce it)
    quantity_asked     INT NOT NULL CHECK (quantity_asked > 0),
    needed_by          DATE,
    status             TEXT NOT NULL DEFAULT 'open'
                       CHECK (status IN ('open', 'delivered', 'failed', 'cancelled')),
    reason             TEXT,
    correlation_id     TEXT NOT NULL,
    cause_message_id   UUID UNIQUE,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX requisitions_by_order ON requisitions (order_id);
CREATE INDEX requisitions_open_replenishment ON requisitions (sku) WHERE order_id IS NULL AND status = 'open';

-- Purchase orders: one supplier each. quantity is what was ordered; quantity_cancelled was taken
-- back at the supplier (before confirmation); kept_as_stock still arrives but no longer for the
-- order. The order's part = quantity - quantity_cancelled - kept_as_stock.
ALTER TABLE purchase_orders
    ADD COLUMN requisition_id      TEXT REFERENCES requisitions,
    ADD COLUMN supplier_rank       INT NOT NULL DEFAULT 1,
    ADD COLUMN confirm_by          TIMESTAMPTZ,
    ADD COLUMN delivery_date       DATE,
    ADD COLUMN reason              TEXT,
    ADD COLUMN quantity_cancelled  INT NOT NULL DEFAULT 0 CHECK (quantity_cancelled >= 0),
    ADD COLUMN kept_as_stock       INT NOT NULL DEFAULT 0 CHECK (kept_as_stock >= 0),
    ADD COLUMN delivered_quantity  INT,
    ADD COLUMN updated_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    ADD CONSTRAINT purchase_orders_parts CHECK (quantity_cancelled + kept_as_stock <= quantity);
ALTER TABLE purchase_orders ALTER COLUMN cause_message_id DROP NOT NULL;
ALTER TABLE purchase_orders DROP CONSTRAINT purchase_orders_cause_message_id_key;

UPDATE purchase_orders SET status = CASE status WHEN 'rejected' THEN 'abandoned' WHEN 'received' THEN 'delivered'
                                                ELSE status END;
ALTER TABLE purchase_orders ADD CONSTRAINT purchase_orders_status
    CHECK (status IN ('placed', 'confirmed', 'abandoned', 'delivered', 'cancelled'));

-- Purchase orders placed before requisitions existed get one each.
INSERT INTO requisitions (requisition_id, order_id, sku, quantity, quantity_asked, status, correlation_id,
                          cause_message_id, created_at)
SELECT 'REQ-' || purchase_order_id, order_id, sku, quantity, quantity,
       CASE WHEN status = 'delivered' THEN 'delivered' WHEN status IN ('placed', 'confirmed') THEN 'open'
            ELSE 'failed' END,
       coalesce(order_id, sku), cause_message_id, created_at
FROM purchase_orders WHERE requisition_id IS NULL;
UPDATE purchase_orders SET requisition_id = 'REQ-' || purchase_order_id WHERE requisition_id IS NULL;
ALTER TABLE purchase_orders ALTER COLUMN requisition_id SET NOT NULL;

CREATE INDEX purchase_orders_by_requisition ON purchase_orders (requisition_id);
CREATE INDEX purchase_orders_awaiting_confirmation ON purchase_orders (confirm_by) WHERE status = 'placed';

-- What the warehouse reported as received (warehouse.GoodsReceived), per receipt id
-- (`PO-X`, or `PO-X/stock` for the part kept as stock).
CREATE TABLE warehouse_receipts (
    receipt_id          TEXT PRIMARY KEY,
    purchase_order_id   TEXT NOT NULL,
    sku                 TEXT NOT NULL,
    quantity            INT NOT NULL,
    order_id            TEXT,
    reserved_for_order  INT NOT NULL DEFAULT 0,
    received_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX warehouse_receipts_by_po ON warehouse_receipts (purchase_order_id);
