-- custom_database on PostgreSQL: variants of one product that disagree on title and on option 1's name.
DROP TABLE IF EXISTS bad_variants;
CREATE TABLE bad_variants (product_code VARCHAR(40), sku VARCHAR(40), title VARCHAR(100), price DECIMAL(12, 2), qty INTEGER, opt_name VARCHAR(20), opt_value VARCHAR(20));
INSERT INTO bad_variants VALUES ('TEE', 'TEE-S', 'Classic Tee', 199.00, 3, 'Size', 'S');
INSERT INTO bad_variants VALUES ('TEE', 'TEE-M', 'Classic Tee', 199.00, 3, 'Size', 'M');
INSERT INTO bad_variants VALUES ('TEE', 'TEE-RED', 'Classic Tee', 199.00, 3, 'Colour', 'Red');
INSERT INTO bad_variants VALUES ('CAP', 'CAP-S', 'Cap', 99.00, 3, 'Size', 'S');
INSERT INTO bad_variants VALUES ('CAP', 'CAP-M', 'Baseball Cap', 99.00, 3, 'Size', 'M');
