-- Late carriers: the carrier's promised time, its tracking scans, and a re-booking (at most one
-- per shipment) when a carrier has not collected the goods by its ETA or stays silent.
ALTER TABLE shipments ADD COLUMN eta_at           TIMESTAMPTZ;   -- the carrier's promised time, if it gives one
ALTER TABLE shipments ADD COLUMN picked_up_at     TIMESTAMPTZ;   -- the carrier's pickup scan: it has the goods
ALTER TABLE shipments ADD COLUMN last_scan_at     TIMESTAMPTZ;   -- its latest tracking scan
ALTER TABLE shipments ADD COLUMN rebook_carrier   TEXT;          -- asked to take over (status 'rebooking')
ALTER TABLE shipments ADD COLUMN rebook_tried     TEXT[] NOT NULL DEFAULT '{}';
ALTER TABLE shipments ADD COLUMN rebooked_from    TEXT;          -- the carrier it was taken from (once)
ALTER TABLE shipments ADD COLUMN rebooked_at      TIMESTAMPTZ;
ALTER TABLE shipments ADD COLUMN late_reported_at TIMESTAMPTZ;   -- sales was told it is late (once)
CREATE INDEX shipments_with_carrier ON shipments (status) WHERE status IN ('in_transit', 'rebooking');
