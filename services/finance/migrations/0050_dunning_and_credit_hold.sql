-- Dunning and credit hold (services/finance/dunning.py, credit_control.py).

-- Due time to the second (dunning deadlines are configurable down to seconds): an invoice is due at
-- its issue time plus the payment terms. Set from due_date when the insert does not give it.
ALTER TABLE invoices ADD COLUMN due_at TIMESTAMPTZ;
UPDATE invoices SET due_at = issued_at + (due_date - issued_at::date) * interval '1 day';
CREATE FUNCTION invoice_due_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.due_at IS NULL THEN
        NEW.due_at := NEW.issued_at + (NEW.due_date - NEW.issued_at::date) * interval '1 day';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER invoice_due_at BEFORE INSERT ON invoices FOR EACH ROW EXECUTE FUNCTION invoice_due_at();
ALTER TABLE invoices ALTER COLUMN due_at SET NOT NULL;
CREATE INDEX invoices_open_by_due ON invoices (due_at) WHERE status = 'open';
CREATE INDEX invoices_by_customer ON invoices (customer_id, due_at);

-- What happens to a customer's new standard orders while on hold: wait | reject (NULL: the setting).
ALTER TABLE customers ADD COLUMN credit_hold_policy TEXT CHECK (credit_hold_policy IN ('wait', 'reject'));

-- One row per reminder level reached by an invoice.
CREATE TABLE dunning_notices (
    invoice_number   TEXT NOT NULL REFERENCES invoices,
    level            INT NOT NULL CHECK (level >= 1),
    level_name       TEXT NOT NULL,
    order_id         TEXT NOT NULL,
    customer_id      TEXT NOT NULL,
    outstanding      NUMERIC(14, 2) NOT NULL,
    fee              NUMERIC(14, 2) NOT NULL DEFAULT 0,
    interest         NUMERIC(14, 2) NOT NULL DEFAULT 0,
    charge_invoice   TEXT REFERENCES invoices,
    issued_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (invoice_number, level)
);
CREATE INDEX dunning_notices_by_customer ON dunning_notices (customer_id, issued_at);

-- Customers on credit hold (status 'on'), and when and why it was lifted.
CREATE TABLE customer_credit_holds (
    customer_id      TEXT PRIMARY KEY REFERENCES customers,
    status           TEXT NOT NULL CHECK (status IN ('on', 'lifted')),
    reason           TEXT NOT NULL,
    overdue_amount   NUMERIC(14, 2) NOT NULL,
    placed_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    lifted_at        TIMESTAMPTZ,
    lift_reason      TEXT,
    lifted_by        JSONB
);

-- Credit checks waiting for finance while their customer is on hold (policy 'wait').
CREATE TABLE credit_waiting_orders (
    order_id     TEXT PRIMARY KEY,
    customer_id  TEXT NOT NULL,
    command      JSONB NOT NULL,          -- the CheckCredit payload, reviewed again when the hold lifts
    reason       TEXT NOT NULL,
    queued_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX credit_waiting_by_customer ON credit_waiting_orders (customer_id, queued_at);

-- A decision by a person on a waiting order (approve despite the hold, or reject), for the record.
CREATE TABLE credit_decisions (
    order_id     TEXT PRIMARY KEY,
    customer_id  TEXT NOT NULL,
    decision     TEXT NOT NULL CHECK (decision IN ('approve', 'reject')),
    reason       TEXT NOT NULL,
    decided_by   JSONB,
    decided_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Order numbers (from the credit check every order goes through), so that a bank payment naming
-- the order number (SO-000123) finds the order's invoices.
CREATE TABLE order_numbers (
    order_id      TEXT PRIMARY KEY,
    order_number  TEXT NOT NULL UNIQUE
);
