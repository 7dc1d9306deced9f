-- Payment terms: how far finance may go beyond a customer's agreed terms in a joint review
-- (NULL: agreed + 30 days); an order's approved terms set its invoices' due dates.
ALTER TABLE customers ADD COLUMN max_payment_terms_days INT;
ALTER TABLE credit_holds ADD COLUMN payment_terms_days INT;
