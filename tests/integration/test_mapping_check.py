"""``make check-mapping`` as an integrator runs it before scheduling a new site, and legacy cp1252 text."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pyodbc
import yaml

from stock2shop_sync.config import load_source, resolve_mapping
from stock2shop_sync.connectors import get_connector
from tests.conftest import ROOT


def _site(folder: Path, source: dict[str, Any], source_id: str, preset: str, **changes: Any) -> Path:
    config = yaml.safe_load((ROOT / "include" / "sources" / f"demo_{preset}.yaml").read_text())
    config.update(source_id=source_id, connection={"conn_id": source["conn_id"], "driver": source["driver"]}, **changes)
    path = folder / f"{source_id}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _check(source_id: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "-s", "check-mapping", f"SOURCE={source_id}", "LIMIT=4"],
        cwd=ROOT, env=os.environ.copy(), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_a_site_that_lacks_a_udf_is_told_which_setting_names_it(
    sources_dir: Path, postgres_source: dict[str, Any]
) -> None:
    settings = yaml.safe_load((ROOT / "include" / "sources" / "demo_sage_evolution.yaml").read_text())["settings"]
    _site(
        sources_dir, postgres_source, "new_site", "sage_evolution", settings={**settings, "brand_field": "s.ucIIMake"}
    )
    result = _check("new_site")
    assert result.returncode != 0
    assert "ERROR  products main query failed:" in result.stdout
    assert "ucIIMake" in result.stdout.lower() or "uciimake" in result.stdout
    assert "the column comes from settings.brand_field = s.ucIIMake: does this site have it?" in result.stdout
    assert "OK     products price_lists query" in result.stdout  # the other queries are still checked
    assert "1 problem(s): source 'new_site'" in result.stdout


def test_a_mapped_column_the_query_does_not_return(sources_dir: Path, mariadb_source: dict[str, Any]) -> None:
    overrides = {"products": {"fields": {"title": "descripton"}}}
    _site(sources_dir, mariadb_source, "typo_site", "sage_pastel_partner", mapping_overrides=overrides)
    result = _check("typo_site")
    assert result.returncode != 0
    assert "ERROR  products main query: no column 'descripton' for title; did you mean 'description'?" in result.stdout


def test_a_good_site_shows_a_sample_payload(sources_dir: Path, sqlite_source: dict[str, Any]) -> None:
    _site(sources_dir, sqlite_source, "good_site", "sage_pastel_partner")
    result = _check("good_site")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK     products main query: 4 sample rows" in result.stdout
    assert "first Stock2Shop product payload:" in result.stdout
    assert '"price_tiers": [' in result.stdout
    assert "OK: source 'good_site'" in result.stdout


def test_unknown_source() -> None:
    result = _check("no_such_source")
    assert result.returncode != 0
    assert "ERROR  no source 'no_such_source'" in result.stdout


def test_cp1252_descriptions_arrive_as_utf8(sources_dir: Path, sqlite_source: dict[str, Any]) -> None:
    """A legacy database holding cp1252 bytes, read with ``connection.encoding: cp1252``.

    Without the setting this driver drops the bytes it cannot decode (0x96, the en dash), which no later
    step can undo; drivers that decode as Latin-1 instead are repaired in the canonical step (unit-tested).
    """
    encoding = "cp1252"
    conn = pyodbc.connect(f"DRIVER={{SQLite3}};Database={sqlite_source['path']}")
    # "Garden Tap 15mm – Brass (Café)" as cp1252 bytes, stored as text the way a legacy ERP holds it.
    raw = "Garden Tap 15mm – Brass (Café)".encode("cp1252").hex()
    conn.execute(f"UPDATE Inventory SET Description = CAST(x'{raw}' AS TEXT) WHERE ItemCode LIKE 'TAP-GARDEN%'")
    conn.commit()
    conn.close()
    connection = {"conn_id": sqlite_source["conn_id"], "driver": "SQLite3", "encoding": encoding}
    path = _site(sources_dir, sqlite_source, "legacy", "sage_pastel_partner")
    data = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**data, "connection": connection}))
    config = load_source(path)
    frame = get_connector(config, resolve_mapping(config)).extract("products")
    title = frame.loc[frame["sku"] == "TAP-GARDEN", "title"].item()
    assert title == "Garden Tap 15mm – Brass (Café)"
