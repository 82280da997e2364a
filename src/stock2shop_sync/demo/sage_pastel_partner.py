"""A Sage Pastel Partner company in miniature: its own table and column names, realistic rows.

Tables (a subset of each one's columns): ``Inventory`` (``UserDefText01`` holds the Ignore/Active/Delete flag),
``InventoryGroups``, ``MultiStoreTrn`` (one row per item per store: ``ActualQty`` and the ten price lists
``SellExcl01..10``) and ``CustomerMaster``. Pervasive stores codes as fixed-width CHAR, so codes arrive padded
with spaces; the rows here carry that padding to show it is handled.
"""

from __future__ import annotations

from typing import Any

TS = "2026-11-01 08:00:00"
_SELL = ", ".join(f"SellExcl{n:02d} DECIMAL(14, 2)" for n in range(1, 11))
_SELL_INCL = ", ".join(f"SellIncl{n:02d} DECIMAL(14, 2)" for n in range(1, 11))

DDL = [
    "DROP TABLE IF EXISTS Inventory",
    "DROP TABLE IF EXISTS InventoryGroups",
    "DROP TABLE IF EXISTS MultiStoreTrn",
    "DROP TABLE IF EXISTS CustomerMaster",
    """CREATE TABLE Inventory (
        ItemCode CHAR(15) NOT NULL PRIMARY KEY,
        Description VARCHAR(40),
        Category VARCHAR(4),
        Barcode VARCHAR(20),
        Physical SMALLINT NOT NULL,
        Blocked SMALLINT NOT NULL,
        UserDefText01 VARCHAR(30),
        UserDefText02 VARCHAR(30),
        UserDefText03 VARCHAR(30),
        NettMass DECIMAL(12, 3),
        UpdatedOn TIMESTAMP
    )""",
    """CREATE TABLE InventoryGroups (
        InvGroup CHAR(3) NOT NULL PRIMARY KEY,
        Description VARCHAR(30)
    )""",
    f"""CREATE TABLE MultiStoreTrn (
        StoreCode CHAR(3) NOT NULL,
        ItemCode CHAR(15) NOT NULL,
        InvGroup CHAR(3),
        OpeningQty DECIMAL(14, 3),
        ActualQty DECIMAL(14, 3),
        {_SELL},
        {_SELL_INCL},
        PRIMARY KEY (StoreCode, ItemCode)
    )""",
    """CREATE TABLE CustomerMaster (
        CustomerCode CHAR(7) NOT NULL PRIMARY KEY,
        CustomerDesc VARCHAR(40),
        Contact VARCHAR(30),
        Email VARCHAR(60),
        Blocked SMALLINT NOT NULL,
        UpdatedOn TIMESTAMP
    )""",
]

GROUPS = [("PLB", "Plumbing"), ("ELE", "Electrical"), ("TLS", "Tools")]

# ItemCode, Description, group, flag (UserDefText01), physical, blocked, barcode, grams,
# {store: (actual qty, [prices for lists 01.. as given])}
ITEMS: list[tuple[Any, ...]] = [
    ("PVC-PIPE-20", "PVC Pipe 20mm x 3m", "PLB", "Active", 1, 0, "6001234500011", 900,
     {"001": (120, [45.50, 38.00, 41.00]), "002": (30, [47.00, 39.00, 42.00])}),
    ("PVC-ELB-20", "PVC Elbow 20mm", "PLB", "Active", 1, 0, None, 20,
     {"001": (800, [6.20, 4.90, 5.50])}),
    ("TAP-GARDEN", "Garden Tap 15mm — Brass", "PLB", "Active", 1, 0, None, 350,
     {"001": (40, [189.00, 150.00, 170.00]), "002": (-2, [195.00, 155.00, 175.00])}),
    ("CABLE-2.5", "Cable 2.5mm Twin & Earth (m)", "ELE", "Active", 1, 0, None, 110,
     {"001": (1500, [18.90, 14.50, 16.00])}),
    ("BRKR-20A", "Circuit Breaker 20A", "ELE", "active ", 1, 0, "6001234500097", 120,
     {"001": (60, [89.95, 70.00, 80.00])}),
    ("DRILL-BIT-SET", "HSS Drill Bit Set 19pc", "TLS", "Active", 1, 0, None, 700,
     {"001": (15, [349.00, 280.00, 310.00]), "002": (4, [349.00, 280.00, 310.00])}),
    ("SPANNER-13", "Spanner 13mm", "TLS", "Delete", 1, 0, None, 150,
     {"001": (0, [59.00, 45.00, 50.00])}),
    ("HAMMER-CLAW", "Claw Hammer", "TLS", None, 1, 0, None, 600,  # no flag: not published
     {"001": (22, [159.00, 120.00, 140.00])}),
    ("TAPE-PTFE", "PTFE Tape 12mm", "PLB", "Active", 1, 0, None, 10,
     {"001": (300, [None, 7.50, 8.00])}),  # no price on list 01: quarantined, price is required
    ("INSTALL-HR", "Installation (per hour)", "TLS", "Active", 0, 0, None, None,  # a service item
     {"001": (0, [450.00, 450.00, 450.00])}),
]  # fmt: skip

CUSTOMERS = [
    ("BUILD01", "Bester Builders", "Koos Bester", "koos@besterbuild.co.za", 0),
    ("PLUMB02", "Pipe Pros CC", "Nomsa Dube", "nomsa@pipepros.co.za", 0),
    ("CASH", "Cash Sales", "Counter", "", 0),
    ("OLD0099", "Dormant Account", "None", "dormant@example.com", 1),
]


def seed(conn: Any) -> dict[str, int]:
    """Create and fill the Pastel Partner tables on an open ODBC connection."""
    cursor = conn.cursor()
    for statement in DDL:
        cursor.execute(statement)
    cursor.executemany("INSERT INTO InventoryGroups VALUES (?, ?)", GROUPS)
    inventory, stores = [], []
    for code, title, group, flag, physical, blocked, barcode, grams, per_store in ITEMS:
        padded = code.ljust(15)  # CHAR(15) as Pervasive returns it
        inventory.append((padded, title, group, barcode, physical, blocked, flag, None, None, grams, TS))
        for store, (qty, prices) in per_store.items():
            excl = [*prices, *([None] * (10 - len(prices)))]
            incl = [None if p is None else round(p * 1.15, 2) for p in excl]
            stores.append((store, padded, group, qty, qty, *excl, *incl))
    cursor.executemany("INSERT INTO Inventory VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", inventory)
    cursor.executemany(f"INSERT INTO MultiStoreTrn VALUES ({', '.join(['?'] * 25)})", stores)  # noqa: S608 - placeholders only
    cursor.executemany("INSERT INTO CustomerMaster VALUES (?, ?, ?, ?, ?, ?)", [(*c, TS) for c in CUSTOMERS])
    conn.commit()
    return {"products": len(ITEMS), "customers": len(CUSTOMERS)}
