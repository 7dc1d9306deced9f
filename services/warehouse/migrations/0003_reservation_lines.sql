-- One reservation row per (order, SKU) that tracks the whole life of the line:
--   quantity_requested  what the order wants
--   quantity_reserved   held on the shelf for the order (includes packed)
--   quantity_packed     part of reserved that is packed and not yet shipped
--   quantity_shipped    cumulative, handed to carriers
--   status              open | released | closed (closed: everything requested has shipped)
ALTER TABLE reservations
    ADD COLUMN quantity_packed  INT NOT NULL DEFAULT 0,
    ADD COLUMN quantity_shipped INT NOT NULL DEFAULT 0;

-- Old statuses: reserved | packed | shipped | released.
UPDATE reservations SET quantity_packed = quantity_reserved WHERE status = 'packed';
UPDATE reservations SET quantity_shipped = quantity_reserved, quantity_reserved = 0 WHERE status = 'shipped';
UPDATE reservations SET quantity_reserved = 0 WHERE status = 'released';
UPDATE reservations SET status = CASE status WHEN 'shipped' THEN 'closed' WHEN 'released' THEN 'released'
                                             ELSE 'open' END;

ALTER TABLE reservations
    ADD CONSTRAINT reservations_quantities CHECK (
        quantity_requested >= 0 AND quantity_reserved >= 0 AND quantity_packed >= 0 AND quantity_shipped >= 0
        AND quantity_packed <= quantity_reserved
        AND quantity_reserved + quantity_shipped <= quantity_requested),
    ADD CONSTRAINT reservations_status CHECK (status IN ('open', 'released', 'closed'));
CREATE INDEX reservations_open_by_age ON reservations (updated_at) WHERE status = 'open';

-- Several packages per order (a backorder is packed when its goods arrive).
ALTER TABLE packages DROP CONSTRAINT packages_pkey;
ALTER TABLE packages
    ADD COLUMN package_id  TEXT,
    ADD COLUMN lines       JSONB NOT NULL DEFAULT '[]',
    ADD COLUMN status      TEXT NOT NULL DEFAULT 'packed',   -- packed | shipped | unpacked (released)
    ADD COLUMN shipment_id TEXT;
UPDATE packages p SET package_id = 'PKG-' || p.order_id, status = CASE
    WHEN EXISTS (SELECT 1 FROM dispatches d WHERE d.order_id = p.order_id) THEN 'shipped'
    WHEN EXISTS (SELECT 1 FROM reservations r WHERE r.order_id = p.order_id AND r.quantity_packed > 0) THEN 'packed'
    ELSE 'unpacked' END;
ALTER TABLE packages ALTER COLUMN package_id SET NOT NULL, ADD PRIMARY KEY (package_id);
CREATE INDEX packages_by_order ON packages (order_id, packed_at);

ALTER TABLE dispatches ADD COLUMN lines JSONB NOT NULL DEFAULT '[]';
CREATE INDEX dispatches_by_order ON dispatches (order_id);

-- Goods from suppliers, one row per receipt id (a purchase order may arrive as `PO-X` for its
-- order and `PO-X/stock` for the part kept as stock).
CREATE TABLE goods_receipts (
    purchase_order_id   TEXT PRIMARY KEY,
    sku                 TEXT NOT NULL REFERENCES stock,
    quantity            INT NOT NULL CHECK (quantity > 0),
    order_id            TEXT,
    reserved_for_order  INT NOT NULL DEFAULT 0,
    received_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Orders finance reported as paid in full (prepaid_before_shipment may then be dispatched).
CREATE TABLE payments_cleared (
    order_id    TEXT PRIMARY KEY,
    cleared_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Applied changes, one per change id (redelivery or a repeated command re-announces).
CREATE TABLE reservation_changes (
    change_id   TEXT PRIMARY KEY,
    order_id    TEXT NOT NULL,
    released    JSONB NOT NULL DEFAULT '[]',
    applied_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Reorder points: a stock warning once per replenishment cycle.
ALTER TABLE stock
    ADD COLUMN reorder_quantity       INT NOT NULL DEFAULT 0 CHECK (reorder_quantity >= 0),
    ADD COLUMN replenishment_pending  BOOLEAN NOT NULL DEFAULT false;
UPDATE stock SET reorder_quantity = 2 * reorder_point;

-- Movements carry a kind, so that on_hand = opening + received - shipped can be checked.
ALTER TABLE stock_movements ADD COLUMN kind TEXT;
UPDATE stock_movements SET kind = CASE
    WHEN reason = 'opening balance' THEN 'opening'
    WHEN reason LIKE 'shipped%' THEN 'shipped'
    WHEN reason LIKE 'released%' THEN 'released'
    ELSE 'reserved' END;
ALTER TABLE stock_movements ALTER COLUMN kind SET NOT NULL;
ALTER TABLE stock_movements ADD CONSTRAINT stock_movements_kind
    CHECK (kind IN ('opening', 'received', 'shipped', 'returned', 'reserved', 'released', 'expired', 'adjusted'));
CREATE INDEX stock_movements_by_sku ON stock_movements (sku, id);

-- A movement written without a kind (a master-data feed or a seed script that only knows the old
-- columns) is classified from its reason; a plain on-hand change is an opening balance/correction.
CREATE FUNCTION stock_movement_kind() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.kind IS NULL THEN
        NEW.kind := CASE
            WHEN NEW.reason LIKE 'received%' THEN 'received'
            WHEN NEW.reason LIKE 'shipped%' THEN 'shipped'
            WHEN NEW.reason LIKE 'returned%' THEN 'returned'
            WHEN NEW.reason LIKE 'released%' THEN 'released'
            WHEN NEW.delta_reserved <> 0 THEN 'reserved'
            ELSE 'opening' END;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER stock_movement_kind BEFORE INSERT ON stock_movements
    FOR EACH ROW EXECUTE FUNCTION stock_movement_kind();

-- A reservation may name a SKU the warehouse does not stock (yet): it is a full shortfall, and
-- goods bought for it create the stock row when they arrive.
ALTER TABLE reservations DROP CONSTRAINT reservations_sku_fkey;

-- Goods a carrier brought back (logistics.shipment_returned), once per shipment: restocked through
-- the movement ledger (kind 'returned'), so on_hand = opening + received - shipped + returned.
CREATE TABLE returns (
    shipment_id  TEXT PRIMARY KEY,
    order_id     TEXT NOT NULL,
    lines        JSONB NOT NULL DEFAULT '[]',
    returned_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX returns_by_order ON returns (order_id);
