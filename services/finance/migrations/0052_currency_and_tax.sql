-- Currency and tax (services/finance/tax.py). A customer's credit limit and exposure are in its
-- currency (customers.currency, 0051), and so are all its orders and invoices. Invoices carry net,
-- tax and gross (amount = gross, what is owed); credit notes split the same way.

-- Price lists per currency; price_list.list_price stays the EUR price (an EUR row here overrides it).
CREATE TABLE price_list_prices (
    sku         TEXT NOT NULL,
    currency    TEXT NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    list_price  NUMERIC(14, 2) NOT NULL CHECK (list_price >= 0),
    PRIMARY KEY (sku, currency)
);

-- Tax: a rate per destination country and product tax class (a product without a class: standard;
-- a country without a rate: 0 %, exported outside the tax area).
CREATE TABLE tax_rates (
    country    TEXT NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
    tax_class  TEXT NOT NULL,
    rate_pct   NUMERIC(5, 2) NOT NULL CHECK (rate_pct >= 0 AND rate_pct < 100),
    PRIMARY KEY (country, tax_class)
);
CREATE TABLE product_tax_classes (
    sku        TEXT PRIMARY KEY,
    tax_class  TEXT NOT NULL
);

ALTER TABLE invoices ADD COLUMN net NUMERIC(14, 2);
ALTER TABLE invoices ADD COLUMN tax NUMERIC(14, 2) NOT NULL DEFAULT 0;
ALTER TABLE invoices ADD COLUMN tax_lines JSONB NOT NULL DEFAULT '[]';   -- per line: class, rate, net, tax
ALTER TABLE invoices ADD COLUMN country TEXT;
UPDATE invoices SET net = amount - tax;
CREATE FUNCTION invoice_net() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.net IS NULL THEN NEW.net := NEW.amount - NEW.tax; END IF;    -- charges and older writers: untaxed
    RETURN NEW;
END $$;
CREATE TRIGGER invoice_net BEFORE INSERT ON invoices FOR EACH ROW EXECUTE FUNCTION invoice_net();
ALTER TABLE invoices ALTER COLUMN net SET NOT NULL;
ALTER TABLE invoices ADD CONSTRAINT invoices_gross CHECK (amount = net + tax);

ALTER TABLE credit_notes ADD COLUMN net NUMERIC(14, 2);
ALTER TABLE credit_notes ADD COLUMN tax NUMERIC(14, 2) NOT NULL DEFAULT 0;
UPDATE credit_notes SET net = amount;
CREATE FUNCTION credit_note_net() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.net IS NULL THEN NEW.net := NEW.amount - NEW.tax; END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER credit_note_net BEFORE INSERT ON credit_notes FOR EACH ROW EXECUTE FUNCTION credit_note_net();
ALTER TABLE credit_notes ALTER COLUMN net SET NOT NULL;
ALTER TABLE credit_notes ADD CONSTRAINT credit_notes_gross CHECK (amount = net + tax);

-- What the credit check held (gross, with tax) for what net: a change's new net total is held at
-- the same proportion.
ALTER TABLE credit_holds ADD COLUMN net_total NUMERIC(14, 2);
ALTER TABLE credit_holds ADD COLUMN gross_total NUMERIC(14, 2);

INSERT INTO tax_rates (country, tax_class, rate_pct) VALUES
 ('DE', 'standard', 19), ('DE', 'reduced', 7),
 ('FR', 'standard', 20), ('FR', 'reduced', 5.5),
 ('SE', 'standard', 25), ('SE', 'reduced', 12),
 ('NL', 'standard', 21), ('NL', 'reduced', 9),
 ('PL', 'standard', 23), ('PL', 'reduced', 8),
 ('GB', 'standard', 20), ('GB', 'reduced', 5)
ON CONFLICT DO NOTHING;

-- Demo: the Swedish customer billed in SEK (credit limit in SEK), its prices and bank account.
INSERT INTO customers (customer_id, name, credit_limit, payment_terms_days, max_discount_pct, currency) VALUES
 ('CUST-SVEA', 'Svea Verktyg AB', 500000.00, 30, 5, 'SEK')
ON CONFLICT DO NOTHING;
INSERT INTO price_list_prices (sku, currency, list_price) VALUES
 ('SKU-BOLT-M8', 'SEK', 145.00), ('SKU-GEAR-40', 'SEK', 520.00), ('SKU-MOTOR-1K', 'SEK', 3690.00),
 ('SKU-PUMP-X', 'SEK', 14400.00), ('SKU-VALVE-3', 'SEK', 1035.00)
ON CONFLICT DO NOTHING;
INSERT INTO customer_bank_accounts (iban, customer_id) VALUES ('SE3550000000054910000003', 'CUST-SVEA')
ON CONFLICT DO NOTHING;

-- Returns after delivery and a person's corrections: what each credit note is for.
ALTER TABLE credit_notes ADD COLUMN kind TEXT NOT NULL DEFAULT 'cancellation'
    CHECK (kind IN ('cancellation', 'return', 'manual'));
ALTER TABLE credit_notes ADD COLUMN rma TEXT;
ALTER TABLE refunds ADD COLUMN rma TEXT;
CREATE INDEX credit_notes_by_rma ON credit_notes (rma) WHERE rma IS NOT NULL;

-- One settlement per returned RMA (credit notes + refunds), however often SettleReturn comes.
CREATE TABLE return_settlements (
    rma           TEXT PRIMARY KEY,
    order_id      TEXT NOT NULL,
    credited      NUMERIC(14, 2) NOT NULL,
    credited_net  NUMERIC(14, 2) NOT NULL,
    refunded      NUMERIC(14, 2) NOT NULL,
    credit_notes  JSONB NOT NULL DEFAULT '[]',
    settled_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
