INSERT INTO suppliers (supplier_id, name) VALUES
 ('SUP-FASTEN', 'Fasteners United'), ('SUP-GEARCO', 'GearCo Industries'),
 ('SUP-MOTORS', 'Motors & Drives'), ('SUP-HYDRO', 'Hydro Components'), ('SUP-GENERAL', 'General Industrial Supply')
ON CONFLICT DO NOTHING;

INSERT INTO supplier_products (supplier_id, sku, rank, lead_time_days, unit_cost) VALUES
 ('SUP-FASTEN',  'SKU-BOLT-M8',  1, 3,  7.10), ('SUP-GENERAL', 'SKU-BOLT-M8',  2, 5,  8.00),
 ('SUP-GEARCO',  'SKU-GEAR-40',  1, 7, 28.00), ('SUP-GENERAL', 'SKU-GEAR-40',  2, 10, 31.00),
 ('SUP-MOTORS',  'SKU-MOTOR-1K', 1, 10, 210.00), ('SUP-GENERAL', 'SKU-MOTOR-1K', 2, 14, 225.00),
 ('SUP-HYDRO',   'SKU-PUMP-X',   1, 14, 800.00), ('SUP-GENERAL', 'SKU-PUMP-X',   2, 21, 860.00),
 ('SUP-HYDRO',   'SKU-VALVE-3',  1, 5,  52.00), ('SUP-GENERAL', 'SKU-VALVE-3',  2, 7,  55.00)
ON CONFLICT DO NOTHING;
