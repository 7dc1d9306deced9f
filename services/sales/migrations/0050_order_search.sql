-- Order search (services/sales/search.py): newest first with a stable tie-break, per customer.
CREATE INDEX orders_by_created ON orders (created_at DESC, order_id DESC);
CREATE INDEX orders_by_customer ON orders (customer_id, created_at DESC, order_id DESC);
CREATE INDEX orders_by_external_ref ON orders (external_ref) WHERE external_ref IS NOT NULL;
