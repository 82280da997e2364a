-- custom_database on SQLite: two items share one SKU, one has no title and one no SKU at all.
DROP TABLE IF EXISTS bad_items;
CREATE TABLE bad_items (code VARCHAR(40), sku VARCHAR(40), title VARCHAR(100), price DECIMAL(12, 2), qty INTEGER, active VARCHAR(10));
INSERT INTO bad_items VALUES ('P1', 'SKU-1', 'Hammer', 120.00, 4, 'Active');
INSERT INTO bad_items VALUES ('P2', 'SKU-2', 'Saw', 250.00, 2, 'Active');
INSERT INTO bad_items VALUES ('P3', 'SKU-1', 'Chisel', 80.00, 1, 'Active');
INSERT INTO bad_items VALUES ('P4', 'SKU-4', NULL, 30.00, 1, 'Active');
INSERT INTO bad_items VALUES ('P5', NULL, 'Pliers', 65.00, 3, 'Active');
