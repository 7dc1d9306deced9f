-- A supplier that confirms later than the order needs: the purchase order stays open at the
-- supplier ('late') until a person decides (procurement.resolve_delay: accept -> confirmed,
-- switch -> abandoned and the next supplier asked) or the order is cancelled.
ALTER TABLE purchase_orders DROP CONSTRAINT purchase_orders_status;
ALTER TABLE purchase_orders ADD CONSTRAINT purchase_orders_status
    CHECK (status IN ('placed', 'confirmed', 'late', 'abandoned', 'delivered', 'cancelled'));
