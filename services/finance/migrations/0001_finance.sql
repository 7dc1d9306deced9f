CREATE TABLE customers (
    customer_id        TEXT PRIMARY KEY,
    name               TEXT NOT NULL,
    credit_limit       NUMERIC(14, 2) NOT NULL CHECK (credit_limit >= 0),
    payment_terms_days INT NOT NULL DEFAULT 30,
    max_discount_pct   NUMERIC(5, 2) NOT NULL DEFAULT 10
);

CREATE TABLE price_list (
    sku         TEXT PRIMARY KEY,
    list_price  NUMERIC(14, 2) NOT NULL
);

-- Credit held for an approved order until it is invoiced (moves to invoices) or released.
CREATE TABLE credit_holds (
    order_id     TEXT PRIMARY KEY,
    customer_id  TEXT NOT NULL REFERENCES customers,
    amount       NUMERIC(14, 2) NOT NULL,
    status       TEXT NOT NULL,          -- held | invoiced | released
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE SEQUENCE invoice_number_seq;

CREATE TABLE invoices (
    invoice_number  TEXT PRIMARY KEY,
    order_id        TEXT NOT NULL,
    shipment_ref    TEXT NOT NULL,
    customer_id     TEXT NOT NULL REFERENCES customers,
    amount          NUMERIC(14, 2) NOT NULL,
    due_date        DATE NOT NULL,
    status          TEXT NOT NULL,       -- open | paid
    issued_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (order_id, shipment_ref)      -- one invoice per shipment, however often asked
);

CREATE TABLE payments (
    payment_ref     TEXT PRIMARY KEY,    -- the provider's reference: a settlement counts once
    invoice_number  TEXT NOT NULL REFERENCES invoices,
    order_id        TEXT NOT NULL,
    amount          NUMERIC(14, 2) NOT NULL,
    received_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX payments_by_order ON payments (order_id);
