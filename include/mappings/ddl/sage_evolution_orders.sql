-- Staging tables for Sage 200 Evolution orders (include/mappings/sage_evolution.yaml).
-- Evolution's SDK is Windows-only, so the Airflow side writes each web order here in one transaction and an
-- importer on the Evolution side (an SDK job, or Evolution's own import) turns NEW rows into sales orders or
-- quotations (SalesOrder / SalesOrderQuotation with ExternalOrderNo = ExtOrderNum), then sets Status = 'IMPORTED'
-- and OrderNum. Never insert web orders into InvNum / _btblInvoiceLines directly: that skips numbering,
-- reservations, QtyOnSO, tax and credit checks.
-- Create these in the company database (SQL Server: {identity} = INT IDENTITY(1,1) PRIMARY KEY) and give the
-- order connection (orders.conn_id) INSERT and SELECT on them; the extract login stays read-only.
CREATE TABLE S2S_OrderImport (
    ImportID {identity},
    ExtOrderNum VARCHAR(100) NOT NULL UNIQUE,
    DocType VARCHAR(20) NOT NULL,
    OrderDate DATE NOT NULL,
    Account VARCHAR(20) NOT NULL,
    AccountName VARCHAR(150),
    Email VARCHAR(200),
    WarehouseCode VARCHAR(20),
    DelAddress1 VARCHAR(100),
    DelAddress2 VARCHAR(100),
    DelCity VARCHAR(100),
    DelPostalCode VARCHAR(20),
    DelCountry VARCHAR(60),
    Message VARCHAR(500),
    OrdTotExcl DECIMAL(14, 2) NOT NULL,
    OrdTotTax DECIMAL(14, 2) NOT NULL,
    OrdTotIncl DECIMAL(14, 2) NOT NULL,
    Status VARCHAR(20) NOT NULL,
    OrderNum VARCHAR(50)
);
CREATE TABLE S2S_OrderImportLines (
    ExtOrderNum VARCHAR(100) NOT NULL,
    LineNo INTEGER NOT NULL,
    StockCode VARCHAR(40) NOT NULL,
    Description VARCHAR(200),
    Quantity DECIMAL(12, 3) NOT NULL,
    UnitPriceExcl DECIMAL(12, 2) NOT NULL,
    TaxCode VARCHAR(10),
    LineTax DECIMAL(12, 2) NOT NULL,
    LineTotExcl DECIMAL(14, 2) NOT NULL,
    WarehouseCode VARCHAR(20),
    PRIMARY KEY (ExtOrderNum, LineNo)
);
