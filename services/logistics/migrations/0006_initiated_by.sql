-- Who asked for a change of delivery (the envelope's initiated_by: subject, name, role).
ALTER TABLE delivery_changes ADD COLUMN initiated_by JSONB;
