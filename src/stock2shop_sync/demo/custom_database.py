"""The demo Custom Database: tables and realistic rows, written over ODBC to SQLite, PostgreSQL or MariaDB.

``make demo`` seeds a SQLite file with it; the tests seed the PostgreSQL and MariaDB servers with the very
same rows, so one mapping must give the same payloads from each. A few rows are deliberately bad (a
duplicated item code, a blank title, a negative price, a fractional quantity, an unknown active flag, a blank
and a malformed e-mail) so the demo shows quarantine at work.

Seeded with the other presets by ``python -m stock2shop_sync.demo.create --preset custom_database --sqlite FILE``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

DDL = [
    "DROP TABLE IF EXISTS products",
    "DROP TABLE IF EXISTS product_groups",
    "DROP TABLE IF EXISTS customers",
    """CREATE TABLE product_groups (
        group_code VARCHAR(40) NOT NULL PRIMARY KEY,
        option1_name VARCHAR(40),
        option2_name VARCHAR(40),
        option3_name VARCHAR(40)
    )""",
    """CREATE TABLE products (
        id INTEGER NOT NULL PRIMARY KEY,
        item_code VARCHAR(40),
        group_code VARCHAR(40),
        description VARCHAR(200),
        category VARCHAR(80),
        brand VARCHAR(80),
        barcode VARCHAR(40),
        selling_price DECIMAL(12, 2),
        qty_on_hand DECIMAL(12, 3),
        s2s_active VARCHAR(10),
        inventory_managed SMALLINT,
        option1 VARCHAR(40),
        option2 VARCHAR(40),
        option3 VARCHAR(40),
        weight_grams INTEGER,
        updated_at TIMESTAMP
    )""",
    """CREATE TABLE customers (
        account VARCHAR(20) NOT NULL PRIMARY KEY,
        first_name VARCHAR(60),
        last_name VARCHAR(60),
        email VARCHAR(120),
        s2s_active VARCHAR(10),
        updated_at TIMESTAMP
    )""",
]

GROUPS = [
    ("TEE-CLASSIC", "Size", "Colour", None),
    ("HOODIE-ZIP", "Size", None, None),
    ("SOCK-TRAIL", "Size", "Colour", "Pack"),
]

_TS = "2026-11-01 08:00:00"


def _products() -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []

    def add(
        code: str,
        group: str | None,
        title: str | None,
        category: str,
        brand: str,
        barcode: str | None,
        price: str | None,
        qty: str | None,
        active: str | None,
        managed: int,
        o1=None,
        o2=None,
        o3=None,
        grams: int | None = None,
    ) -> None:
        rows.append(
            (
                len(rows) + 1,
                code,
                group,
                title,
                category,
                brand,
                barcode,
                None if price is None else Decimal(price),
                None if qty is None else Decimal(qty),
                active,
                managed,
                o1,
                o2,
                o3,
                grams,
                _TS,
            )
        )

    n = 0
    for size in ("S", "M", "L", "XL"):
        for colour in ("Black", "White", "Navy"):
            n += 1
            add(
                f"TEE-{colour[:3].upper()}-{size}",
                "TEE-CLASSIC",
                "Classic Cotton Tee",
                "Apparel",
                "Karoo Cotton",
                f"600100000{n:04d}",
                "249.00",
                str(5 * n % 23),
                "Active",
                1,
                size,
                colour,
                None,
                180,
            )
    for size in ("M", "L", "XL"):
        add(
            f"HOOD-ZIP-{size}",
            "HOODIE-ZIP",
            "Zip Hoodie",
            "Apparel",
            "Karoo Cotton",
            None,
            "699.00",
            {"M": "12", "L": "0", "XL": "4"}[size],
            "Active",
            1,
            size,
            None,
            None,
            650,
        )
    for size in ("6-8", "9-11"):
        for colour in ("Grey", "Olive"):
            add(
                f"SOCK-{colour[:2].upper()}-{size}",
                "SOCK-TRAIL",
                "Trail Socks",
                "Apparel",
                "Veld Outdoor",
                None,
                "129.90",
                "40",
                "Active",
                1,
                size,
                colour,
                "3-pack",
                90,
            )
    simple = [
        ("HW-HAMMER-16", "Claw Hammer 16oz", "Hardware", "Stanley", "349.95", "17"),
        ("HW-TAPE-5M", "Tape Measure 5 m", "Hardware", "Stanley", "119.00", "58"),
        ("HW-DRILL-18V", "Cordless Drill 18 V", "Power Tools", "Ryobi", "1899.00", "6"),
        ("HW-BITS-32", "Screwdriver Bit Set (32 pc)", "Hardware", "Bosch", "229.50", "23"),
        ("HW-GLOVES-L", "Work Gloves, Large", "Safety", "Dromex", "59.99", "140"),
        ("HW-GOGGLES", "Safety Goggles", "Safety", "Dromex", "89.00", "-3"),  # oversold: sent as 0, warned
        ("HW-LEVEL-600", "Spirit Level 600 mm", "Hardware", "Tork Craft", "279.00", "9"),
        ("HW-SAW-HACK", "Hacksaw 300 mm", "Hardware", "Tork Craft", "189.00", "14"),
        ("GD-HOSE-20", "Garden Hose 20 m", "Garden", "Gardena", "499.00", "11"),
        ("GD-NOZZLE", "Spray Nozzle, 7 patterns", "Garden", "Gardena", "149.00", "33"),
        ("GD-GLOVES", "Gardening Gloves  ", "Garden", "Gardena", "79.00", "60"),
        ("CF-MUG-ENAMEL", "Enamel Camp Mug — 350 ml", "Camping", "Veld Outdoor", "119.00", "25"),
    ]
    for code, title, category, brand, price, qty in simple:
        add(code, None, title, category, brand, None, price, qty, "Active", 1)
    # Lifecycle flags.
    add(
        "HW-OLD-SANDER", None, "Orbital Sander (discontinued)", "Power Tools", "Ryobi", None, "899.00", "0", "Delete", 1
    )
    add("GD-SEEDS-MIX", None, "Wildflower Seed Mix", "Garden", "Veld Outdoor", None, "35.00", "200", "Ignore", 1)
    add("CF-KETTLE", None, "Camping Kettle 1 L", "Camping", "Veld Outdoor", None, None, None, "ignore", 1)
    add("SRV-DELIVERY", None, "Delivery charge", "Services", "", None, "150.00", "0", "Active", 0)
    # Deliberately bad rows.
    add("HW-TAPE-5M", None, "Tape Measure 5 m (dup)", "Hardware", "Stanley", None, "125.00", "3", "Active", 1)
    add("HW-CLAMP-F", None, None, "Hardware", "Bosch", None, "99.00", "8", "Active", 1)
    add("HW-FILE-SET", None, "File Set (5 pc)", "Hardware", "Tork Craft", None, "-10.00", "4", "Active", 1)
    add("GD-SOIL-30L", None, "Potting Soil 30 L", "Garden", "Gardena", None, "89.00", "2.5", "Active", 1)
    add("CF-LAMP-LED", None, "LED Camp Lamp", "Camping", "Veld Outdoor", None, "299.00", "7", "Yes", 1)
    return rows


CUSTOMERS = [
    ("ACC001", "Thandi", "Nkosi", "thandi@nkosi-hardware.co.za", "Active"),
    ("ACC002", "Pieter", "van der Merwe", "pieter@vdm-bouwerk.co.za", "Active"),
    ("ACC003", "Ayesha", "Patel", "orders@patel-garden.co.za", "Active"),
    ("ACC004", "John", "Smith", "john.smith@example.com", "Delete"),
    ("ACC005", "Lerato", "Mokoena", "", "Active"),  # blank e-mail: quarantined
    ("ACC006", "Sipho", "Dlamini", "accounts(at)dlamini.co.za", "Active"),  # malformed e-mail
    ("ACC007", "Cash", "Sales", "cash@example.com", "Ignore"),
    ("ACC008", "Marié", "Du Toit", "marie@dutoit-interiors.co.za", "Active"),
    ("ACC009", "Kagiso", "Molefe", "kagiso@molefe-projects.co.za", "Active"),
    ("ACC010", "Fatima", "Hendricks", "fatima@capeflats-tools.co.za", "Active"),
    ("ACC011", "Johan", "Botha", "johan@botha-boerdery.co.za", "Active"),
    ("ACC012", "Naledi", "Khumalo", "naledi@khumalo-decor.co.za", "Active"),
]


def seed(conn: Any) -> dict[str, int]:
    """Create the demo tables on an open ODBC connection (any of the three dialects) and fill them."""
    cursor = conn.cursor()
    for statement in DDL:
        cursor.execute(statement)
    cursor.executemany("INSERT INTO product_groups VALUES (?, ?, ?, ?)", GROUPS)
    products = _products()
    cursor.executemany("INSERT INTO products VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", products)
    cursor.executemany("INSERT INTO customers VALUES (?, ?, ?, ?, ?, ?)", [(*c, _TS) for c in CUSTOMERS])
    conn.commit()
    return {"products": len(products), "customers": len(CUSTOMERS)}
