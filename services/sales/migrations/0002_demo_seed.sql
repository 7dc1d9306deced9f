-- Demo master data (the same customers and products are seeded in every department).
INSERT INTO customers (customer_id, name, default_address) VALUES
 ('CUST-ACME', 'Acme Manufacturing GmbH', '{"name": "Acme Manufacturing GmbH", "street": "Industriestr. 5", "city": "Berlin", "postal_code": "10115", "country": "DE"}'),
 ('CUST-BOLT', 'Bolt & Nut Distributors', '{"name": "Bolt & Nut Distributors", "street": "12 Rue de la Paix", "city": "Lyon", "postal_code": "69001", "country": "FR"}'),
 ('CUST-NORD', 'Nordic Retail AB', '{"name": "Nordic Retail AB", "street": "Kungsgatan 1", "city": "Stockholm", "postal_code": "11143", "country": "SE"}'),
 ('CUST-TINY', 'Tiny Startup Ltd', '{"name": "Tiny Startup Ltd", "street": "1 Old Street", "city": "London", "postal_code": "EC1V 9HL", "country": "GB"}')
ON CONFLICT DO NOTHING;

INSERT INTO products (sku, name, list_price) VALUES
 ('SKU-BOLT-M8',  'Hex bolt M8, box of 100', 12.50),
 ('SKU-GEAR-40',  'Spur gear 40T',           45.00),
 ('SKU-MOTOR-1K', 'Electric motor 1 kW',     320.00),
 ('SKU-PUMP-X',   'Hydraulic pump X',        1250.00),
 ('SKU-VALVE-3',  'Valve DN32',              89.90)
ON CONFLICT DO NOTHING;
