-- The order's W3C trace context from intake: what the deadline job does for an order (a step sent
-- again, a deadline passed) continues the order's trace instead of starting a new one.
ALTER TABLE orders ADD COLUMN trace JSONB NOT NULL DEFAULT '{}';
