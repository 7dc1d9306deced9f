-- Currency (services/sales/intake.py): each customer is billed in its currency, each order is in its
-- customer's currency, priced from that currency's price list. products.list_price stays the EUR price;
-- product_prices holds the other currencies' (an EUR row there overrides list_price).
ALTER TABLE customers ADD COLUMN currency TEXT NOT NULL DEFAULT 'EUR' CHECK (currency ~ '^[A-Z]{3}$');
ALTER TABLE orders ADD COLUMN currency TEXT NOT NULL DEFAULT 'EUR';

CREATE TABLE product_prices (
    sku         TEXT NOT NULL REFERENCES products,
    currency    TEXT NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    list_price  NUMERIC(14, 2) NOT NULL CHECK (list_price >= 0),
    PRIMARY KEY (sku, currency)
);

-- Demo: a Swedish customer billed in SEK, and SEK prices for the demo products.
INSERT INTO customers (customer_id, name, default_address, currency) VALUES
 ('CUST-SVEA', 'Svea Verktyg AB', '{"name": "Svea Verktyg AB", "street": "Drottninggatan 7", "city": "Göteborg", "postal_code": "41114", "country": "SE"}', 'SEK')
ON CONFLICT DO NOTHING;
INSERT INTO product_prices (sku, currency, list_price) VALUES
 ('SKU-BOLT-M8', 'SEK', 145.00), ('SKU-GEAR-40', 'SEK', 520.00), ('SKU-MOTOR-1K', 'SEK', 3690.00),
 ('SKU-PUMP-X', 'SEK', 14400.00), ('SKU-VALVE-3', 'SEK', 1035.00)
ON CONFLICT DO NOTHING;
