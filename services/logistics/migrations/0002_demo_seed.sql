INSERT INTO carriers (carrier_id, name, countries, base_cost, cost_per_kg, transit_days, daily_capacity) VALUES
 ('SWIFT',  'Swift Express',     '{DE,FR,GB,SE,NL,PL}', 15.00, 1.20, 1, 500),
 ('EUROFR', 'EuroFreight',       '{DE,FR,NL,PL,SE}',     8.00, 0.60, 3, 1000),
 ('NORDIC', 'Nordic Parcel',     '{SE,DE}',              6.00, 0.80, 2, 300)
ON CONFLICT DO NOTHING;
