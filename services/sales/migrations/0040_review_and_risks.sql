-- Review of major or special orders: master data sales decides it from (replicated from the ERP,
-- like addresses and prices), and the company's risk feed as sales keeps it (GET /risks).

-- Since when a customer buys from us (a "new customer" is reviewed) and its agreed payment terms
-- (requested terms beyond them are reviewed; finance stays the authority on terms).
ALTER TABLE customers ADD COLUMN customer_since DATE;
ALTER TABLE customers ADD COLUMN payment_terms_days INT NOT NULL DEFAULT 30;
UPDATE customers SET customer_since = DATE '2015-01-01' WHERE customer_since IS NULL;
UPDATE customers SET payment_terms_days = 45 WHERE customer_id = 'CUST-NORD';
UPDATE customers SET payment_terms_days = 14 WHERE customer_id = 'CUST-TINY';

-- A product flagged for review (hazardous, made to order, ...) and its quoted lead time in days
-- (a requested date sooner than that is reviewed).
ALTER TABLE products ADD COLUMN review_reason TEXT;
ALTER TABLE products ADD COLUMN lead_time_days INT NOT NULL DEFAULT 0 CHECK (lead_time_days >= 0);
UPDATE products SET lead_time_days = 2 WHERE sku IN ('SKU-BOLT-M8', 'SKU-GEAR-40', 'SKU-VALVE-3');
UPDATE products SET lead_time_days = 5 WHERE sku IN ('SKU-MOTOR-1K', 'SKU-PUMP-X');

-- Every risk any department raised (relayed onto risk.events.v1), open until its cause goes away.
CREATE TABLE risks (
    risk_id        TEXT PRIMARY KEY,
    kind           TEXT NOT NULL,
    cause          TEXT NOT NULL,
    severity       TEXT NOT NULL,
    department     TEXT NOT NULL,      -- from the topic the risk came from
    owner_role     TEXT NOT NULL,
    summary        TEXT NOT NULL,
    subject        JSONB NOT NULL DEFAULT '{}',
    status         TEXT NOT NULL CHECK (status IN ('open', 'closed')),
    raised_at      TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    closed_at      TIMESTAMPTZ,
    closed_reason  TEXT
);
CREATE INDEX risks_open ON risks (raised_at) WHERE status = 'open';
CREATE INDEX risks_by_order ON risks ((subject->>'order_id'));
