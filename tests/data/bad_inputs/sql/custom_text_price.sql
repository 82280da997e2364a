-- custom_database on PostgreSQL: prices kept as text, as legacy schemas do.
DROP TABLE IF EXISTS bad_text_price;
CREATE TABLE bad_text_price (code VARCHAR(40), title VARCHAR(100), price VARCHAR(20), qty VARCHAR(20));
INSERT INTO bad_text_price VALUES ('TP-1', 'Hammer', '1,299.00', '4');
INSERT INTO bad_text_price VALUES ('TP-2', 'Saw', 'R250', '2');
INSERT INTO bad_text_price VALUES ('TP-3', 'Chisel', 'NaN', '1');
INSERT INTO bad_text_price VALUES ('TP-4', 'Pliers', '65.00', '3.5');
