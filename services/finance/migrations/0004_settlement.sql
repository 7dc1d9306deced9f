-- Settlement: credit notes, refunds, credit adjustments per change, and one place (a view) that
-- says what each invoice still owes. Invoice status: open | paid | credited.

ALTER TABLE invoices ADD COLUMN kind TEXT NOT NULL DEFAULT 'shipment';   -- shipment | prepayment

-- What the order type was when credit was checked: AdjustCredit holds credit for standard orders only.
ALTER TABLE credit_holds ADD COLUMN order_type TEXT;

CREATE SEQUENCE credit_note_number_seq;

CREATE TABLE credit_notes (
    credit_note_number  TEXT PRIMARY KEY,                  -- CN-000001
    invoice_number      TEXT NOT NULL REFERENCES invoices,
    order_id            TEXT NOT NULL,
    amount              NUMERIC(14, 2) NOT NULL CHECK (amount > 0),
    reason              TEXT NOT NULL,
    issued_at           TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX credit_notes_by_order ON credit_notes (order_id);
CREATE INDEX credit_notes_by_invoice ON credit_notes (invoice_number);

-- A refund is recorded when it is requested from the provider (the money is committed to go back)
-- and marked settled when the provider confirms it (refund_ref is the provider's reference).
CREATE TABLE refunds (
    refund_id     BIGSERIAL PRIMARY KEY,
    payment_ref   TEXT NOT NULL REFERENCES payments,
    order_id      TEXT NOT NULL,
    amount        NUMERIC(14, 2) NOT NULL CHECK (amount > 0),
    status        TEXT NOT NULL,                 -- requested | settled
    reason        TEXT,
    refund_ref    TEXT UNIQUE,                   -- set on settlement; dedupes the provider's reports
    requested_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    settled_at    TIMESTAMPTZ
);
CREATE INDEX refunds_by_order ON refunds (order_id);
CREATE INDEX refunds_by_payment ON refunds (payment_ref);

-- AdjustCredit is applied once per change.
CREATE TABLE credit_adjustments (
    change_id   TEXT PRIMARY KEY,
    order_id    TEXT NOT NULL,
    new_total   NUMERIC(14, 2) NOT NULL,
    held        NUMERIC(14, 2) NOT NULL,
    applied_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Per invoice: billed, credited, paid, refunded, and the open balance (0 for a credited invoice).
CREATE VIEW invoice_balances AS
SELECT i.invoice_number, i.order_id, i.customer_id, i.kind, i.status, i.amount,
       COALESCE(c.credited, 0) AS credited,
       COALESCE(p.paid, 0) AS paid,
       COALESCE(r.refunded, 0) AS refunded,
       CASE WHEN i.status = 'credited' THEN 0
            ELSE GREATEST(i.amount - COALESCE(c.credited, 0) - COALESCE(p.paid, 0) + COALESCE(r.refunded, 0), 0)
       END AS outstanding
  FROM invoices i
  LEFT JOIN (SELECT invoice_number, sum(amount) credited FROM credit_notes GROUP BY invoice_number) c
         USING (invoice_number)
  LEFT JOIN (SELECT invoice_number, sum(amount) paid FROM payments GROUP BY invoice_number) p
         USING (invoice_number)
  LEFT JOIN (SELECT pm.invoice_number, sum(rf.amount) refunded FROM refunds rf
               JOIN payments pm USING (payment_ref) GROUP BY pm.invoice_number) r
         USING (invoice_number);
