-- Who asked (the envelope's initiated_by: subject, name, role), when a person's request caused it.
ALTER TABLE stock_movements ADD COLUMN initiated_by JSONB;
ALTER TABLE reservation_changes ADD COLUMN initiated_by JSONB;
