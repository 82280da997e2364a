"""Sources do not share or corrupt each other's state when they sync at the same time, and one source's failure
never blocks another's run.

Two sources over the same demo catalogue (the same SKUs, on purpose: every per-source key collides if it is not
kept apart) but different data run their whole pipeline (extract, validate, upload, report) in two threads that
start together, with the same run id (as two DAGs scheduled at the same moment have), the same Stock2Shop user and
the same state store. Each one's end state is then checked exactly: what the sandbox holds for its Stock2Shop
source, its synced-SKU rows in the state store, its fingerprint files under ``_state``, its staging folder and its
run report. Then a delta round, again concurrent, in which only one source changed. Finally a source whose
database is down and one whose password is wrong fail in parallel with a source that syncs fully.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pyodbc
import pytest
import requests
import yaml

from stock2shop_sync import pipeline, staging
from stock2shop_sync.config import SourceConfig, load_source
from stock2shop_sync.fingerprints import FingerprintStore
from stock2shop_sync.hooks.stock2shop import Stock2ShopError, Stock2ShopHook
from stock2shop_sync.redact import SourceAuthError
from stock2shop_sync.state import StateStore
from tests.conftest import MARIADB, PG, odbc_string, seed_all, set_connection
from tests.orders_helpers import add_orders, sandbox_orders, system_order

RUN_ID = "scheduled__2026-12-01T10:00:00+00:00"
GONE_FROM_BETA = {"HOOD-ZIP-M", "HW-HAMMER-16"}


def _write(folder: Path, source_id: str, conn_id: str, driver: str, s2s_id: int, **extra: Any) -> SourceConfig:
    path = folder / f"{source_id}.yaml"
    path.write_text(yaml.safe_dump({
        "source_id": source_id, "type": "custom_database", "connection": {"conn_id": conn_id, "driver": driver},
        "stock2shop": {"conn_id": "stock2shop_default", "source_id": s2s_id},
        "validation": {"max_invalid_share": 0.3}, **extra,
    }))  # fmt: skip
    return load_source(path)


def _sqlite_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> Path:
    path = tmp_path / f"{name}.sqlite"
    seed_all(pyodbc.connect(f"DRIVER={{SQLite3}};Database={path}"))
    for suffix in ("", "_orders"):
        set_connection(monkeypatch, f"s2s_{name}{suffix}", {"conn_type": "odbc", "schema": str(path)})
    return path


def _orders(conn_id: str) -> dict[str, Any]:
    return {"enabled": True, "conn_id": f"{conn_id}_orders", "default_customer_code": "CASH", "shipping_code": "SHIP"}


def sync(config: SourceConfig, run_id: str = RUN_ID) -> dict[str, Any]:
    """A source's whole run, as its DAG's tasks call the pipeline (one Stock2Shop hook per upload task), orders
    last when the source takes them."""
    steps: dict[str, dict[str, Any]] = {}
    for entity in config.entities:
        extracted = pipeline.extract(config, entity, run_id)
        validated = pipeline.validate(config, entity, extracted, run_id)
        hook = Stock2ShopHook(config.stock2shop.conn_id)
        try:
            uploaded = pipeline.upload(config, entity, validated, hook, StateStore())
        finally:
            hook.close()
        steps |= {f"extract_{entity}": extracted, f"validate_{entity}": validated, f"upload_{entity}": uploaded}
    if config.orders.enabled:
        steps["push_orders"] = pipeline.push_orders(config, store=StateStore())
    return pipeline.report(config, run_id, steps)


def run_together(jobs: dict[str, Callable[[], Any]]) -> dict[str, Any]:
    """Run the jobs in threads released at the same moment; each one's result or exception, by name."""
    barrier = threading.Barrier(len(jobs))
    results: dict[str, Any] = {}

    def run(name: str, job: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            results[name] = job()
        except BaseException as exc:
            results[name] = exc

    threads = [threading.Thread(target=run, args=item, name=f"sync-{item[0]}") for item in jobs.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "a sync did not finish"
    return results


def _sandbox_products(sandbox: str, s2s_id: int) -> dict[str, dict[str, Any]]:
    rows = requests.get(f"{sandbox}/sandbox/products", params={"source_id": s2s_id}, timeout=10).json()
    return {r["sku"]: r for r in rows}


def _sandbox_customers(sandbox: str, s2s_id: int) -> set[str]:
    rows = requests.get(f"{sandbox}/sandbox/customers", params={"source_id": s2s_id}, timeout=10).json()
    return {r["source_customer_code"] for r in rows}


def _staged_files(source_id: str) -> set[str]:
    root = staging.staging_root() / source_id
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def _prices(path: Path) -> dict[str, float]:
    with closing(pyodbc.connect(f"DRIVER={{SQLite3}};Database={path}")) as conn:
        return {str(code).strip(): float(price) for code, price in conn.execute(
            "SELECT item_code, selling_price FROM products WHERE selling_price IS NOT NULL"
        ).fetchall()}  # fmt: skip


def test_two_sources_syncing_at_once_keep_their_own_state(
    sandbox: str, sources_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("S2S_STAGING_URL", f"file://{tmp_path / 'staging'}")
    alpha_db = _sqlite_source(tmp_path, monkeypatch, "iso_alpha")
    beta_db = _sqlite_source(tmp_path, monkeypatch, "iso_beta")
    with closing(pyodbc.connect(f"DRIVER={{SQLite3}};Database={beta_db}")) as conn:
        conn.execute("UPDATE products SET selling_price = selling_price + 1")
        conn.execute(f"DELETE FROM products WHERE item_code IN ({', '.join(repr(c) for c in GONE_FROM_BETA)})")
        conn.execute("DELETE FROM customers WHERE account = 'ACC001'")
        conn.commit()
    alpha = _write(sources_dir, "iso_alpha", "s2s_iso_alpha", "SQLite3", 101, orders=_orders("s2s_iso_alpha"))
    beta = _write(sources_dir, "iso_beta", "s2s_iso_beta", "SQLite3", 102, orders=_orders("s2s_iso_beta"))
    # One web order each, for a SKU both sources have (each must land in its own database, once).
    add_orders(sandbox, [
        system_order(901, 101, [("HOOD-ZIP-XL", 1, 699.0)]), system_order(902, 102, [("HOOD-ZIP-XL", 2, 700.0)]),
    ])  # fmt: skip

    results = run_together({"alpha": lambda: sync(alpha), "beta": lambda: sync(beta)})
    assert not [r for r in results.values() if isinstance(r, BaseException)], results

    # Stock2Shop holds each source's own items, with its own prices.
    a_products, b_products = _sandbox_products(sandbox, 101), _sandbox_products(sandbox, 102)
    assert len(a_products) == 33
    assert set(b_products) == set(a_products) - GONE_FROM_BETA
    a_prices, b_prices = _prices(alpha_db), _prices(beta_db)
    for sku, row in a_products.items():
        assert row["payload"]["source"]["source_id"] == "101"
        assert row["payload"]["product"]["variants"]["price"] == a_prices[sku], sku
        assert row["times_received"] == 1
    for sku, row in b_products.items():
        assert row["payload"]["source"]["source_id"] == "102"
        assert row["payload"]["product"]["variants"]["price"] == b_prices[sku] == a_prices[sku] + 1, sku
    a_customers, b_customers = _sandbox_customers(sandbox, 101), _sandbox_customers(sandbox, 102)
    assert len(a_customers) == 9
    assert b_customers == a_customers - {"ACC001"}

    # The state store's SKU ledger rows: each source's own, exactly what Stock2Shop accepted from it.
    store = StateStore()
    active = {k for k, r in a_products.items() if r["product_active"] == "true"}
    assert 0 < len(active) < len(a_products)
    assert store.synced_skus("iso_alpha") == {k.lower() for k in active}  # keys: codes matched case-insensitively
    assert store.synced_skus("iso_beta") == {k.lower() for k in active - GONE_FROM_BETA}

    # The order ledger: each source raised its own order, in its own database, and nothing else.
    assert [(e.order_id, e.status) for e in store.entries("iso_alpha")] == [("901", "acknowledged")]
    assert [(e.order_id, e.status) for e in store.entries("iso_beta")] == [("902", "acknowledged")]
    for path, reference, qty in ((alpha_db, "S2S-901", 1.0), (beta_db, "S2S-902", 2.0)):
        with closing(pyodbc.connect(f"DRIVER={{SQLite3}};Database={path}")) as conn:
            rows = conn.execute(
                "SELECT h.external_ref, l.item_code, l.qty FROM sales_orders h "
                "JOIN sales_order_lines l ON l.order_no = h.order_no"
            ).fetchall()
        assert [(r[0], r[1], float(r[2])) for r in rows] == [(reference, "HOOD-ZIP-XL", qty)]
    assert sandbox_orders(sandbox, 101)["901"]["ack_count"] == 1
    assert sandbox_orders(sandbox, 102)["902"]["ack_count"] == 1

    # Fingerprints under _state: one file per source and entity, holding that source's items only.
    fingerprints = FingerprintStore()
    assert len(fingerprints.load("iso_alpha", "products")) == 33
    assert len(fingerprints.load("iso_beta", "products")) == 31  # its 2.5 on hand is floored and sent
    assert len(fingerprints.load("iso_alpha", "customers")) == 9
    assert len(fingerprints.load("iso_beta", "customers")) == 8

    # Staging: the same run id, two folders; the reports count each source's own rows.
    assert _staged_files("iso_alpha") == _staged_files("iso_beta")  # the same files, each in its own folder
    for source_id, rows in (("iso_alpha", 40), ("iso_beta", 38)):
        staged = staging.read_frame(str(staging.run_folder(source_id, RUN_ID) / "products_extracted.parquet"))
        assert len(staged) == rows
    a_report, b_report = results["alpha"]["entities"], results["beta"]["entities"]
    assert (a_report["products"]["extracted"], a_report["products"]["uploaded"]) == (40, 33)
    assert (b_report["products"]["extracted"], b_report["products"]["uploaded"]) == (38, 31)
    assert (a_report["customers"]["uploaded"], b_report["customers"]["uploaded"]) == (9, 8)

    # A delta round, again at the same time: only alpha changed (one price), so only alpha sends, one item.
    with closing(pyodbc.connect(f"DRIVER={{SQLite3}};Database={alpha_db}")) as conn:
        conn.execute("UPDATE products SET selling_price = 749 WHERE item_code = 'HOOD-ZIP-XL'")
        conn.commit()
    rerun = "scheduled__2026-12-01T11:00:00+00:00"
    results = run_together({"alpha": lambda: sync(alpha, rerun), "beta": lambda: sync(beta, rerun)})
    assert not [r for r in results.values() if isinstance(r, BaseException)], results
    assert results["alpha"]["entities"]["products"]["uploaded"] == 1
    assert results["beta"]["entities"]["products"]["uploaded"] == 0
    assert results["beta"]["entities"]["customers"]["uploaded"] == 0
    after_a, after_b = _sandbox_products(sandbox, 101), _sandbox_products(sandbox, 102)
    assert {k for k, r in after_a.items() if r["times_received"] == 2} == {"HOOD-ZIP-XL"}
    assert after_a["HOOD-ZIP-XL"]["payload"]["product"]["variants"]["price"] == 749.0
    assert {k: r["times_received"] for k, r in after_b.items()} == {k: 1 for k in b_products}
    assert after_b["HOOD-ZIP-XL"]["payload"]["product"]["variants"]["price"] == b_prices["HOOD-ZIP-XL"]


@pytest.fixture
def wrong_password_login(mariadb_database: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A real MariaDB user with a password; connection ``s2s_iso_denied`` gives it the wrong one."""
    user = "s2s_iso_reader"
    admin = pyodbc.connect(odbc_string(MARIADB, None), autocommit=True)
    hosts = ("127.0.0.1", "localhost")
    for host in hosts:
        admin.execute(f"DROP USER IF EXISTS '{user}'@'{host}'")
        admin.execute(f"CREATE USER '{user}'@'{host}' IDENTIFIED BY 'the-right-one'")
        admin.execute(f"GRANT SELECT ON {mariadb_database}.* TO '{user}'@'{host}'")
    conn = {"conn_type": "odbc", "host": MARIADB["host"], "port": MARIADB["port"], "login": user,
            "password": "not-the-right-one", "schema": mariadb_database}  # fmt: skip
    set_connection(monkeypatch, "s2s_iso_denied", conn)
    yield "s2s_iso_denied"
    for host in hosts:
        admin.execute(f"DROP USER IF EXISTS '{user}'@'{host}'")
    admin.close()


def test_a_failing_source_never_blocks_another(
    sandbox: str,
    sources_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    wrong_password_login: str,
) -> None:
    monkeypatch.setenv("S2S_STAGING_URL", f"file://{tmp_path / 'staging'}")
    _sqlite_source(tmp_path, monkeypatch, "iso_ok")
    ok = _write(sources_dir, "iso_ok", "s2s_iso_ok", "SQLite3", 101)
    # a PostgreSQL source whose server is down (nothing listens on the port)
    down_port = 1
    set_connection(monkeypatch, "s2s_iso_down", {"conn_type": "odbc", "host": PG["host"], "port": down_port,
                                                 "login": "postgres", "schema": "postgres"})  # fmt: skip
    down = _write(sources_dir, "iso_down", "s2s_iso_down", PG["driver"], 102)
    denied = _write(sources_dir, "iso_denied", wrong_password_login, MARIADB["driver"], 103)
    # a source whose database answers but whose Stock2Shop login is wrong
    _sqlite_source(tmp_path, monkeypatch, "iso_s2s_denied")
    set_connection(monkeypatch, "s2s_wrong_login", {"conn_type": "http", "host": sandbox, "login": "sync-user",
                                                    "password": "wrong"})  # fmt: skip
    s2s_denied = _write(sources_dir, "iso_s2s_denied", "s2s_iso_s2s_denied", "SQLite3", 102)
    s2s_denied = s2s_denied.model_copy(
        update={"stock2shop": s2s_denied.stock2shop.model_copy(update={"conn_id": "s2s_wrong_login"})}
    )

    results = run_together({
        "ok": lambda: sync(ok), "down": lambda: sync(down), "denied": lambda: sync(denied),
        "s2s_denied": lambda: sync(s2s_denied),
    })  # fmt: skip

    assert isinstance(results["down"], pyodbc.Error), results["down"]
    assert "source iso_down: cannot connect to the database of connection 's2s_iso_down'" in str(results["down"])
    assert isinstance(results["denied"], SourceAuthError), results["denied"]
    assert "source iso_denied: authentication failed" in str(results["denied"])
    assert "not-the-right-one" not in str(results["denied"])
    assert isinstance(results["s2s_denied"], Stock2ShopError), results["s2s_denied"]
    assert "refused the credentials of connection 's2s_wrong_login'" in str(results["s2s_denied"])
    report = results["ok"]
    assert not isinstance(report, BaseException), report
    assert (report["entities"]["products"]["uploaded"], report["entities"]["customers"]["uploaded"]) == (33, 9)
    assert len(_sandbox_products(sandbox, 101)) == 33
    assert _sandbox_products(sandbox, 102) == {}  # nothing from the failed sources
    assert _sandbox_products(sandbox, 103) == {}
    assert StateStore().synced_skus("iso_denied") == set()
    assert "iso_ok" in {p.name for p in (staging.staging_root()).iterdir()}
