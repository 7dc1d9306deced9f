-- The saga state is the `saga` JSON document (services/sales/saga.py: Order); the columns mirror
-- what the API filters on. `next_check_at` lets the deadline job find due orders cheaply.
ALTER TABLE orders ADD COLUMN fulfilment_policy TEXT NOT NULL DEFAULT 'ship_complete';
ALTER TABLE orders ADD COLUMN next_check_at TIMESTAMPTZ;
CREATE INDEX orders_due ON orders (next_check_at) WHERE next_check_at IS NOT NULL;
