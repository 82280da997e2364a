"""Each rule of the order ledger, checked as a user would: ERP documents counted, what Stock2Shop was told, and the
ledger's status, through ``pipeline.push_orders`` against the sandbox and a real database over ODBC.

1. the claim: an order another runner holds is left alone until its lease expires; two claims, one winner;
2. the lookup before any second create after an unclear answer;
3. a given-up order is skipped, never sent to the ERP again;
4. transient failures never count towards giving up (and wait out their pause);
5. a document found under the order's reference must carry the order's lines;
6. two channels' orders with the same channel order code are two documents;
7. the state store never falls back: an unreachable ``s2s_state`` or none at all fails before the ERP is touched;
8. ``retry-order`` brings a given-up order back, from the API inbox and from the file inbox;
9. a ledger made by an older release is upgraded in place.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyodbc
import pytest
import sqlalchemy as sa

from stock2shop_sync import pipeline, state
from stock2shop_sync.config import OrderSettings, SourceConfig, load_source, resolve_mapping
from stock2shop_sync.connectors import get_order_sink
from stock2shop_sync.connectors.base import Document, OrderSink
from stock2shop_sync.demo import create_order_tables
from stock2shop_sync.model.orders import Order, OrderError, parse_order
from stock2shop_sync.state import StateStore, StateStoreError
from tests.conftest import PG, ROOT, odbc_string
from tests.integration.test_orders_sql import HELD, connect
from tests.orders_helpers import add_orders, sandbox_orders, system_order, write_order_source

#: The lease of a claim the test lets expire: long enough to outlast one push, short enough to wait for.
SHORT_LEASE = 3


# -- helpers ---------------------------------------------------------------------------------------------------
def _shop(sources_dir: Path, database: dict[str, Any], **orders: Any) -> SourceConfig:
    path = write_order_source(
        sources_dir,
        "shop",
        preset="custom_database",
        conn_id=database["conn_id"],
        driver=database["driver"],
        s2s_source_id=101,
        orders=orders,
    )
    return load_source(path)


def _store(url: str) -> StateStore:
    store = StateStore(url)
    store.record_synced("shop", HELD)
    return store


def _documents(database: dict[str, Any]) -> dict[str, str]:
    """The ERP's order headers: reference -> document number."""
    with closing(connect(database)) as conn:
        return {
            str(r[0]).strip(): str(r[1]).strip()
            for r in conn.execute("SELECT external_ref, order_no FROM sales_orders").fetchall()
        }


def _lines(database: dict[str, Any]) -> list[tuple[str, str, float]]:
    with closing(connect(database)) as conn:
        return [
            (str(r[0]).strip(), str(r[1]).strip(), float(r[2]))
            for r in conn.execute(
                "SELECT h.external_ref, l.item_code, l.qty FROM sales_order_lines l "
                "JOIN sales_orders h ON h.order_no = l.order_no ORDER BY h.external_ref, l.line_no"
            )
        ]


def _told(sandbox: str) -> dict[str, tuple[str | None, int, int, int]]:
    """What Stock2Shop was told of each order: (source_order_code, ack_count, error_count, final_error)."""
    return {
        k: (v["source_order_code"], v["ack_count"], v["error_count"], v["final_error"])
        for k, v in sandbox_orders(sandbox, 101).items()
    }


def _counted_sink(
    config: SourceConfig, calls: list[str], *, create: Callable[[Any, Order], tuple[str, bool]] | None = None
) -> OrderSink:
    """The source's real order sink, recording every lookup and create it makes (``create`` wraps the real one)."""
    sink = get_order_sink(config, resolve_mapping(config))
    real_find, real_create = sink.find, sink.create_checked

    def find(order: Order) -> Document | None:
        calls.append(f"find {order.order_id}")
        return real_find(order)

    def create_checked(order: Order) -> tuple[str, bool]:
        calls.append(f"create {order.order_id}")
        return create(real_create, order) if create is not None else real_create(order)

    sink.find, sink.create_checked = find, create_checked  # type: ignore[method-assign]
    return sink


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request: pytest.FixtureRequest, state_store: str) -> Iterator[str]:
    """An empty state store: the test's SQLite file, or a fresh database on the local PostgreSQL server (psycopg2)."""
    if request.param == "sqlite":
        yield state_store
        return
    name = f"s2s_state_{uuid.uuid4().hex[:10]}"
    admin = pyodbc.connect(odbc_string(PG, "postgres"), autocommit=True)
    admin.execute(f"CREATE DATABASE {name}")
    url = f"postgresql://postgres@127.0.0.1:5432/{name}"
    try:
        yield url
    finally:
        for key in [k for k in state._ENGINES if k.endswith(f"/{name}")]:  # the store's pooled connections
            state._ENGINES.pop(key).dispose()
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()


ITEMS = "s2s_rule_items"


@pytest.fixture
def pg_erp_with_items(postgres_source: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The PostgreSQL ERP's order tables, whose lines must name an item of an item table (a real foreign key);
    HW-DRILL-18V is not in it. The plain order tables are put back afterwards."""
    with closing(connect(postgres_source)) as conn:
        create_order_tables("custom_database", conn)
        conn.execute(f"DROP TABLE IF EXISTS {ITEMS} CASCADE")
        conn.execute(f"CREATE TABLE {ITEMS} (code VARCHAR(40) PRIMARY KEY)")
        conn.execute(f"INSERT INTO {ITEMS} (code) VALUES ('HW-HAMMER-16'), ('HW-TAPE-5M'), ('SHIP')")
        conn.execute(
            "ALTER TABLE sales_order_lines ADD CONSTRAINT sales_order_lines_item_fk "
            f"FOREIGN KEY (item_code) REFERENCES {ITEMS} (code)"
        )
        conn.commit()
    try:
        yield postgres_source
    finally:
        with closing(connect(postgres_source)) as conn:
            create_order_tables("custom_database", conn)
            conn.execute(f"DROP TABLE IF EXISTS {ITEMS} CASCADE")
            conn.commit()


# -- 1. the claim ----------------------------------------------------------------------------------------------
def test_an_order_another_runner_holds_is_left_alone_until_its_lease_expires(
    sqlite_source: dict[str, Any], sandbox: str, sources_dir: Path, state_store: str
) -> None:
    config = _shop(sources_dir, sqlite_source)
    store = _store(state_store)
    add_orders(sandbox, [system_order(n, 101, [("HW-HAMMER-16", 1, 349.95)]) for n in (1, 2, 3)])
    # Order 2 is held by a live runner; order 3 by one that will die (its lease runs out in a moment).
    assert store.claim("shop", "2", "S2S-2", owner="other", lease_seconds=60) is not None
    assert store.claim("shop", "3", "S2S-3", owner="zombie", lease_seconds=SHORT_LEASE) is not None

    first = pipeline.push_orders(config, store=store)

    assert first["counts"] == {"pending": 3, "claimed": 2, "raised": 1}
    assert sorted(_documents(sqlite_source)) == ["S2S-1"]
    assert {k: v[:2] for k, v in _told(sandbox).items()} == {
        "1": (_documents(sqlite_source)["S2S-1"], 1),
        "2": (None, 0),
        "3": (None, 0),
    }
    held = store.entry("shop", "2")
    assert (held.status, held.owner, held.attempts) == ("raising", "other", 1)  # untouched by this run

    time.sleep(SHORT_LEASE + 0.5)
    second = pipeline.push_orders(config, store=store)
    third = pipeline.push_orders(config, store=store)

    assert second["counts"] == {"pending": 2, "claimed": 1, "raised": 1}  # 3's claim expired: raised; 2 still held
    assert third["counts"] == {"pending": 1, "claimed": 1}
    documents = _documents(sqlite_source)
    assert sorted(documents) == ["S2S-1", "S2S-3"]
    assert [line[0] for line in _lines(sqlite_source)] == ["S2S-1", "S2S-3"]  # each raised exactly once
    told = _told(sandbox)
    assert told["3"][:2] == (documents["S2S-3"], 1)
    assert told["2"][:2] == (None, 0)
    assert store.entry("shop", "3").status == "acknowledged"
    assert store.entry("shop", "2").owner == "other"


def test_two_claims_for_a_new_order_one_wins_and_the_loser_writes_nothing(ledger_url: str) -> None:
    store = StateStore(ledger_url)

    winner = store.claim("shop", "1", "S2S-1", owner="a", lease_seconds=60)
    loser = store.claim("shop", "1", "S2S-1", owner="b", lease_seconds=60)

    assert winner is not None
    assert (winner.owner, winner.status, winner.attempts) == ("a", "raising", 1)
    assert loser is None
    # The loser's writes are refused, whatever it tries to record.
    assert store.record("shop", "1", "raised", document_number="999", owner="b") is False
    assert store.record("shop", "1", "failed", error="b's failure", owner="b", release=True) is False
    assert store.record("shop", "1", "acknowledged", document_number="999", owner="b", release=True) is False
    entry = store.entry("shop", "1")
    assert (entry.status, entry.owner, entry.document_number, entry.last_error, entry.attempts) == (
        "raising",
        "a",
        None,
        None,
        1,
    )
    assert not store.renew("shop", "1", owner="b", lease_seconds=60)
    # The holder's own write goes through and releases the claim.
    assert store.record("shop", "1", "acknowledged", document_number="42", owner="a", release=True) is True
    assert store.entry("shop", "1").owner is None


def test_two_runners_racing_for_new_orders_each_order_has_one_winner(ledger_url: str) -> None:
    store = StateStore(ledger_url)
    orders = [str(n) for n in range(1, 21)]
    won: dict[str, list[str]] = {order: [] for order in orders}
    errors: list[BaseException] = []

    def runner(owner: str, barrier: threading.Barrier, order: str) -> None:
        try:
            barrier.wait()
            if store.claim("shop", order, f"S2S-{order}", owner=owner, lease_seconds=60) is not None:
                won[order].append(owner)
        except BaseException as exc:  # reported below
            errors.append(exc)

    for order in orders:
        barrier = threading.Barrier(2)
        threads = [threading.Thread(target=runner, args=(owner, barrier, order)) for owner in ("a", "b")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)

    assert errors == []
    assert {order: len(owners) for order, owners in won.items()} == dict.fromkeys(orders, 1)
    assert {e.order_id: e.owner for e in store.entries("shop")} == {order: won[order][0] for order in orders}
    assert {e.attempts for e in store.entries("shop")} == {1}


# -- 2. the lookup before a second create ----------------------------------------------------------------------
def test_a_create_whose_answer_was_lost_is_looked_up_not_sent_again(
    sqlite_source: dict[str, Any], sandbox: str, sources_dir: Path, state_store: str
) -> None:
    config = _shop(sources_dir, sqlite_source, create_attempts=3)
    store = _store(state_store)
    add_orders(sandbox, [system_order(5, 101, [("HW-HAMMER-16", 2, 349.95), ("HW-TAPE-5M", 1, 119.0)])])
    calls: list[str] = []

    def commit_then_lose_the_answer(real: Any, order: Order) -> tuple[str, bool]:
        number, created = real(order)  # the ERP committed the document ...
        if calls.count(f"create {order.order_id}") == 1:
            raise ConnectionError("connection reset by peer")  # ... but the answer never came back
        return number, created

    result = pipeline.push_orders(
        config, store=store, sink=_counted_sink(config, calls, create=commit_then_lose_the_answer)
    )

    assert result["counts"] == {"pending": 1, "raised": 1}
    assert calls == ["find 5", "create 5", "find 5"]  # looked up, and found: no second create
    documents = _documents(sqlite_source)
    assert list(documents) == ["S2S-5"]
    assert _lines(sqlite_source) == [("S2S-5", "HW-HAMMER-16", 2.0), ("S2S-5", "HW-TAPE-5M", 1.0)]
    assert _told(sandbox)["5"] == (documents["S2S-5"], 1, 0, 0)
    entry = store.entry("shop", "5")
    assert (entry.status, entry.document_number, entry.attempts, entry.owner) == (
        "acknowledged",
        documents["S2S-5"],
        1,
        None,
    )


class _FakeSink(OrderSink):
    """An ERP in memory that counts lookups and creates; ``creates`` scripts each create's behaviour:
    ``"ok"``, ``"stored_then_lost"`` (stored, then the answer lost), ``"lost"`` (not stored, no answer),
    ``"refused"`` (the ERP refuses the data)."""

    def __init__(self, settings: OrderSettings, creates: list[str], documents: dict[str, Document] | None = None):
        self.settings = settings
        self.document_type = "sales_order"
        self.creates = list(creates)
        self.documents: dict[str, Document] = dict(documents or {})
        self.calls: list[str] = []

    def find(self, order: Order) -> Document | None:
        self.calls.append("find")
        return self.documents.get(order.order_id)

    def create(self, order: Order) -> str:
        self.calls.append("create")
        behaviour = self.creates.pop(0)
        if behaviour == "refused":
            raise OrderError(f"order {order.order_id}: the ERP refused it: unknown item")
        if behaviour in ("ok", "stored_then_lost"):
            number = f"DOC-{len(self.documents) + 1}"
            self.documents[order.order_id] = Document(number, tuple((line.sku, line.qty) for line in order.lines))
            if behaviour == "ok":
                return number
        raise ConnectionError("read timed out")


def _settings(**extra: Any) -> OrderSettings:
    return OrderSettings(
        **{"enabled": True, "default_customer_code": "CASH", "create_attempts": 3, "create_pause_seconds": 0, **extra}
    )


def _order(order_id: int = 50, lines: list[tuple[str, float, float]] | None = None) -> Order:
    return parse_order(system_order(order_id, 101, lines or [("HW-HAMMER-16", 2, 349.95)]), _settings(), 101)


def test_raise_order_looks_up_after_an_unclear_create_before_creating_again() -> None:
    stored = _FakeSink(_settings(), ["stored_then_lost", "ok"])
    renewals: list[str] = []

    assert stored.raise_order(_order(), before_create=lambda: renewals.append("renew")) == ("DOC-1", True)
    assert stored.calls == ["find", "create", "find"]
    assert renewals == ["renew"]

    not_stored = _FakeSink(_settings(), ["lost", "ok"])
    assert not_stored.raise_order(_order(), before_create=lambda: renewals.append("renew")) == ("DOC-1", True)
    assert not_stored.calls == ["find", "create", "find", "create"]
    assert len(not_stored.documents) == 1


def test_raise_order_does_not_retry_a_refusal_and_gives_up_after_create_attempts() -> None:
    refused = _FakeSink(_settings(), ["refused", "ok"])
    with pytest.raises(OrderError, match="the ERP refused it"):
        refused.raise_order(_order())
    assert refused.calls == ["find", "create"]
    assert refused.documents == {}

    lost = _FakeSink(_settings(create_attempts=3), ["lost", "lost", "lost", "ok"])
    with pytest.raises(ConnectionError):
        lost.raise_order(_order())
    assert lost.calls == ["find", "create"] * 3
    assert lost.documents == {}

    found = _FakeSink(_settings(), ["ok"], {"50": Document("DOC-7", (("HW-HAMMER-16", 2.0),))})
    assert found.raise_order(_order()) == ("DOC-7", False)
    assert found.calls == ["find"]


# -- 3. given-up orders are skipped -------------------------------------------------------------------------------
def test_an_order_refused_max_attempts_times_is_given_up_then_skipped_without_touching_the_erp(
    pg_erp_with_items: dict[str, Any], sandbox: str, sources_dir: Path, state_store: str
) -> None:
    erp = pg_erp_with_items
    config = _shop(sources_dir, erp, max_attempts=2, create_attempts=3)
    store = _store(state_store)
    unknown_item = system_order(31, 101, [("HW-DRILL-18V", 1, 1899.0)])  # the ERP's item table lacks it
    add_orders(sandbox, [unknown_item, system_order(32, 101, [("HW-HAMMER-16", 1, 349.95)])])

    calls: list[str] = []
    first = pipeline.push_orders(config, store=store, sink=_counted_sink(config, calls))
    second = pipeline.push_orders(config, store=store, sink=_counted_sink(config, calls))

    assert first["counts"] == {"pending": 2, "failed": 1, "raised": 1}
    [refusal] = first["problems"]
    assert refusal["transient"] is False
    assert "foreign" in refusal["error"].lower()
    assert second["counts"] == {"pending": 1, "gave_up": 1}
    assert calls.count("create 31") == 2  # one create per run: a refusal is not retried within a run
    assert _told(sandbox)["31"][1:] == (0, 2, 1)  # told twice, the second time final
    entry = store.entry("shop", "31")
    assert (entry.status, entry.data_failures, entry.attempts) == ("gave_up", 2, 2)

    # Stock2Shop lists the order again (someone re-sent it from the console): it stays given up.
    add_orders(sandbox, [unknown_item])
    calls.clear()
    third = pipeline.push_orders(config, store=store, sink=_counted_sink(config, calls))
    fourth = pipeline.push_orders(config, store=store, sink=_counted_sink(config, calls))

    assert third["counts"] == {"pending": 1, "skipped": 1}
    assert fourth["counts"] == {"pending": 1, "skipped": 1}
    assert "retry-order" in third["problems"][0]["error"]
    assert calls == []  # the ERP was not even asked
    assert sorted(_documents(erp)) == ["S2S-32"]
    assert _told(sandbox)["31"][:2] == (None, 0)
    assert store.entry("shop", "31").status == "gave_up"


# -- 4. transient failures do not count towards giving up ---------------------------------------------------------
def test_transient_failures_never_give_an_order_up_and_it_is_raised_once_they_stop(
    sqlite_source: dict[str, Any], sandbox: str, sources_dir: Path, state_store: str
) -> None:
    config = _shop(sources_dir, sqlite_source, max_attempts=3, create_attempts=1)
    store = _store(state_store)
    add_orders(sandbox, [system_order(41, 101, [("HW-TAPE-5M", 3, 119.0)])])
    outage = {"on": True}

    def flaky(real: Any, order: Order) -> tuple[str, bool]:
        if outage["on"]:
            raise ConnectionError("the ERP's server closed the connection")
        return real(order)

    calls: list[str] = []
    for run in range(1, 6):
        result = pipeline.push_orders(config, store=store, sink=_counted_sink(config, calls, create=flaky))

        assert result["counts"] == {"pending": 1, "failed": 1}, f"run {run}"
        assert result["problems"][0]["transient"] is True
        entry = store.entry("shop", "41")
        assert (entry.status, entry.data_failures, entry.transient_failures) == ("failed", 0, run)
        # Stock2Shop was told of each failure, never as final.
        assert _told(sandbox)["41"] == (None, 0, run, 0), f"run {run}"
        assert _documents(sqlite_source) == {}

    outage["on"] = False
    last = pipeline.push_orders(config, store=store, sink=_counted_sink(config, calls, create=flaky))

    assert last["counts"] == {"pending": 1, "raised": 1}
    documents = _documents(sqlite_source)
    assert list(documents) == ["S2S-41"]
    assert _lines(sqlite_source) == [("S2S-41", "HW-TAPE-5M", 3.0)]
    assert _told(sandbox)["41"][:2] == (documents["S2S-41"], 1)
    entry = store.entry("shop", "41")
    assert (entry.status, entry.transient_failures, entry.data_failures) == ("acknowledged", 0, 0)


def test_an_order_that_just_failed_transiently_waits_out_its_pause(
    sqlite_source: dict[str, Any], sandbox: str, sources_dir: Path, state_store: str
) -> None:
    config = _shop(sources_dir, sqlite_source, retry_backoff_seconds=60, create_attempts=1)
    store = _store(state_store)
    add_orders(sandbox, [system_order(42, 101, [("HW-TAPE-5M", 1, 119.0)])])

    def down(real: Any, order: Order) -> tuple[str, bool]:
        raise ConnectionError("no route to the ERP")

    calls: list[str] = []
    first = pipeline.push_orders(config, store=store, sink=_counted_sink(config, calls, create=down))
    assert first["counts"] == {"pending": 1, "failed": 1}
    entry = store.entry("shop", "42")
    assert entry.next_attempt_at is not None
    assert entry.next_attempt_at > datetime.now(UTC) + timedelta(seconds=50)

    calls.clear()
    second = pipeline.push_orders(config, store=store, sink=_counted_sink(config, calls))

    assert second["counts"] == {"pending": 1, "waiting": 1}
    assert second["problems"] == []  # waiting is not a problem to alert on
    assert calls == []
    assert _documents(sqlite_source) == {}
    assert _told(sandbox)["42"] == (None, 0, 1, 0)  # not told again
    assert store.entry("shop", "42").transient_failures == 1


# -- 5. a found document must be this order's -----------------------------------------------------------------------
def _hand_entered_document(database: dict[str, Any], reference: str, item: str, qty: float) -> str:
    """A document typed into the ERP by hand under ``reference``; its number."""
    with closing(connect(database)) as conn:
        conn.execute(
            "INSERT INTO sales_orders (external_ref, order_date, customer_account, total_excl, total_tax, total_incl) "
            "VALUES (?, '2026-11-19', 'WALKIN', 10, 1.5, 11.5)",
            reference,
        )
        number = conn.execute("SELECT order_no FROM sales_orders WHERE external_ref = ?", reference).fetchone()[0]
        conn.execute(
            "INSERT INTO sales_order_lines (order_no, line_no, item_code, qty, price, tax, line_total) "
            "VALUES (?, 1, ?, ?, 10, 1.5, 10)",
            number,
            item,
            qty,
        )
        conn.commit()
    return str(number)


def _assert_refused_as_another_document(
    result: dict[str, Any], database: dict[str, Any], sandbox: str, store: StateStore, number: str
) -> None:
    assert result["counts"] == {"pending": 1, "failed": 1}
    [problem] = result["problems"]
    assert problem["order"] == "order 50"
    assert f"document {number}" in problem["error"]
    assert "order 50" in problem["error"]
    assert problem["transient"] is False
    assert _documents(database) == {"S2S-50": number}  # nothing raised beside it
    told = _told(sandbox)["50"]
    assert told[:2] == (None, 0)  # never acknowledged with the other document's number
    assert told[2] == 1
    entry = store.entry("shop", "50")
    assert entry.status == "failed"
    assert entry.document_number is None


def test_a_document_with_the_orders_reference_but_other_lines_is_an_error_not_an_acknowledgement(
    sqlite_source: dict[str, Any], sandbox: str, sources_dir: Path, state_store: str
) -> None:
    """Through the SQL order sink as shipped."""
    config = _shop(sources_dir, sqlite_source)
    store = _store(state_store)
    number = _hand_entered_document(sqlite_source, "S2S-50", "HW-DRILL-18V", 5)
    add_orders(sandbox, [system_order(50, 101, [("HW-HAMMER-16", 2, 349.95)])])

    result = pipeline.push_orders(config, store=store)

    _assert_refused_as_another_document(result, sqlite_source, sandbox, store, number)


def test_a_found_document_whose_lines_the_sink_reports_is_compared_with_the_order(
    sqlite_source: dict[str, Any], sandbox: str, sources_dir: Path, state_store: str
) -> None:
    """The same, with the SQL sink's lookup also reading the document's lines (as the API sinks report them)."""
    config = _shop(sources_dir, sqlite_source)
    store = _store(state_store)
    number = _hand_entered_document(sqlite_source, "S2S-50", "HW-DRILL-18V", 5)
    add_orders(sandbox, [system_order(50, 101, [("HW-HAMMER-16", 2, 349.95)])])
    sink = get_order_sink(config, resolve_mapping(config))
    real_find = sink.find

    def find_with_lines(order: Order) -> Document | None:
        found = real_find(order)
        if found is None:
            return None
        with closing(connect(sqlite_source)) as conn:
            rows = conn.execute(
                "SELECT item_code, qty FROM sales_order_lines WHERE order_no = ?", found.number
            ).fetchall()
        return Document(found.number, tuple((str(r[0]), float(r[1])) for r in rows))

    sink.find = find_with_lines  # type: ignore[method-assign]
    result = pipeline.push_orders(config, store=store, sink=sink)

    _assert_refused_as_another_document(result, sqlite_source, sandbox, store, number)


def test_raise_order_refuses_a_found_document_with_other_lines_naming_both() -> None:
    other = _FakeSink(_settings(), ["ok"], {"50": Document("DOC-9", (("HW-DRILL-18V", 5.0),))})

    with pytest.raises(OrderError) as caught:
        other.raise_order(_order())

    assert "document DOC-9" in str(caught.value)
    assert "order 50" in str(caught.value)
    assert "5 x hw-drill-18v" in str(caught.value)
    assert "2 x hw-hammer-16" in str(caught.value)
    assert other.calls == ["find"]  # and nothing created beside it

    # The same lines, as the ERP spells them: this order's document.
    same = _FakeSink(_settings(), ["ok"], {"50": Document("DOC-9", ((" hw-hammer-16", 2.0),))})
    assert same.raise_order(_order()) == ("DOC-9", False)
    # An ERP that gives item ids instead of codes: only the quantities are compared.
    by_id = _FakeSink(_settings(), ["ok"], {"50": Document("DOC-9", ((None, 3.0),))})
    with pytest.raises(OrderError, match="DOC-9"):
        by_id.raise_order(_order())


# -- 6. channel order codes --------------------------------------------------------------------------------------------
def test_two_channels_orders_with_the_same_channel_order_code_are_two_documents(
    sqlite_source: dict[str, Any], sandbox: str, sources_dir: Path, state_store: str
) -> None:
    config = _shop(sources_dir, sqlite_source, use_channel_order_code=True)
    store = _store(state_store)
    web = system_order(61, 101, [("HW-HAMMER-16", 1, 349.95)], channel_order_code="1001")
    marketplace = system_order(62, 101, [("HW-TAPE-5M", 2, 119.0)], channel_order_code="1001")
    web["channel_id"], marketplace["channel_id"] = 1, 2
    add_orders(sandbox, [web, marketplace])

    result = pipeline.push_orders(config, store=store)

    assert result["counts"] == {"pending": 2, "raised": 2}
    documents = _documents(sqlite_source)
    assert sorted(documents) == ["C1-1001", "C2-1001"]
    assert documents["C1-1001"] != documents["C2-1001"]
    assert _lines(sqlite_source) == [("C1-1001", "HW-HAMMER-16", 1.0), ("C2-1001", "HW-TAPE-5M", 2.0)]
    told = _told(sandbox)
    assert told["61"][:2] == (documents["C1-1001"], 1)
    assert told["62"][:2] == (documents["C2-1001"], 1)


# -- 7. the state store never falls back ---------------------------------------------------------------------------------
def _push_task(config: SourceConfig) -> Any:
    from stock2shop_sync.operators.sync import PushOrdersOperator

    return PushOrdersOperator(task_id="push_orders", config_path=str(config.path))


def test_an_unreachable_s2s_state_fails_the_push_task_before_the_erp_is_touched(
    sqlite_source: dict[str, Any], sandbox: str, sources_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _shop(sources_dir, sqlite_source)
    add_orders(sandbox, [system_order(71, 101, [("HW-HAMMER-16", 1, 349.95)])])
    monkeypatch.delenv("S2S_STATE_URL")
    monkeypatch.setenv("AIRFLOW_CONN_S2S_STATE", "postgresql://postgres@127.0.0.1:1/nothing")  # nothing listens

    with pytest.raises(StateStoreError) as caught:
        _push_task(config).execute({"params": {}})

    message = str(caught.value)
    assert "'s2s_state'" in message
    assert "127.0.0.1:1/nothing" in message
    assert "cannot be reached" in message
    assert _documents(sqlite_source) == {}
    assert _told(sandbox)["71"] == (None, 0, 0, 0)


def test_no_state_store_configured_fails_saying_how_to_configure_it(
    sqlite_source: dict[str, Any], sandbox: str, sources_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _shop(sources_dir, sqlite_source)
    add_orders(sandbox, [system_order(72, 101, [("HW-HAMMER-16", 1, 349.95)])])
    monkeypatch.delenv("S2S_STATE_URL")
    monkeypatch.delenv("AIRFLOW_CONN_S2S_STATE", raising=False)

    with pytest.raises(StateStoreError) as caught:
        _push_task(config).execute({"params": {}})

    message = str(caught.value)
    assert "no state store is configured" in message
    assert "AIRFLOW_CONN_S2S_STATE=" in message
    assert "S2S_STATE_URL" in message
    assert _documents(sqlite_source) == {}
    assert _told(sandbox)["72"] == (None, 0, 0, 0)


# -- 8. retry-order ------------------------------------------------------------------------------------------------------
def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "stock2shop_sync.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=ROOT,
    )


def test_retry_order_raises_a_given_up_order_once_after_its_data_is_fixed(
    pg_erp_with_items: dict[str, Any], sandbox: str, sources_dir: Path, state_store: str
) -> None:
    erp = pg_erp_with_items
    config = _shop(sources_dir, erp, max_attempts=1)
    store = _store(state_store)
    add_orders(sandbox, [system_order(81, 101, [("HW-DRILL-18V", 2, 1899.0), ("HW-HAMMER-16", 1, 349.95)])])

    first = pipeline.push_orders(config, store=store)
    after = pipeline.push_orders(config, store=store)

    assert first["counts"] == {"pending": 1, "gave_up": 1}
    assert _told(sandbox)["81"] == (None, 0, 1, 1)  # told final: no longer pending
    assert after["counts"] == {"pending": 0}
    assert _documents(erp) == {}

    with closing(connect(erp)) as conn:  # the item is added to the ERP
        conn.execute(f"INSERT INTO {ITEMS} (code) VALUES ('HW-DRILL-18V')")
        conn.commit()
    retried = _cli("retry-order", "shop", "81")
    assert retried.returncode == 0, retried.stdout + retried.stderr
    assert "will be raised on the next run" in retried.stdout
    assert store.entry("shop", "81").status == "retry"

    raised = pipeline.push_orders(config, store=store)
    again = pipeline.push_orders(config, store=store)

    assert raised["counts"] == {"pending": 1, "raised": 1}
    assert again["counts"] == {"pending": 0}
    documents = _documents(erp)
    assert list(documents) == ["S2S-81"]
    assert _lines(erp) == [("S2S-81", "HW-DRILL-18V", 2.0), ("S2S-81", "HW-HAMMER-16", 1.0)]
    assert _told(sandbox)["81"][:2] == (documents["S2S-81"], 1)
    entry = store.entry("shop", "81")
    assert (entry.status, entry.document_number, entry.order_json) == ("acknowledged", documents["S2S-81"], None)


def test_retry_order_brings_a_given_up_order_file_back_from_failed(
    sqlite_source: dict[str, Any], sources_dir: Path, tmp_path: Path, state_store: str
) -> None:
    from stock2shop_sync import cli

    drop = tmp_path / "order-drop"
    drop.mkdir()
    (drop / "82.json").write_text(json.dumps(system_order(82, 101, [("HW-NEW-1", 4, 25.0)])))
    config = _shop(sources_dir, sqlite_source, inbox={"kind": "files", "path": str(drop)}, max_attempts=1)
    store = _store(state_store)  # HW-NEW-1 is not a product of the source yet

    first = pipeline.push_orders(config, store=store)

    assert first["counts"] == {"pending": 1, "gave_up": 1}
    assert "HW-NEW-1" in first["problems"][0]["error"]
    assert sorted(p.name for p in (drop / "failed").iterdir()) == ["82.json", "82.json.result.json"]
    assert pipeline.push_orders(config, store=store)["counts"] == {"pending": 0}

    store.record_synced("shop", ["HW-NEW-1"])  # the product is synced now
    assert cli.main(["retry-order", "shop", "82"]) == 0
    raised = pipeline.push_orders(config, store=store)
    again = pipeline.push_orders(config, store=store)

    assert raised["counts"] == {"pending": 1, "raised": 1}
    assert again["counts"] == {"pending": 0}
    documents = _documents(sqlite_source)
    assert list(documents) == ["S2S-82"]
    assert _lines(sqlite_source) == [("S2S-82", "HW-NEW-1", 4.0)]
    assert sorted(p.name for p in (drop / "processed").iterdir()) == ["82.json", "82.json.result.json"]
    assert not (drop / "failed" / "82.json").exists()
    result = json.loads((drop / "processed" / "82.json.result.json").read_text())
    assert (result["status"], result["source_order_code"], result["order_id"]) == (
        "raised",
        documents["S2S-82"],
        "82",
    )
    assert store.entry("shop", "82").status == "acknowledged"


# -- 9. an older ledger ------------------------------------------------------------------------------------------------
def test_a_ledger_of_an_older_release_is_upgraded_in_place(ledger_url: str) -> None:
    old = sa.create_engine(state._sqlalchemy_url(ledger_url))
    when = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    with old.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE TABLE s2s_order_ledger (source_id VARCHAR(64) NOT NULL, order_id VARCHAR(64) NOT NULL, "
                "external_order_no VARCHAR(100), status VARCHAR(20) NOT NULL, attempts INTEGER NOT NULL, "
                "document_number VARCHAR(100), last_error TEXT, created_at TIMESTAMP NOT NULL, "
                "updated_at TIMESTAMP NOT NULL, PRIMARY KEY (source_id, order_id))"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO s2s_order_ledger VALUES ('shop', '7', 'S2S-7', 'failed', 2, NULL, 'ERP down', :at, :at)"
            ),
            {"at": when.replace(tzinfo=None)},
        )
    old.dispose()

    store = StateStore(ledger_url)

    entry = store.entry("shop", "7")
    assert entry is not None
    assert (entry.status, entry.attempts, entry.external_order_no, entry.last_error) == (
        "failed",
        2,
        "S2S-7",
        "ERP down",
    )
    assert (entry.owner, entry.lease_until, entry.data_failures, entry.transient_failures) == (None, None, 0, 0)
    columns = {c["name"] for c in sa.inspect(store.engine).get_columns("s2s_order_ledger")}
    assert {"owner", "lease_until", "data_failures", "transient_failures", "order_json"} <= columns
    # The upgraded row works as any other: claimed, then recorded.
    claimed = store.claim("shop", "7", "S2S-7", owner="now", lease_seconds=60)
    assert claimed is not None
    assert (claimed.status, claimed.attempts, claimed.owner) == ("raising", 3, "now")
    assert store.record("shop", "7", "acknowledged", document_number="1", owner="now", release=True)
    assert [(e.order_id, e.status, e.document_number) for e in store.entries("shop")] == [("7", "acknowledged", "1")]


# -- 10. a transient failure alerts only once it has lasted ---------------------------------------------------
class _TaskInstance:
    """What the push task asks of its task instance: somewhere to leave its counts when it fails."""

    def __init__(self) -> None:
        self.pushed: list[Any] = []

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed.append(value)


def test_an_erp_that_is_down_is_retried_quietly_then_alerted_on_after_alert_after_minutes(
    sqlite_source: dict[str, Any],
    sandbox: str,
    sources_dir: Path,
    state_store: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    # The order connection names a database file that cannot be opened: the ERP is down, not the order's data.
    monkeypatch.setenv(
        "AIRFLOW_CONN_ERP_DOWN", json.dumps({"conn_type": "odbc", "schema": str(tmp_path / "gone" / "erp.sqlite")})
    )
    config = _shop(sources_dir, sqlite_source, conn_id="erp_down", alert_after_minutes=60)
    store = _store(state_store)
    add_orders(sandbox, [system_order(91, 101, [("HW-HAMMER-16", 1, 349.95)])])
    task = _push_task(config)

    quiet = task.execute({"params": {}, "ti": _TaskInstance()})  # the task succeeds: a later run retries

    [problem] = quiet["problems"]
    assert (problem["outcome"], problem["transient"], problem["overdue"]) == ("failed", True, False)
    assert "could not take it now" in problem["error"]
    entry = store.entry("shop", "91")
    assert (entry.status, entry.data_failures, entry.transient_failures) == ("failed", 0, 1)

    # Two hours of failing later, the next failure fails the task, so the DAG's alerts fire; still not given up.
    with store.engine.begin() as conn:
        conn.execute(
            sa.update(state.order_ledger)
            .where(state.order_ledger.c.order_id == "91")
            .values(failing_since=datetime.now(UTC) - timedelta(hours=2))
        )
    ti = _TaskInstance()
    with pytest.raises(RuntimeError, match=r"failing for more than 60 minutes; still retried"):
        task.execute({"params": {}, "ti": ti})

    assert ti.pushed[0]["problems"][0]["overdue"] is True
    entry = store.entry("shop", "91")
    assert (entry.status, entry.data_failures, entry.transient_failures) == ("failed", 0, 2)
    assert _told(sandbox)["91"][3] == 0  # never reported to Stock2Shop as final


# -- 11. what Stock2Shop is told of a refusal carries no values -----------------------------------------------
def test_a_constraint_violation_is_reported_to_stock2shop_in_words_without_the_orders_values(
    postgres_source: dict[str, Any], sandbox: str, sources_dir: Path, state_store: str
) -> None:
    secret_email = "thandi.secret-7731@example.com"
    with closing(connect(postgres_source)) as conn:
        create_order_tables("custom_database", conn)
        conn.execute("ALTER TABLE sales_orders ADD CONSTRAINT sales_orders_email_key UNIQUE (email)")
        conn.execute(
            "INSERT INTO sales_orders (external_ref, order_date, customer_account, email, total_excl, total_tax, "
            f"total_incl) VALUES ('MANUAL-1', '2026-11-01', 'ACC001', '{secret_email}', 1, 0, 1)"
        )
        conn.commit()
    try:
        config = _shop(sources_dir, postgres_source, max_attempts=1)
        store = _store(state_store)
        order = system_order(95, 101, [("HW-HAMMER-16", 1, 349.95)])
        order["customer"]["email"] = secret_email
        add_orders(sandbox, [order])

        result = pipeline.push_orders(config, store=store)

        assert result["counts"] == {"pending": 1, "gave_up": 1}
        told = sandbox_orders(sandbox, 101)["95"]
        for text in (told["error"], store.entry("shop", "95").last_error, result["problems"][0]["error"]):
            assert "unique constraint was violated (sales_orders_email_key" in text, text
            assert secret_email not in text
            assert "thandi" not in text.lower()
            assert "Key (" not in text  # PostgreSQL's DETAIL line, which carries the value
        assert told["final_error"] == 1
    finally:
        with closing(connect(postgres_source)) as conn:
            create_order_tables("custom_database", conn)


def test_a_retried_order_file_that_fails_transiently_is_still_raised_by_a_later_run(
    sqlite_source: dict[str, Any], sources_dir: Path, tmp_path: Path, state_store: str
) -> None:
    from stock2shop_sync import cli

    drop = tmp_path / "order-drop"
    drop.mkdir()
    (drop / "97.json").write_text(json.dumps(system_order(97, 101, [("HW-TAPE-5M", 2, 119.0)])))
    config = _shop(
        sources_dir, sqlite_source, inbox={"kind": "files", "path": str(drop)}, max_attempts=1, create_attempts=1
    )
    store = StateStore(state_store)
    store.record_synced("shop", ["HW-HAMMER-16"])  # not yet HW-TAPE-5M: order 97 is refused
    assert pipeline.push_orders(config, store=store)["counts"] == {"pending": 1, "gave_up": 1}
    store.record_synced("shop", ["HW-TAPE-5M"])
    assert cli.main(["retry-order", "shop", "97"]) == 0

    def down(real: Any, order: Order) -> tuple[str, bool]:
        raise ConnectionError("the ERP's server closed the connection")

    calls: list[str] = []
    failed = pipeline.push_orders(config, store=store, sink=_counted_sink(config, calls, create=down))
    # The file is still in failed/ and the inbox lists nothing: only the ledger's copy brings it back.
    raised = pipeline.push_orders(config, store=store)
    again = pipeline.push_orders(config, store=store)

    assert failed["counts"] == {"pending": 1, "failed": 1}
    assert raised["counts"] == {"pending": 1, "raised": 1}
    assert again["counts"] == {"pending": 0}
    assert list(_documents(sqlite_source)) == ["S2S-97"]
    assert sorted(p.name for p in (drop / "processed").iterdir()) == ["97.json", "97.json.result.json"]
    entry = store.entry("shop", "97")
    assert (entry.status, entry.order_json) == ("acknowledged", None)


def test_an_order_in_its_pause_cannot_be_claimed_by_any_run(ledger_url: str) -> None:
    store = StateStore(ledger_url)
    store.record("shop", "98", "failed", error="timed out", next_attempt_at=datetime.now(UTC) + timedelta(seconds=2))

    # A run that read the ledger before the pause was recorded cannot slip past it: the claim itself checks.
    assert store.claim("shop", "98", "S2S-98", owner="late-run", lease_seconds=60) is None
    time.sleep(2.2)
    claimed = store.claim("shop", "98", "S2S-98", owner="late-run", lease_seconds=60)
    assert claimed is not None
    assert claimed.owner == "late-run"


def test_orders_wait_without_counting_while_the_source_has_synced_no_products(
    sqlite_source: dict[str, Any], sandbox: str, sources_dir: Path, state_store: str
) -> None:
    # A new state store (moved to PostgreSQL, say) knows no synced SKUs until the next upload records them.
    config = _shop(sources_dir, sqlite_source, max_attempts=2)
    store = StateStore(state_store)
    add_orders(sandbox, [system_order(99, 101, [("HW-HAMMER-16", 1, 349.95)])])

    runs = [pipeline.push_orders(config, store=store)["counts"] for _ in range(4)]

    assert runs == [{"pending": 1, "failed": 1}] * 4  # never given up: the order is not at fault
    entry = store.entry("shop", "99")
    assert (entry.status, entry.data_failures, entry.transient_failures) == ("failed", 0, 4)
    store.record_synced("shop", HELD)
    assert pipeline.push_orders(config, store=store)["counts"] == {"pending": 1, "raised": 1}
