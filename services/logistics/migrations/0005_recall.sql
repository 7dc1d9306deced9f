-- Recall of shipments in transit (compensation of a cancellation after dispatch).
-- Shipment statuses now: requested | booked | in_transit | returning | returned | delivered | cancelled | failed.
-- `returning`: the carrier was asked to bring the goods back; `returned`: they are back at the sender.
-- Neither is an open booking, so the one_open_booking index (requested, booked) stays as it is.
ALTER TABLE shipments ADD COLUMN recall_reason        TEXT;         -- why the recall was asked for
ALTER TABLE shipments ADD COLUMN recall_requested_at  TIMESTAMPTZ;
ALTER TABLE shipments ADD COLUMN recall_refused       TEXT;         -- the carrier's last refusal, if any
ALTER TABLE shipments ADD COLUMN returned_at          TIMESTAMPTZ;
