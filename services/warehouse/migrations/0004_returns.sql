-- Goods a carrier brought back (logistics.shipment_returned), once per shipment: restocked through
-- the movement ledger (kind 'returned'), so on_hand = opening + received - shipped + returned.
CREATE TABLE returns (
    shipment_id  TEXT PRIMARY KEY,
    order_id     TEXT NOT NULL,
    lines        JSONB NOT NULL DEFAULT '[]',
    returned_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX returns_by_order ON returns (order_id);

ALTER TABLE stock_movements DROP CONSTRAINT stock_movements_kind;
ALTER TABLE stock_movements ADD CONSTRAINT stock_movements_kind
    CHECK (kind IN ('opening', 'received', 'shipped', 'returned', 'reserved', 'released', 'expired', 'adjusted'));

CREATE OR REPLACE FUNCTION stock_movement_kind() RETURNS trigger LANGUAGE plpgsql AS $$
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
