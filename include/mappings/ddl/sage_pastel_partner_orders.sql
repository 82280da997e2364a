-- Staging tables for Sage Pastel Partner orders (include/mappings/sage_pastel_partner.yaml).
-- Pastel's SDK is Windows-only, so the Airflow side writes each web order here in one transaction and an
-- importer on the Pastel side (an SDK job or Pastel's document import) creates the document
-- (DocumentType: Sales Order, Quotation or Invoice) with HistoryLines ItemCode/Description/Qty/InclusivePrice,
-- then sets Status = 'IMPORTED' and DocumentNumber.
-- Create these in the company's Pervasive (Actian Zen) database ({identity} = IDENTITY PRIMARY KEY there) and give
-- the order connection (orders.conn_id) INSERT and SELECT on them; the extract login stays read-only.
CREATE TABLE S2S_PastelOrderImport (
    ImportID {identity},
    OrderNumber VARCHAR(100) NOT NULL UNIQUE,
    DocumentType VARCHAR(20) NOT NULL,
    DocumentDate DATE NOT NULL,
    CustomerCode VARCHAR(20) NOT NULL,
    CustomerName VARCHAR(120),
    Email VARCHAR(120),
    StoreCode VARCHAR(10) NOT NULL,
    DeliveryAddress1 VARCHAR(100),
    DeliveryAddress2 VARCHAR(100),
    DeliveryAddress3 VARCHAR(100),
    DeliveryPostalCode VARCHAR(20),
    TotalExclusive DECIMAL(14, 2) NOT NULL,
    TotalTax DECIMAL(14, 2) NOT NULL,
    TotalInclusive DECIMAL(14, 2) NOT NULL,
    Status VARCHAR(20) NOT NULL,
    DocumentNumber VARCHAR(20)
);
CREATE TABLE S2S_PastelOrderImportLines (
    OrderNumber VARCHAR(100) NOT NULL,
    LineNumber INTEGER NOT NULL,
    ItemCode VARCHAR(20) NOT NULL,
    Description VARCHAR(100),
    Qty DECIMAL(12, 3) NOT NULL,
    InclusivePrice DECIMAL(12, 2) NOT NULL,
    TaxType VARCHAR(4) NOT NULL,
    Store VARCHAR(10) NOT NULL,
    PRIMARY KEY (OrderNumber, LineNumber)
);
