"""The read-only check (:mod:`stock2shop_sync.sql_guard`) statement by statement: every statement of
tests/data/sql_guard/statements.yaml in each of its dialects, the shipped presets' queries, and the forms a run
sends (``{{#since}}`` sections kept and left out) read as the connector renders them."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from stock2shop_sync.sql_guard import UnsafeQuery, check_read_only, run_forms

DATA = Path(__file__).parents[1] / "data" / "sql_guard" / "statements.yaml"
MAPPINGS = Path(__file__).parents[2] / "include" / "mappings"
CORPUS: dict[str, list[dict[str, Any]]] = yaml.safe_load(DATA.read_text(encoding="utf-8"))


def _cases(kind: str) -> list[Any]:
    return [
        pytest.param(case, dialect, id=f"{dialect}-{n}")
        for n, case in enumerate(CORPUS[kind])
        for dialect in case["dialects"]
    ]


def test_the_corpus_covers_every_dialect() -> None:
    count = sum(len(case["dialects"]) for kind in ("allowed", "refused") for case in CORPUS[kind])
    assert len(CORPUS["allowed"]) + len(CORPUS["refused"]) >= 60, count
    for dialect in ("sqlserver", "postgresql", "mysql", "sqlite"):
        for kind in ("allowed", "refused"):
            assert any(dialect in case["dialects"] for case in CORPUS[kind]), (dialect, kind)


@pytest.mark.parametrize(("case", "dialect"), _cases("allowed"))
def test_a_statement_that_only_reads_is_allowed(case: dict[str, Any], dialect: str) -> None:
    check_read_only(case["sql"], dialect)


@pytest.mark.parametrize(("case", "dialect"), _cases("refused"))
def test_a_statement_that_could_write_is_refused(case: dict[str, Any], dialect: str) -> None:
    with pytest.raises(UnsafeQuery, match="an extract query must") as refused:
        check_read_only(case["sql"], dialect)
    assert case["reason"] in str(refused.value)


def _preset_queries() -> list[Any]:
    found = []
    for path in sorted(MAPPINGS.glob("*.yaml")):
        mapping = yaml.safe_load(path.read_text(encoding="utf-8"))
        for entity in ("products", "customers"):
            section = mapping.get(entity) or {}
            parts = [("query", section.get("query"))]
            parts += [(f"{p}.query", (section.get(p) or {}).get("query")) for p in ("price_lists", "warehouses")]
            found += [pytest.param(query, id=f"{path.stem}-{entity}.{where}") for where, query in parts if query]
    return found


@pytest.mark.parametrize("query", _preset_queries())
@pytest.mark.parametrize("dialect", ["sqlserver", "postgresql", "mysql", "sqlite", None])
def test_every_preset_query_passes_in_every_dialect(query: str, dialect: str | None) -> None:
    # a column setting filled in as the run does for a plain name (quoted ones are tested with real databases)
    filled = re.sub(r"\{\{\s*(?!#|/|since\b)\w+\s*\}\}", "s.Code", query)
    for text in run_forms(filled).values():
        check_read_only(text, dialect)


def test_a_since_section_is_checked_in_the_form_each_run_sends() -> None:
    query = "SELECT item_code FROM products {{#since}}WHERE note <> '{{/since}}' ; DELETE FROM products; -- '"
    complete, windowed = run_forms(query).values()
    check_read_only(complete, "postgresql")  # read this way the DELETE is in a string: only both forms catch it
    with pytest.raises(UnsafeQuery, match="'DELETE'"):
        check_read_only(windowed, "postgresql")


@pytest.mark.parametrize(
    "query",
    [
        "SELECT a FROM t {{#since}} WHERE changed >= {{since}} {{/since}} ORDER BY a",
        "SELECT a FROM t WHERE changed >= {{ since }} {{ #since }}AND 1 = 1{{ / since }}",
    ],
)
def test_the_forms_are_what_the_connector_renders(query: str) -> None:
    from stock2shop_sync.connectors.sql import fill_since

    forms = run_forms(query)
    assert forms["a complete read"] == fill_since(query, None)
    assert forms["a windowed read"] == fill_since(query, datetime(2026, 1, 1))


def test_an_unknown_dialect_must_pass_every_reading() -> None:
    check_read_only("SELECT item_code FROM products WHERE note <> 'x'", "pervasive")
    with pytest.raises(UnsafeQuery, match="read as PostgreSQL"):
        check_read_only("SELECT [Order No] FROM dbo.Orders", None)
