-- How each customer wants to be told about its orders (services/sales/notifications.py).
ALTER TABLE customers ADD COLUMN email TEXT;
ALTER TABLE customers ADD COLUMN phone TEXT;
ALTER TABLE customers ADD COLUMN language TEXT NOT NULL DEFAULT 'en';
ALTER TABLE customers ADD COLUMN notification_channel TEXT NOT NULL DEFAULT 'email'
    CHECK (notification_channel IN ('email', 'sms', 'letter'));

UPDATE customers SET email = 'einkauf@acme.example', language = 'de' WHERE customer_id = 'CUST-ACME';
UPDATE customers SET email = 'achats@boltnut.example', language = 'fr' WHERE customer_id = 'CUST-BOLT';
UPDATE customers SET phone = '+46701234567', email = 'inkop@nordic.example', language = 'sv',
                     notification_channel = 'sms' WHERE customer_id = 'CUST-NORD';
UPDATE customers SET email = 'hello@tiny.example', language = 'en' WHERE customer_id = 'CUST-TINY';
UPDATE customers SET language = 'de', notification_channel = 'letter' WHERE customer_id = 'CUST-SLOW';
UPDATE customers SET email = 'order@svea.example', language = 'sv' WHERE customer_id = 'CUST-SVEA';
