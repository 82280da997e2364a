"""Every refused PostgreSQL and MySQL statement of tests/data/sql_guard/statements.yaml, given as a source's
``mapping_overrides`` query, is refused on the way to a real extract on PostgreSQL and MariaDB, before anything
runs: the data is the same afterwards. Statements that would stop sessions or read the server's files (``harmful``)
are only checked for the refusal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from stock2shop_sync.config import ConfigError, load_source
from stock2shop_sync.connectors.sql import SqlConnector
from tests.conftest import write_source

DATA = Path(__file__).parents[1] / "data" / "sql_guard" / "statements.yaml"
REFUSED = yaml.safe_load(DATA.read_text(encoding="utf-8"))["refused"]
SERVERS = {"postgres": ("postgresql", "postgres_source"), "mariadb": ("mysql", "mariadb_source")}
CASES = [
    pytest.param(server, case, id=f"{server}-{n}")
    for server, (dialect, _) in SERVERS.items()
    for n, case in enumerate(REFUSED)
    if dialect in case["dialects"]
]


def _extract(path: Path) -> Any:
    """What a run does with a source config: load it, then read its products."""
    return SqlConnector(load_source(path), None).read_raw("products")


def _checksum(connector: SqlConnector) -> tuple[Any, ...]:
    row = connector.read_query(
        "SELECT (SELECT COUNT(*) FROM product_groups), (SELECT COUNT(*) FROM customers), "
        "(SELECT COUNT(*) FROM products), (SELECT SUM(selling_price) FROM products), "
        "(SELECT SUM(qty_on_hand) FROM products), (SELECT MIN(item_code) FROM products)"
    ).iloc[0]
    return tuple(str(value) for value in row)


@pytest.mark.parametrize(("server", "case"), CASES)
def test_a_refused_statement_never_reaches_the_database(
    server: str, case: dict[str, Any], sources_dir: Path, request: pytest.FixtureRequest
) -> None:
    source = request.getfixturevalue(SERVERS[server][1])
    plain = write_source(sources_dir, "plain", conn_id=source["conn_id"], driver=source["driver"], s2s_source_id=1)
    reader = SqlConnector(load_source(plain), None)
    before = None if case.get("harmful") else _checksum(reader)
    path = write_source(
        sources_dir,
        "guarded",
        conn_id=source["conn_id"],
        driver=source["driver"],
        s2s_source_id=2,
        mapping_overrides={"products": {"query": case["sql"]}},
    )
    with pytest.raises(ConfigError) as refused:
        _extract(path)
    assert refused.value.file == str(path)
    assert refused.value.key == "mapping_overrides.products.query"
    assert refused.value.source_id == "guarded"
    assert case["reason"] in refused.value.problem
    if before is not None:
        assert _checksum(reader) == before
