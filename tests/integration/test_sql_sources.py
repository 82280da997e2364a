"""The Custom Database mapping over real ODBC drivers: SQLite, PostgreSQL and MariaDB give the same payloads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from stock2shop_sync import pipeline
from stock2shop_sync.config import load_source
from stock2shop_sync.hooks.stock2shop import Stock2ShopHook
from stock2shop_sync.model.canonical import MappingError
from tests.conftest import write_source

S2S_IDS = {"sqlite": 101, "postgres": 102, "mariadb": 103}


def _sync(folder: Path, name: str, source: dict[str, Any], run_id: str) -> dict[str, dict[str, Any]]:
    path = write_source(
        folder, f"shop_{name}", conn_id=source["conn_id"], driver=source["driver"], s2s_source_id=S2S_IDS[name]
    )
    config = load_source(path)
    hook = Stock2ShopHook(config.stock2shop.conn_id)
    steps = {}
    for entity in config.entities:
        extracted = pipeline.extract(config, entity, run_id)
        validated = pipeline.validate(config, entity, extracted, run_id)
        steps[entity] = {**validated, **pipeline.upload(config, entity, validated, hook)}
    hook.close()
    return steps


def _received(sandbox: str, kind: str, s2s_id: int) -> dict[str, dict[str, Any]]:
    rows = requests.get(f"{sandbox}/sandbox/{kind}", params={"source_id": s2s_id}, timeout=10).json()
    key = "source_variant_code" if kind == "products" else "source_customer_code"
    out = {}
    for row in rows:
        payload = row["payload"]
        payload["source"].pop("source_id")
        out[row[key]] = payload
    return out


def test_same_mapping_same_payloads_from_sqlite_postgres_and_mariadb(
    sandbox: str,
    sources_dir: Path,
    sqlite_source: dict[str, Any],
    postgres_source: dict[str, Any],
    mariadb_source: dict[str, Any],
) -> None:
    sources = {"sqlite": sqlite_source, "postgres": postgres_source, "mariadb": mariadb_source}
    counts = {name: _sync(sources_dir, name, src, f"run_{name}") for name, src in sources.items()}

    # Same counts from every database: 40 product rows, 5 quarantined, 2 ignored, 33 sent (1 a delete; 2.5 on
    # hand floored to 2 with a warning, as settings.fractional_qty's default says).
    for name, steps in counts.items():
        products, customers = steps["products"], steps["customers"]
        assert (products["rows"], products["valid"], products["invalid"], products["ignored"]) == (40, 33, 5, 2), name
        assert (products["deleted"], products["uploaded"], products["warnings"]) == (1, 33, 2), name
        assert (customers["rows"], customers["valid"], customers["invalid"], customers["ignored"]) == (12, 9, 2, 1)
        assert customers["uploaded"] == 9, name

    products = {name: _received(sandbox, "products", sid) for name, sid in S2S_IDS.items()}
    customers = {name: _received(sandbox, "customers", sid) for name, sid in S2S_IDS.items()}
    assert len(products["sqlite"]) == 33
    assert products["sqlite"]["GD-SOIL-30L"]["product"]["variants"]["qty"] == 2
    assert products["postgres"] == products["sqlite"]
    assert products["mariadb"] == products["sqlite"]
    assert customers["postgres"] == customers["sqlite"]
    assert customers["mariadb"] == customers["sqlite"]

    # Field by field, as the merchant's data says.
    tee = products["postgres"]["TEE-NAV-M"]
    assert tee["source"] == {
        "source_product_code": "TEE-CLASSIC",
        "product_active": "true",
        "sync_token": "0",
        "fetch_token": "0",
    }
    assert tee["product"]["title"] == "Classic Cotton Tee"
    assert tee["product"]["collection"] == "Apparel"
    assert tee["product"]["vendor"] == "Karoo Cotton"
    assert tee["product"]["options"] == [{"name": "Size", "position": 1}, {"name": "Colour", "position": 2}]
    variant = tee["product"]["variants"]
    assert variant["sku"] == "TEE-NAV-M"
    assert variant["price"] == 249.0
    assert variant["qty"] == 30 % 23  # (5 * n) % 23 for the 6th tee
    assert (variant["option1"], variant["option2"], variant["option3"]) == ("M", "Navy", None)
    assert variant["inventory_management"] == "true"
    assert variant["grams"] == 180

    socks = products["mariadb"]["SOCK-OL-9-11"]["product"]
    assert [o["name"] for o in socks["options"]] == ["Size", "Colour", "Pack"]
    assert (socks["variants"]["option1"], socks["variants"]["option3"]) == ("9-11", "3-pack")
    assert socks["variants"]["price"] == 129.9

    simple = products["sqlite"]["HW-HAMMER-16"]
    assert simple["source"]["source_product_code"] == "HW-HAMMER-16"
    assert simple["product"]["options"] == []
    assert products["sqlite"]["GD-GLOVES"]["product"]["title"] == "Gardening Gloves"  # trailing spaces trimmed
    assert products["sqlite"]["CF-MUG-ENAMEL"]["product"]["title"] == "Enamel Camp Mug — 350 ml"
    assert products["sqlite"]["HW-GOGGLES"]["product"]["variants"]["qty"] == 0  # -3 on hand is sent as 0
    assert products["sqlite"]["HW-OLD-SANDER"]["source"]["product_active"] == "false"  # Delete
    assert products["sqlite"]["SRV-DELIVERY"]["product"]["variants"]["inventory_management"] == "false"
    for absent in (
        "GD-SEEDS-MIX",
        "CF-KETTLE",
        "HW-TAPE-5M",
        "HW-CLAMP-F",
        "HW-FILE-SET",
        "CF-LAMP-LED",
    ):
        assert absent not in products["sqlite"], absent

    assert customers["mariadb"]["ACC008"] == {
        "source": {"source_customer_code": "ACC008", "customer_active": "true"},
        "customer": {
            "first_name": "Marié",
            "last_name": "Du Toit",
            "email": "marie@dutoit-interiors.co.za",
            "accepts_marketing": False,
        },
    }
    assert customers["sqlite"]["ACC004"]["source"]["customer_active"] == "false"
    assert {"ACC005", "ACC006", "ACC007"}.isdisjoint(customers["sqlite"])


def test_missing_column_names_source_field_and_column(
    sources_dir: Path, postgres_source: dict[str, Any], tmp_path: Path
) -> None:
    path = write_source(
        sources_dir,
        "shop_pg",
        conn_id=postgres_source["conn_id"],
        driver=postgres_source["driver"],
        s2s_source_id=102,
        mapping_overrides={"products": {"fields": {"barcode": "ean_code"}}},
    )
    config = load_source(path)
    with pytest.raises(MappingError) as excinfo:
        pipeline.extract(config, "products", "run_missing_column")
    message = str(excinfo.value)
    assert "shop_pg" in message
    assert "barcode <- 'ean_code'" in message
    assert "item_code" in message  # lists what the query did return
