INSERT INTO customers (customer_id, name, default_address) VALUES
 ('CUST-SLOW', 'Slow Payer Corp', '{"name": "Slow Payer Corp", "street": "Hauptplatz 3", "city": "Munich", "postal_code": "80331", "country": "DE"}')
ON CONFLICT DO NOTHING;
