INSERT INTO stock (sku, name, on_hand, weight_kg, reorder_point) VALUES
 ('SKU-BOLT-M8',  'Hex bolt M8, box of 100', 5000, 1.200, 200),
 ('SKU-GEAR-40',  'Spur gear 40T',           2000, 0.800, 100),
 ('SKU-MOTOR-1K', 'Electric motor 1 kW',      400, 12.000, 20),
 ('SKU-PUMP-X',   'Hydraulic pump X',         100, 25.000, 5),
 ('SKU-VALVE-3',  'Valve DN32',                 4, 2.500, 10)
ON CONFLICT DO NOTHING;
INSERT INTO stock_movements (sku, delta_on_hand, reason)
SELECT sku, on_hand, 'opening balance' FROM stock;
