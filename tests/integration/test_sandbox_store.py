"""The sandbox's store: batches are stored by a writer process after the answer, and every read waits for them;
the quick path of the queue endpoints stores exactly what the full checks and rows would."""

from __future__ import annotations

import json
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson
import pytest
import requests

from sandbox.app import (
    PRODUCT_UPSERT,
    REQUEST_INSERT,
    _check_customer,
    _check_product,
    _customer_row,
    _product_row,
    _Store,
    _usual_customer_rows,
    _usual_product_rows,
)
from tests.integration.test_hook_http import item
from tests.integration.test_sandbox_api import login, queue

SOURCES = {101: "A", 102: "B"}
IDS = {"101": 101, "102": 102}


def customer(code: str, **fields: Any) -> dict[str, Any]:
    return {
        "source": {"source_id": "101", "source_customer_code": code, "customer_active": "true"},
        "customer": {"first_name": "A", "last_name": "B", "email": f"{code}@example.com", **fields},
    }


def test_reads_right_after_concurrent_uploads_see_every_batch(sandbox: str) -> None:
    token = login(sandbox).json()["system_user"]["token"]
    batches = [[item(f"S{b}-{n}", qty=b) for n in range(200)] for b in range(24)]
    with ThreadPoolExecutor(6) as pool:
        assert {r.status_code for r in pool.map(lambda batch: queue(sandbox, token, batch), batches)} == {200}
    received = requests.get(f"{sandbox}/sandbox/received", timeout=30).json()
    assert len(received) == 24 * 200
    assert set(received.values()) == {1}
    stats = requests.get(f"{sandbox}/sandbox/stats", timeout=30).json()
    assert (stats["products"], stats["accepted_batches"], stats["max_items_per_request"]) == (4800, 24, 200)
    assert len(requests.get(f"{sandbox}/sandbox/batches", timeout=30).json()) == 24


def test_payloads_read_back_as_sent_with_sorted_keys_and_stored_as_text(sandbox: str, tmp_path: Path) -> None:
    token = login(sandbox).json()["system_user"]["token"]
    sent = item("Ü-1", qty=3, price=12.25, zeta="last", alpha=[{"b": 1, "a": 2}])
    sent["product"]["title"] = 'Ünïcode "quoted" \\ ok'
    assert queue(sandbox, token, [sent]).status_code == 200
    people = [customer("C1"), customer("C2", email="")]
    people[1]["source"]["customer_active"] = "false"  # so a blank email is fine
    assert queue(sandbox, token, people, kind="customers").status_code == 200
    response = requests.get(f"{sandbox}/sandbox/products", timeout=10)
    (row,) = response.json()
    assert row["payload"] == sent
    assert response.text.index('"alpha"') < response.text.index('"price"') < response.text.index('"zeta"')
    assert response.text.index('"a":2') < response.text.index('"b":1')  # nested keys sorted too
    assert [c["payload"] for c in requests.get(f"{sandbox}/sandbox/customers", timeout=10).json()] == people
    with sqlite3.connect(tmp_path / "sandbox.sqlite") as db:
        assert db.execute("SELECT typeof(payload), json_valid(payload) FROM products").fetchall() == [("text", 1)]


def _mutations() -> list[Any]:
    def set_in(path: tuple[str, ...], value: Any) -> Any:
        def apply(i: dict[str, Any]) -> None:
            target = i
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = value

        return apply

    def drop(path: tuple[str, ...]) -> Any:
        def apply(i: dict[str, Any]) -> None:
            target = i
            for key in path[:-1]:
                target = target[key]
            target.pop(path[-1], None)

        return apply

    values = [None, "", " ", "0", "101", "999", "²", "abc", 0, 101, 101.0, True, False, [], [1], {}, {"a": 1}, 2**70]
    paths = [
        ("source",),
        ("product",),
        ("source", "source_id"),
        ("source", "source_product_code"),
        ("source", "product_active"),
        ("source", "sync_token"),
        ("source", "fetch_token"),
        ("product", "title"),
        ("product", "variants"),
        ("product", "options"),
        ("product", "variants", "source_variant_code"),
        ("product", "variants", "sku"),
        ("product", "variants", "qty"),
        ("product", "variants", "price"),
        ("product", "variants", "grams"),
    ]
    out: list[Any] = [lambda i: None]
    out += [set_in(p, v) for p in paths for v in values] + [drop(p) for p in paths]
    out += [set_in(("product", "options"), [{"name": "o"}] * n) for n in (1, 3, 4)]
    return out


def _quick(usual_rows: Any, items: list[Any]) -> Any:
    """What the quick path makes of a batch sent as orjson writes it (None: ask the full checks), as the queue
    endpoints call it."""
    key = "system_products" if usual_rows is _usual_product_rows else "system_customers"
    try:
        body = orjson.dumps({key: items})
    except orjson.JSONEncodeError:  # a value no JSON client sends (an integer wider than 64 bits)
        return None
    return usual_rows(body, IDS, 1.0)


def _full(items: list[Any], check: Any, row: Any) -> Any:
    """What the full checks and rows make of a batch: problems, the exception (HTTP 500), or the rows."""
    try:
        problems = [p for n, i in enumerate(items) for p in check(n, i, SOURCES)]
        return problems or [row(i, 1.0) for i in items]
    except (ValueError, TypeError, AttributeError) as exc:
        return type(exc)


@pytest.mark.parametrize("mutate", _mutations())
def test_the_quick_path_takes_only_what_the_full_checks_accept_and_makes_the_same_rows(mutate: Any) -> None:
    bad = item("M1")
    mutate(bad)
    items = [item("OK"), bad]
    quick = _quick(_usual_product_rows, items)
    full = _full(items, _check_product, _product_row)
    if quick is not None:
        assert quick == full


@pytest.mark.parametrize(
    "mutate",
    [
        lambda c: None,
        lambda c: c["source"].update(customer_active="false", source_id="102"),
        lambda c: c["source"].update(customer_active=" "),
        lambda c: c["source"].update(customer_active="FALSE"),
        lambda c: c["customer"].update(email=" "),
        lambda c: c["customer"].update(email=5),
        lambda c: c["customer"].pop("email"),
        lambda c: c["source"].update(source_id=101),
        lambda c: c["source"].update(source_id="999"),
        lambda c: c["source"].update(source_customer_code=""),
        lambda c: c["source"].update(customer_active=None),
        lambda c: c.update(customer=[]),
    ],
)
def test_the_quick_path_for_customers_agrees_with_the_full_checks(mutate: Any) -> None:
    odd = customer("C9")
    mutate(odd)
    items = [customer("C1"), odd]
    quick = _quick(_usual_customer_rows, items)
    full = _full(items, _check_customer, _customer_row)
    if quick is not None:
        assert quick == full


def test_unusual_items_still_get_the_full_checks(sandbox: str) -> None:
    token = login(sandbox).json()["system_user"]["token"]
    odd = item("N1")
    odd["source"]["source_id"] = 101  # a number, not text: accepted as before
    odd["product"]["variants"]["sku"] = 12345
    assert queue(sandbox, token, [item("N0"), odd]).status_code == 200
    rows = {r["source_variant_code"]: r for r in requests.get(f"{sandbox}/sandbox/products", timeout=10).json()}
    assert (rows["N1"]["source_id"], rows["N1"]["sku"]) == (101, "12345")
    bad = item("N2")
    bad["product"]["variants"]["qty"] = "7"
    answer = queue(sandbox, token, [item("N3"), bad])
    assert answer.status_code == 400
    assert answer.json()["errors"] == ["item 1: variants.qty must be a number"]
    huge = item("N4")
    huge["source"]["source_id"] = 1e20  # not digits, so not refused, but too large for SQLite: HTTP 500, as before
    assert queue(sandbox, token, [huge]).status_code == 500
    assert sorted(requests.get(f"{sandbox}/sandbox/received", timeout=10).json()) == ["N0", "N1"]


def test_a_write_that_fails_is_reported_at_the_next_read(tmp_path: Path) -> None:
    store = _Store(str(tmp_path / "store.sqlite"))
    try:
        store.write([(REQUEST_INSERT, [(1.0, "GET", "/a", 200, 0, None, None)], None)])
        store.write([(PRODUCT_UPSERT, [(2**63 + 1, "V", "P", "S", "true", b"{}", 1.0, 1.0)], 5)])
        store.write([(REQUEST_INSERT, [(2.0, "GET", "/b", 200, 0, None, None)], None)])
        with pytest.raises(RuntimeError, match="failed to store"):
            store.query("SELECT COUNT(*) FROM products")
        assert [r["path"] for r in store.query("SELECT path FROM requests ORDER BY id")] == ["/a", "/b"]
        assert store.query("SELECT COUNT(*) FROM products")[0][0] == 0
    finally:
        store.close()


def test_the_writer_stops_when_idle_and_close_stores_what_was_written(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    store = _Store(str(path))
    store.IDLE_SECONDS = 0.5
    store.write([(REQUEST_INSERT, [(1.0, "GET", "/a", 200, 0, None, None)], None)])
    deadline = time.monotonic() + 10
    while store._writer is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert store._writer is None
    store.write([(REQUEST_INSERT, [(2.0, "GET", "/b", 200, 0, None, None)], None)])  # starts another
    store.write([(PRODUCT_UPSERT, [(101, "V", "P", "S", "true", orjson.dumps({"a": 1}), 1.0, 1.0)], 5)])
    store.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT path FROM requests ORDER BY id").fetchall() == [("/a",), ("/b",)]
        assert db.execute("SELECT payload FROM products").fetchall() == [('{"a":1}',)]


def test_usual_items_take_the_quick_path() -> None:
    products = [item(f"Q{n}", grams=100 + n) for n in range(5)]
    assert _quick(_usual_product_rows, products) == _full(products, _check_product, _product_row)
    people = [customer(f"C{n}") for n in range(5)]
    assert _quick(_usual_customer_rows, people) == _full(people, _check_customer, _customer_row)
    # As the queue endpoints ask for them: the same rows without the payloads, which the writer takes from the body
    body = orjson.dumps({"system_products": products})
    rows = _usual_product_rows(body, IDS, 1.0)
    assert rows is not None
    assert _usual_product_rows(body, IDS, 1.0, texts=False) == [(*r[:5], None, *r[6:]) for r in rows]


def test_the_writer_takes_payloads_from_the_body_as_its_items_were_written(tmp_path: Path) -> None:
    store = _Store(str(tmp_path / "store.sqlite"))
    try:
        body = '{"system_products": [ {"a": 1} ,\n{"b":"Crème"}]}'.encode()
        rows = [(101, code, "P", code, "true", None, 1.0, 1.0) for code in ("V1", "V2")]
        store.write([(PRODUCT_UPSERT, rows, (5, "system_products"))], body)
        stored = store.query("SELECT source_variant_code, payload FROM products ORDER BY source_variant_code")
        assert [tuple(r) for r in stored] == [("V1", '{"a": 1}'), ("V2", '{"b":"Crème"}')]
        # A body that lists another number of items than there are rows: the frame stores nothing, and says so
        store.write([(PRODUCT_UPSERT, [(101, "V3", "P", "V3", "true", None, 1.0, 1.0)], (5, "system_products"))], body)
        with pytest.raises(RuntimeError, match="the body lists 2 system_products, for 1 rows"):
            store.query("SELECT COUNT(*) FROM products")
        assert store.query("SELECT COUNT(*) FROM products")[0][0] == 2
    finally:
        store.close()


def _post(sandbox: str, token: str, body: bytes, kind: str = "products") -> requests.Response:
    return requests.post(
        f"{sandbox}/v1/{kind}/queue",
        params={"token": token, "format": "json"},
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=10,
    )


def test_a_usual_batch_is_stored_as_its_items_were_sent(sandbox: str, tmp_path: Path) -> None:
    token = login(sandbox).json()["system_user"]["token"]
    first, second = item("R1", qty=1), item("R2", price=1.5)
    second["product"]["title"] = "Crème brûlée"
    # pretty-printed, one item with \u escapes and one with UTF-8: each is kept as it came
    text = json.dumps(first, indent=2)
    body = b'{"system_products": [ ' + text.encode() + b" ,\n" + json.dumps(second, ensure_ascii=False).encode() + b"]}"
    assert _post(sandbox, token, body).status_code == 200
    rows = {
        r["source_variant_code"]: r["payload"] for r in requests.get(f"{sandbox}/sandbox/products", timeout=10).json()
    }
    assert rows == {"R1": first, "R2": second}
    with sqlite3.connect(tmp_path / "sandbox.sqlite") as db:
        stored = dict(db.execute("SELECT source_variant_code, payload FROM products").fetchall())
    assert stored["R1"] == text
    assert stored["R2"] == json.dumps(second, ensure_ascii=False)


@pytest.mark.parametrize(
    ("body", "note"),
    [
        (b'{"system_products": [ITEM]}', b"\xff"),  # not UTF-8, in a field no check looks at
        (b'{"system_products": [ITEM]}', b"\\ud800"),  # a lone surrogate there
        (b'{"system_products": [ITEM], "extra": tru}', b"fine"),  # not JSON after the items
        (b'{"system_products": [ITEM] ', b"fine"),  # cut short
    ],
)
def test_a_body_that_is_not_json_is_refused_and_nothing_of_it_stored(sandbox: str, body: bytes, note: bytes) -> None:
    token = login(sandbox).json()["system_user"]["token"]
    usual = item("B1")
    usual["product"]["note"] = "NOTE"
    answer = _post(sandbox, token, body.replace(b"ITEM", orjson.dumps(usual).replace(b"NOTE", note)))
    assert (answer.status_code, answer.json()) == (400, {"errors": "body is not JSON"})
    assert requests.get(f"{sandbox}/sandbox/received", timeout=10).json() == {}


def test_a_batch_too_large_or_empty_is_refused_on_the_quick_path_too(sandbox: str) -> None:
    token = login(sandbox).json()["system_user"]["token"]
    assert (
        _post(sandbox, token, orjson.dumps({"system_products": [item(f"L{n}") for n in range(501)]})).status_code == 413
    )
    assert _post(sandbox, token, orjson.dumps({"system_products": []})).status_code == 400
    assert _post(sandbox, token, orjson.dumps({"system_customers": []}), kind="customers").status_code == 400
    assert requests.get(f"{sandbox}/sandbox/received", timeout=10).json() == {}


def test_a_new_store_has_16_kib_pages_and_an_existing_one_keeps_its_own(tmp_path: Path) -> None:
    fresh = _Store(str(tmp_path / "fresh.sqlite"))
    fresh.close()
    with sqlite3.connect(tmp_path / "old.sqlite") as db:
        db.execute("CREATE TABLE t (x)")
    kept = _Store(str(tmp_path / "old.sqlite"))
    kept.close()
    sizes = {}
    for name in ("fresh", "old"):
        with sqlite3.connect(tmp_path / f"{name}.sqlite") as db:
            sizes[name] = db.execute("PRAGMA page_size").fetchone()[0]
    assert sizes == {"fresh": 16384, "old": 4096}


def test_a_writer_that_dies_is_reported_at_the_next_read_and_the_next_write_starts_another(tmp_path: Path) -> None:
    store = _Store(str(tmp_path / "store.sqlite"))
    try:
        store.write([(REQUEST_INSERT, [(1.0, "GET", "/a", 200, 0, None, None)], None)])
        store.drain()
        assert store._writer is not None
        store._writer.kill()  # as if the OOM killer took it
        store._writer.wait()
        # frames handed over after its death are lost: a later write (once the outbox's thread met the broken
        # pipe) or else the first read says so, instead of answering as if they were stored
        text = b'"' + b"x" * 100_000 + b'"'
        with pytest.raises(RuntimeError, match="writer process stopped"):  # noqa: PT012 - either call may say it
            for n in range(20):  # more than the pipe holds
                store.write([(PRODUCT_UPSERT, [(101, f"V{n}", "P", "S", "true", text, 1.0, 1.0)], 5)])
            store.query("SELECT COUNT(*) FROM products")
        store.write([(REQUEST_INSERT, [(2.0, "GET", "/b", 200, 0, None, None)], None)])
        assert [r["path"] for r in store.query("SELECT path FROM requests ORDER BY id")] == ["/a", "/b"]
    finally:
        store.close()
