-- Who asked (the envelope's initiated_by: subject, name, role) for the cancellation or change that
-- credited an invoice or refunded a payment.
ALTER TABLE credit_notes ADD COLUMN initiated_by JSONB;
ALTER TABLE refunds ADD COLUMN initiated_by JSONB;
