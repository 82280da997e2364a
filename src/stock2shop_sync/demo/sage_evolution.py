"""A Sage Evolution company: a running-gear retailer's stock, 10,000 items, in the ERP's own tables and columns.

Tables (a subset of each one's columns): ``StkItem`` (with site UDFs ``ucIIS2SActive``, ``ucIIS2SGroup``,
``ucIISize``, ``ucIIColour``, ``ucIIBrand``, ``ufIIWeight``), ``GrpTbl``, ``WhseMst``, ``WhseStk``,
``_etblPriceListName``, ``_etblPriceListPrices`` and ``Client``. Written over ODBC to SQLite, PostgreSQL or
MariaDB with portable DDL, so the preset's SQL runs unchanged on each, as it would on SQL Server.

Hand-written rows (``ITEMS``, StockLinks 1001-1703; the preset tests assert on them field by field) show each
pattern once, then a generated bulk (StockLinks from 2001, a fixed random seed: every database and every run get
the same rows) brings the company to :data:`ITEM_COUNT` items with the patterns at a real company's rates:

- **Variants with their own descriptions.** Size/colour items grouped by the UDF ``ucIIS2SGroup``, with
  ``ucIISize``/``ucIIColour``; most groups give each item its own ``Description_1`` ("Pace Tee Red S",
  "Pace Tee Blue M"), the others repeat the product's; the shorts' two items are typed differently ("Race Shorts
  5 in" / "5in"). ``title_rule: common_prefix`` makes the product's title of the words they share.
- **Fractional stock** (~2%): items sold by the metre or kilogram (laces, tape, cord) hold 2.5 or 0.75 on hand.
- **Inactive items** (~3%, ``ItemActive = 0``; whole products, as a range is discontinued) still published by
  the UDF; **service items** (~1%, ``ServiceItem = 1``: delivery, gait analysis, race entries), most of them
  published by the UDF too. The preset reads both flags; the site rules decide (sent inactive, not sent).
- **Missing price-list rows** (~2% of items have no Trade row; one item has no price at all), prices for a list the
  site does not sync (Staff), branch prices (warehouse 2) that are not the tier price, and prices with more
  decimals than cents: Evolution keeps 4, and items priced including VAT hold ``incl / 1.15`` (414.4870).
- **Text as an ERP holds it**: control characters typed or pasted into a few descriptions (a BEL, a vertical tab,
  a form feed), cp1252 text stored as Unicode ("Crème Brûlée", en dashes, "½"), codes with trailing spaces and in
  lower case, the publish UDF in any case, NULLs in optional columns (barcode, brand, weight, colour).
- **Stock** in a warehouse the site does not count (QC), reserved and on sales orders, some oversold.

Deliberately bad (quarantined by the run, the only ones): GAITER-TRAIL, a new item without any price yet, and the
two VEST-RACE items, whose size UDF was copied from one to the other (two variants, one option value). Of the
customers, NOEMAIL05 has no e-mail address.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from stock2shop_sync.demo import insert_rows

TS = "2026-11-01 08:00:00"
#: Items in the company (hand-written and generated).
ITEM_COUNT = 10_000
#: The generated bulk's random seed: the same rows on every database and in every run.
RANDOM_SEED = 20261101
#: StockLink of the first generated item.
FIRST_GENERATED = 2001

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

GROUPS = [
    (1, "APP", "Apparel"), (2, "FOOT", "Footwear"), (3, "ACC", "Accessories"), (4, "SRV", "Services"),
    (5, "NUTR", "Nutrition"), (6, "TECH", "Electronics"), (7, "CONS", "Sold by length"),
]  # fmt: skip
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
    # Each size/colour item with its own description: the product is titled "Pace Tee".
    (1501, "PACE-TEE-RED-S", "Pace Tee Red S", "APP", "Active", "PACE-TEE", "S", "Red", "Stride", 150, None, 0),
    (1502, "PACE-TEE-RED-M", "Pace Tee Red M", "APP", "Active", "PACE-TEE", "M", "Red", "Stride", 155, None, 0),
    (1503, "PACE-TEE-BLU-M", "Pace Tee Blue M", "APP", "Active", "PACE-TEE", "M", "Blue", "Stride", 155, None, 0),
    (1504, "PACE-TEE-BLU-L", "Pace Tee Blue L", "APP", "Active", "PACE-TEE", "L", "Blue", "Stride", 160, None, 0),
    # The words they share end in a dash (cp1252's en dash): "Merino Crew Sock".
    (1511, "SOCK-MERINO-S", "Merino Crew Sock – 4-7", "ACC", "Active", "SOCK-MERINO", "4-7", None, "Stride", 60,
     None, 0),
    (1512, "SOCK-MERINO-M", "Merino Crew Sock – 8-11", "ACC", "Active", "SOCK-MERINO", "8-11", None, "Stride", 65,
     None, 0),
    (1513, "SOCK-MERINO-L", "Merino Crew Sock – 12-14", "ACC", "Active", "SOCK-MERINO", "12-14", None, "Stride", 70,
     None, 0),
    (1601, "LACE-ELASTIC", "Elastic Laces (per m)", "CONS", "Active", None, None, None, "Stride", 5, None, 0),
    (1602, "HEADLAMP-200", "Head Torch 200 lm", "TECH", "Active", None, None, None, "Lumo", 95, None, 0),  # inactive
    (1603, "GAIT-ANALYSIS", "Gait analysis session", "SRV", "Active", None, None, None, None, None, None, 1),
    (1604, "GPS-STRAP-22", "GPS Watch Strap 22mm", "TECH", "Active", None, None, None, "Lumo", 25, None, 0),
    (1605, "ARMBAND-PHONE", "Phone Armband\x07", "ACC", "Active", None, None, None, "Stride", 45, None, 0),
    (1606, "FOAM-ROLLER", "Foam Roller 45 cm\x0b", "ACC", "Active", None, None, None, "Stride", 420, None, 0),
    (1607, "FLASK-SOFT-500", "Soft Flask ½ L – Smoke", "ACC", "Active", None, None, None, "Hydro", 30, None, 0),
    # Deliberately bad: a new item not priced yet, and a size UDF copied from one item to the next.
    (1701, "GAITER-TRAIL", "Trail Gaiters", "ACC", "Active", None, None, None, "Trailhawk", 70, None, 0),
    (1702, "VEST-RACE-S", "Race Vest 5 L", "ACC", "Active", "VEST-RACE", "S", None, "Trailhawk", 250, None, 0),
    (1703, "VEST-RACE-M", "Race Vest 5 L", "ACC", "Active", "VEST-RACE", "S", None, "Trailhawk", 260, None, 0),
]  # fmt: skip

#: StockLinks of the hand-written items the ERP marks inactive (``ItemActive = 0``); all others are active.
INACTIVE = {1602}

# StockLink -> (JHB on hand, on SO, reserved), (CPT on hand, on SO, reserved), QC on hand
STOCK: dict[int, tuple[tuple[float, float, float] | None, tuple[float, float, float] | None, float | None]] = {
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
    1501: ((8, 0, 0), (3, 0, 0), None),
    1502: ((11, 1, 0), None, None),
    1503: ((6, 0, 0), (2, 0, 0), None),
    1504: ((4, 0, 0), (1, 0, 0), None),
    1511: ((30, 0, 0), (12, 0, 0), None),
    1512: ((45, 2, 0), (18, 0, 0), None),
    1513: ((9, 0, 0), None, None),
    1601: ((2.5, 0, 0), (0.75, 0, 0), None),  # metres of lace: 2 and 0 are sent, each with a warning
    1602: ((3, 0, 0), None, None),
    1604: ((8, 0, 0), (2, 0, 0), None),
    1605: ((15, 0, 0), (4, 0, 0), None),
    1606: ((9, 1, 0), (3, 0, 0), None),
    1607: ((60, 0, 0), (25, 0, 0), None),
    1701: ((10, 0, 0), None, None),
    1702: ((5, 0, 0), None, None),
    1703: ((4, 0, 0), None, None),
}

# StockLink -> Retail excl, Trade excl (None = no price on that list); GAITER-TRAIL (1701) has no price at all
PRICES: dict[int, tuple[float, float | None]] = {
    1001: (349.00, 260.00), 1002: (349.00, 260.00), 1003: (349.00, 260.00), 1004: (349.00, None),
    1101: (1899.00, 1500.00), 1102: (1899.00, 1500.00), 1103: (1899.00, 1500.00),
    1201: (199.00, 150.00), 1202: (129.50, 99.00), 1203: (399.00, 300.00), 1204: (49.00, 35.00),
    1205: (32.00, 24.00), 1301: (449.00, 340.00), 1302: (449.00, 340.00), 1401: (150.00, 150.00),
    1501: (299.00, 225.00), 1502: (299.00, 225.00), 1503: (299.00, 225.00), 1504: (299.00, 225.00),
    1511: (189.00, 140.00), 1512: (189.00, 140.00), 1513: (189.00, 140.00),
    1601: (12.50, 9.00), 1602: (499.00, 380.00), 1603: (350.00, 350.00),
    1604: (414.488, 310.2449),  # more decimals than cents: 414.49 and 310.24 are sent
    1605: (249.00, 180.00), 1606: (399.00, 300.00), 1607: (219.00, 165.00),
    1702: (899.00, 680.00), 1703: (899.00, 680.00),
}  # fmt: skip

CLIENTS = [
    (1, "RUNCLUB01", "Soweto Running Club", "Bongani Zulu", "bongani@sowetorunners.co.za", 0, None),
    (2, "TRISHOP02", "Tri Shop Stellenbosch", "Anke van Wyk", "anke@trishop.co.za", 0, None),
    (3, "GYM0003", "Fit Factory Gym", "", "orders@fitfactory.co.za", 0, None),
    (4, "OLDACC04", "Closed Account (Pty) Ltd", "N/A", "closed@example.com", 1, None),
    (5, "NOEMAIL05", "Karoo Marathon Shop", "Riaan Botha", None, 0, None),
    (6, "WEB0006", "Online Cash Sales", "Web Sales", "web@example.com", 0, "Ignore"),
]
#: How many generated trade accounts follow the hand-written ones (running clubs, shops, gyms; a few on hold).
GENERATED_CLIENTS = 240
_CLIENT_KINDS = ["Running Club", "Sports", "Outdoor", "Tri Shop", "Gym", "Athletics Club", "Cycle & Run"]
_TOWNS = ["Durban", "Pretoria", "Bloemfontein", "Gqeberha", "Polokwane", "Nelspruit", "George", "Kimberley", "Paarl"]
_PEOPLE = ["Thandi Mokoena", "Pieter Joubert", "Ayesha Patel", "Sipho Ndlovu", "Marí Steyn", "Lerato Khumalo"]


def _clients(rng: random.Random) -> list[tuple[Any, ...]]:
    """The hand-written accounts, then generated trade accounts (about 2% on hold), all with an e-mail address."""
    rows = list(CLIENTS)
    for n in range(1, GENERATED_CLIENTS + 1):
        town, kind = rng.choice(_TOWNS), rng.choice(_CLIENT_KINDS)
        account = f"TR{n:05d}"
        slug = f"{town}{kind}".lower().replace(" ", "").replace("&", "and")
        contact = rng.choice(_PEOPLE) if rng.random() > 0.1 else ""
        rows.append((len(rows) + 1, account, f"{town} {kind}", contact, f"orders@{slug}{n}.co.za",
                     1 if rng.random() < 0.02 else 0, None))  # fmt: skip
    return rows


@dataclass
class Item:
    """One ``StkItem`` row with its price-list and warehouse rows."""

    link: int
    code: str
    title: str
    group: str
    udf_active: str | None = "Active"
    udf_group: str | None = None
    size: str | None = None
    colour: str | None = None
    brand: str | None = None
    grams: float | None = None
    barcode: str | None = None
    service: int = 0
    active: int = 1
    description_2: str | None = None
    #: price list id -> price excl. for all warehouses (warehouse 0)
    prices: dict[int, float] = field(default_factory=dict)
    #: a Retail price for the Cape Town store (warehouse 2) only
    branch_price: float | None = None
    #: warehouse id -> (on hand, on sales order, reserved)
    stock: dict[int, tuple[float, float, float]] = field(default_factory=dict)

    def row(self) -> tuple[Any, ...]:
        return (
            self.link, self.code, self.title, self.description_2, self.active, self.service, 1 - self.service,
            self.barcode, self.group, self.udf_active, self.udf_group, self.size, self.colour, self.brand,
            self.grams, TS, TS,
        )  # fmt: skip


def _hand_written() -> list[Item]:
    items = []
    for link, code, title, group, active, s2s_group, size, colour, brand, grams, barcode, service in ITEMS:
        item = Item(link, code, title, group, active, s2s_group, size, colour, brand, grams, barcode, service)
        item.active = 0 if link in INACTIVE else 1
        if link in PRICES:
            retail, trade = PRICES[link]
            item.prices = {1: retail, **({2: trade} if trade is not None else {}), 3: round(retail * 0.7, 2)}
            item.branch_price = retail + 10  # a branch-specific price the preset must not take as the tier price
        jhb, cpt, qc = STOCK.get(link, (None, None, None))
        for whse, qty in ((1, jhb), (2, cpt), (3, (qc, 0, 0) if qc is not None else None)):
            if qty is not None:
                item.stock[whse] = qty
        items.append(item)
    return items


# ---- The generated bulk -----------------------------------------------------------------------------------------

_MODELS = [
    "Tempo", "Aero", "Swift", "Ridge", "Coastal", "Velocity", "Pulse", "Drift", "Karoo", "Cederberg", "Outeniqua",
    "Amatola", "Magalies", "Kloof", "Fynbos", "Protea", "Baobab", "Sable", "Kudu", "Impala", "Duiker", "Springbok",
    "Zephyr", "Nimbus", "Stratus", "Apex", "Vertex", "Horizon", "Meridian", "Summit",
]  # fmt: skip
_APPAREL_BRANDS = ["Stride", "Kinetix", "Trailhawk", "Nordvik", "Pacer", "Veld & Vlei"]
#: One-word colours (the title rule compares words) and their code in the item code.
_COLOURS = {
    "Black": "BLK", "White": "WHT", "Red": "RED", "Navy": "NVY", "Charcoal": "CHR", "Volt": "VLT", "Coral": "CRL",
    "Teal": "TEL", "Olive": "OLV", "Grey": "GRY", "Blue": "BLU", "Orange": "ORG", "Pink": "PNK", "Purple": "PRP",
    "Khaki": "KHK", "Sand": "SND", "Burgundy": "BRG", "Mint": "MNT", "Lime": "LIM", "Cobalt": "CBT",
}  # fmt: skip
_GENDERS = {"M": "Men's", "W": "Women's", "U": "Unisex"}
_APPAREL_SIZES = {"M": ["S", "M", "L", "XL", "XXL"], "W": ["XS", "S", "M", "L", "XL"], "U": ["XS", "S", "M", "L", "XL"]}
# type, code, grams, retail price range, for whom
_APPAREL = [
    ("Running Tee", "TEE", 150, (299, 549), "MWU"), ("Singlet", "SGL", 100, (249, 449), "MW"),
    ("Long Sleeve Top", "LST", 210, (399, 699), "MWU"), ("½-Zip Top", "HZT", 260, (599, 999), "MW"),
    ("Race Shorts 5in", "RS5", 110, (349, 599), "MW"), ("Trail Shorts 7in", "TS7", 140, (399, 649), "MW"),
    ("Running Tights", "TGT", 220, (549, 899), "MW"), ("3/4 Tights", "TQT", 190, (499, 799), "MW"),
    ("Wind Jacket", "WJK", 180, (899, 1599), "MWU"), ("Rain Jacket", "RJK", 320, (1499, 2999), "MWU"),
    ("Gilet", "GIL", 160, (699, 1199), "MW"), ("Sports Bra", "BRA", 90, (399, 799), "W"),
    ("Hoodie", "HOD", 480, (699, 1199), "MWU"), ("Track Pants", "TRP", 380, (599, 999), "MWU"),
    ("Compression Shorts", "CMS", 120, (349, 599), "MW"), ("Running Skirt", "SKT", 130, (449, 699), "W"),
]  # fmt: skip
_SHOE_SIZES = {
    "M": ["6", "7", "8", "9", "10", "11", "12", "13"],
    "W": ["3", "4", "5", "6", "7", "8", "9"],
    "U": ["4", "5", "6", "7", "8", "9", "10", "11"],
}
_FOOTWEAR = [
    ("Road Shoe", "RDS", 280, (1299, 2999)), ("Trail Shoe", "TRS", 320, (1499, 3299)),
    ("Racing Flat", "RFL", 190, (1999, 3999)), ("Recovery Slide", "SLD", 220, (399, 799)),
    ("Track Spike", "SPK", 160, (999, 1999)), ("Walking Shoe", "WKS", 340, (999, 1999)),
]  # fmt: skip
_COLOURWAYS = [
    "Black/Volt", "White/Navy", "Grey/Coral", "Blue/Orange", "Black/White", "Teal/Lime", "Navy/Red", "Sand/Olive",
    "Pink/Grey", "Cobalt/White",
]  # fmt: skip
# type, code, grams, retail price range, size run
_SIZED_ACCESSORIES = [
    ("Crew Sock", "SCK", 50, (99, 179), ["3-5", "6-8", "9-12"]),
    ("No-Show Sock", "NSS", 35, (79, 149), ["3-5", "6-8", "9-12"]),
    ("Quarter Sock", "QSK", 45, (89, 159), ["3-5", "6-8", "9-12"]),
    ("Merino Trail Sock", "MTS", 65, (189, 289), ["3-5", "6-8", "9-12", "13-15"]),
    ("Compression Sock", "CSK", 80, (299, 449), ["S", "M", "L"]),
    ("Running Gloves", "GLV", 60, (199, 349), ["S", "M", "L", "XL"]),
    ("Thermal Gloves", "TGL", 80, (249, 399), ["S", "M", "L", "XL"]),
    ("Hydration Vest 5L", "HV5", 240, (999, 1699), ["XS", "S", "M", "L"]),
    ("Hydration Vest 12L", "HVT", 320, (1299, 1999), ["S", "M", "L"]),
]
# thing, grams, retail price range
_ACCESSORIES = [
    ("Water Bottle 500 ml", 90, (99, 179)), ("Water Bottle 750 ml", 120, (119, 199)),
    ("Soft Flask 250 ml", 25, (149, 249)), ("Soft Flask 500 ml", 30, (179, 279)), ("Running Cap", 80, (199, 349)),
    ("Visor", 60, (149, 249)), ("Neck Buff", 40, (129, 229)), ("Race Number Belt", 50, (99, 199)),
    ("Hydration Belt", 210, (349, 599)), ("Phone Armband", 45, (199, 349)), ("Sports Sunglasses", 30, (399, 1299)),
    ("Headband", 20, (79, 149)), ("Beanie", 70, (149, 249)), ("Arm Warmers", 60, (199, 299)),
    ("Foam Roller 33 cm", 350, (299, 499)), ("Massage Ball", 150, (99, 199)), ("Resistance Band", 80, (99, 249)),
    ("Skipping Rope", 180, (149, 299)), ("Anti-Chafe Balm 50 g", 60, (89, 159)),
    ("Sunscreen SPF50 100 ml", 120, (129, 199)), ("Blister Plasters x6", 15, (59, 99)), ("Insoles", 90, (299, 699)),
    ("Shoe Bag", 70, (99, 179)), ("Gym Bag 30 L", 600, (499, 899)),
]  # fmt: skip
_NUTRITION_BRANDS = ["Fuel", "Veldfuel", "PeakLab", "Kinetic Kitchen"]
_NUTRITION = [
    ("Energy Gel", "40 g", 40, (28, 45)), ("Energy Chews", "60 g", 60, (35, 55)),
    ("Electrolyte Tabs", "x20", 80, (119, 169)), ("Electrolyte Drink", "500 g", 520, (229, 349)),
    ("Recovery Shake", "1 kg", 1050, (499, 699)), ("Protein Bar", "60 g", 60, (32, 49)),
    ("Energy Bar", "45 g", 45, (25, 39)), ("Caffeine Gel", "40 g", 40, (32, 49)),
    ("Carb Drink", "1 kg", 1040, (399, 549)), ("Gel Box", "x24", 1000, (649, 999)),
]  # fmt: skip
_FLAVOURS = [
    "Berry", "Lemon", "Orange", "Cola", "Vanilla", "Chocolate", "Salted Caramel", "Crème Brûlée", "Piña Colada",
    "Açaí Berry", "Café Mocha", "Watermelon", "Tropical", "Mint", "Peach", "Raspberry", "Apple", "Banana",
    "Coconut", "Ginger", "Rooibos", "Naartjie", "Guava", "Litchi",
]  # fmt: skip
_TECH_BRANDS = ["Lumo", "Kinetix", "Pacer"]
_TECH = [
    ("GPS Watch Strap 20mm", 25, (299, 499)), ("GPS Watch Strap 22mm", 25, (299, 499)),
    ("Heart Rate Strap", 50, (899, 1499)), ("Head Torch 350 lm", 95, (699, 1299)),
    ("Head Torch 500 lm", 110, (999, 1599)), ("Bone Conduction Headphones", 30, (1999, 2999)),
    ("Clip Light USB", 25, (149, 299)), ("Watch Charging Cable", 20, (149, 249)),
    ("Power Bank 5000 mAh", 130, (299, 449)), ("Power Bank 10000 mAh", 210, (449, 699)),
]  # fmt: skip
# thing, widths (None: one), unit, grams per unit, price per unit
_BY_LENGTH = [
    ("Elastic Laces", [None], "m", 5, (9, 19)), ("Reflective Tape", ["12mm", "25mm", "50mm"], "m", 8, (12, 39)),
    ("Kinesiology Tape", ["2.5 cm", "5 cm", "7.5 cm"], "m", 6, (15, 35)),
    ("Bungee Cord", ["3mm", "4mm", "6mm"], "m", 10, (6, 18)), ("Webbing", ["20mm", "25mm", "38mm"], "m", 15, (8, 24)),
    ("Grip Tape", ["25mm", "50mm"], "m", 12, (19, 45)), ("Chalk Powder", [None], "kg", 1000, (149, 249)),
]  # fmt: skip
_RACES = [
    "Comrades Marathon", "Two Oceans Ultra", "Two Oceans Half", "Soweto Marathon", "Cape Town Marathon",
    "Durban 10K", "Om Die Dam 50K", "Otter Trail Run", "Jonkershoek Trail", "Karkloof 50 Miler",
    "Golden Gate Challenge", "Wild Coast Ultra", "Knysna Forest Marathon", "Loskop Marathon", "Kaapsehoop Marathon",
    "Mont-aux-Sources Challenge", "Peninsula Marathon", "Deloitte Challenge", "Sani Stagger", "Hout Bay Trail",
]  # fmt: skip
_SERVICES = [
    *(f"Courier delivery – {region}" for region in (
        "Gauteng", "Western Cape", "KwaZulu-Natal", "Eastern Cape", "Free State", "Limpopo", "Mpumalanga",
        "North West", "Northern Cape")),
    *(f"Race entry: {race}" for race in _RACES),
    *(f"Timing chip hire: {race}" for race in _RACES),
    *(f"Running clinic: {topic} ({city})" for topic in (
        "form & cadence", "trail descending", "first marathon", "strength", "hill repeats", "race-day nutrition",
        "injury prevention", "track intervals") for city in ("JHB", "CPT")),
    *(f"Coaching session – {minutes} min, {who}" for minutes in (30, 45, 60, 90) for who in ("1-on-1", "group")),
    *(f"Training plan – {distance}" for distance in ("5K", "10K", "21K", "42K", "ultra", "trail 50K")),
    *(f"Physio session – {minutes} min" for minutes in (30, 45, 60)),
    *(f"Repair: {thing}" for thing in ("zip", "hydration bladder", "watch strap pin", "jacket seam", "head torch")),
    *(f"Club membership – {period}, {who}" for period in ("monthly", "annual") for who in ("adult", "junior")),
    "Gait analysis – Johannesburg", "Gait analysis – Cape Town", "Shoe fitting – Johannesburg",
    "Shoe fitting – Cape Town", "Engraving – bottle", "Engraving – medal frame", "Gift wrapping",
]  # fmt: skip
_NOTES = [
    "Moisture-wicking", "Reflective details", "Made in South Africa", "Recycled polyester", "Online exclusive",
    "Merino blend", "Carbon plate", "Vegan friendly", "Limited edition",
]  # fmt: skip
#: Generated items of each kind, of the :data:`ITEM_COUNT`; accessories take what the others leave.
_TARGETS = {"apparel": 5200, "footwear": 2000, "sized": 450, "services": 100, "by_length": 200, "tech": 300,
            "nutrition": 900}  # fmt: skip


def _ean13(number: int) -> str:
    """A valid EAN-13 in the South African GS1 range."""
    digits = f"6009802{number:05d}"
    check = (10 - sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(digits)) % 10) % 10
    return digits + str(check)


def _nice(rng: random.Random, low: float, high: float) -> float:
    """A shelf price in the range: 349.00, 1299.00; below 100, 32.95."""
    value = rng.uniform(low, high)
    return round(value) - 0.05 if high < 100 else float(int(value / 10) * 10 + 9)


def _prices(rng: random.Random, low: float, high: float) -> dict[int, float]:
    """Retail, Trade and (for most items) Staff excl. VAT. A third are priced including VAT, as the shelf shows
    them, so Evolution holds the price excl. to 4 decimals (399.00 incl. is 346.9565)."""
    shelf = _nice(rng, low, high)
    trade_share = rng.choice([0.7, 0.75, 0.8])
    if rng.random() < 0.35:
        retail = round(shelf / 1.15, 4)
        prices = {1: retail, 2: round(retail * trade_share, 4), 3: round(retail * 0.65, 4)}
    else:
        prices = {1: shelf, 2: round(shelf * trade_share, 2), 3: round(shelf * 0.65, 2)}
    if rng.random() < 0.3:  # the Staff list is not kept up to date for everything
        del prices[3]
    return prices


def _stock(rng: random.Random, fractional: bool = False) -> dict[int, tuple[float, float, float]]:
    """Warehouse rows: Johannesburg always, Cape Town for most items, QC for a few; some oversold. Items sold by
    length hold parts of a unit."""
    if fractional:
        stock = {1: (rng.randint(0, 120) + rng.choice([0.25, 0.5, 0.75]), 0.0, 0.0)}
        if rng.random() < 0.5:
            stock[2] = (rng.randint(0, 40) + rng.choice([0.25, 0.5, 0.75]), 0.0, 0.0)
        return stock
    stock = {}
    for whse, mean, share in ((1, 15, 1.0), (2, 6, 0.65)):
        if rng.random() >= share:
            continue
        on_hand = 0 if rng.random() < 0.08 else min(int(rng.expovariate(1 / mean)), 400)
        on_order = 0 if rng.random() < 0.8 else rng.randint(1, 4)
        if rng.random() < 0.01:
            on_order = on_hand + rng.randint(1, 3)  # oversold
        reserved = 0 if rng.random() < 0.9 else rng.randint(1, 2)
        stock[whse] = (float(on_hand), float(on_order), float(reserved))
    if rng.random() < 0.02:
        stock[3] = (float(rng.randint(1, 3)), 0.0, 0.0)
    return stock


def _published(rng: random.Random) -> str | None:
    """The publish UDF as staff type it: mostly Active; a few not published, some removed from the web."""
    roll = rng.random()
    for limit, value in ((0.02, None), (0.03, "Delete"), (0.05, "active"), (0.06, "ACTIVE"), (0.065, "Active ")):
        if roll < limit:
            return value
    return "Active"


def _product(
    rng: random.Random, stem: str, title: str, group: str, brand: str | None, grams: float | None,
    price_range: tuple[float, float], sizes: list[str], colours: list[str], own_descriptions: bool,
) -> list[Item]:  # fmt: skip
    """The items of one size/colour product, grouped by the UDF ``ucIIS2SGroup`` (``stem``)."""
    prices = _prices(rng, *price_range)
    active, note = _published(rng), rng.choice(_NOTES) if rng.random() < 0.15 else None
    items = []
    for colour in colours or [None]:
        for n, size in enumerate(sizes):
            code = "-".join(part for part in (stem, _COLOURS[colour] if colour else None, size) if part)
            words = [title, colour, size] if own_descriptions else [title]
            item = Item(0, code, " ".join(w for w in words if w), group, active, stem, size, colour, brand)
            item.grams = None if grams is None else round(grams * (1 + 0.05 * n))
            item.description_2, item.prices, item.stock = note, dict(prices), _stock(rng)
            items.append(item)
    return items


def _variant_products(rng: random.Random) -> list[list[Item]]:
    products: list[list[Item]] = []
    apparel = [(g, m, t) for t in _APPAREL for g in t[4] for m in _MODELS]
    rng.shuffle(apparel)
    count = 0
    for n, (gender, model, (kind, abbr, grams, price_range, _)) in enumerate(apparel):
        if count >= _TARGETS["apparel"]:
            break
        run = _APPAREL_SIZES[gender]
        length = rng.randint(3, len(run))
        start = rng.randint(0, len(run) - length)
        colours = rng.sample(list(_COLOURS), rng.randint(2, 3)) if rng.random() < 0.7 else []
        items = _product(
            rng, f"{abbr}{n:04d}", f"{_GENDERS[gender]} {model} {kind}", "APP", rng.choice(_APPAREL_BRANDS),
            None if rng.random() < 0.04 else grams, price_range, run[start : start + length], colours,
            rng.random() < 0.65,
        )  # fmt: skip
        products.append(items)
        count += len(items)
    footwear = [(g, m, v, t, c) for t in _FOOTWEAR for g in "MWU" for m in _MODELS for v in (2, 3, 4) for c in
                _COLOURWAYS]  # fmt: skip
    rng.shuffle(footwear)
    count = 0
    for n, (gender, model, version, (kind, abbr, grams, price_range), colourway) in enumerate(footwear):
        if count >= _TARGETS["footwear"]:
            break
        run = _SHOE_SIZES[gender]
        length = rng.randint(5, len(run))
        start = rng.randint(0, len(run) - length)
        title = f"{_GENDERS[gender]} {model} {version} {kind} {colourway}"
        items = _product(
            rng, f"{abbr}{n:04d}", title, "FOOT", rng.choice(_APPAREL_BRANDS), grams, price_range,
            run[start : start + length], [], rng.random() < 0.65,
        )  # fmt: skip
        products.append(items)
        count += len(items)
    sized = [(m, t) for t in _SIZED_ACCESSORIES for m in _MODELS]
    rng.shuffle(sized)
    count = 0
    for n, (model, (kind, abbr, grams, price_range, run)) in enumerate(sized):
        if count >= _TARGETS["sized"]:
            break
        colours = rng.sample(list(_COLOURS), rng.randint(2, 3)) if rng.random() < 0.5 else []
        items = _product(
            rng, f"{abbr}{n:04d}", f"{model} {kind}", "ACC", rng.choice(_APPAREL_BRANDS), grams, price_range, run,
            colours, rng.random() < 0.65,
        )  # fmt: skip
        products.append(items)
        count += len(items)
    return products


def _simple_items(rng: random.Random, count: int) -> list[list[Item]]:
    """Items without variants: services, items sold by length, electronics, nutrition and accessories."""
    made: list[list[Item]] = []

    def simple(code: str, title: str, group: str, brand: str | None, grams: float | None, **fields: Any) -> Item:
        item = Item(0, code, title, group, fields.pop("udf_active", _published(rng)), None, None, None, brand, grams)
        for name, value in fields.items():
            setattr(item, name, value)
        made.append([item])
        return item

    for n, title in enumerate(_SERVICES[: _TARGETS["services"]]):
        price = _nice(rng, 50, 1500) if not title.startswith("Race entry") else float(rng.randint(20, 90) * 10)
        simple(f"SRV{n:04d}", title, "SRV", None, None, service=1, prices={1: price, 2: price},
               udf_active="Active" if rng.random() < 0.8 else None)  # fmt: skip
    by_length = [(t, w, c) for t in _BY_LENGTH for w in t[1] for c in (_COLOURS if t[2] == "m" else [None])]
    for n, ((thing, _, unit, grams, price_range), width, colour) in enumerate(
        rng.sample(by_length, _TARGETS["by_length"])
    ):
        title = " ".join(w for w in (thing, width, colour if unit == "m" else None, f"(per {unit})") if w)
        simple(f"CN{n:04d}", title, "CONS", rng.choice(["Stride", "Veld & Vlei"]), grams,
               prices=_prices(rng, *price_range), stock=_stock(rng, fractional=True))  # fmt: skip
    tech = [(b, m, t) for t in _TECH for b in _TECH_BRANDS for m in _MODELS]
    for n, (brand, model, (thing, grams, price_range)) in enumerate(rng.sample(tech, _TARGETS["tech"])):
        simple(f"TE{n:04d}", f"{brand} {model} {thing}", "TECH", brand, grams, prices=_prices(rng, *price_range),
               stock=_stock(rng))  # fmt: skip
    nutrition = [(b, p, f) for b in _NUTRITION_BRANDS for p in _NUTRITION for f in _FLAVOURS]
    for n, (brand, (product, pack, grams, price_range), flavour) in enumerate(
        rng.sample(nutrition, _TARGETS["nutrition"])
    ):
        simple(f"NU{n:04d}", f"{brand} {product} – {flavour} {pack}", "NUTR", brand, grams,
               prices=_prices(rng, *price_range), stock=_stock(rng))  # fmt: skip
    accessories = [(m, t, c) for t in _ACCESSORIES for m in _MODELS for c in [None, *_COLOURS]]
    for n, (model, (thing, grams, price_range), colour) in enumerate(rng.sample(accessories, count - len(made))):
        title = f"{model} {thing}" + (f" – {colour}" if colour else "")
        brand = None if rng.random() < 0.02 else rng.choice(["Stride", "Hydro", "Pacer", "Trailhawk"])
        simple(f"AC{n:04d}", title, "ACC", brand, None if rng.random() < 0.04 else grams,
               prices=_prices(rng, *price_range), stock=_stock(rng))  # fmt: skip
    return made


@cache
def generated() -> tuple[Item, ...]:
    """The generated bulk: :data:`ITEM_COUNT` less the hand-written items, StockLinks from
    :data:`FIRST_GENERATED`, with the module's patterns at their rates (see the module)."""
    rng = random.Random(RANDOM_SEED)  # noqa: S311 - demo data, not security
    products = _variant_products(rng)
    products += _simple_items(rng, ITEM_COUNT - len(ITEMS) - sum(len(p) for p in products))
    rng.shuffle(products)  # StockLinks in the order the items were created, kinds mixed
    link = FIRST_GENERATED
    for items in products:
        for item in items:
            item.link, link = link, link + 1
            # Packaged goods always have a barcode, apparel and footwear mostly, services none.
            roll = rng.random()
            if not item.service and roll < (
                1.0 if item.group in ("ACC", "TECH", "NUTR") and not item.udf_group else 0.85
            ):
                item.barcode = _ean13(item.link)
    items = [item for product in products for item in product]
    # Patterns at their rates; the few control characters go to simple stock items.
    _discontinue(rng, products, share=0.03)
    for item in rng.sample(items, int(len(items) * 0.02)):
        if item.service == 0 and 2 in item.prices:
            del item.prices[2]  # no Trade row
    for item in rng.sample(items, int(len(items) * 0.08)):
        if item.service == 0:
            item.branch_price = round(item.prices[1] + 10, 4)
    for product in rng.sample(products, int(len(products) * 0.004)):
        for item in product:
            item.code = item.code.lower()
    for item in rng.sample(items, int(len(items) * 0.005)):
        item.code += rng.choice([" ", "  "])
    plain = [i for i in items if i.group in ("ACC", "TECH") and i.udf_group is None and i.udf_active == "Active"
             and i.active]  # fmt: skip
    for item, control in zip(rng.sample(plain, 6), ["\x07", "\x07", "\x07", "\x0b", "\x0b", "\x0c"], strict=True):
        item.title += control
    return tuple(items)


def _discontinue(rng: random.Random, products: list[list[Item]], share: float) -> None:
    """Whole products discontinued in the ERP (``ItemActive = 0``), most of them still published on the web."""
    wanted = int(sum(len(p) for p in products) * share)
    for product in rng.sample(products, len(products)):
        if wanted <= 0:
            break
        if product[0].service:
            continue
        for item in product:
            item.active = 0
        wanted -= len(product)


@cache
def company() -> tuple[Item, ...]:
    """Every item of the company: the hand-written ones, then the generated bulk."""
    return (*_hand_written(), *generated())


def seed(conn: Any) -> dict[str, int]:
    """Create and fill the Evolution tables on an open ODBC connection."""
    cursor = conn.cursor()
    for statement in DDL:
        cursor.execute(statement)
    items = company()
    insert_rows(cursor, "GrpTbl", GROUPS)
    insert_rows(cursor, "WhseMst", WAREHOUSES)
    insert_rows(cursor, "_etblPriceListName", PRICE_LISTS)
    insert_rows(cursor, "StkItem", [item.row() for item in items])
    # (warehouse, StockLink, on hand, on sales order, on purchase order, reserved)
    stock = [
        (whse, item.link, on_hand, on_order, 0, reserved)
        for item in items
        for whse, (on_hand, on_order, reserved) in sorted(item.stock.items())
    ]
    insert_rows(cursor, "WhseStk", [(n, *row, TS) for n, row in enumerate(stock, start=1)])
    # (price list, StockLink, warehouse, price excl.): warehouse 0 is every warehouse's price, 2 a branch's own
    prices: list[tuple[int, int, int, float]] = []
    for item in items:
        prices += [(list_id, item.link, 0, price) for list_id, price in sorted(item.prices.items())]
        if item.branch_price is not None:
            prices.append((1, item.link, 2, item.branch_price))
    insert_rows(
        cursor,
        "_etblPriceListPrices",
        [(n, *row, round(row[3] * 1.15, 4), TS) for n, row in enumerate(prices, start=1)],
    )
    clients = _clients(random.Random(RANDOM_SEED + 1))  # noqa: S311 - demo data, not security
    insert_rows(cursor, "Client", [(*c, TS) for c in clients])
    conn.commit()
    return {"products": len(items), "customers": len(clients)}
