"""A Sage Evolution company database in miniature: the ERP's own table and column names, realistic rows.

Tables (a subset of each one's columns): ``StkItem`` (with site UDFs ``ucIIS2SActive``, ``ucIIS2SGroup``,
``ucIISize``, ``ucIIColour``, ``ucIIBrand``, ``ufIIWeight``), ``GrpTbl``, ``WhseMst``, ``WhseStk``,
``_etblPriceListName``, ``_etblPriceListPrices`` and ``Client``. Written over ODBC to SQLite, PostgreSQL or
MariaDB with portable DDL, so the preset's SQL runs unchanged on each, as it would on SQL Server.

Deliberate quirks: codes with trailing spaces and mixed case, a variable product whose variants disagree on
their title, an item with no UDF set (not published), prices for a list the site does not sync, a warehouse
the site does not count, stock reserved and on sales orders.
"""

from __future__ import annotations

from typing import Any

TS = "2026-11-01 08:00:00"

DDL = [
    "DROP TABLE IF EXISTS StkItem",
    "DROP TABLE IF EXISTS GrpTbl",
    "DROP TABLE IF EXISTS WhseMst",
    "DROP TABLE IF EXISTS WhseStk",
    "DROP TABLE IF EXISTS _etblPriceListName",
    "DROP TABLE IF EXISTS _etblPriceListPrices",
    "DROP TABLE IF EXISTS Client",
    """CREATE TABLE StkItem (
        StockLink INTEGER NOT NULL PRIMARY KEY,
        Code VARCHAR(400) NOT NULL,
        Description_1 VARCHAR(100),
        Description_2 VARCHAR(100),
        ItemActive SMALLINT NOT NULL,
        ServiceItem SMALLINT NOT NULL,
        WhseItem SMALLINT NOT NULL,
        Bar_Code VARCHAR(40),
        ItemGroup VARCHAR(20),
        ucIIS2SActive VARCHAR(10),
        ucIIS2SGroup VARCHAR(40),
        ucIISize VARCHAR(20),
        ucIIColour VARCHAR(20),
        ucIIBrand VARCHAR(40),
        ufIIWeight DECIMAL(12, 3),
        StkItem_dCreatedDate TIMESTAMP,
        StkItem_dModifiedDate TIMESTAMP
    )""",
    """CREATE TABLE GrpTbl (
        idGrpTbl INTEGER NOT NULL PRIMARY KEY,
        StGroup VARCHAR(20) NOT NULL,
        Description VARCHAR(50)
    )""",
    """CREATE TABLE WhseMst (
        WhseLink INTEGER NOT NULL PRIMARY KEY,
        Code VARCHAR(10) NOT NULL,
        Name VARCHAR(50),
        DefaultWhse SMALLINT NOT NULL
    )""",
    """CREATE TABLE WhseStk (
        IdWhseStk INTEGER NOT NULL PRIMARY KEY,
        WHWhseID INTEGER NOT NULL,
        WHStockLink INTEGER NOT NULL,
        WHQtyOnHand DECIMAL(14, 3),
        WHQtyOnSO DECIMAL(14, 3),
        WHQtyOnPO DECIMAL(14, 3),
        WHQtyReserved DECIMAL(14, 3),
        WhseStk_dModifiedDate TIMESTAMP
    )""",
    """CREATE TABLE _etblPriceListName (
        IDPriceListName INTEGER NOT NULL PRIMARY KEY,
        cName VARCHAR(30) NOT NULL,
        cDescription VARCHAR(100),
        bDefault SMALLINT NOT NULL
    )""",
    """CREATE TABLE _etblPriceListPrices (
        IDPriceListPrices INTEGER NOT NULL PRIMARY KEY,
        iPriceListNameID INTEGER NOT NULL,
        iStockID INTEGER NOT NULL,
        iWarehouseID INTEGER NOT NULL,
        fExclPrice DECIMAL(14, 4),
        fInclPrice DECIMAL(14, 4),
        _etblPriceListPrices_dModifiedDate TIMESTAMP
    )""",
    """CREATE TABLE Client (
        DCLink INTEGER NOT NULL PRIMARY KEY,
        Account VARCHAR(20) NOT NULL,
        Name VARCHAR(150),
        Contact_Person VARCHAR(50),
        EMail VARCHAR(200),
        On_Hold SMALLINT NOT NULL,
        ucARS2SActive VARCHAR(10),
        Client_dModifiedDate TIMESTAMP
    )""",
]

GROUPS = [(1, "APP", "Apparel"), (2, "FOOT", "Footwear"), (3, "ACC", "Accessories"), (4, "SRV", "Services")]
WAREHOUSES = [(1, "JHB", "Johannesburg DC", 1), (2, "CPT", "Cape Town store", 0), (3, "QC", "Quality control", 0)]
PRICE_LISTS = [(1, "Retail", "Retail incl. online", 1), (2, "Trade", "Trade customers", 0), (3, "Staff", "Staff", 0)]

# StockLink, Code, Description_1, group, UDF active, UDF group, size, colour, brand, grams, barcode, service
ITEMS: list[tuple[Any, ...]] = [
    (
        1001,
        "RUN-TEE-BLK-M",
        "Dri-Fit Running Tee",
        "APP",
        "Active",
        "RUN-TEE",
        "M",
        "Black",
        "Stride",
        160,
        "6009801001001",
        0,
    ),
    (
        1002,
        "RUN-TEE-BLK-L",
        "Dri-Fit Running Tee",
        "APP",
        "Active",
        "RUN-TEE",
        "L",
        "Black",
        "Stride",
        170,
        "6009801001002",
        0,
    ),
    (
        1003,
        "RUN-TEE-RED-M ",
        "Dri-Fit Running Tee",
        "APP",
        "active",
        "RUN-TEE",
        "M",
        "Red",
        "Stride",
        160,
        "6009801001003",
        0,
    ),
    (1004, "run-tee-red-l", "Dri-Fit Running Tee", "APP", "Active", "RUN-TEE", "L", "Red", "Stride", 170, None, 0),
    (1101, "TRAIL-SHOE-8", "Trail Runner Shoe", "FOOT", "Active", "TRAIL-SHOE", "8", None, "Stride", 640, None, 0),
    (1102, "TRAIL-SHOE-9", "Trail Runner Shoe", "FOOT", "Active", "TRAIL-SHOE", "9", None, "Stride", 660, None, 0),
    (1103, "TRAIL-SHOE-10", "Trail Runner Shoe", "FOOT", "Active", "TRAIL-SHOE", "10", None, "Stride", 680, None, 0),
    (1201, "CAP-ONE", "Running Cap", "ACC", "Active", None, None, None, "Stride", 80, "6009801001201", 0),
    (1202, "BOTTLE-750", "Water Bottle 750 ml", "ACC", "Active", None, None, None, "Hydro", 120, None, 0),
    (1203, "BELT-HYDRO", "Hydration Belt", "ACC", "Delete", None, None, None, "Hydro", 210, None, 0),
    (1204, "SOCK-LOW", "Low-cut Socks (old stock)", "ACC", None, None, None, None, "Stride", 40, None, 0),
    (1205, "GEL-PACK", "Energy Gel — Crème Brûlée", "ACC", "Active", None, None, None, "Fuel", 40, None, 0),
    (1301, "SHORTS-5IN-S", "Race Shorts 5 in", "APP", "Active", "SHORTS-5IN", "S", None, "Stride", 110, None, 0),
    (1302, "SHORTS-5IN-M", "Race Shorts 5in", "APP", "Active", "SHORTS-5IN", "M", None, "Stride", 115, None, 0),
    (1401, "DELIVERY", "Courier delivery", "SRV", "Active", None, None, None, None, None, None, 1),
]

# StockLink -> (JHB on hand, on SO, reserved), (CPT on hand, on SO, reserved), QC on hand
STOCK: dict[int, tuple[tuple[int, int, int] | None, tuple[int, int, int] | None, int | None]] = {
    1001: ((20, 2, 1), (5, 0, 0), 3),
    1002: ((12, 0, 0), None, None),
    1003: ((4, 4, 0), (6, 1, 0), None),
    1004: ((0, 0, 0), (2, 0, 0), 1),
    1101: ((7, 1, 0), (1, 0, 0), None),
    1102: ((9, 0, 2), (3, 0, 0), None),
    1103: ((2, 3, 0), None, None),
    1201: ((50, 5, 0), (20, 0, 0), None),
    1202: ((35, 0, 0), (10, 0, 0), 2),
    1203: ((0, 0, 0), None, None),
    1204: ((80, 0, 0), None, None),
    1205: ((200, 20, 10), (40, 0, 0), None),
    1301: ((6, 0, 0), (2, 0, 0), None),
    1302: ((5, 0, 0), (1, 0, 0), None),
}

# StockLink -> Retail excl, Trade excl (None = no price on that list)
PRICES: dict[int, tuple[float, float | None]] = {
    1001: (349.00, 260.00), 1002: (349.00, 260.00), 1003: (349.00, 260.00), 1004: (349.00, None),
    1101: (1899.00, 1500.00), 1102: (1899.00, 1500.00), 1103: (1899.00, 1500.00),
    1201: (199.00, 150.00), 1202: (129.50, 99.00), 1203: (399.00, 300.00), 1204: (49.00, 35.00),
    1205: (32.00, 24.00), 1301: (449.00, 340.00), 1302: (449.00, 340.00), 1401: (150.00, 150.00),
}  # fmt: skip

CLIENTS = [
    (1, "RUNCLUB01", "Soweto Running Club", "Bongani Zulu", "bongani@sowetorunners.co.za", 0, None),
    (2, "TRISHOP02", "Tri Shop Stellenbosch", "Anke van Wyk", "anke@trishop.co.za", 0, None),
    (3, "GYM0003", "Fit Factory Gym", "", "orders@fitfactory.co.za", 0, None),
    (4, "OLDACC04", "Closed Account (Pty) Ltd", "N/A", "closed@example.com", 1, None),
    (5, "NOEMAIL05", "Karoo Marathon Shop", "Riaan Botha", None, 0, None),
    (6, "WEB0006", "Online Cash Sales", "Web Sales", "web@example.com", 0, "Ignore"),
]


def seed(conn: Any) -> dict[str, int]:
    """Create and fill the Evolution tables on an open ODBC connection."""
    cursor = conn.cursor()
    for statement in DDL:
        cursor.execute(statement)
    cursor.executemany("INSERT INTO GrpTbl VALUES (?, ?, ?)", GROUPS)
    cursor.executemany("INSERT INTO WhseMst VALUES (?, ?, ?, ?)", WAREHOUSES)
    cursor.executemany("INSERT INTO _etblPriceListName VALUES (?, ?, ?, ?)", PRICE_LISTS)
    cursor.executemany(
        "INSERT INTO StkItem VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (link, code, title, None, 1, service, 1 - service, barcode, group, active, s2s_group, size, colour, brand,
             grams, TS, TS)
            for link, code, title, group, active, s2s_group, size, colour, brand, grams, barcode, service in ITEMS
        ],
    )  # fmt: skip
    stock_rows, n = [], 0
    for link, (jhb, cpt, qc) in STOCK.items():
        for whse, qty in ((1, jhb), (2, cpt), (3, (qc, 0, 0) if qc is not None else None)):
            if qty is not None:
                n += 1
                stock_rows.append((n, whse, link, qty[0], qty[1], 0, qty[2], TS))
    cursor.executemany("INSERT INTO WhseStk VALUES (?, ?, ?, ?, ?, ?, ?, ?)", stock_rows)
    price_rows, n = [], 0
    for link, (retail, trade) in PRICES.items():
        for list_id, price in ((1, retail), (2, trade), (3, round(retail * 0.7, 2))):
            if price is not None:
                n += 1
                price_rows.append((n, list_id, link, 0, price, round(price * 1.15, 4), TS))
        n += 1  # a branch-specific price (warehouse 2) the preset must not take as the tier price
        price_rows.append((n, 1, link, 2, retail + 10, round((retail + 10) * 1.15, 4), TS))
    cursor.executemany("INSERT INTO _etblPriceListPrices VALUES (?, ?, ?, ?, ?, ?, ?)", price_rows)
    cursor.executemany("INSERT INTO Client VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [(*c, TS) for c in CLIENTS])
    conn.commit()
    return {"products": len(ITEMS), "customers": len(CLIENTS)}
