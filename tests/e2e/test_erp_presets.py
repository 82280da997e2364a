"""Sage Evolution and Sage Pastel Partner presets: generated DAGs sync the demo companies (10,000 items each, see
``stock2shop_sync.demo.sage_evolution`` / ``sage_pastel_partner``) from SQLite, PostgreSQL and MariaDB into the
sandbox, and every database gives the same payloads. Each of the companies' patterns is checked field by field on
its hand-written rows: variants with their own descriptions, fractional stock, inactive and service items, missing
price-list rows, prices with more decimals than cents, control characters and cp1252 text; the quarantine report of
each database's run holds the warnings, by row and field, and the deliberately bad rows only."""

from __future__ import annotations

import csv
import io
import json
import re
from contextlib import closing
from pathlib import Path
from typing import Any

import pyodbc
import pytest
import requests
import yaml
from airflow.dag_processing.dagbag import DagBag
from airflow.sdk import ObjectStoragePath
from airflow.utils.state import DagRunState

from stock2shop_sync.demo import sage_evolution, sage_pastel_partner
from stock2shop_sync.staging import staging_root
from tests.conftest import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("airflow_db")]

S2S_IDS = {"sqlite": 101, "postgres": 102, "mariadb": 103}
FLOORED = "is not a whole number; sent as {} (settings.fractional_qty: floor)"
CLEANED = "control characters were removed from title"
#: "qty_Cape Town 0.75 is not a whole number; sent as 0 (settings.fractional_qty: floor)"
FLOORED_LINE = re.compile(r"qty_[\w ]+ [\d.]+ is not a whole number; sent as \d+ \(settings\.fractional_qty: floor\)")


def _configure(
    preset: str, folder: Path, databases: dict[str, dict[str, Any]], settings: dict[str, Any], tag: str
) -> list[str]:
    """The shipped demo config for ``preset`` with ``settings`` on top, once per database, each feeding its own
    Stock2Shop source (source ids ``<preset>_<database><tag>``: a source id keeps its fingerprints in the session's
    staging, so a second sync of the same data under the same id would send only what changed)."""
    demo = yaml.safe_load((ROOT / "include" / "sources" / f"demo_{preset}.yaml").read_text())
    ids = []
    for name, database in databases.items():
        config = {
            **demo,
            "source_id": f"{preset}_{name}{tag}",
            "connection": {"conn_id": database["conn_id"], "driver": database["driver"]},
            "stock2shop": {"conn_id": "stock2shop_default", "source_id": S2S_IDS[name]},
            "settings": {**demo["settings"], **settings},
        }
        if demo.get("orders", {}).get("inbox", {}).get("kind") == "files":
            # The demo's drop folder lives in .demo/, which `make demo` creates; here each source gets its own.
            drop = folder / "order-drop" / config["source_id"]
            drop.mkdir(parents=True)
            config["orders"] = {**demo["orders"], "inbox": {"kind": "files", "path": str(drop)}}
        (folder / f"{preset}_{name}.yaml").write_text(yaml.safe_dump(config))
        ids.append(config["source_id"])
    return ids


def _sync_everywhere(
    preset: str,
    folder: Path,
    databases: dict[str, dict[str, Any]],
    sandbox: str,
    settings: dict[str, Any] | None = None,
    tag: str = "",
) -> dict[str, dict[str, Any]]:
    ids = _configure(preset, folder, databases, settings or {}, tag)
    bag = DagBag(dag_folder=str(ROOT / "dags" / "stock2shop_sources.py"))
    assert bag.import_errors == {}
    for source_id in ids:
        run = bag.dags[f"s2s_{source_id}"].test(logical_date=None)
        assert run.state == DagRunState.SUCCESS, source_id
    received = {}
    for name in databases:
        rows = requests.get(f"{sandbox}/sandbox/products", params={"source_id": S2S_IDS[name]}, timeout=60).json()
        received[name] = {
            r["sku"]: {**r["payload"], "source": {k: v for k, v in r["payload"]["source"].items() if k != "source_id"}}
            for r in rows
        }
    for name in databases:
        assert received[name] == received["sqlite"], name
    return received["sqlite"]


def _report(source_id: str) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """The products counts of the source's last run, and the lines of its quarantine report."""
    report = json.loads((staging_root() / source_id / "latest_run_report.json").read_text())
    products = report["entities"]["products"]
    lines = list(csv.DictReader(io.StringIO(ObjectStoragePath(products["quarantine_report"]).read_text())))
    return products, lines


def _rows(database: dict[str, Any], query: str) -> dict[str, int]:
    """Item code -> its row in the preset's products query (1-based, in the query's order), read from the
    SQLite copy: the row numbers a quarantine report gives."""
    with closing(pyodbc.connect(f"DRIVER={{SQLite3}};Database={database['path']}")) as conn:
        return {str(code).strip(): n for n, (code,) in enumerate(conn.execute(query).fetchall(), start=1)}


def _lines_of(lines: list[dict[str, str]], record: str) -> set[tuple[int, str, str, str]]:
    return {(int(r["row"]), r["field"], r["severity"], r["reason"]) for r in lines if r["record"] == record}


def _floored_or_cleaned(reason: str) -> bool:
    """Whether a warning is a fractional quantity floored or a control character removed."""
    return reason == CLEANED or bool(FLOORED_LINE.fullmatch(reason))


def _tiers_by_item(database: dict[str, Any], query: str, tiers: dict[str, str]) -> dict[str, list[str]]:
    """Item key -> the tiers it has a price for (sorted, as sent): the synced lists with a row or a value."""
    found: dict[str, set[str]] = {}
    with closing(pyodbc.connect(f"DRIVER={{SQLite3}};Database={database['path']}")) as conn:
        for key, name, price in conn.execute(query).fetchall():
            found.setdefault(str(key).strip(), set())
            if name in tiers and price is not None:
                found[str(key).strip()].add(tiers[name])
    return {key: sorted(names) for key, names in found.items()}


@pytest.fixture
def databases(
    sqlite_source: dict[str, Any], postgres_source: dict[str, Any], mariadb_source: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    return {"sqlite": sqlite_source, "postgres": postgres_source, "mariadb": mariadb_source}


def test_sage_evolution(sandbox: str, sources_dir: Path, databases: dict[str, dict[str, Any]]) -> None:
    products = _sync_everywhere("sage_evolution", sources_dir, databases, sandbox)

    # The company has 10,000 items (hand-written, then generated with a fixed seed), so these counts are the demo
    # data's: 3 quarantined (the deliberately bad GAITER-TRAIL and VEST-RACE-S/M), 367 ignored (100 service items,
    # the items the UDF does not publish), 350 sent inactive (ItemActive 0, UDF Delete), 291 warnings (fractional
    # stock, control characters). Every database's run counts the same.
    rows = _rows(databases["sqlite"], "SELECT Code FROM StkItem ORDER BY StockLink")
    for name in databases:
        counts, lines = _report(f"sage_evolution_{name}")
        assert {k: counts[k] for k in ("extracted", "valid", "quarantined", "ignored", "deleted", "warnings")} == {
            "extracted": 10_000,
            "valid": 9_630,
            "quarantined": 3,
            "ignored": 367,
            "deleted": 350,
            "warnings": 291,
        }, name
        assert counts["uploaded"] == 9_630, name
        errors = {(r["record"], r["field"], r["reason"]) for r in lines if r["severity"] == "error"}
        assert errors == {
            ("GAITER-TRAIL", "price", "price is required"),
            ("VEST-RACE-S", "option1_value", f"variants have the same option values: rows {rows['VEST-RACE-S']}, "
             f"{rows['VEST-RACE-M']}"),
            ("VEST-RACE-M", "option1_value", f"variants have the same option values: rows {rows['VEST-RACE-S']}, "
             f"{rows['VEST-RACE-M']}"),
        }, name  # fmt: skip
        # Every warning is a fractional quantity floored or a control character removed.
        assert all(_floored_or_cleaned(r["reason"]) for r in lines if r["severity"] == "warning"), name
        assert sum(r["reason"] == CLEANED for r in lines) == 8, name  # 2 hand-written, 6 generated
        # A fractional quantity on hand, floored, with a warning naming the row and the warehouse column.
        assert _lines_of(lines, "LACE-ELASTIC") == {
            (rows["LACE-ELASTIC"], "qty_Johannesburg", "warning", "qty_Johannesburg 2.5 " + FLOORED.format(2)),
            (rows["LACE-ELASTIC"], "qty_Cape Town", "warning", "qty_Cape Town 0.75 " + FLOORED.format(0)),
        }, name
        # Control characters removed from a description, reported by row and field.
        assert _lines_of(lines, "ARMBAND-PHONE") == {(rows["ARMBAND-PHONE"], "title", "warning", CLEANED)}, name
        assert _lines_of(lines, "FOAM-ROLLER") == {(rows["FOAM-ROLLER"], "title", "warning", CLEANED)}, name

    # The hand-written items sent: published by the UDF (BELT-HYDRO and the inactive HEADLAMP-200 as inactive);
    # not SOCK-LOW (no UDF), the services DELIVERY and GAIT-ANALYSIS, nor the deliberately bad ones.
    hand_written = {str(item[1]).strip() for item in sage_evolution.ITEMS}
    assert sorted(s for s in products if s in hand_written) == [
        "ARMBAND-PHONE", "BELT-HYDRO", "BOTTLE-750", "CAP-ONE", "FLASK-SOFT-500", "FOAM-ROLLER", "GEL-PACK",
        "GPS-STRAP-22", "HEADLAMP-200", "LACE-ELASTIC", "PACE-TEE-BLU-L", "PACE-TEE-BLU-M", "PACE-TEE-RED-M",
        "PACE-TEE-RED-S", "RUN-TEE-BLK-L", "RUN-TEE-BLK-M", "RUN-TEE-RED-M", "SHORTS-5IN-M", "SHORTS-5IN-S",
        "SOCK-MERINO-L", "SOCK-MERINO-M", "SOCK-MERINO-S", "TRAIL-SHOE-10", "TRAIL-SHOE-8", "TRAIL-SHOE-9",
        "run-tee-red-l",
    ]  # fmt: skip
    assert len(products) == 9_630

    tee = products["RUN-TEE-RED-M"]  # the code had a trailing space in StkItem
    assert tee["source"] == {
        "source_product_code": "RUN-TEE",
        "product_active": "true",
        "sync_token": "0",
        "fetch_token": "0",
    }
    assert tee["product"]["title"] == "Dri-Fit Running Tee"
    assert tee["product"]["product_type"] == "Apparel"
    assert tee["product"]["vendor"] == "Stride"
    assert tee["product"]["options"] == [{"name": "Size", "position": 1}, {"name": "Colour", "position": 2}]
    assert tee["product"]["variants"] == {  # its variants share one description: no variant meta
        "source_variant_code": "1003",
        "sku": "RUN-TEE-RED-M",
        "barcode": "6009801001003",
        "grams": 160,
        "option1": "M",
        "option2": "Red",
        "option3": None,
        "inventory_management": "true",
        "price": 349.0,
        "price_tiers": [{"tier": "Retail", "price": 349.0}, {"tier": "Wholesale", "price": 260.0}],
        # JHB: 4 on hand - 4 on sales orders; CPT: 6 - 1; QC stock does not count
        "qty_availability": [{"description": "Cape Town", "qty": 5}, {"description": "Johannesburg", "qty": 0}],
        "qty": 5,
    }
    # Mixed case kept as the ERP has it. No Trade price: no Wholesale tier (settings.missing_price: omit), never 0.
    lower = products["run-tee-red-l"]["product"]["variants"]
    assert lower["price_tiers"] == [{"tier": "Retail", "price": 349.0}]
    assert products["RUN-TEE-BLK-L"]["product"]["variants"]["qty_availability"] == [
        {"description": "Cape Town", "qty": 0},  # a warehouse the item has no row in is there with 0
        {"description": "Johannesburg", "qty": 12},
    ]
    # Every SKU has a tier for each synced list it has a price in (warehouse 0), and every warehouse; prices in cents.
    tiers = _tiers_by_item(
        databases["sqlite"],
        "SELECT s.StockLink, n.cName, p.fExclPrice FROM StkItem s LEFT JOIN _etblPriceListPrices p"
        " ON p.iStockID = s.StockLink AND p.iWarehouseID = 0"
        " LEFT JOIN _etblPriceListName n ON n.IDPriceListName = p.iPriceListNameID",
        {"Retail": "Retail", "Trade": "Wholesale"},
    )
    for sku, item in products.items():
        variant = item["product"]["variants"]
        assert [t["tier"] for t in variant["price_tiers"]] == tiers[variant["source_variant_code"]], sku
        assert [w["description"] for w in variant["qty_availability"]] == ["Cape Town", "Johannesburg"], sku
        assert all(round(p, 2) == p for p in [variant["price"], *(t["price"] for t in variant["price_tiers"])]), sku
    assert 150 < sum(len(t) == 1 for t in tiers.values()) < 250  # ~2% of the items have no Trade row
    # Oversold warehouse (2 on hand, 3 on sales orders) counts as 0, not -1.
    shoe = products["TRAIL-SHOE-10"]["product"]
    assert shoe["variants"]["qty"] == 0
    assert shoe["options"] == [{"name": "Size", "position": 1}]
    assert {
        products[s]["source"]["source_product_code"] for s in ("TRAIL-SHOE-8", "TRAIL-SHOE-9", "TRAIL-SHOE-10")
    } == {"TRAIL-SHOE"}
    # Branch price (warehouse 2) is not the tier price.
    assert products["CAP-ONE"]["product"]["variants"]["price"] == 199.0
    assert products["CAP-ONE"]["product"]["options"] == []
    assert products["BELT-HYDRO"]["source"]["product_active"] == "false"

    # Variants with their own descriptions (settings.title_rule: common_prefix): the product is titled with the
    # words they share, and each variant keeps its own description as variant meta "title".
    pace = {sku: products[sku]["product"] for sku in products if sku.startswith("PACE-TEE-")}
    assert {p["title"] for p in pace.values()} == {"Pace Tee"}
    assert {sku: p["variants"]["meta"] for sku, p in pace.items()} == {
        "PACE-TEE-RED-S": [{"key": "title", "value": "Pace Tee Red S"}],
        "PACE-TEE-RED-M": [{"key": "title", "value": "Pace Tee Red M"}],
        "PACE-TEE-BLU-M": [{"key": "title", "value": "Pace Tee Blue M"}],
        "PACE-TEE-BLU-L": [{"key": "title", "value": "Pace Tee Blue L"}],
    }
    assert {products[sku]["source"]["source_product_code"] for sku in pace} == {"PACE-TEE"}
    assert pace["PACE-TEE-BLU-M"]["options"] == [{"name": "Size", "position": 1}, {"name": "Colour", "position": 2}]
    assert (pace["PACE-TEE-BLU-M"]["variants"]["option1"], pace["PACE-TEE-BLU-M"]["variants"]["option2"]) == (
        "M",
        "Blue",
    )
    # The shared words end in an en dash (cp1252 text), which is dropped from the title, not from the variants'.
    socks = {sku: products[sku]["product"] for sku in ("SOCK-MERINO-S", "SOCK-MERINO-M", "SOCK-MERINO-L")}
    assert {p["title"] for p in socks.values()} == {"Merino Crew Sock"}
    assert socks["SOCK-MERINO-M"]["variants"]["meta"] == [{"key": "title", "value": "Merino Crew Sock – 8-11"}]
    assert socks["SOCK-MERINO-M"]["variants"]["option1"] == "8-11"
    # The shorts' two items typed their size differently ("5 in", "5in"): once quarantined, now "Race Shorts".
    shorts = {sku: products[sku]["product"] for sku in ("SHORTS-5IN-S", "SHORTS-5IN-M")}
    assert {p["title"] for p in shorts.values()} == {"Race Shorts"}
    assert {sku: p["variants"]["meta"] for sku, p in shorts.items()} == {
        "SHORTS-5IN-S": [{"key": "title", "value": "Race Shorts 5 in"}],
        "SHORTS-5IN-M": [{"key": "title", "value": "Race Shorts 5in"}],
    }
    # The generated size/colour products too: one title per product, most variants with their own description.
    titles: dict[str, set[str]] = {}
    for item in products.values():
        titles.setdefault(item["source"]["source_product_code"], set()).add(item["product"]["title"])
    assert all(len(t) == 1 for t in titles.values())
    assert sum("meta" in item["product"]["variants"] for item in products.values()) > 4_000

    # A fractional quantity on hand: 2.5 and 0.75 metres are sent as 2 and 0 (reported above).
    lace = products["LACE-ELASTIC"]["product"]["variants"]
    assert lace["qty_availability"] == [
        {"description": "Cape Town", "qty": 0},
        {"description": "Johannesburg", "qty": 2},
    ]
    assert lace["qty"] == 2
    # Inactive in the ERP (ItemActive 0), published by the UDF: sent as inactive (settings.inactive_items: delete).
    assert products["HEADLAMP-200"]["source"]["product_active"] == "false"
    assert products["HEADLAMP-200"]["product"]["title"] == "Head Torch 200 lm"
    # Service items (ServiceItem 1) are not sent (settings.service_items: ignore), though the UDF publishes them.
    assert "DELIVERY" not in products
    assert "GAIT-ANALYSIS" not in products
    assert not [sku for sku, item in products.items() if item["product"]["product_type"] == "Services"]
    # A price with more decimals than cents, rounded (settings.price_decimals: 2).
    strap = products["GPS-STRAP-22"]["product"]["variants"]
    assert strap["price"] == 414.49
    assert strap["price_tiers"] == [{"tier": "Retail", "price": 414.49}, {"tier": "Wholesale", "price": 310.24}]
    # Control characters removed (reported above); cp1252 text arrives as it reads.
    assert products["ARMBAND-PHONE"]["product"]["title"] == "Phone Armband"
    assert products["FOAM-ROLLER"]["product"]["title"] == "Foam Roller 45 cm"
    assert products["FLASK-SOFT-500"]["product"]["title"] == "Soft Flask ½ L – Smoke"
    assert products["GEL-PACK"]["product"]["title"] == "Energy Gel — Crème Brûlée"

    customers = requests.get(f"{sandbox}/sandbox/customers", params={"source_id": 102}, timeout=10).json()
    by_code = {c["source_customer_code"]: c["payload"]["customer"] for c in customers}
    hand_written = sorted(code for code in by_code if not re.fullmatch(r"TR\d{5}", code))
    assert hand_written == ["GYM0003", "RUNCLUB01", "TRISHOP02"]  # on hold, no e-mail and UDF Ignore left out
    assert len(by_code) == 3 + 240 - 3  # the generated trade accounts, less the 3 on hold
    assert (by_code["TRISHOP02"]["first_name"], by_code["TRISHOP02"]["last_name"]) == ("Anke", "van Wyk")


def test_a_missing_price_can_take_the_default_lists(
    sandbox: str, sources_dir: Path, sqlite_source: dict[str, Any]
) -> None:
    """``settings.missing_price: default_list``: a variant with no row in a synced list gets that tier at the
    default list's price. The rule runs in Python after the read (the three databases give the same frames, as
    test_sage_evolution shows), so SQLite is enough here."""
    products = _sync_everywhere(
        "sage_evolution", sources_dir, {"sqlite": sqlite_source}, sandbox, {"missing_price": "default_list"}, "_dl"
    )
    counts, _ = _report("sage_evolution_sqlite_dl")
    assert (counts["valid"], counts["quarantined"]) == (9_630, 3)  # GAITER-TRAIL has no Retail price either
    assert products["run-tee-red-l"]["product"]["variants"]["price_tiers"] == [
        {"tier": "Retail", "price": 349.0},
        {"tier": "Wholesale", "price": 349.0},
    ]
    assert products["RUN-TEE-RED-M"]["product"]["variants"]["price_tiers"] == [
        {"tier": "Retail", "price": 349.0},
        {"tier": "Wholesale", "price": 260.0},
    ]
    for sku, item in products.items():  # the generated items without a Trade row too
        variant = item["product"]["variants"]
        assert [t["tier"] for t in variant["price_tiers"]] == ["Retail", "Wholesale"], sku


def test_sage_pastel_partner(sandbox: str, sources_dir: Path, databases: dict[str, dict[str, Any]]) -> None:
    products = _sync_everywhere("sage_pastel_partner", sources_dir, databases, sandbox)

    # 10,000 items (hand-written, then generated with a fixed seed), so these counts are the demo data's:
    # 2 quarantined (the deliberately bad TAPE-PTFE and PUTTY-500G), 283 ignored (95 non-physical items, the items
    # not flagged for the web), 373 sent inactive (Blocked, flag Delete), 303 warnings (fractional stock, control
    # characters). Every database's run counts the same; ItemCode is in capitals, so the rows are in the same order.
    rows = _rows(databases["sqlite"], "SELECT ItemCode FROM Inventory ORDER BY ItemCode")
    for name in databases:
        counts, lines = _report(f"sage_pastel_partner_{name}")
        assert {k: counts[k] for k in ("extracted", "valid", "quarantined", "ignored", "deleted", "warnings")} == {
            "extracted": 10_000,
            "valid": 9_715,
            "quarantined": 2,
            "ignored": 283,
            "deleted": 373,
            "warnings": 303,
        }, name
        assert counts["uploaded"] == 9_715, name
        assert {(r["row"], r["record"], r["field"], r["reason"]) for r in lines if r["severity"] == "error"} == {
            (str(rows["TAPE-PTFE"]), "TAPE-PTFE", "price", "price is required"),
            (str(rows["PUTTY-500G"]), "PUTTY-500G", "title", "title is required"),
        }, name
        assert all(_floored_or_cleaned(r["reason"]) for r in lines if r["severity"] == "warning"), name
        assert sum(r["reason"] == CLEANED for r in lines) == 7, name  # 2 hand-written, 5 generated
        assert _lines_of(lines, "HOSE-GDN-12") == {
            (rows["HOSE-GDN-12"], "qty_Main store", "warning", "qty_Main store 37.5 " + FLOORED.format(37)),
            (rows["HOSE-GDN-12"], "qty_Branch", "warning", "qty_Branch 0.75 " + FLOORED.format(0)),
        }, name
        assert _lines_of(lines, "MASK-TAPE-24") == {(rows["MASK-TAPE-24"], "title", "warning", CLEANED)}, name
        assert _lines_of(lines, "LUBE-SPRAY-400") == {(rows["LUBE-SPRAY-400"], "title", "warning", CLEANED)}, name

    # The hand-written items sent: flagged for the web (SPANNER-13 Delete and the blocked GRINDER-115 as
    # inactive); not HAMMER-CLAW (no flag), the service INSTALL-HR, nor the deliberately bad ones.
    hand_written = {item[0] for item in sage_pastel_partner.ITEMS}
    assert sorted(s for s in products if s in hand_written) == [
        "BRKR-20A", "CABLE-2.5", "DRILL-BIT-SET", "GRINDER-115", "HOSE-GDN-12", "LADDER-AL-6", "LUBE-SPRAY-400",
        "MASK-TAPE-24", "PVC-ELB-20", "PVC-PIPE-20", "SEALANT-CLR", "SPANNER-13", "TAP-GARDEN", "VALVE-BALL-15",
    ]  # fmt: skip
    assert len(products) == 9_715
    pipe = products["PVC-PIPE-20"]  # ItemCode CHAR(15): padded in the tables, trimmed here
    assert pipe["source"] == {
        "source_product_code": "PVC-PIPE-20",
        "product_active": "true",
        "sync_token": "0",
        "fetch_token": "0",
    }
    assert pipe["product"]["title"] == "PVC Pipe 20mm x 3m"
    assert pipe["product"]["product_type"] == "Plumbing"
    assert pipe["product"]["variants"]["price"] == 45.5
    assert pipe["product"]["variants"]["price_tiers"] == [
        {"tier": "Contractor", "price": 41.0},
        {"tier": "Retail", "price": 45.5},
        {"tier": "Trade", "price": 38.0},
    ]  # store 001's lists; store 002's own prices are not used
    assert pipe["product"]["variants"]["qty_availability"] == [
        {"description": "Branch", "qty": 30},
        {"description": "Main store", "qty": 120},
    ]
    assert pipe["product"]["variants"]["qty"] == 150
    tap = products["TAP-GARDEN"]["product"]
    assert tap["title"] == "Garden Tap 15mm — Brass"
    assert tap["variants"]["qty_availability"] == [
        {"description": "Branch", "qty": 0},
        {"description": "Main store", "qty": 40},
    ]
    assert products["BRKR-20A"]["source"]["product_active"] == "true"  # "active " in the user field
    assert products["SPANNER-13"]["source"]["product_active"] == "false"
    # Every SKU has a tier for each synced list it has a price in (store 001), and every store; prices in cents.
    tiers = _tiers_by_item(
        databases["sqlite"],
        "SELECT ItemCode, '01', SellExcl01 FROM MultiStoreTrn WHERE StoreCode = '001' UNION ALL "
        "SELECT ItemCode, '02', SellExcl02 FROM MultiStoreTrn WHERE StoreCode = '001' UNION ALL "
        "SELECT ItemCode, '03', SellExcl03 FROM MultiStoreTrn WHERE StoreCode = '001'",
        {"01": "Retail", "02": "Trade", "03": "Contractor"},
    )
    for sku, item in products.items():
        variant = item["product"]["variants"]
        assert [t["tier"] for t in variant["price_tiers"]] == tiers[sku], sku
        assert [w["description"] for w in variant["qty_availability"]] == ["Branch", "Main store"], sku
        assert all(round(p, 2) == p for p in [variant["price"], *(t["price"] for t in variant["price_tiers"])]), sku
    assert 150 < sum("Trade" not in t for t in tiers.values()) < 250  # ~2% of the items have no Trade price

    # A fractional quantity: 37.5 and 0.75 metres of hose are sent as 37 and 0 (reported above).
    hose = products["HOSE-GDN-12"]["product"]["variants"]
    assert hose["qty_availability"] == [{"description": "Branch", "qty": 0}, {"description": "Main store", "qty": 37}]
    assert hose["qty"] == 37
    # Blocked in Pastel, flagged Active: sent as inactive (settings.inactive_items: delete).
    assert products["GRINDER-115"]["source"]["product_active"] == "false"
    # Non-physical (service) items are not sent (settings.service_items: ignore).
    assert "INSTALL-HR" not in products
    assert not [sku for sku, item in products.items() if item["product"]["product_type"] == "Services"]
    # No Trade price: no Trade tier (settings.missing_price: omit).
    assert products["SEALANT-CLR"]["product"]["variants"]["price_tiers"] == [
        {"tier": "Contractor", "price": 80.0},
        {"tier": "Retail", "price": 89.9},
    ]
    # Prices with more decimals than cents, rounded (settings.price_decimals: 2).
    ladder = products["LADDER-AL-6"]["product"]["variants"]
    assert ladder["price"] == 414.49
    assert ladder["price_tiers"] == [
        {"tier": "Contractor", "price": 380.0},
        {"tier": "Retail", "price": 414.49},
        {"tier": "Trade", "price": 350.12},
    ]
    # Control characters removed (reported above); cp1252 text arrives as it reads.
    assert products["MASK-TAPE-24"]["product"]["title"] == "Masking Tape 24mm x 40m"
    assert products["LUBE-SPRAY-400"]["product"]["title"] == "Lubricant Spray 400ml"
    assert products["VALVE-BALL-15"]["product"]["title"] == 'Ball Valve 15mm (½") – Brass'
