"""Extraction is read-only (the query check at config load, the read-only connection strings) and secrets are
scrubbed from texts and registered with the masker in every form they travel in."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from stock2shop_sync.config import ConfigError, load_source
from stock2shop_sync.connectors.read_only import read_only_connection_string
from stock2shop_sync.redact import is_login_failure, mask, scrub


# The check itself is tested statement by statement in test_sql_guard.py (tests/data/sql_guard/); here, that a
# source config holding such a query is refused when it is loaded, named by its key.
@pytest.mark.parametrize(
    ("driver", "query", "problem"),
    [
        ("SQLite3", "WITH gone AS (DELETE FROM products RETURNING item_code) SELECT item_code FROM gone", "'DELETE'"),
        ("PostgreSQL Unicode", 'SELECT "pg_terminate_backend"(pid) FROM pg_stat_activity', "PG_TERMINATE_BACKEND()"),
        ("ODBC Driver 18 for SQL Server", "SELECT 1 AS a SHUTDOWN", "cannot be parsed"),
        ("MariaDB Unicode", "SELECT 1 /*! ; DROP TABLE products */", "executable comment"),
        # a {{#since}} section is checked as the windowed read runs it, not only as the complete read does
        ("SQLite3", "SELECT item_code FROM products {{#since}} ; DELETE FROM products {{/since}}", "windowed read"),
    ],
)
def test_a_source_config_with_a_writing_query_is_refused_at_load(
    tmp_path: Path, driver: str, query: str, problem: str
) -> None:
    path = tmp_path / "shop.yaml"
    path.write_text(yaml.safe_dump({
        "source_id": "shop", "type": "custom_database", "connection": {"conn_id": "c", "driver": driver},
        "stock2shop": {"source_id": 1}, "mapping_overrides": {"products": {"query": query}},
    }))  # fmt: skip
    with pytest.raises(ConfigError) as refused:
        load_source(path)
    assert refused.value.key == "mapping_overrides.products.query"
    assert refused.value.source_id == "shop"
    assert "an extract query must" in refused.value.problem
    assert problem in refused.value.problem


@pytest.mark.parametrize(
    ("driver", "conn_str", "expected"),
    [
        (
            "PostgreSQL Unicode",
            "DRIVER={PostgreSQL Unicode};SERVER=db;DATABASE=erp;",
            "DRIVER={PostgreSQL Unicode};SERVER=db;DATABASE=erp;pqopt={options=-cdefault_transaction_read_only=on};",
        ),
        (
            "PostgreSQL Unicode",
            "DRIVER={PostgreSQL Unicode};pqopt={sslmode=require};",
            "DRIVER={PostgreSQL Unicode};pqopt={sslmode=require};"
            "ConnSettings=SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY;",
        ),
        (
            "MariaDB Unicode",
            "DRIVER={MariaDB Unicode};SERVER=db;",
            "DRIVER={MariaDB Unicode};SERVER=db;InitStmt=SET SESSION TRANSACTION READ ONLY;",
        ),
        (
            "SQLite3",
            "DRIVER={SQLite3};DATABASE=/data/my shop#1.sqlite;",
            "DRIVER={SQLite3};DATABASE=file:/data/my%20shop%231.sqlite?mode=ro;",
        ),
        ("ODBC Driver 18 for SQL Server", "DRIVER={x};SERVER=db;", "DRIVER={x};SERVER=db;"),
    ],
)
def test_the_extraction_connection_string_asks_for_a_read_only_session(
    driver: str, conn_str: str, expected: str
) -> None:
    database = "/data/my shop#1.sqlite" if driver == "SQLite3" else None
    assert read_only_connection_string(conn_str, driver, database) == expected


def test_a_connection_that_already_sets_the_init_statement_is_refused() -> None:
    with pytest.raises(ValueError, match="InitStmt"):
        read_only_connection_string("DRIVER={MariaDB Unicode};InitStmt=SET NAMES utf8;", "MariaDB Unicode")


def test_scrub_removes_known_secrets_and_credential_shapes() -> None:
    text = (
        "connect failed: DRIVER={x};SERVER=db;UID=sync;PWD=hunter2!x;PORT=1 | PWD={a;b}; | "
        "GET https://api.example/v1/products?format=json&token=abc123&apikey=k%21y | "
        "https://sync:pa55@host/x | Authorization: Bearer eyJhbGciOi.x.y | "
        "-----BEGIN PRIVATE KEY-----\nMIIEv\n-----END PRIVATE KEY----- | plain hunter2!x and hunter2%21x"
    )
    clean = scrub(text, "hunter2!x")
    for secret in ("hunter2", "abc123", "k%21y", "pa55", "eyJhbGciOi", "MIIEv", "{a;b}"):
        assert secret not in clean, (secret, clean)
    for kept in ("UID=sync", "format=json", "SERVER=db"):
        assert kept in clean


def test_login_failures_are_recognised() -> None:
    assert is_login_failure(Exception("28000", "[28000] Access denied for user 'x'@'h' (using password: YES)"))
    assert is_login_failure(Exception('FATAL: password authentication failed for user "x"'))
    assert not is_login_failure(Exception("42S02", "no such table: products"))


def test_mask_registers_the_url_quoted_forms_too() -> None:
    from airflow.sdk._shared.secrets_masker import redact

    secret = "Mask-Me/Now+1!"
    mask(secret)
    logged = f"GET /x?apikey=Mask-Me%2FNow%2B1%21 and form Mask-Me%2FNow%2B1%21 and raw {secret}"
    assert "Mask-Me" not in str(redact(logged))


def test_an_api_error_quoting_the_request_does_not_carry_the_token() -> None:
    import requests

    from stock2shop_sync.hooks.stock2shop import Stock2ShopError, Stock2ShopHook

    response = requests.Response()
    response.status_code = 502
    response._content = b"<html>Bad gateway for GET /v1/products/queue?token=tok-123-secret&format=json</html>"
    with pytest.raises(Stock2ShopError) as failed:
        Stock2ShopHook._raise_for_status(response, "products_queue")
    assert "tok-123-secret" not in str(failed.value)
    assert "token=***" in str(failed.value)


@pytest.mark.parametrize(
    ("driver", "conn_str", "expected"),
    [
        ("PostgreSQL Unicode", "DRIVER={x};", "DRIVER={x};UseDeclareFetch=1;Fetch=50000;"),
        ("PostgreSQL Unicode", "DRIVER={x};usedeclarefetch=0;", "DRIVER={x};usedeclarefetch=0;"),  # its own choice
        ("PostgreSQL Unicode", "DRIVER={x};Fetch=100;", "DRIVER={x};Fetch=100;"),
        ("MariaDB Unicode", "DRIVER={x};", "DRIVER={x};"),
        ("SQLite3", "DRIVER={x};", "DRIVER={x};"),
    ],
)
def test_postgresql_extraction_reads_through_a_cursor_unless_the_connection_says_otherwise(
    driver: str, conn_str: str, expected: str
) -> None:
    from stock2shop_sync.connectors.read_only import streaming_connection_string

    assert streaming_connection_string(conn_str, driver) == expected


def test_the_source_hooks_read_their_driver_without_the_providers_warning(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    # The provider's OdbcHook.driver warns that a driver in the connection's extra is not used on every read,
    # even when the extra names none: several lines per query in task logs and in check-mapping's output.
    from airflow.providers.odbc.hooks.odbc import OdbcHook

    from stock2shop_sync.connectors.read_only import read_only_hook, source_hook

    monkeypatch.setenv("AIRFLOW_CONN_QUIET_DB", '{"conn_type": "odbc", "schema": "/tmp/quiet.sqlite"}')
    warning = "supplied 'driver' via connection extra"
    for hook in (source_hook("quiet_db", "SQLite3"), read_only_hook("quiet_db", "{SQLite3}")):
        assert hook.driver == "SQLite3"
        assert hook.driver == "SQLite3"
    assert warning not in capsys.readouterr().out + caplog.text
    assert OdbcHook(odbc_conn_id="quiet_db", driver="SQLite3").driver == "SQLite3"
    assert warning in capsys.readouterr().out + caplog.text, "the provider still warns: this test shows the fix"
