"""``make check-mapping`` as an integrator runs it before scheduling a new site, and legacy cp1252 text.

check-mapping applies the run's own rules: what it reports as ERROR is what the run's validate step quarantines,
what it reports as WARN is what the run only warns about (compared here with the run's quarantine report on the
same rows), and each entity is checked against its own columns only.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pyodbc
import pytest
import yaml

from stock2shop_sync import cli, pipeline, staging
from stock2shop_sync.config import SourceConfig, load_source, resolve_mapping
from stock2shop_sync.connectors import get_connector
from stock2shop_sync.demo import seed
from stock2shop_sync.model.validation import ValidationFailed
from tests.conftest import ROOT, set_connection, write_source


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
    assert "FAILED: source 'new_site': 1 mapping problem(s)" in result.stdout


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


# ---- in-process: check-mapping against the run's own validation ------------------------------------------------

ISSUE_LINE = re.compile(r"^(ERROR|WARN )  (products|customers) row (\d+) ")


def _check_in_process(capsys: pytest.CaptureFixture[str], source_id: str, limit: int) -> tuple[int, str]:
    capsys.readouterr()
    code = cli.main(["check-mapping", source_id, "--limit", str(limit)])
    return code, capsys.readouterr().out


def _reported(output: str) -> dict[str, set[tuple[str, int]]]:
    """{"ERROR": {(entity, row)}, "WARN": {...}} from check-mapping's issue lines."""
    found: dict[str, set[tuple[str, int]]] = {"ERROR": set(), "WARN": set()}
    for line in output.splitlines():
        if match := ISSUE_LINE.match(line):
            found[match.group(1).strip()].add((match.group(2), int(match.group(3))))
    return found


def _the_runs_verdict(
    config: SourceConfig, limit: int | None, totals: dict[str, int] | None = None
) -> dict[str, set[tuple[str, int]]]:
    """What the run's own validate step (pipeline.validate) makes of the rows check-mapping reads: the rows of its
    quarantine report, by severity, as far as check-mapping shows them (the report's first SHOWN_ISSUES errors and
    first SHOWN_ISSUES warnings of each entity; ``totals`` gets each entity's number of lines of each severity).
    ``limit`` None: every row, as a run extracts them."""
    verdict: dict[str, set[tuple[str, int]]] = {"ERROR": set(), "WARN": set()}
    run_id = f"check_{uuid.uuid4().hex[:8]}"
    for entity in config.entities:
        frame = get_connector(config, resolve_mapping(config)).extract(entity, limit=limit)
        folder = staging.run_folder(config.source_id, run_id)
        path = staging.write_frame(frame, folder / f"{entity}_extracted.parquet")
        # Past validation.max_invalid_share the run fails; its quarantine report is written all the same.
        with contextlib.suppress(ValidationFailed):
            pipeline.validate(config, entity, {"path": path}, run_id)
        rows = list(csv.DictReader(io.StringIO((folder / f"{entity}_quarantine.csv").read_text())))
        for label in ("ERROR", "WARN"):
            lines = [r for r in rows if (r["severity"] == "error") == (label == "ERROR")]
            if totals is not None:
                totals[f"{entity} {label}"] = len(lines)
            verdict[label] |= {(entity, int(row["row"])) for row in lines[: cli.SHOWN_ISSUES]}
    return verdict


def _demo_site(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, preset: str, source_id: str | None = None
) -> SourceConfig:
    """The shipped demo config of ``preset`` as is, against a freshly created demo database."""
    source_id = source_id or f"demo_{preset}"
    database = tmp_path / f"{source_id}.sqlite"
    conn = pyodbc.connect(f"DRIVER={{SQLite3}};Database={database}")
    try:
        seed(preset, conn)
    finally:
        conn.close()
    shipped = ROOT / "include" / "sources" / f"{source_id}.yaml"
    shutil.copy(shipped, folder / shipped.name)
    config = load_source(folder / shipped.name)
    set_connection(monkeypatch, config.connection.conn_id, {"conn_type": "odbc", "schema": str(database)})
    return config


@pytest.mark.parametrize("limit", [5, 0])
@pytest.mark.parametrize("preset", ["sage_evolution", "sage_pastel_partner"])
def test_the_shipped_demos_are_checked_by_the_runs_rules(
    sources_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    preset: str,
    limit: int,
) -> None:
    config = _demo_site(sources_dir, tmp_path, monkeypatch, preset)
    code, output = _check_in_process(capsys, config.source_id, limit)
    # Every query and mapped column of every entity is there: the only problems left are the demo data's own.
    assert not re.search(r"^ERROR  \w+ \w+ query|^ERROR  \w+: ", output, re.MULTILINE), output
    assert "mapping problem(s)" not in output
    for entity in config.entities:
        assert f"OK     {entity} main query" in output
    totals: dict[str, int] = {}
    verdict = _the_runs_verdict(config, limit or None, totals)
    assert _reported(output) == verdict, output
    for kind, total in totals.items():  # the demo companies' fractional stock alone gives hundreds of warnings
        if total > cli.SHOWN_ISSUES:
            what = "ERROR line(s)" if kind.endswith("ERROR") else "warning(s)"
            assert f"... and {total - cli.SHOWN_ISSUES} more {what}" in output
    # The mapping works, but the demo databases hold bad rows on purpose: each is an ERROR line, and the check fails
    # because of them (and only them); a sample without one passes.
    quarantined = sum(total for kind, total in totals.items() if kind.endswith("ERROR"))
    if not quarantined:
        assert limit, "every row of a demo database: its bad rows are there"
        assert code == 0, output
        assert f"OK: source '{config.source_id}': the mapping works" in output
        return
    assert code == 1, output
    assert re.search(
        rf"^FAILED: source '{config.source_id}': \d+ (sample )?row\(s\) the run would quarantine(, \d+ warning\(s\))?$",
        output,
        re.MULTILINE,
    ), output
    last = output.rstrip().splitlines()[-1]
    assert re.fullmatch(r"exit 1 because \d+ (sample )?row\(s\) would be quarantined: each ERROR line above .*", last)


def test_customers_are_not_asked_for_price_or_stock_columns(
    sources_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Evolution with settings.price_lists and settings.warehouses: the products' pivoted price_<list> and
    qty_<warehouse> columns belong to products, never to the customers query."""
    config = _demo_site(sources_dir, tmp_path, monkeypatch, "sage_evolution")
    assert config.settings["price_lists"]
    assert config.settings["warehouses"]
    assert config.entities == ["products", "customers"]
    _, output = _check_in_process(capsys, config.source_id, 5)
    products, customers = output.split("\n== customers\n")
    assert '"price_tiers": [' in products
    assert '"qty_availability": [' in products
    assert "OK     customers main query: 5 sample rows" in customers
    assert re.search(r"^       sample: 5 rows, ", customers, re.MULTILINE), customers
    assert "first Stock2Shop customer payload:" in customers
    assert not re.search(r"price_|qty_|no column", customers), customers


def test_products_are_checked_with_their_linked_sources_merged_on(
    sources_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """As the run validates them: the linked content file's title replaces the database's before the rules run."""
    _demo_site(sources_dir, tmp_path, monkeypatch, "custom_database", "demo_custom_db")
    shutil.copy(ROOT / "include" / "sources" / "demo_custom_db_content.yaml", sources_dir)
    _, output = _check_in_process(capsys, "demo_custom_db", 3)
    assert "with linked source(s) demo_custom_db_content" in output
    assert "OK     products linked source 'demo_custom_db_content': title, body_html" in output
    assert '"title": "Classic Cotton Crew Tee"' in output  # the database says "Classic Cotton Tee"
    assert "match no product" not in output  # on a sample, linked rows of products not read are not unmatched
    _, everything = _check_in_process(capsys, "demo_custom_db_content", 0)  # a linked source: its primary
    assert "is a linked source: the run reads it with 'demo_custom_db'" in everything
    assert "1 row(s) match no product and are not created: OLD-CATALOGUE-1" in everything


def _small_shop(folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rows: list[tuple[Any, ...]]) -> None:
    """A custom_database source of a few product rows (id, item_code, group_code, description, price, qty)."""
    from stock2shop_sync.demo.custom_database import DDL

    database = tmp_path / "small_shop.sqlite"
    conn = pyodbc.connect(f"DRIVER={{SQLite3}};Database={database}")
    try:
        for statement in DDL:
            conn.execute(statement)
        conn.cursor().executemany(
            "INSERT INTO products (id, item_code, group_code, description, selling_price, qty_on_hand, s2s_active,"
            " inventory_managed) VALUES (?, ?, ?, ?, ?, ?, 'Active', 1)",
            rows,
        )
        conn.commit()
    finally:
        conn.close()
    set_connection(monkeypatch, "s2s_small_shop", {"conn_type": "odbc", "schema": str(database)})
    write_source(
        folder,
        "small_shop",
        conn_id="s2s_small_shop",
        driver="SQLite3",
        s2s_source_id=101,
        entities=["products"],
        validation={"max_invalid_share": 1.0},
    )


def test_what_the_run_quarantines_is_an_error_and_what_it_warns_about_a_warning(
    sources_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _small_shop(
        sources_dir,
        tmp_path,
        monkeypatch,
        [
            (1, "CAP", None, "Cap", "120.00", "4"),
            (2, "NO-PRICE", None, "Belt", None, "3"),  # the run quarantines it: price is required
            (3, "OVERSOLD", None, "Bag", "80.00", "-2"),  # the run sends it with qty 0 and warns
        ],
    )
    code, output = _check_in_process(capsys, "small_shop", 10)
    assert "ERROR  products row 2 NO-PRICE: price: price is required (value: blank)" in output
    assert "WARN   products row 3 OVERSOLD: qty: qty is negative; sent as 0" in output
    assert "       every row: 3 rows, 2 valid, 1 quarantined, 0 ignored, 1 warning(s)" in output
    # The run would leave the row out and go on (this site allows any share), but the row would not reach
    # Stock2Shop: the check fails because of it, and says so last.
    assert code == 1
    assert "FAILED: source 'small_shop': 1 row(s) the run would quarantine, 1 warning(s)" in output
    assert output.rstrip().splitlines()[-1] == (
        "exit 1 because 1 row(s) would be quarantined: each ERROR line above gives a row's reason; fix the data or "
        "the mapping until every row would be sent"
    )
    config = load_source(sources_dir / "small_shop.yaml")
    assert (
        _the_runs_verdict(config, None)
        == _reported(output)
        == {
            "ERROR": {("products", 2)},
            "WARN": {("products", 3)},
        }
    )


def test_more_quarantined_rows_than_the_site_allows_fail_the_check(
    sources_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [(1, "CAP", None, "Cap", "120.00", "4"), (2, "NO-PRICE", None, "Belt", None, "3")]
    _small_shop(sources_dir, tmp_path, monkeypatch, rows)
    path = sources_dir / "small_shop.yaml"
    path.write_text(path.read_text().replace("max_invalid_share: 1.0", "max_invalid_share: 0.1"))
    code, output = _check_in_process(capsys, "small_shop", 0)
    assert code == 1
    assert "ERROR  source 'small_shop', products: 1 of 2 rows are invalid (50.0%)" in output
    assert "FAILED: source 'small_shop': 1 row(s) the run would quarantine, 1 other error(s)" in output
    assert "exit 1 because 1 row(s) would be quarantined (besides the other problems)" in output


def test_warnings_alone_pass(
    sources_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [(1, "CAP", None, "Cap", "120.00", "4"), (2, "OVERSOLD", None, "Bag", "80.00", "-2")]
    _small_shop(sources_dir, tmp_path, monkeypatch, rows)
    code, output = _check_in_process(capsys, "small_shop", 0)
    assert "WARN   products row 2 OVERSOLD: qty: qty is negative; sent as 0" in output
    assert not re.search(r"^ERROR", output, re.MULTILINE)
    assert code == 0
    assert (
        "OK: source 'small_shop': the mapping works; 1 warning(s) (the run sends those rows and only reports them)"
        in output
    )


def test_a_variant_disagreement_is_reported_as_the_run_judges_it(
    sources_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Variants of one product with different titles: ERROR if the run quarantines them, WARN if it only warns,
    nothing if the site's title rule settles them; never a WARN for what the run quarantines."""
    _small_shop(
        sources_dir,
        tmp_path,
        monkeypatch,
        [
            (1, "SHORTS-S", "SHORTS", "Race Shorts 5 in", "449.00", "6"),
            (2, "SHORTS-M", "SHORTS", "Race Shorts 5in", "449.00", "5"),
        ],
    )
    code, output = _check_in_process(capsys, "small_shop", 0)
    verdict = _the_runs_verdict(load_source(sources_dir / "small_shop.yaml"), None)
    assert _reported(output) == verdict, output
    assert code == (1 if verdict["ERROR"] else 0)  # a row the run quarantines fails the check
    assert not re.search(r"^WARN .* title: variants of product", output, re.MULTILINE)
    if verdict["ERROR"]:  # the custom_database preset's title_rule is agree: the run quarantines them
        assert re.search(r"^ERROR  products row 1 SHORTS-S: title: variants of product SHORTS disagree", output, re.M)


def test_the_exit_code_says_whether_every_sampled_row_would_be_sent(
    sources_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``make check-mapping`` as an integrator runs it: a row the run would quarantine fails the check, with its
    reason; once the data is fixed, the same check passes."""
    rows = [(1, "CAP", None, "Cap", "120.00", "4"), (2, "NO-PRICE", None, "Belt", None, "3")]
    _small_shop(sources_dir, tmp_path, monkeypatch, rows)
    failed = _check("small_shop")
    assert failed.returncode != 0, failed.stdout + failed.stderr  # make exits 2 when the command fails
    assert "ERROR  products row 2 NO-PRICE: price: price is required (value: blank)" in failed.stdout
    assert failed.stdout.rstrip().splitlines()[-1].startswith("exit 1 because 1 row(s) would be quarantined")

    conn = pyodbc.connect(f"DRIVER={{SQLite3}};Database={tmp_path / 'small_shop.sqlite'}")
    conn.execute("UPDATE products SET selling_price = 35 WHERE item_code = 'NO-PRICE'")
    conn.commit()
    conn.close()
    passed = _check("small_shop")
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert not re.search(r"^ERROR", passed.stdout, re.MULTILINE)
    assert "OK: source 'small_shop': the mapping works" in passed.stdout


def test_an_unmapped_field_is_neither_read_nor_sent(
    sources_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A site whose query has no barcode or weight column unmaps the preset's ``barcode`` and ``grams``: the
    mapping checks out, the run extracts it, and no payload carries a barcode."""
    _small_shop(sources_dir, tmp_path, monkeypatch, [(1, "CAP", None, "Cap", "120.00", "4")])
    query = (
        "SELECT p.item_code, COALESCE(p.group_code, p.item_code) AS group_code, p.description, p.category, p.brand,"
        " p.selling_price, p.qty_on_hand, p.s2s_active, p.inventory_managed, g.option1_name, g.option2_name,"
        " g.option3_name, p.option1, p.option2, p.option3"
        " FROM products p LEFT JOIN product_groups g ON g.group_code = p.group_code ORDER BY p.id"
    )
    path = sources_dir / "small_shop.yaml"
    data = yaml.safe_load(path.read_text())
    unmapped = {"products": {"query": query, "fields": {"barcode": None, "grams": None}}}
    path.write_text(yaml.safe_dump({**data, "mapping_overrides": unmapped}))
    config = load_source(path)
    assert {"barcode", "grams"}.isdisjoint(resolve_mapping(config).products.fields)

    code, output = _check_in_process(capsys, "small_shop", 10)
    assert code == 0, output
    assert "OK     products main query: 1 sample rows, 15 columns" in output
    assert '"sku": "CAP"' in output
    assert "barcode" not in output
    assert "grams" not in output

    extracted = pipeline.extract(config, "products", f"unmap_{uuid.uuid4().hex[:8]}")
    frame = staging.read_frame(extracted["path"])
    assert extracted["rows"] == 1
    assert {"barcode", "grams"}.isdisjoint(frame.columns)
