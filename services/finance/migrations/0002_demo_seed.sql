INSERT INTO customers (customer_id, name, credit_limit, payment_terms_days, max_discount_pct) VALUES
 ('CUST-ACME', 'Acme Manufacturing GmbH', 50000.00, 30, 10),
 ('CUST-BOLT', 'Bolt & Nut Distributors', 20000.00, 30, 5),
 ('CUST-NORD', 'Nordic Retail AB',       100000.00, 45, 15),
 ('CUST-TINY', 'Tiny Startup Ltd',         1000.00, 14, 0)
ON CONFLICT DO NOTHING;

INSERT INTO price_list (sku, list_price) VALUES
 ('SKU-BOLT-M8', 12.50), ('SKU-GEAR-40', 45.00), ('SKU-MOTOR-1K', 320.00),
 ('SKU-PUMP-X', 1250.00), ('SKU-VALVE-3', 89.90)
ON CONFLICT DO NOTHING;
