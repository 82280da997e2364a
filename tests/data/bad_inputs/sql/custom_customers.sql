-- custom_database customers on SQLite: a blank e-mail, a malformed one and a customer code used twice.
DROP TABLE IF EXISTS bad_customers;
CREATE TABLE bad_customers (account VARCHAR(20), first_name VARCHAR(40), last_name VARCHAR(40), email VARCHAR(80), active VARCHAR(10));
INSERT INTO bad_customers VALUES ('C001', 'Thandi', 'Nkosi', 'thandi@nkosi.co.za', 'Active');
INSERT INTO bad_customers VALUES ('C002', 'Pieter', 'Botha', '   ', 'Active');
INSERT INTO bad_customers VALUES ('C003', 'Aisha', 'Patel', 'aisha.patel.co.za', 'Active');
INSERT INTO bad_customers VALUES ('C001', 'Sipho', 'Dlamini', 'sipho@dlamini.co.za', 'Active');
