-- custom_database on MariaDB: an active flag that is none of Ignore / Active / Delete, and a negative stock level.
DROP TABLE IF EXISTS bad_active;
CREATE TABLE bad_active (code VARCHAR(40), title VARCHAR(100), price DECIMAL(12, 2), qty INTEGER, active VARCHAR(10));
INSERT INTO bad_active VALUES ('BA-1', 'Hammer', 120.00, 4, 'Active');
INSERT INTO bad_active VALUES ('BA-2', 'Saw', 250.00, 2, 'Yes');
INSERT INTO bad_active VALUES ('BA-3', 'Chisel', 80.00, -6, 'A');
