-- A reservation legitimately waiting (a prepayment window, a supplier's promised date) is held
-- until then: its time-to-live counts from the later of its last activity and `hold_until`.
ALTER TABLE reservations ADD COLUMN hold_until TIMESTAMPTZ;
