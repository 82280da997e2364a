"""Orders raised into an existing schema over ODBC (issue 24): shipping on a header column, ids from ``next_id``
for a key without a sequence (and another writer taking that id first), parameters bound in their own types, and
an order for a discontinued SKU told apart from one for a SKU the source never had.

The ERP here is an integrator's own: an integer order key with no identity, lines keyed on an integer item id,
shipping and the total on the header. SQLite, PostgreSQL and MariaDB; the race needs two connections to a server.
"""

from __future__ import annotations

import logging
from contextlib import closing
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from stock2shop_sync import pipeline
from stock2shop_sync.config import load_source, resolve_mapping
from stock2shop_sync.connectors import get_order_sink
from stock2shop_sync.connectors.sql import NEXT_ID_ATTEMPTS, SqlOrderSink
from stock2shop_sync.model.orders import Order, OrderError, TransientOrderError, parse_order
from stock2shop_sync.state import StateStore
from tests.integration.test_orders_sql import connect
from tests.orders_helpers import add_orders, sandbox_orders, system_order, write_order_source

TABLES = ["xs_order_lines", "xs_orders", "xs_items"]


def _kind(database: dict[str, Any]) -> str:
    if "path" in database:
        return "sqlite"
    return "postgresql" if "PostgreSQL" in database["driver"] else "mysql"


def _orders_sql(database: dict[str, Any]) -> dict[str, str]:
    """The mapping's statements for the integrator's tables. The item id is the SKU: compared with an integer
    column as it is, and cast (MariaDB's CAST has no SMALLINT; SIGNED or INTEGER)."""
    small = "INTEGER" if _kind(database) == "mysql" else "SMALLINT"
    return {
        "next_id": "SELECT COALESCE(MAX(order_id), 0) + 1 FROM xs_orders",
        "exists": "SELECT order_id FROM xs_orders WHERE ref = :external_order_no",
        "document_lines": (
            "SELECT CAST(l.item_id AS CHAR(12)), l.qty FROM xs_order_lines l "
            "JOIN xs_orders o ON o.order_id = l.order_id WHERE o.ref = :external_order_no"
        ),
        "header": (
            "INSERT INTO xs_orders (order_id, ref, account, order_date, shipping_incl, total_incl, total_text) "
            "VALUES (:next_id, :external_order_no, :customer_code, :order_date, :shipping_incl, :total_incl, "
            ":total_incl)"
        ),
        "lines": (
            "INSERT INTO xs_order_lines (order_id, line_no, item_id, item_small, qty, qty_text, price, price_text) "
            "VALUES (:next_id, :line_no, (SELECT i.item_id FROM xs_items i WHERE i.item_id = :sku), "
            f"CAST(:sku AS {small}), :qty, :qty, :price, :price)"
        ),
    }


def _create_tables(database: dict[str, Any]) -> None:
    """The integrator's tables: an INT key with no identity or sequence (on SQLite not INTEGER, which would make it
    the rowid and number itself), items keyed by an integer id, text copies of values to see what was bound."""
    with closing(connect(database)) as conn:
        for table in TABLES:
            conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute("CREATE TABLE xs_items (item_id INT NOT NULL PRIMARY KEY, name VARCHAR(40))")
        conn.execute("INSERT INTO xs_items (item_id, name) VALUES (42, 'Claw hammer'), (7, 'Tape')")
        conn.execute(
            "CREATE TABLE xs_orders (order_id INT NOT NULL PRIMARY KEY, ref VARCHAR(40) NOT NULL UNIQUE, "
            "account VARCHAR(20), order_date DATE, shipping_incl DECIMAL(12, 2), total_incl DECIMAL(12, 2), "
            "total_text VARCHAR(40))"
        )
        conn.execute(
            "CREATE TABLE xs_order_lines (order_id INT NOT NULL, line_no SMALLINT NOT NULL, item_id INT NOT NULL, "
            "item_small SMALLINT, qty DECIMAL(12, 3), qty_text VARCHAR(20), price DECIMAL(12, 2), "
            "price_text VARCHAR(40), PRIMARY KEY (order_id, line_no))"
        )
        conn.commit()


def _source(sources_dir: Path, database: dict[str, Any], **sql: str | None) -> Path:
    path = write_order_source(
        sources_dir,
        "erp",
        preset="custom_database",
        conn_id=database["conn_id"],
        driver=database["driver"],
        s2s_source_id=101,
        orders={"shipping": "header", "shipping_code": None},
    )
    statements = {**_orders_sql(database), **sql}
    path.write_text(path.read_text() + yaml.safe_dump({"mapping_overrides": {"orders": {"sql": statements}}}))
    return path


def _sink(sources_dir: Path, database: dict[str, Any], **sql: str | None) -> tuple[SqlOrderSink, Order]:
    config = load_source(_source(sources_dir, database, **sql))
    sink = get_order_sink(config, resolve_mapping(config))
    assert isinstance(sink, SqlOrderSink)
    order = parse_order(ORDER, config.orders, 101)
    return sink, order


#: 2 x item 42 at 349.95 and 1.5 x item 7 at 100.00, 15% VAT, 100.00 shipping: 949.90 + 142.48 = 1092.38.
ORDER = system_order(24, 101, [("42", 2, 349.95), ("7", 1.5, 100.0)], shipping=100.0)


def _rows(database: dict[str, Any], query: str) -> list[tuple[Any, ...]]:
    with closing(connect(database)) as conn:
        return [tuple(row) for row in conn.execute(query).fetchall()]


@pytest.fixture(params=["sqlite", "postgres", "mariadb"])
def database(request: pytest.FixtureRequest) -> dict[str, Any]:
    source = request.getfixturevalue(f"{request.param}_source")
    _create_tables(source)
    return source


def test_header_shipping_next_id_and_typed_values_land_in_an_existing_schema(
    database: dict[str, Any], sources_dir: Path
) -> None:
    with closing(connect(database)) as conn:  # an order entered in the ERP itself
        conn.execute("INSERT INTO xs_orders (order_id, ref) VALUES (41, 'BY-HAND')")
        conn.commit()
    sink, order = _sink(sources_dir, database)

    with sink:
        assert sink.create_checked(order) == ("42", True)
        # Looked up again (a later run): found, and its lines (item ids, no shipping line) are the order's.
        assert sink.create_checked(order) == ("42", False)

    [header] = _rows(
        database,
        "SELECT order_id, account, order_date, shipping_incl, total_incl, total_text FROM xs_orders "
        "WHERE ref = 'S2S-24'",
    )
    order_date = header[2] if isinstance(header[2], date) else date.fromisoformat(str(header[2]))
    assert (int(header[0]), header[1], order_date) == (42, "ACC001", date(2026, 11, 20))
    # Shipping is on the header, and in the total, which reached the text column as its digits.
    assert (float(header[3]), float(header[4]), header[5]) == (115.0, 1092.38, "1092.38")
    lines = _rows(
        database,
        "SELECT order_id, line_no, item_id, item_small, qty, qty_text, price, price_text FROM xs_order_lines "
        "ORDER BY line_no",
    )
    # No shipping line; the SKU found its integer item and cast; a whole qty as an integer, money exactly.
    assert [(int(r[0]), int(r[1]), int(r[2]), int(r[3]), float(r[4]), r[5], float(r[6]), r[7]) for r in lines] == [
        (42, 1, 42, 42, 2.0, "2", 349.95, "349.95"),
        (42, 2, 7, 7, 1.5, "1.5", 100.0, "100.0"),
    ]


def test_plain_next_id_numbers_orders_one_after_another_on_sqlite(
    sqlite_source: dict[str, Any], sources_dir: Path
) -> None:
    _create_tables(sqlite_source)
    sink, first = _sink(sources_dir, sqlite_source)
    second = parse_order(system_order(25, 101, [("7", 3, 100.0)]), sink.settings, 101)

    with sink:
        numbers = [sink.create_checked(first)[0], sink.create_checked(second)[0]]

    assert numbers == ["1", "2"]
    assert _rows(sqlite_source, "SELECT order_id, line_no, item_id FROM xs_order_lines ORDER BY 1, 2") == [
        (1, 1, 42),
        (1, 2, 7),
        (2, 1, 7),
    ]


def test_next_id_that_returns_nothing_names_the_statement(sqlite_source: dict[str, Any], sources_dir: Path) -> None:
    _create_tables(sqlite_source)
    sink, order = _sink(sources_dir, sqlite_source, next_id="SELECT MAX(order_id) + 1 FROM xs_orders")

    with sink, pytest.raises(OrderError, match=r"order 24: the mapping's orders.sql.next_id query returned no value"):
        sink.create_checked(order)

    assert _rows(sqlite_source, "SELECT COUNT(*) FROM xs_order_lines") == [(0,)]


def test_a_duplicate_key_that_a_fresh_id_does_not_cure_is_the_orders_data_error(
    sqlite_source: dict[str, Any], sources_dir: Path
) -> None:
    # A stray line already holds (1, 1): the header takes id 1, its first line collides, and a second try gets
    # id 1 again (nothing else took it), so this is no race but a refusal of the data.
    _create_tables(sqlite_source)
    with closing(connect(sqlite_source)) as conn:
        conn.execute("INSERT INTO xs_order_lines (order_id, line_no, item_id) VALUES (1, 1, 7)")
        conn.commit()
    sink, order = _sink(sources_dir, sqlite_source)

    with sink, pytest.raises(OrderError, match="order 24: the database refused it: a unique constraint was violated"):
        sink.create_checked(order)

    assert _rows(sqlite_source, "SELECT COUNT(*) FROM xs_orders") == [(0,)]


def _racing(sink: SqlOrderSink, database: dict[str, Any], times: int) -> list[Any]:
    """Make ``sink``'s next ``times`` ids be taken by another writer between the ``next_id`` query and the insert:
    a second connection inserts (and commits) an order with that id. Returns the ids it took."""
    real = sink._next_id
    taken: list[Any] = []

    def next_id_then_another_writer_takes_it(cursor: Any, order: Order, header: dict[str, Any]) -> Any:
        value = real(cursor, order, header)
        if len(taken) < times:
            with closing(connect(database)) as other:
                other.execute("INSERT INTO xs_orders (order_id, ref) VALUES (?, ?)", [value, f"OTHER-{value}"])
                other.commit()
            taken.append(value)
        return value

    sink._next_id = next_id_then_another_writer_takes_it  # type: ignore[method-assign]
    return taken


@pytest.mark.parametrize("server", ["postgres", "mariadb"])
def test_an_id_another_writer_takes_first_is_tried_again_with_a_fresh_one(
    server: str, request: pytest.FixtureRequest, sources_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    database = request.getfixturevalue(f"{server}_source")
    _create_tables(database)
    sink, order = _sink(sources_dir, database)
    taken = _racing(sink, database, times=2)

    with caplog.at_level(logging.WARNING), sink:
        number, created = sink.create_checked(order)

    assert taken == [1, 2]
    assert (number, created) == ("3", True)
    assert _rows(database, "SELECT order_id, ref FROM xs_orders ORDER BY order_id") == [
        (1, "OTHER-1"),
        (2, "OTHER-2"),
        (3, "S2S-24"),
    ]
    # The failed tries left nothing behind: the lines are the order's, once, under its id.
    assert _rows(database, "SELECT order_id, line_no FROM xs_order_lines ORDER BY line_no") == [(3, 1), (3, 2)]
    assert "id 1 from orders.sql.next_id was taken by another writer" in caplog.text


def test_an_id_taken_every_time_is_transient_and_names_the_order(
    postgres_source: dict[str, Any], sources_dir: Path
) -> None:
    _create_tables(postgres_source)
    sink, order = _sink(sources_dir, postgres_source)
    taken = _racing(sink, postgres_source, times=NEXT_ID_ATTEMPTS)

    with sink, pytest.raises(TransientOrderError, match=r"order 24: another writer took the id orders.sql.next_id"):
        sink.create_checked(order)

    assert taken == list(range(1, NEXT_ID_ATTEMPTS + 1))
    assert _rows(postgres_source, "SELECT COUNT(*) FROM xs_order_lines") == [(0,)]


def test_a_discontinued_sku_and_an_unknown_one_are_told_apart_then_the_resynced_one_is_raised(
    sqlite_source: dict[str, Any], sandbox: str, sources_dir: Path, state_store: str
) -> None:
    _create_tables(sqlite_source)
    config = load_source(_source(sources_dir, sqlite_source))
    store = StateStore(state_store)
    store.record_synced("erp", ["42", "7", "43"])
    store.record_synced("erp", [], removed=["43"])  # sent to Stock2Shop as inactive by a later sync
    today = datetime.now(UTC).date().isoformat()
    add_orders(
        sandbox,
        [
            ORDER,
            system_order(26, 101, [("42", 1, 349.95), ("43", 1, 10.0)]),
            system_order(27, 101, [("99", 1, 10.0)]),
        ],
    )

    first = pipeline.push_orders(config, store=store)

    assert first["counts"] == {"pending": 3, "failed": 2, "raised": 1}
    errors = {p["order"]: p["error"] for p in first["problems"]}
    assert errors["order 26"] == (
        f"order 26 line 2: sku '43' was discontinued: source erp removed it from Stock2Shop on {today}; the order "
        "can be raised once the product is synced as active again"
    )
    assert errors["order 27"] == (
        "order 27 line 1: sku '99' is not a product of source erp: it is unknown to the source, which never "
        "synced a product with that SKU"
    )
    assert sandbox_orders(sandbox, 101)["24"]["source_order_code"] == "1"
    assert [
        (float(s), float(t)) for s, t in _rows(sqlite_source, "SELECT shipping_incl, total_incl FROM xs_orders")
    ] == [(115.0, 1092.38)]

    with closing(connect(sqlite_source)) as conn:
        conn.execute("INSERT INTO xs_items (item_id, name) VALUES (43, 'Back in the range')")
        conn.commit()
    store.record_synced("erp", ["43"])  # synced as active again
    second = pipeline.push_orders(config, store=store)

    assert second["counts"] == {"pending": 2, "failed": 1, "raised": 1}
    assert sandbox_orders(sandbox, 101)["26"]["source_order_code"] == "2"


def test_header_shipping_is_refused_for_a_sink_that_writes_only_lines(
    sqlite_source: dict[str, Any], sandbox: str, sources_dir: Path, state_store: str
) -> None:
    config = load_source(_source(sources_dir, sqlite_source))

    class LinesOnly:
        """An API-style sink: builds the document from the order's lines."""

    with pytest.raises(OrderError, match=r"orders\.shipping is header, but its LinesOnly writes only"):
        pipeline.push_orders(config, store=StateStore(state_store), sink=LinesOnly())
