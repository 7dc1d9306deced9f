-- Demo carriers with the daily capacity of real parcel networks; the first seed's hundreds ran
-- out within one benchmark run (orders were then, correctly, cancelled for want of a carrier).
UPDATE carriers SET daily_capacity = 20000 WHERE carrier_id = 'SWIFT';
UPDATE carriers SET daily_capacity = 50000 WHERE carrier_id = 'EUROFR';
UPDATE carriers SET daily_capacity = 10000 WHERE carrier_id = 'NORDIC';
