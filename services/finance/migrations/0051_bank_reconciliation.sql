-- Bank reconciliation (services/finance/reconciliation.py, bank.py).

-- Money per invoice is in one currency (EUR until customers have their own).
ALTER TABLE invoices ADD COLUMN currency TEXT NOT NULL DEFAULT 'EUR';
ALTER TABLE customers ADD COLUMN currency TEXT NOT NULL DEFAULT 'EUR';

-- The customers' bank accounts, to recognise who paid.
CREATE TABLE customer_bank_accounts (
    iban         TEXT PRIMARY KEY,
    customer_id  TEXT NOT NULL REFERENCES customers
);

-- How payments came in: the provider's settlement, or a bank statement line.
ALTER TABLE payments ADD COLUMN source TEXT NOT NULL DEFAULT 'provider';

-- One row per imported statement: a re-import of the same statement id applies nothing again.
CREATE TABLE bank_statements (
    statement_id   TEXT PRIMARY KEY,
    format         TEXT NOT NULL,
    account        TEXT,
    sha256         TEXT NOT NULL,
    lines          INT NOT NULL,
    imported_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    imported_by    JSONB
);

-- One row per bank line (bank_ref is the bank's own reference: a line is applied once, even when
-- it appears again in another statement). `unapplied` is what a person still has to assign.
CREATE TABLE bank_lines (
    line_id            BIGSERIAL PRIMARY KEY,
    statement_id       TEXT NOT NULL REFERENCES bank_statements,
    bank_ref           TEXT NOT NULL UNIQUE,
    booking_date       DATE,
    amount             NUMERIC(14, 2) NOT NULL,
    currency           TEXT NOT NULL,
    reference          TEXT NOT NULL DEFAULT '',
    counterparty_name  TEXT,
    counterparty_iban  TEXT,
    customer_id        TEXT,
    status             TEXT NOT NULL CHECK (status IN ('matched', 'partial', 'overpaid', 'unmatched', 'ignored')),
    basis              TEXT,
    applied            NUMERIC(14, 2) NOT NULL DEFAULT 0,
    unapplied          NUMERIC(14, 2) NOT NULL DEFAULT 0 CHECK (unapplied >= 0),
    reason             TEXT,
    CHECK (status = 'ignored' OR applied + unapplied = amount)
);
CREATE INDEX bank_lines_open ON bank_lines (line_id) WHERE unapplied > 0;
CREATE INDEX bank_lines_by_statement ON bank_lines (statement_id, line_id);

-- Each part of a line applied to an invoice (a line may pay several invoices; a person may assign).
CREATE TABLE bank_matches (
    match_id        BIGSERIAL PRIMARY KEY,
    line_id         BIGINT NOT NULL REFERENCES bank_lines,
    invoice_number  TEXT NOT NULL REFERENCES invoices,
    order_id        TEXT NOT NULL,
    amount          NUMERIC(14, 2) NOT NULL CHECK (amount > 0),
    basis           TEXT NOT NULL,            -- reference | amount_and_customer | manual
    payment_ref     TEXT NOT NULL UNIQUE REFERENCES payments,
    matched_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    matched_by      JSONB
);
CREATE INDEX bank_matches_by_line ON bank_matches (line_id);

-- Demo accounts of the demo customers (test statements use them).
INSERT INTO customer_bank_accounts (iban, customer_id) VALUES
 ('DE89370400440532013000', 'CUST-ACME'), ('FR1420041010050500013M02606', 'CUST-BOLT'),
 ('SE4550000000058398257466', 'CUST-NORD'), ('GB29NWBK60161331926819', 'CUST-TINY')
ON CONFLICT DO NOTHING;
