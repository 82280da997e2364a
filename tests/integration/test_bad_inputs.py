"""The bad-input corpus (``tests/data/bad_inputs/cases.yaml``) run through the code path a user hits.

Each case names a source type, its input file(s) and what a user must see:

* ``config_error``: ``check-config`` prints ``ERROR  <file>: <key>: <problem>`` for the config and exits 1;
* ``error``: the extract fails with a message naming the source and the problem (no traceback-only crash);
* ``quarantine``: the validate step's quarantine report (the CSV a user opens) has a line for the row, with its
  record, field, severity and reason, and names the source;
* ``valid`` / ``counts`` / ``log``: what is sent for rows that are fine once cleaned, the run's counts, and a
  warning the task log must carry.

``pytest -k <case id>`` runs one case. The last test builds a sources folder with one good source next to a
broken config and a source whose data is broken, and runs the generated DAGs with ``dag.test()``.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from contextlib import ExitStack, closing
from pathlib import Path
from typing import Any

import pyodbc
import pytest
import requests
import yaml
from airflow.sdk import ObjectStoragePath

from sandbox.isync import IsyncState, create_isync_app
from sandbox.sage_accounting import create_sage_app
from sandbox.sage_accounting import demo_state as sage_demo_state
from sandbox.server import running_app
from sandbox.sheets import FakeSheets
from stock2shop_sync import cli, pipeline, staging
from stock2shop_sync.config import load_source
from stock2shop_sync.demo import seed as seed_preset
from stock2shop_sync.model.canonical import MappingError
from tests.conftest import MARIADB, PG, ROOT, odbc_string, set_connection

CORPUS = ROOT / "tests" / "data" / "bad_inputs"
CASES: list[dict[str, Any]] = yaml.safe_load((CORPUS / "cases.yaml").read_text(encoding="utf-8"))["cases"]
SHEET_KEY = "bad-inputs-sheet"


def _statements(path: Path) -> list[str]:
    """The statements of a corpus ``.sql`` file (one per ``;`` at a line's end; ``--`` lines are comments)."""
    text = "\n".join(line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("--"))
    return [s.strip() for s in re.split(r";\s*\n", text + "\n") if s.strip()]


def _execute(conn: pyodbc.Connection, path: Path) -> None:
    with closing(conn):
        for statement in _statements(path):
            conn.execute(statement)
        conn.commit()


class CaseRun:
    """Builds one case's source (database, stand-in or file) and config in the test's tmp folder."""

    def __init__(self, case: dict[str, Any], request: pytest.FixtureRequest, tmp_path: Path, stack: ExitStack):
        self.case = case
        self.request = request
        self.tmp_path = tmp_path
        self.stack = stack
        self.monkeypatch: pytest.MonkeyPatch = request.getfixturevalue("monkeypatch")
        self.folder: Path = request.getfixturevalue("sources_dir")

    def input(self, name: str | None = None) -> Path:
        return CORPUS / (name or self.case["input"])

    def location(self) -> dict[str, Any]:
        """The config keys that say where the source reads from, after setting the source up."""
        source = self.case["source"]
        if source == "flat_file":
            return {"file": {"path": str(self.input()), **self.case.get("file", {})}}
        if source == "google_sheets":
            _, state = self.request.getfixturevalue("google")
            assert isinstance(state, FakeSheets)
            raw = self.input().read_text(encoding="utf-8")
            state.spreadsheets.setdefault(SHEET_KEY, {})[self.case["id"]] = list(csv.reader(io.StringIO(raw)))
            return {"sheet": {"spreadsheet": SHEET_KEY, "worksheet": self.case.get("worksheet", self.case["id"])}}
        if source in ("custom_database", "sage_evolution", "sage_pastel_partner"):
            return {"connection": self._database(source)}
        if source == "isync":
            state = IsyncState(products=json.loads(self.input().read_text(encoding="utf-8")))
            url = self.stack.enter_context(running_app(create_isync_app(state)))
            conn = {"conn_type": "http", "host": url, "login": state.username, "password": state.password}
            set_connection(self.monkeypatch, "s2s_bad_isync", conn)
            return {"connection": {"conn_id": "s2s_bad_isync"}}
        if source == "sage_accounting":
            data = json.loads(self.input().read_text(encoding="utf-8"))
            state = sage_demo_state()
            state.items, state.customers, state.item_prices = data["items"], data["customers"], []
            url = self.stack.enter_context(running_app(create_sage_app(state)))
            conn = {"conn_type": "http", "host": url, "login": state.username, "password": state.password,
                    "extra": {"apikey": state.apikey, "company_id": state.company_id}}  # fmt: skip
            set_connection(self.monkeypatch, "s2s_bad_sage", conn)
            return {"connection": {"conn_id": "s2s_bad_sage"}, "api": {"region": "za"}}
        raise AssertionError(f"case {self.case['id']}: unknown source type {source!r}")

    def _database(self, preset: str) -> dict[str, Any]:
        engine = self.case.get("engine", "sqlite")
        if engine == "sqlite":
            path = self.tmp_path / "source.sqlite"
            if preset != "custom_database":  # the ERP's own tables, with the case's changes on top
                with closing(pyodbc.connect(f"DRIVER={{SQLite3}};Database={path}")) as conn:
                    seed_preset(preset, conn)
            _execute(pyodbc.connect(f"DRIVER={{SQLite3}};Database={path}"), self.input())
            set_connection(self.monkeypatch, "s2s_bad_sqlite", {"conn_type": "odbc", "schema": str(path)})
            return {"conn_id": "s2s_bad_sqlite", "driver": "SQLite3"}
        server = {"postgres": PG, "mariadb": MARIADB}[engine]
        source = self.request.getfixturevalue(f"{engine}_source")
        _execute(pyodbc.connect(odbc_string(server, source["database"])), self.input())
        return {"conn_id": source["conn_id"], "driver": source["driver"]}

    def write_config(self) -> Path:
        source = self.case["source"]
        config: dict[str, Any] = {
            "source_id": self.case["id"],
            "type": source,
            "description": f"bad-input case {self.case['id']}",
            **self.location(),
            "stock2shop": {"conn_id": "stock2shop_default", "source_id": 101},
            "validation": {"max_invalid_share": 1.0},
        }
        if source in ("sage_evolution", "sage_pastel_partner"):
            demo = yaml.safe_load((ROOT / "include" / "sources" / f"demo_{source}.yaml").read_text())
            config["settings"] = demo["settings"]
        for key, value in self.case.get("config", {}).items():
            config[key] = {**config[key], **value} if isinstance(config.get(key), dict) else value
        path = self.folder / f"{self.case['id']}.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
        return path


def _report_lines(path: str) -> list[dict[str, str]]:
    """The quarantine report a user opens: one dict per line."""
    return list(csv.DictReader(io.StringIO(ObjectStoragePath(path).read_text(encoding="utf-8"))))


def _check_quarantine(case: dict[str, Any], lines: list[dict[str, str]]) -> None:
    shown = "\n".join(
        f"  row {r['row']} {r['record']} {r['field']} {r['severity']}: {r['reason'][:160]}" for r in lines
    )
    for expected in case["expect"].get("quarantine", []):
        matches = [
            line
            for line in lines
            if line["row"] == str(expected["row"])
            and line["field"] == expected["field"]
            and expected["reason"] in line["reason"]
            and line["severity"] == expected.get("severity", "error")
            and ("record" not in expected or line["record"] == str(expected["record"]))
        ]
        assert matches, f"no quarantine line like {expected} in the report:\n{shown}"
        assert {line["source_id"] for line in matches} == {case["id"]}
        if "value" in expected:
            assert matches[0]["value"] == expected["value"]
        if "value_length" in expected:
            assert len(matches[0]["value"]) == expected["value_length"]


def _check_valid(expected: dict[str, dict[str, Any]], valid_path: str) -> None:
    frame = staging.read_frame(valid_path)
    rows = {str(row["sku"]): row for row in frame.to_dict("records")}
    for sku, fields in expected.items():
        assert sku in rows, f"{sku} is not among the valid rows {sorted(rows)}"
        for name, value in fields.items():
            if name.endswith("_length"):
                assert len(rows[sku][name.removesuffix("_length")]) == value
            else:
                assert rows[sku][name] == value, f"{sku}.{name}: {rows[sku][name]!r} != {value!r}"


def _run_config_case(case: dict[str, Any], folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in case["inputs"] if "inputs" in case else [case["input"]]:
        (folder / Path(name).name).write_bytes((CORPUS / name).read_bytes())
    code = cli.check_config(str(folder))
    out = capsys.readouterr().out
    assert code == 1, out
    expected = case["expect"]["config_error"]
    prefix = f"ERROR  {folder / expected['file']}: {expected['key']}: "
    errors = [line for line in out.splitlines() if line.startswith(prefix)]
    assert errors, f"no line starting {prefix!r} in:\n{out}"
    assert expected["problem"] in errors[0], errors[0]


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_bad_input(
    case: dict[str, Any],
    request: pytest.FixtureRequest,
    tmp_path: Path,
    sources_dir: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """One corpus case: the user sees its error, or its quarantine lines, and nothing crashes."""
    expect = case["expect"]
    if case["source"] == "config":
        _run_config_case(case, sources_dir, capsys)
        return
    with ExitStack() as stack:
        config = load_source(CaseRun(case, request, tmp_path, stack).write_config())
        entity = case.get("entity", "products")
        caplog.set_level(logging.INFO)
        if "error" in expect:
            with pytest.raises(MappingError) as raised:
                pipeline.extract(config, entity, "bad_run")
            assert f"source {case['id']!r}" in str(raised.value)
            assert expect["error"] in str(raised.value), str(raised.value)
            return
        extracted = pipeline.extract(config, entity, "bad_run")
    validated = pipeline.validate(config, entity, extracted, "bad_run")
    _check_quarantine(case, _report_lines(validated["quarantine_report"]))
    for name, value in expect.get("counts", {}).items():
        assert validated[name] == value, f"{name}: {validated[name]} != {value} ({validated})"
    if "valid" in expect:
        _check_valid(expect["valid"], validated["path"])
    if "log" in expect:
        assert any(expect["log"] in record.getMessage() for record in caplog.records), caplog.text


def test_manifest_covers_every_source_type_and_each_case_has_its_inputs() -> None:
    """The corpus keeps its promise: 30+ cases, every source type, every input file present, unique ids."""
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids)) >= 30
    assert {c["source"] for c in CASES} >= {
        "config", "custom_database", "sage_evolution", "sage_pastel_partner", "flat_file", "google_sheets",
        "isync", "sage_accounting",
    }  # fmt: skip
    assert {c.get("engine", "sqlite") for c in CASES if c["source"] == "custom_database"} == {
        "sqlite",
        "postgres",
        "mariadb",
    }
    for case in CASES:
        for name in case["inputs"] if "inputs" in case else [case["input"]]:
            assert (CORPUS / name).is_file(), f"{case['id']}: no input {name}"
        assert set(case["expect"]) & {"config_error", "error", "quarantine", "valid", "log"}, case["id"]


# --- one broken source never stops the others ----------------------------------------------------------------------


@pytest.fixture
def mixed_sources(sources_dir: Path) -> Path:
    """A good CSV source, a config that is not valid YAML, and a CSV source whose rows are all broken."""
    good = CORPUS / "isolation" / "good_catalogue.csv"
    broken_data = CORPUS / "isolation" / "all_rows_broken.csv"
    for source_id, path, s2s_id in (("iso_good", good, 101), ("iso_broken_data", broken_data, 102)):
        config = {"source_id": source_id, "type": "flat_file", "file": {"path": str(path)},
                  "stock2shop": {"conn_id": "stock2shop_default", "source_id": s2s_id}}  # fmt: skip
        (sources_dir / f"{source_id}.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    (sources_dir / "iso_broken_config.yaml").write_bytes((CORPUS / "isolation" / "broken_config.yaml").read_bytes())
    return sources_dir


@pytest.mark.usefixtures("airflow_db")
def test_a_broken_source_does_not_stop_the_others(sandbox: str, mixed_sources: Path) -> None:
    """In one deployment: the good source's DAG syncs its products; the broken config is a ``config-error``
    DAG whose task fails with the file, key and problem; the broken data source fails validation with its
    reason and uploads nothing."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils.state import DagRunState, TaskInstanceState

    bag = DagBag(dag_folder=str(ROOT / "dags" / "stock2shop_sources.py"))
    assert not bag.import_errors
    assert {"s2s_iso_good", "s2s_iso_broken_data", "s2s_iso_broken_config"} <= set(bag.dags)
    broken = bag.dags["s2s_iso_broken_config"]
    assert "config-error" in broken.tags
    assert "iso_broken_config.yaml: line 5, column 11: invalid YAML" in (broken.description or "")

    good_run = bag.dags["s2s_iso_good"].test(logical_date=None)
    states = {ti.task_id: ti.state for ti in good_run.get_task_instances()}
    assert good_run.state == DagRunState.SUCCESS, states
    received = requests.get(f"{sandbox}/sandbox/products", params={"source_id": 101}, timeout=10).json()
    assert sorted(r["source_variant_code"] for r in received) == ["ISO-CUP", "ISO-MUG", "ISO-PLATE"]

    error_run = broken.test(logical_date=None)
    assert error_run.state == DagRunState.FAILED
    assert {ti.task_id: ti.state for ti in error_run.get_task_instances()} == {"config_error": TaskInstanceState.FAILED}

    data_run = bag.dags["s2s_iso_broken_data"].test(logical_date=None)
    data_states = {ti.task_id: ti.state for ti in data_run.get_task_instances()}
    assert data_run.state == DagRunState.FAILED
    assert data_states["extract_products"] == TaskInstanceState.SUCCESS
    assert data_states["validate_products"] == TaskInstanceState.FAILED
    assert data_states["upload_products"] == TaskInstanceState.UPSTREAM_FAILED
    assert requests.get(f"{sandbox}/sandbox/products", params={"source_id": 102}, timeout=10).json() == []
    report = staging.staging_root() / "iso_broken_data"
    quarantine = next(iter(report.rglob("products_quarantine.csv")))
    reasons = {(line["row"], line["field"], line["reason"]) for line in _report_lines(str(quarantine))}
    assert ("2", "price", "price must be a number") in reasons
    assert ("3", "qty", "qty must be a whole number") in reasons
