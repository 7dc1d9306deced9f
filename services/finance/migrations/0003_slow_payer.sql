-- A customer whose payments do not arrive by themselves (the payment simulator never settles
-- for it in tests), for prepaid deadline scenarios.
INSERT INTO customers (customer_id, name, credit_limit, payment_terms_days, max_discount_pct) VALUES
 ('CUST-SLOW', 'Slow Payer Corp', 20000.00, 30, 5)
ON CONFLICT DO NOTHING;
