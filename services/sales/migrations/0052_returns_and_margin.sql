-- Returns after delivery (RMA numbers) and the exchange rates an order's margin is converted at
-- (per unit of the currency, in the base currency EUR; fixed on the order when it is placed).
CREATE SEQUENCE rma_number_seq;

CREATE TABLE exchange_rates (
    currency  TEXT PRIMARY KEY CHECK (currency ~ '^[A-Z]{3}$'),
    eur_rate  NUMERIC(18, 8) NOT NULL CHECK (eur_rate > 0)
);
INSERT INTO exchange_rates (currency, eur_rate) VALUES
 ('EUR', 1), ('SEK', 0.087), ('GBP', 1.17), ('USD', 0.92), ('PLN', 0.23), ('CHF', 1.05)
ON CONFLICT DO NOTHING;

CREATE INDEX orders_with_returns ON orders ((jsonb_array_length(COALESCE(saga->'returns', '[]')) > 0));
