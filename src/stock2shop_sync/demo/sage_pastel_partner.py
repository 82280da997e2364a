"""A Sage Pastel Partner company: a hardware wholesaler's 10,000 items in the ERP's own tables and columns.

Tables (a subset of each one's columns): ``Inventory`` (``UserDefText01`` holds the Ignore/Active/Delete flag),
``InventoryGroups``, ``MultiStoreTrn`` (one row per item per store: ``ActualQty`` and the ten price lists
``SellExcl01..10``) and ``CustomerMaster``. Pervasive stores codes as fixed-width CHAR, so codes arrive padded
with spaces; the rows here carry that padding to show it is handled. Pastel keeps item codes in capitals (so every
database sorts them alike) and descriptions to 40 characters.

Hand-written rows (``ITEMS``; the preset tests assert on them field by field) show each pattern once, then a
generated bulk (a fixed random seed: every database and every run get the same rows) brings the company to
:data:`ITEM_COUNT` items with the patterns at a real company's rates:

- **Fractional stock** (~2%): cable, chain, rope and hose sold by the metre, nails by the kilogram, sand by the
  cubic metre hold 37.5 or 0.75 in a store.
- **Blocked items** (~3%, ``Blocked = 1``) still flagged Active in the user field, and **service items** (~1%,
  ``Physical = 0``: delivery zones, tool hire, key cutting). The preset reads both; the site rules decide.
- **Missing prices**: ~2% of items have no Trade price (``SellExcl02`` NULL); lists 04-10 mostly empty; store
  002's own prices, which are not the tier prices; prices with more decimals than cents (items priced including
  VAT hold ``incl / 1.15`` to 4 decimals: 414.4870).
- **Text as an ERP holds it**: control characters in a few descriptions (a BEL, a vertical tab, a form feed),
  cp1252 text stored as Unicode ("°", "½", "²", en and em dashes), the user field in any case, NULLs in
  optional columns (barcode, mass, user fields 02/03); stock oversold in a store.

Deliberately bad (quarantined by the run, the only ones): TAPE-PTFE, with no price on the default list 01, and
PUTTY-500G, a new item whose description was not filled in.
"""

from __future__ import annotations

import itertools
import random
from functools import cache
from typing import Any

from stock2shop_sync.demo import insert_rows

TS = "2026-11-01 08:00:00"
#: Items in the company (hand-written and generated).
ITEM_COUNT = 10_000
#: The generated bulk's random seed: the same rows on every database and in every run.
RANDOM_SEED = 20261102
_SELL = ", ".join(f"SellExcl{n:02d} DECIMAL(14, 4)" for n in range(1, 11))
_SELL_INCL = ", ".join(f"SellIncl{n:02d} DECIMAL(14, 4)" for n in range(1, 11))

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

GROUPS = [
    ("PLB", "Plumbing"), ("ELE", "Electrical"), ("TLS", "Tools"), ("FAS", "Fasteners"), ("PNT", "Paint"),
    ("GDN", "Garden"), ("BLD", "Building"), ("SAF", "Safety"), ("SRV", "Services"),
]  # fmt: skip

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
    ("INSTALL-HR", "Installation (per hour)", "TLS", "Active", 0, 0, None, None,  # a service item: not sent
     {"001": (0, [450.00, 450.00, 450.00])}),
    ("HOSE-GDN-12", "Garden Hose 12mm (per m)", "GDN", "Active", 1, 0, None, 110,  # 37 and 0 are sent, with warnings
     {"001": (37.5, [22.90, 18.50, 20.00]), "002": (0.75, [23.50, 19.00, 20.50])}),
    ("GRINDER-115", "Angle Grinder 115mm 850W", "TLS", "Active", 1, 1, "6001234500158", 1900,  # blocked: inactive
     {"001": (3, [899.00, 720.00, 800.00])}),
    ("SEALANT-CLR", "Silicone Sealant Clear 280ml", "PLB", "Active", 1, 0, None, 320,  # no Trade price
     {"001": (48, [89.90, None, 80.00])}),
    ("LADDER-AL-6", "Aluminium Ladder 6 Step", "TLS", "Active", 1, 0, None, 7500,  # 414.49, 350.12 are sent
     {"001": (6, [414.488, 350.1234, 380.00])}),
    ("MASK-TAPE-24", "Masking Tape 24mm x 40m\x07", "PNT", "Active", 1, 0, None, 90,  # a BEL typed in
     {"001": (140, [34.50, 27.00, 30.00])}),
    ("LUBE-SPRAY-400", "Lubricant Spray 400ml\x0b", "TLS", "Active", 1, 0, None, 400,  # a pasted line break
     {"001": (75, [79.90, 62.00, 70.00])}),
    ("VALVE-BALL-15", "Ball Valve 15mm (½\") – Brass", "PLB", "Active", 1, 0, None, 180,
     {"001": (55, [119.00, 95.00, 105.00])}),
    ("PUTTY-500G", None, "BLD", "Active", 1, 0, None, 500,  # no description: quarantined, title is required
     {"001": (30, [49.90, 39.00, 44.00])}),
]  # fmt: skip

CUSTOMERS = [
    ("BUILD01", "Bester Builders", "Koos Bester", "koos@besterbuild.co.za", 0),
    ("PLUMB02", "Pipe Pros CC", "Nomsa Dube", "nomsa@pipepros.co.za", 0),
    ("CASH", "Cash Sales", "Counter", "", 0),
    ("OLD0099", "Dormant Account", "None", "dormant@example.com", 1),
]


# ---- The generated bulk -----------------------------------------------------------------------------------------

_BRANDS = ["Tork", "Ironveld", "ProGrip", "Bulldog", "Matla", "Sterk", "Hardex"]
_FINISHES = ["Chrome", "Matt Black", "Brushed", "White"]
_PAINT_COLOURS = [
    "Brilliant White", "Magnolia", "Sandstone", "Harvest Gold", "Ivory", "Stone Grey", "Charcoal", "Terracotta",
    "Forest Green", "Signal Red", "Navy", "Sky Blue", "Oyster", "Clay", "Pebble", "Black",
]  # fmt: skip
_THREAD = [6, 8, 10, 12, 16, 20]
# group, description template, parameters, grams, price range excl. (a shelf price), sold by ("" per unit)
_TEMPLATES: list[tuple[str, str, dict[str, list[Any]], int, tuple[float, float], str]] = [
    ("PLB", "PVC Pipe {d}mm x {l}m {c}", {"d": [20, 25, 32, 40, 50, 110], "l": [3, 6], "c": ["Class 6", "Class 9",
     "Class 12"]}, 900, (45, 420), ""),
    ("PLB", "PVC {f} {a}° {d}mm", {"f": ["Elbow", "Bend"], "a": [45, 90], "d": [20, 25, 32, 40, 50, 110]}, 40,
     (6, 85), ""),
    ("PLB", "{b} PVC {f} {d}mm", {"b": _BRANDS, "f": ["Tee", "Coupling", "End Cap", "Union", "Socket"],
     "d": [20, 25, 32, 40, 50]}, 30, (5, 60), ""),
    ("PLB", "{b} Copper {f} {d}mm", {"b": _BRANDS, "f": ["Elbow", "Tee", "Coupling", "Reducer", "Tap Connector"],
     "d": [15, 22, 28]}, 60, (18, 140), ""),
    ("PLB", "{b} Compression {f} {d}mm", {"b": _BRANDS, "f": ["Elbow", "Tee", "Coupling", "Tap Adaptor"],
     "d": [15, 22, 28]}, 80, (35, 190), ""),
    ("PLB", "{b} {v} Valve {d}mm – {m}", {"b": _BRANDS, "v": ["Ball", "Gate", "Non-Return"], "d": [15, 22, 28],
     "m": ["Brass", "Chrome"]}, 220, (90, 480), ""),
    ("PLB", "{b} {f} Mixer {x}", {"b": _BRANDS, "f": ["Basin", "Sink", "Bath", "Shower"], "x": _FINISHES}, 1400,
     (490, 2900), ""),
    ("PLB", "Geyser {l}L {k}kPa {o}", {"l": [50, 100, 150, 200], "k": [400, 600], "o": ["Horizontal", "Vertical"]},
     32000, (2900, 6900), ""),
    ("PLB", "Geyser Element {w}W {t}", {"w": [2000, 3000, 4000], "t": ["Copper", "Incoloy"]}, 600, (190, 490), ""),
    ("PLB", "Flexi Hose {d}mm x {l}mm", {"d": [15, 22], "l": [300, 400, 500, 600]}, 150, (49, 129), ""),
    ("PLB", "{p} Pipe {d}mm (per m)", {"p": ["PVC", "Copper", "HDPE"], "d": [15, 20, 22, 25, 32]}, 300, (12, 160),
     "m"),
    ("ELE", "Cable {s}mm² Twin & Earth (per m)", {"s": [1, 1.5, 2.5, 4, 6, 10, 16]}, 110, (8, 95), "m"),
    ("ELE", "Cable {s}mm² {n}-Core Surfix (per m)", {"s": [1.5, 2.5, 4], "n": [2, 3]}, 120, (12, 60), "m"),
    ("ELE", "Panel Flex {s}mm² {c} (per m)", {"s": [0.5, 1, 1.5, 2.5], "c": ["Red", "Black", "Blue", "Green"]}, 30,
     (3, 15), "m"),
    ("ELE", "{b} Circuit Breaker {a}A {p}P", {"b": _BRANDS, "a": [6, 10, 16, 20, 25, 32, 40, 50, 63], "p": [1, 2, 3]},
     120, (69, 690), ""),
    ("ELE", "{b} Earth Leakage {a}A {p}P 30mA", {"b": _BRANDS, "a": [40, 63], "p": [2, 4]}, 300, (490, 1290), ""),
    ("ELE", "{b} Switch {n}-Lever {w}-Way {x}", {"b": _BRANDS, "n": [1, 2, 3, 4], "w": [1, 2], "x": _FINISHES}, 90,
     (29, 189), ""),
    ("ELE", "{b} Socket {n}x16A {x}", {"b": _BRANDS, "n": [1, 2], "x": _FINISHES}, 120, (39, 229), ""),
    ("ELE", "{b} LED Bulb {w}W {c} {t}", {"b": _BRANDS, "w": [5, 7, 9, 12, 15], "c": ["E27", "B22", "GU10", "E14"],
     "t": ["Warm", "Cool", "Daylight"]}, 50, (19, 89), ""),
    ("ELE", "{b} LED Downlight {w}W {x} {t}", {"b": _BRANDS, "w": [5, 7, 9, 12], "x": ["White", "Chrome", "Satin"],
     "t": ["Warm", "Cool", "Daylight"]}, 180, (59, 249), ""),
    ("ELE", "{b} LED Floodlight {w}W {ip}", {"b": _BRANDS, "w": [10, 20, 30, 50, 100, 150, 200],
     "ip": ["IP65", "IP66"]}, 900, (149, 1490), ""),
    ("ELE", "{b} Extension Lead {l}m {n}-Way", {"b": _BRANDS, "l": [2, 3, 5, 10, 20], "n": [1, 2, 3, 4, 6]}, 700,
     (99, 690), ""),
    ("ELE", "{b} DB Board {n}-Way {t}", {"b": _BRANDS, "n": [4, 8, 12, 16, 24, 36], "t": ["Surface", "Flush"]},
     2200, (290, 1990), ""),
    ("ELE", "Conduit {f} {d}mm {c}", {"f": ["4m Length", "Bend", "Coupling", "Saddle"], "d": [20, 25, 32],
     "c": ["White", "Black", "Grey"]}, 150, (3, 49), ""),
    ("ELE", "Insulation Tape {w}mm x {l}m {c}", {"w": [18, 19], "l": [10, 20], "c": ["Black", "Red", "Blue",
     "Green", "Yellow", "White", "Brown", "Grey"]}, 40, (9, 29), ""),
    ("ELE", "{b} Battery {t} (x{n})", {"b": _BRANDS, "t": ["AA", "AAA", "C", "D", "9V"], "n": [2, 4, 8]}, 100,
     (29, 249), ""),
    ("TLS", "{b} Spanner {s}mm {t}", {"b": _BRANDS, "s": list(range(6, 33)), "t": ["Combination", "Ring",
     "Open End", "Ratchet"]}, 150, (39, 390), ""),
    ("TLS", "{b} Socket {s}mm {d} Drive", {"b": _BRANDS, "s": list(range(8, 33)), "d": ["¼in", "3/8in", "½in"]}, 60,
     (25, 149), ""),
    ("TLS", "{b} Drill Bit {t} {d}mm", {"b": _BRANDS, "t": ["HSS", "Masonry", "Wood", "Tile"],
     "d": [x / 2 for x in range(2, 27)]}, 20, (9, 189), ""),
    ("TLS", "{b} Hole Saw {d}mm {t}", {"b": _BRANDS, "d": [16, 19, 22, 25, 32, 38, 44, 51, 57, 64, 76, 89, 102,
     114, 127, 152], "t": ["Bi-Metal", "Carbide"]}, 150, (89, 590), ""),
    ("TLS", "{b} Screwdriver {t} {s}", {"b": _BRANDS, "t": ["Flat", "Phillips", "Pozi", "Torx"],
     "s": ["No.0", "No.1", "No.2", "No.3", "Stubby", "Long"]}, 120, (39, 149), ""),
    ("TLS", "{b} Claw Hammer {o}oz {h}", {"b": _BRANDS, "o": [8, 12, 16, 20, 24], "h": ["Wood", "Fibreglass",
     "Steel"]}, 650, (129, 449), ""),
    ("TLS", "{b} Pliers {t} {l}mm", {"b": _BRANDS, "t": ["Combination", "Long Nose", "Side Cutter", "Water Pump",
     "Locking"], "l": [150, 180, 200, 250]}, 250, (99, 399), ""),
    ("TLS", "{b} Angle Grinder {d}mm {w}W", {"b": _BRANDS, "d": [115, 125, 230], "w": [710, 850, 1200, 2000,
     2400]}, 2200, (590, 2990), ""),
    ("TLS", "{b} Cutting Disc {d}x{t}mm {m}", {"b": _BRANDS, "d": [115, 125, 230], "t": [1, 1.6, 3],
     "m": ["Steel", "Inox", "Stone"]}, 60, (12, 69), ""),
    ("TLS", "{b} Saw Blade {d}mm {t}T", {"b": _BRANDS, "d": [160, 185, 210, 235, 254], "t": [24, 40, 60, 80]}, 500,
     (190, 890), ""),
    ("TLS", "{b} Tape Measure {l}m {t}", {"b": _BRANDS, "l": [3, 5, 8, 10], "t": ["Standard", "Magnetic"]}, 300,
     (69, 249), ""),
    ("TLS", "{b} Spirit Level {l}mm {t}", {"b": _BRANDS, "l": [300, 600, 900, 1200, 1800], "t": ["Aluminium",
     "Box"]}, 700, (99, 690), ""),
    ("TLS", "{b} Chisel {w}mm {t}", {"b": _BRANDS, "w": [6, 10, 12, 16, 19, 25, 32], "t": ["Wood", "Cold"]}, 250,
     (59, 229), ""),
    ("FAS", "Chipboard Screw {d}x{l}mm {h} (x{n})", {"d": [3.5, 4, 4.5, 5, 6], "l": [16, 20, 25, 30, 35, 40, 50,
     60, 70, 80, 100], "h": ["CSK", "Pan"], "n": [100, 200, 500]}, 300, (29, 390), ""),
    ("FAS", "Drywall Screw {d}x{l}mm (x{n})", {"d": [3.5, 3.9], "l": [25, 32, 41, 51], "n": [100, 500, 1000]}, 400,
     (39, 390), ""),
    ("FAS", "Self-Tapper {g}g x {l}mm {h} (x100)", {"g": [6, 8, 10, 12], "l": [12, 16, 20, 25, 32, 38, 50],
     "h": ["Pan", "CSK", "Hex"]}, 250, (29, 149), ""),
    ("FAS", "Hex Bolt M{d}x{l} {f} (x{n})", {"d": _THREAD, "l": [20, 25, 30, 40, 50, 60, 80, 100, 120, 150],
     "f": ["Zinc", "Galv", "HT", "Stainless"], "n": [10, 25, 50]}, 500, (29, 690), ""),
    ("FAS", "Coach Screw M{d}x{l} {f} (x{n})", {"d": [6, 8, 10, 12], "l": [40, 50, 65, 75, 100, 150],
     "f": ["Zinc", "Galv"], "n": [10, 25]}, 400, (39, 390), ""),
    ("FAS", "{t} M{d} {f} (x{n})", {"t": ["Hex Nut", "Nyloc Nut", "Flat Washer", "Spring Washer"],
     "d": [4, 5, *_THREAD], "f": ["Zinc", "Galv", "Stainless"], "n": [50, 100]}, 200, (19, 290), ""),
    ("FAS", "Anchor Bolt M{d}x{l} (x{n})", {"d": [8, 10, 12, 16], "l": [65, 80, 100, 120, 150], "n": [4, 10]}, 400,
     (49, 390), ""),
    ("FAS", "Threaded Rod M{d} x 1m {f}", {"d": [4, 5, *_THREAD], "f": ["Zinc", "Galv", "Stainless"]}, 300,
     (19, 290), ""),
    ("FAS", "Pop Rivet {d}x{l}mm {m} (x{n})", {"d": [3.2, 4, 4.8], "l": [6, 8, 10, 12, 16], "m": ["Alu", "Steel"],
     "n": [100, 500]}, 150, (29, 249), ""),
    ("FAS", "Cable Tie {l}x{w}mm {c} (x100)", {"l": [100, 150, 200, 300, 370], "w": [2.5, 3.6, 4.8],
     "c": ["Black", "White"]}, 100, (15, 129), ""),
    ("FAS", "{t} Nails {l}mm (per kg)", {"t": ["Wire", "Roofing", "Clout", "Masonry"], "l": [25, 40, 50, 65, 75,
     100]}, 1000, (35, 89), "kg"),
    ("FAS", "Chain {d}mm {f} (per m)", {"d": [3, 4, 5, 6, 8, 10], "f": ["Galv", "Zinc"]}, 400, (19, 129), "m"),
    ("PNT", "{b} PVA {c} {l}L", {"b": _BRANDS, "c": _PAINT_COLOURS, "l": [1, 5, 20]}, 1400, (89, 1290), ""),
    ("PNT", "{b} Enamel {f} {c} {l}L", {"b": _BRANDS, "f": ["Gloss", "Satin"], "c": _PAINT_COLOURS, "l": [1, 5]},
     1300, (149, 990), ""),
    ("PNT", "{b} Roof Paint {c} {l}L", {"b": _BRANDS, "c": _PAINT_COLOURS[:8], "l": [5, 20]}, 6000, (390, 1690), ""),
    ("PNT", "{b} Varnish {f} {c} {l}L", {"b": _BRANDS, "f": ["Gloss", "Satin", "Matt"], "c": ["Clear", "Imbuia",
     "Oak", "Teak", "Kiaat"], "l": [1, 5]}, 1100, (149, 890), ""),
    ("PNT", "{b} Primer {t} {l}L", {"b": _BRANDS, "t": ["Universal", "Metal", "Plaster", "Wood", "Red Oxide"],
     "l": [1, 5, 20]}, 1200, (99, 1190), ""),
    ("PNT", "{b} Paint Brush {w}mm {g}", {"b": _BRANDS, "w": [12, 25, 38, 50, 63, 75, 100], "g": ["Economy",
     "Standard", "Pro"]}, 60, (12, 129), ""),
    ("PNT", "{b} Paint Roller {w}mm {p}", {"b": _BRANDS, "w": [100, 150, 225], "p": ["Short", "Medium", "Long"]},
     200, (39, 189), ""),
    ("PNT", "{b} Spray Paint {f} {c} 300ml", {"b": _BRANDS, "f": ["Gloss", "Matt"], "c": _PAINT_COLOURS}, 350,
     (49, 99), ""),
    ("PNT", "Sandpaper P{g} {t} (x{n})", {"g": [40, 60, 80, 100, 120, 150, 180, 220, 240, 320, 400],
     "t": ["Sheet", "Roll", "Disc"], "n": [5, 10, 50]}, 100, (19, 390), ""),
    ("GDN", "{b} Garden Hose {d}mm x {l}m", {"b": _BRANDS, "d": [12, 20], "l": [10, 15, 20, 30, 50]}, 2500,
     (149, 990), ""),
    ("GDN", "{b} Hose {t} {d}mm", {"b": _BRANDS, "t": ["Tap Connector", "Stop Connector", "Mender", "Nozzle"],
     "d": [12, 20]}, 40, (19, 89), ""),
    ("GDN", "{b} Sprinkler {t}", {"b": _BRANDS, "t": ["Pulsating", "Oscillating", "Rotary", "Pop-Up", "Spike"]},
     300, (69, 390), ""),
    ("GDN", "{b} {t} {h}", {"b": _BRANDS, "t": ["Spade", "Fork", "Rake", "Hoe", "Shovel", "Leaf Rake"],
     "h": ["Wood Handle", "Steel Handle", "Fibreglass"]}, 1800, (149, 590), ""),
    ("GDN", "{m} {l}dm³", {"m": ["Potting Soil", "Compost", "Lawn Dressing", "Bark Chips", "Palm Peat"],
     "l": [5, 10, 20, 30, 50]}, 8000, (29, 149), ""),
    ("GDN", "Fertiliser {n} {k}kg", {"n": ["2:3:2", "3:1:5", "7:1:3", "LAN 28", "Organic"], "k": [2, 5, 10, 25]},
     5000, (49, 690), ""),
    ("GDN", "Plant Pot {d}cm {c}", {"d": [15, 20, 25, 30, 40, 50], "c": ["Terracotta", "Black", "White", "Grey"]},
     900, (29, 490), ""),
    ("GDN", "Shade Net {p}% {c} (per m)", {"p": [40, 55, 80], "c": ["Green", "Black", "Beige", "Charcoal"]}, 200,
     (19, 69), "m"),
    ("GDN", "{b} Rope {d}mm {m} (per m)", {"b": _BRANDS, "d": [6, 8, 10, 12], "m": ["Nylon", "Sisal", "Poly"]}, 60,
     (4, 25), "m"),
    ("GDN", "{b} Garden Hose {d}mm (per m)", {"b": _BRANDS, "d": [12, 20]}, 110, (15, 39), "m"),
    ("BLD", "Cement {g} {k}kg", {"g": ["32.5N", "42.5N", "42.5R"], "k": [25, 50]}, 50000, (69, 149), ""),
    ("BLD", "{s} (per m³)", {"s": ["Building Sand", "Plaster Sand", "River Sand", "Stone 13mm", "Stone 19mm"]},
     1_500_000, (390, 890), "m³"),
    ("BLD", "SA Pine {w}x{h}mm {g} (per m)", {"w": [38, 50, 76, 114, 152, 228], "h": [38, 50, 76],
     "g": ["S5", "S7"]}, 2000, (19, 149), "m"),
    ("BLD", "Steel Rod Y{d} (per m)", {"d": [8, 10, 12, 16, 20, 25]}, 1500, (12, 89), "m"),
    ("BLD", "Roof Sheet {p} {t}mm x {l}m", {"p": ["IBR", "Corrugated"], "t": [0.47, 0.5, 0.58],
     "l": [2, 3, 4, 5, 6, 7.2]}, 15000, (149, 990), ""),
    ("BLD", "Tile {t} {c} {k}kg", {"t": ["Adhesive", "Grout"], "c": ["White", "Grey", "Ivory", "Charcoal",
     "Sandstone", "Black"], "k": [5, 20]}, 10000, (69, 390), ""),
    ("BLD", "Gypsum Board {t}mm {w}x{l}m", {"t": [6.4, 9, 12], "w": [1.2], "l": [2.4, 2.7, 3, 3.6]}, 20000,
     (129, 290), ""),
    ("SAF", "{b} Safety Boot {m} Size {n}", {"b": _BRANDS, "m": ["Hiker", "Chelsea", "Executive", "Welder"],
     "n": list(range(4, 14))}, 1600, (390, 1290), ""),
    ("SAF", "{b} Gloves {t} {s}", {"b": _BRANDS, "t": ["Leather", "Nitrile", "Latex", "Cut-Resistant",
     "Welding"], "s": ["S", "M", "L", "XL"]}, 150, (19, 149), ""),
    ("SAF", "{t} {c} Size {n}", {"t": ["Conti Suit", "Boiler Suit", "Work Trousers"], "c": ["Navy", "Royal",
     "Green", "Khaki", "Orange"], "n": list(range(28, 50, 2))}, 900, (189, 590), ""),
    ("SAF", "Hi-Vis Vest {c} {s}", {"c": ["Lime", "Orange"], "s": ["M", "L", "XL", "2XL", "3XL"]}, 150, (39, 99),
     ""),
    ("SAF", "{b} Safety Glasses {l}", {"b": _BRANDS, "l": ["Clear", "Smoke", "Amber", "Mirror"]}, 40, (29, 149),
     ""),
    ("SAF", "Dust Mask FFP{n} (x{q})", {"n": [1, 2, 3], "q": [1, 10, 20]}, 50, (9, 390), ""),
    ("SAF", "Hard Hat {c}", {"c": ["White", "Yellow", "Red", "Blue", "Green", "Orange"]}, 400, (59, 149), ""),
]  # fmt: skip
_TOOLS_FOR_HIRE = [
    "Concrete Mixer", "Jackhammer", "Tile Cutter", "Floor Sander", "Pressure Washer", "Scaffold Tower", "Generator",
    "Compactor", "Chainsaw", "Brush Cutter", "Core Drill", "Wet Vac", "Ladder 8m", "Trencher", "Wacker Plate",
]  # fmt: skip
_SERVICES = [
    *(f"Delivery – Zone {n}" for n in range(1, 13)),
    *(f"Delivery – Crane Truck Zone {n}" for n in range(1, 7)),
    *(f"Tool Hire: {tool} (per day)" for tool in _TOOLS_FOR_HIRE),
    *(f"Tool Hire: {tool} (weekend)" for tool in _TOOLS_FOR_HIRE),
    *(f"Key Cutting – {key}" for key in ("Yale", "Padlock", "Security", "Mortice", "Car")),
    *(f"Pipe Threading {d}mm" for d in (15, 20, 25, 32, 40, 50)),
    *(f"Paint Tinting {n}L" for n in (1, 5, 20)),
    *(f"Cutting Service – {m}" for m in ("Timber", "Steel", "PVC", "Board", "Glass", "Chain")),
    *(f"Sharpening – {t}" for t in ("Chainsaw", "Mower Blade", "Scissors", "Drill Bit", "Chisel")),
    *(f"Gas Refill {k}kg" for k in (3, 5, 9, 19, 48)),
    *(f"Installation – {w} (per hour)" for w in ("Geyser", "DB Board", "Gate Motor", "Tap", "Light")),
    *(f"Hire Deposit – {tool}" for tool in _TOOLS_FOR_HIRE[:8]),
    "Glass Cutting per m²", "Blade Sharpening per blade", "Call-out Fee", "Quotation Visit",
]  # fmt: skip
#: Generated items sold by length, weight or volume (fractional stock), and services (Physical = 0).
_SOLD_BY_MEASURE, _SERVICE_COUNT = 200, 100
#: The first codes in ItemCode order stay plain: ``make check-mapping``'s default sample of a few rows is clean.
_PLAIN_FIRST = 50


def _ean13(number: int) -> str:
    digits = f"6001235{number:05d}"
    check = (10 - sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(digits)) % 10) % 10
    return digits + str(check)


def _shelf(rng: random.Random, low: float, high: float) -> float:
    """A shelf price in the range: 349.00, 89.95, 6.20."""
    value = rng.uniform(low, high)
    if high < 30:
        return round(value, 1)
    return round(value) - 0.05 if high < 150 else float(int(value / 10) * 10 + 9)


def _prices(rng: random.Random, low: float, high: float) -> list[float | None]:
    """Lists 01 (Retail), 02 (Trade), 03 (Contractor) and for some items 04 (not synced), excl. VAT. A third are
    priced including VAT, so list 01 holds ``incl / 1.15`` to 4 decimals."""
    shelf = _shelf(rng, low, high)
    retail, places = (round(shelf / 1.15, 4), 4) if rng.random() < 0.35 else (shelf, 2)
    prices: list[float | None] = [retail, round(retail * 0.78, places), round(retail * 0.88, places)]
    if rng.random() < 0.3:
        prices.append(round(retail * 0.7, places))
    return prices


def _descriptions(rng: random.Random) -> tuple[list[tuple[str, str, int, tuple[float, float], str]], ...]:
    """Every description the templates make (at most 40 characters, as Pastel holds them), shuffled: those sold
    by a measure, and the others."""
    measured, counted = [], []
    for group, template, parameters, grams, price_range, unit in _TEMPLATES:
        names = list(parameters)
        for values in itertools.product(*(parameters[n] for n in names)):
            text = template.format(**{n: _number(v) for n, v in zip(names, values, strict=True)})
            if len(text) <= 40:
                (measured if unit else counted).append((group, text, grams, price_range, unit))
    rng.shuffle(measured)
    rng.shuffle(counted)
    return measured, counted


def _number(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


@cache
def generated() -> tuple[tuple[Any, ...], ...]:
    """The generated bulk: :data:`ITEM_COUNT` less the hand-written items, in ``ITEMS``' shape plus the user fields
    02 and 03 (bin location, supplier's code), with the module's patterns at their rates (see the module)."""
    rng = random.Random(RANDOM_SEED)  # noqa: S311 - demo data, not security
    measured, counted = _descriptions(rng)
    services = _SERVICES[:_SERVICE_COUNT]
    chosen = measured[:_SOLD_BY_MEASURE]
    chosen += counted[: ITEM_COUNT - len(ITEMS) - len(services) - len(chosen)]
    chosen.sort(key=lambda c: (c[0], c[4] != "", c[1]))  # codes by group; the measured ones last in each
    numbers: dict[str, int] = {}
    rows: list[list[Any]] = []
    for group, text, grams, price_range, unit in chosen:
        numbers[group] = numbers.get(group, 0) + 1
        code = f"{group}{numbers[group]:05d}"
        prices = _prices(rng, *price_range)
        if unit:  # stock by the metre, kilogram or cubic metre
            stores = {"001": rng.randint(0, 400) + rng.choice([0.25, 0.5, 0.75])}
            if rng.random() < 0.5:
                stores["002"] = rng.randint(0, 60) + rng.choice([0.25, 0.5, 0.75])
        else:
            mean = 120 if group == "FAS" else 25
            stores = {"001": 0 if rng.random() < 0.08 else min(int(rng.expovariate(1 / mean)), 5000)}
            if rng.random() < 0.45:
                stores["002"] = int(rng.expovariate(3 / mean))
            if rng.random() < 0.01:
                stores["002" if "002" in stores else "001"] = -rng.randint(1, 3)  # oversold
        flag = rng.choices(["Active", None, "Delete", "active", "ACTIVE"], [94, 2, 1, 2, 1])[0]
        barcode = _ean13(len(rows) + 1) if rng.random() < 0.55 else None
        weight = None if rng.random() < 0.1 else grams
        per_store = {store: (qty, prices if store == "001" else _branch(rng, prices)) for store, qty in stores.items()}
        rows.append([code, text, group, flag, 1, 0, barcode, weight, per_store])
    for n, text in enumerate(services, start=1):
        price = _shelf(rng, 50, 1500)
        flag = "Active" if rng.random() < 0.85 else None
        rows.append([f"SRV{n:05d}", text, "SRV", flag, 0, 0, None, None, {"001": (0, [price, price, price])}])
    rows.sort(key=lambda r: r[0])
    patterned = rows[_PLAIN_FIRST:]  # patterns from here on (see _PLAIN_FIRST)
    stock_items = [r for r in patterned if r[4] == 1]
    for row in rng.sample(stock_items, int(len(rows) * 0.03)):
        row[5] = 1  # blocked
    for row in rng.sample(stock_items, int(len(rows) * 0.02)):
        row[8] = {store: (qty, [p[0], None, *p[2:]]) for store, (qty, p) in row[8].items()}  # no Trade price
    plain = [r for r in stock_items if r[3] == "Active" and not r[5] and len(r[1]) < 40]
    for row, control in zip(rng.sample(plain, 5), ["\x07", "\x07", "\x0b", "\x0b", "\x0c"], strict=True):
        row[1] += control
    for row in rows:  # UserDefText02 and 03: a bin location for most items, a supplier's code for some
        if rng.random() < 0.6:
            row.append((f"{rng.choice('ABCDEFGH')}{rng.randint(1, 40):02d}-{rng.randint(1, 6):02d}", None))
        else:
            row.append((None, f"SUP-{rng.randint(1000, 9999)}" if rng.random() < 0.4 else None))
    return tuple(tuple(r) for r in rows)


def _branch(rng: random.Random, prices: list[float | None]) -> list[float | None]:
    """Store 002's own prices: the same, or a little higher (not the tier prices)."""
    if rng.random() < 0.7:
        return list(prices)
    return [None if p is None else round(p * 1.02, 2) for p in prices]


def seed(conn: Any) -> dict[str, int]:
    """Create and fill the Pastel Partner tables on an open ODBC connection."""
    cursor = conn.cursor()
    for statement in DDL:
        cursor.execute(statement)
    insert_rows(cursor, "InventoryGroups", GROUPS)
    inventory, stores = [], []
    for code, title, group, flag, physical, blocked, barcode, grams, per_store, *user in (*ITEMS, *generated()):
        padded = code.ljust(15)  # CHAR(15) as Pervasive returns it
        bin_location, supplier = user[0] if user else (None, None)  # the hand-written items have none
        inventory.append((padded, title, group, barcode, physical, blocked, flag, bin_location, supplier, grams, TS))
        for store, (qty, prices) in per_store.items():
            excl = [*prices, *([None] * (10 - len(prices)))]
            incl = [None if p is None else round(p * 1.15, 2) for p in excl]
            stores.append((store, padded, group, qty, qty, *excl, *incl))
    insert_rows(cursor, "Inventory", inventory)
    insert_rows(cursor, "MultiStoreTrn", stores)
    insert_rows(cursor, "CustomerMaster", [(*c, TS) for c in CUSTOMERS])
    conn.commit()
    return {"products": len(inventory), "customers": len(CUSTOMERS)}
