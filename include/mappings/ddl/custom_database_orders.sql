-- Order tables for the Custom Database preset's SQL order sink (include/mappings/custom_database.yaml).
-- Create them in the site's database, then give the order connection (orders.conn_id) INSERT and SELECT on them.
-- {identity} is the dialect's auto-numbered key; `make order-ddl SOURCE=<id>` prints this file for a source's
-- database, or substitute it by hand:
--   SQL Server: INT IDENTITY(1,1) PRIMARY KEY      PostgreSQL: SERIAL PRIMARY KEY
--   MySQL/MariaDB: INTEGER AUTO_INCREMENT PRIMARY KEY      SQLite: INTEGER PRIMARY KEY AUTOINCREMENT
-- The unique external_ref (S2S-<Stock2Shop order id>) is what the sink checks before writing, so an order is
-- never written twice even if the ledger is lost.
CREATE TABLE sales_orders (
    order_no {identity},
    external_ref VARCHAR(100) NOT NULL UNIQUE,
    order_date DATE NOT NULL,
    customer_account VARCHAR(20) NOT NULL,
    customer_name VARCHAR(120),
    email VARCHAR(120),
    total_excl DECIMAL(14, 2) NOT NULL,
    total_tax DECIMAL(14, 2) NOT NULL,
    total_incl DECIMAL(14, 2) NOT NULL,
    notes VARCHAR(500)
);
CREATE TABLE sales_order_lines (
    order_no INTEGER NOT NULL,
    line_no INTEGER NOT NULL,
    item_code VARCHAR(40) NOT NULL,
    description VARCHAR(200),
    qty DECIMAL(12, 3) NOT NULL,
    price DECIMAL(12, 2) NOT NULL,
    tax DECIMAL(12, 2) NOT NULL,
    line_total DECIMAL(14, 2) NOT NULL,
    PRIMARY KEY (order_no, line_no)
);
