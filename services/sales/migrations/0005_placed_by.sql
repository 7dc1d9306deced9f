-- Who placed each order (the token subject; NULL for an order from another system that names no
-- person), so that a clerk changes and cancels only their own; and who asked for each timeline entry.
ALTER TABLE orders ADD COLUMN placed_by TEXT;
ALTER TABLE order_timeline ADD COLUMN initiated_by JSONB;
