-- custom_database on MariaDB: the table has no stock column, so the query cannot return the mapped qty.
DROP TABLE IF EXISTS bad_missing_column;
CREATE TABLE bad_missing_column (code VARCHAR(40), title VARCHAR(100), price DECIMAL(12, 2));
INSERT INTO bad_missing_column VALUES ('MC-1', 'Hammer', 120.00);
