"""A SQL primary source plus a linked Google Sheet plus a linked CSV, through the generated DAG; and a flat
file as a primary source with broken rows."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from airflow.dag_processing.dagbag import DagBag
from airflow.sdk import ObjectStoragePath
from airflow.utils.state import DagRunState, TaskInstanceState

from sandbox.sheets import FakeSheets
from stock2shop_sync.staging import staging_root
from tests.conftest import ROOT, write_source

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("airflow_db")]

DAG_FILE = str(ROOT / "dags" / "stock2shop_sources.py")


def _products(sandbox: str, s2s_id: int) -> dict[str, dict[str, Any]]:
    rows = requests.get(f"{sandbox}/sandbox/products", params={"source_id": s2s_id}, timeout=10).json()
    return {r["sku"]: r["payload"] for r in rows}


def _write(folder: Path, name: str, config: dict[str, Any]) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def test_sql_primary_with_linked_sheet_and_csv(
    sandbox: str, sources_dir: Path, sqlite_source: dict[str, Any], google: tuple[str, FakeSheets], tmp_path: Path
) -> None:
    write_source(sources_dir, "erp", conn_id=sqlite_source["conn_id"], driver="SQLite3", s2s_source_id=101)
    _write(sources_dir, "content_sheet", {
        "source_id": "content_sheet", "type": "google_sheets",
        "sheet": {"spreadsheet": "sheet-key-123", "worksheet": "Enrichment"},
        "link": {"primary": "erp", "owns": ["title", "body_html", "collection", "meta_*", "image*"]},
    })  # fmt: skip
    barcodes = tmp_path / "barcodes.csv"
    barcodes.write_text(
        "source_variant_code;barcode;grams\r\nTEE-BLA-S;6009999000011;185\r\nhw-hammer-16 ;6009999000028;\r\nGHOST-1;1;1\r\n"
    )
    _write(sources_dir, "barcode_file", {
        "source_id": "barcode_file", "type": "flat_file",
        "file": {"path": str(barcodes)},
        "link": {"primary": "erp", "owns": ["barcode", "grams"]},
    })  # fmt: skip

    bag = DagBag(dag_folder=DAG_FILE)
    assert bag.import_errors == {}
    assert "s2s_content_sheet" not in bag.dags  # linked sources run inside their primary's DAG
    dag = bag.dags["s2s_erp"]
    assert {"extract_linked_content_sheet", "extract_linked_barcode_file", "merge_products"} <= set(dag.task_dict)
    assert dag.task_dict["merge_products"].downstream_task_ids == {"validate_products", "report"}
    run = dag.test(logical_date=None)
    assert run.state == DagRunState.SUCCESS, {ti.task_id: ti.state for ti in run.get_task_instances()}

    products = _products(sandbox, 101)
    assert len(products) == 33
    tee = products["TEE-BLA-S"]
    # The sheet owns title, body_html, collection, meta_* and image* (product level, by source_product_code).
    assert tee["product"]["title"] == "Classic Organic Tee"
    assert tee["product"]["body_html"] == "<p>Soft organic cotton.</p>"
    assert tee["product"]["collection"] == "T-Shirts"
    assert tee["product"]["meta"] == [{"key": "material", "value": "cotton"}]
    assert tee["product"]["images"] == [{"src": "https://img.example/tee.jpg", "position": 1}]
    # The file owns barcode and grams (variant level, by source_variant_code).
    assert tee["product"]["variants"]["barcode"] == "6009999000011"
    assert tee["product"]["variants"]["grams"] == 185
    # The ERP owns everything else.
    assert tee["product"]["vendor"] == "Karoo Cotton"
    assert (tee["product"]["variants"]["price"], tee["product"]["variants"]["qty"]) == (249.0, 5)
    assert tee["source"]["source_product_code"] == "TEE-CLASSIC"
    # Every variant of the product gets the product-level fields.
    assert products["TEE-NAV-XL"]["product"]["title"] == "Classic Organic Tee"
    assert products["TEE-NAV-XL"]["product"]["variants"]["barcode"] == "6001000000012"  # not in the file: the ERP's
    hammer = products["HW-HAMMER-16"]
    assert hammer["product"]["title"] == "Stanley Claw Hammer 16 oz"
    assert hammer["product"]["collection"] == "Tools"
    assert "images" not in hammer["product"]  # blank image cell: nothing to send
    assert hammer["product"]["variants"]["barcode"] == "6009999000028"  # matched trimmed and case-insensitively
    assert hammer["product"]["variants"]["grams"] == 0  # blank in the file: the ERP's value (none) stays
    # A product missing from the sheet keeps the ERP's title.
    assert products["GD-HOSE-20"]["product"]["title"] == "Garden Hose 20 m"
    # Rows that match no ERP product are reported, never created.
    assert "NOT-IN-ERP" not in json.dumps(products)
    assert "GHOST-1" not in products
    report = json.loads((staging_root() / "erp" / "latest_run_report.json").read_text())
    linked = report["entities"]["products"]["linked"]
    assert linked["content_sheet"]["unmatched_codes"] == ["NOT-IN-ERP"]
    assert linked["content_sheet"]["products_enriched"] == 2
    assert linked["barcode_file"]["unmatched_codes"] == ["GHOST-1"]
    assert linked["barcode_file"]["fields"] == ["barcode", "grams"]


def test_linked_source_config_errors(sources_dir: Path, sqlite_source: dict[str, Any]) -> None:
    from stock2shop_sync.config import load_all

    write_source(sources_dir, "erp", conn_id=sqlite_source["conn_id"], driver="SQLite3", s2s_source_id=101)
    cases = {
        "orphan": ({"link": {"primary": "nope", "owns": ["title"]}}, "link.primary", "no primary source 'nope'"),
        "ordering": (
            {"link": {"primary": "erp", "owns": ["title"]}, "orders": {"enabled": True}},
            "",
            "a linked source never receives orders",
        ),
        "sheet_orders": (
            {"stock2shop": {"source_id": 5}, "orders": {"enabled": True}},
            "orders.enabled",
            "never take sales orders",
        ),
        "bad_owns": ({"link": {"primary": "erp", "owns": ["colour"]}}, "link.owns", "'colour' is not a product field"),
    }
    for name, (extra, _, _) in cases.items():
        _write(sources_dir, name, {"source_id": name, "type": "flat_file", "file": {"path": "x.csv"}, **extra})
    configs, errors = load_all(sources_dir)
    assert [c.source_id for c in configs] == ["erp"]
    by_file = {Path(e.file).stem: e for e in errors}
    for name, (_, key, problem) in cases.items():
        assert problem in by_file[name].problem, (name, by_file[name])
        if key:
            assert by_file[name].key.startswith(key), by_file[name]


def test_broken_linked_config_holds_the_primary_products_back(
    sandbox: str, sources_dir: Path, sqlite_source: dict[str, Any]
) -> None:
    write_source(sources_dir, "erp", conn_id=sqlite_source["conn_id"], driver="SQLite3", s2s_source_id=101)
    _write(
        sources_dir,
        "bad_sheet",
        {"source_id": "bad_sheet", "type": "google_sheets", "sheet": {}, "link": {"primary": "erp", "owns": ["title"]}},
    )
    run = DagBag(dag_folder=DAG_FILE).dags["s2s_erp"].test(logical_date=None)
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states["linked_config_error_bad_sheet"] == TaskInstanceState.FAILED
    assert states["upload_products"] == TaskInstanceState.UPSTREAM_FAILED
    # Uploads of one source are chained (one Stock2Shop login at a time), so customers wait for products too.
    assert states["validate_customers"] == TaskInstanceState.SUCCESS
    assert states["upload_customers"] == TaskInstanceState.UPSTREAM_FAILED
    assert _products(sandbox, 101) == {}


# One tab character in the link block: YAML refuses the file, so its keys are recovered from the raw text.
TAB_BROKEN_LINKED = (
    "source_id: content_sheet\ntype: flat_file\nfile: {path: content.csv}\nlink:\n  primary: erp\n\towns: [title]\n"
)


def test_linked_config_that_is_not_valid_yaml_holds_the_primary_products_back(
    sandbox: str, sources_dir: Path, sqlite_source: dict[str, Any]
) -> None:
    primary = write_source(sources_dir, "erp", conn_id=sqlite_source["conn_id"], driver="SQLite3", s2s_source_id=101)
    linked = sources_dir / "content_sheet.yaml"
    linked.write_text(TAB_BROKEN_LINKED)
    bag = DagBag(dag_folder=DAG_FILE)
    dag = bag.dags["s2s_erp"]
    held = dag.task_dict["linked_config_error_content_sheet"]
    # The failing task's message names the broken file, why it is broken, and the primary's file it holds back.
    assert f"{linked}: line 6, column 1: invalid YAML" in held.error
    assert f"linked to primary source 'erp' ({primary}), whose products are held back" in held.error
    run = dag.test(logical_date=None)
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert run.state == DagRunState.FAILED
    assert states["linked_config_error_content_sheet"] == TaskInstanceState.FAILED
    assert states["merge_products"] == TaskInstanceState.UPSTREAM_FAILED
    assert states["upload_products"] == TaskInstanceState.UPSTREAM_FAILED
    assert _products(sandbox, 101) == {}  # the ERP's titles never went over the linked source's


def test_check_config_names_the_broken_linked_file_and_its_primary(
    sources_dir: Path, sqlite_source: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    from stock2shop_sync import cli

    primary = write_source(sources_dir, "erp", conn_id=sqlite_source["conn_id"], driver="SQLite3", s2s_source_id=101)
    linked = sources_dir / "content_sheet.yaml"
    linked.write_text(TAB_BROKEN_LINKED)
    assert cli.check_config(str(sources_dir)) == 1
    out = capsys.readouterr().out
    (line,) = [line for line in out.splitlines() if line.startswith("ERROR")]
    assert line.startswith(f"ERROR  {linked}: line 6, column 1: invalid YAML")
    assert f"linked to primary source 'erp' ({primary}), whose products are held back until it is fixed" in line


@pytest.mark.parametrize(
    ("text", "source_id", "primary", "every"),
    [
        ("source_id: c\nlink: {primary: erp, owns: [title]\n", "c", "erp", False),  # unclosed flow mapping
        ("source_id: 'c'  # note\nlink:\n\tprimary: \"erp\"  # tab\n", "c", "erp", False),
        ("source_id: c\nlink: [erp\n", "c", None, True),  # linked, but to which primary cannot be told
        ("type: flat_file\n\tfile: {path: x.csv}\n", None, None, True),  # no source_id: its role cannot be told
        ("source_id: shop_two\nfile: {path: x.csv\n", "shop_two", None, False),  # a primary's own broken config
    ],
)
def test_role_of_a_config_that_does_not_parse(
    sources_dir: Path, sqlite_source: dict[str, Any], text: str, source_id: str | None, primary: str | None, every: bool
) -> None:
    from stock2shop_sync.config import load_all

    write_source(sources_dir, "erp", conn_id=sqlite_source["conn_id"], driver="SQLite3", s2s_source_id=101)
    (sources_dir / "broken.yaml").write_text(text)
    _, (error,) = load_all(sources_dir)
    assert (error.source_id, error.primary, error.holds_every_primary) == (source_id, primary, every)
    assert error.holds_back("erp") == (primary == "erp" or every)
    if every:
        assert "which primary source this file is linked to cannot be told" in error.problem


def test_flat_file_primary_quarantines_broken_rows_with_line_numbers(
    sandbox: str, sources_dir: Path, tmp_path: Path
) -> None:
    data = (
        (
            b"sku,title,price,qty,price_Wholesale,qty_JHB,meta_colour\r\n"
            b"MUG-01,Enamel Mug,89.90,10,70,10,red\r\n"
            b"MUG-02,Enamel Mug Large,abc,5,80,5,blue\r\n"
            b"MUG-03,Short Row,10\r\n"
        )
        + "MUG-04,Caf\xe9 Mug,50,2,40,2,white\r\n".encode("cp1252")
        + b"MUG-05,Tea Cup,35.5,7,30,7,green\r\n"
    )
    path = tmp_path / "catalogue.csv"
    path.write_bytes(data)
    _write(sources_dir, "shop_file", {
        "source_id": "shop_file", "type": "flat_file", "file": {"path": str(path)},
        "stock2shop": {"source_id": 102}, "validation": {"max_invalid_share": 0.75},
    })  # fmt: skip
    run = DagBag(dag_folder=DAG_FILE).dags["s2s_shop_file"].test(logical_date=None)
    assert run.state == DagRunState.SUCCESS
    products = _products(sandbox, 102)
    assert sorted(products) == ["MUG-01", "MUG-05"]
    mug = products["MUG-01"]["product"]
    assert mug["variants"]["price_tiers"] == [{"tier": "Wholesale", "price": 70.0}]
    assert mug["variants"]["qty_availability"] == [{"description": "JHB", "qty": 10}]
    assert mug["meta"] == [{"key": "colour", "value": "red"}]
    assert products["MUG-01"]["source"]["source_product_code"] == "MUG-01"
    report = json.loads((staging_root() / "shop_file" / "latest_run_report.json").read_text())
    issues = list(
        csv.DictReader(io.StringIO(ObjectStoragePath(report["entities"]["products"]["quarantine_report"]).read_text()))
    )
    reasons = {(row["row"], row["field"]): row["reason"] for row in issues}
    assert reasons[("3", "price")] == "price must be a number"
    assert reasons[("4", "row")] == "line 4 has 3 fields but the header has 7"
    assert reasons[("5", "row")] == "line 5 is not valid utf-8 text (in title)"
    assert report["entities"]["products"]["uploaded"] == 2


@pytest.mark.parametrize(
    ("first", "second"), [(["meta_*"], ["meta_colour"]), (["title"], ["body_html", "title"]), (["image1"], ["image*"])]
)
def test_two_linked_sources_may_not_own_the_same_field(
    sources_dir: Path, sqlite_source: dict[str, Any], first: list[str], second: list[str]
) -> None:
    from stock2shop_sync.config import load_all

    write_source(sources_dir, "erp", conn_id=sqlite_source["conn_id"], driver="SQLite3", s2s_source_id=101)
    for name, owns in (("a_sheet", first), ("b_file", second)):
        _write(
            sources_dir,
            name,
            {
                "source_id": name,
                "type": "flat_file",
                "file": {"path": "x.csv"},
                "link": {"primary": "erp", "owns": owns},
            },
        )
    configs, errors = load_all(sources_dir)
    assert sorted(c.source_id for c in configs) == ["a_sheet", "erp"]
    (error,) = errors
    assert error.file.endswith("b_file.yaml")
    assert error.key == "link.owns"
    assert "already owned by linked source 'a_sheet': each field has one owner" in error.problem
    assert error.primary == "erp"  # so erp's products are held back rather than synced without it
