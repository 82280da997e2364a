"""How the SQL order sink binds an order's values (each in its own type), and how it recognises a duplicate key
in each driver's words."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pyodbc
import pytest

from stock2shop_sync.config import OrderSettings
from stock2shop_sync.connectors.sql import bind, sql_value
from stock2shop_sync.connectors.sql_errors import describe
from stock2shop_sync.model.orders import OrderError, header_fields, line_fields, parse_order
from tests.orders_helpers import system_order

SETTINGS = OrderSettings(enabled=True, default_customer_code="CASH", shipping_code="SHIP", tax_code="01")


def test_values_are_bound_in_their_own_types() -> None:
    order = parse_order(system_order(3, 101, [("42", 2, 349.95), ("B-2", 1.5, 100.0)]), SETTINGS, 101)
    header = header_fields(order, SETTINGS, "sales_order")
    first, second = line_fields(order, SETTINGS)

    statement, args = bind(
        "INSERT INTO t VALUES (:line_no, :sku, CAST(:sku AS SMALLINT), :qty, :price, :total_incl, :order_date, "
        "':not_a_parameter', x::int)",
        {**header, **first},
    )

    assert statement == "INSERT INTO t VALUES (?, ?, CAST(? AS SMALLINT), ?, ?, ?, ?, ':not_a_parameter', x::int)"
    # The SKU stays text, whatever it looks like: the database converts it where it meets an integer.
    assert args == [1, "42", "42", 2, Decimal("349.95"), Decimal("804.88"), date(2026, 11, 20)]
    assert [type(a) for a in args] == [int, str, str, int, Decimal, Decimal, date]
    _, fractional = bind(":qty :price_incl :is_shipping :line_count", {**header, **second})
    assert fractional == [Decimal("1.5"), Decimal("115.0"), 0, 2]


def test_sqlite_gets_money_as_numbers_not_as_the_text_its_driver_makes_of_a_decimal() -> None:
    assert sql_value("price", 349.95, "sqlite") == 349.95
    assert type(sql_value("price", 349.95, "sqlite")) is float
    assert sql_value("qty", 2.0, "sqlite") == 2
    assert type(sql_value("qty", 2.0, "sqlite")) is int
    assert sql_value("price", 349.95, "postgresql") == Decimal("349.95")


def test_a_next_id_the_database_gave_as_a_decimal_is_bound_as_an_integer() -> None:
    assert type(sql_value("next_id", Decimal("7"), "sqlserver")) is int
    assert sql_value("next_id", "SO-0007") == "SO-0007"


def test_a_next_id_parameter_without_the_query_says_how_to_give_it() -> None:
    with pytest.raises(OrderError, match=r"uses :next_id, which is not an order field; set orders\.sql\.next_id"):
        bind("INSERT INTO t VALUES (:next_id)", {"sku": "A"})


@pytest.mark.parametrize(
    ("error", "duplicate"),
    [
        (
            pyodbc.IntegrityError(
                "23505",
                '[23505] ERROR: duplicate key value violates unique constraint "orders_pkey"\nDETAIL: Key (id)=(5) '
                "already exists.;\nError while executing the query (1) (SQLExecDirectW)",
            ),
            True,
        ),
        (
            pyodbc.IntegrityError(
                "23000",
                "[23000] [ma-3.1.15][10.11.19-MariaDB]Duplicate entry '5' for key 'PRIMARY' (1062) (SQLExecDirectW)",
            ),
            True,
        ),
        (pyodbc.Error("HY000", "[HY000] [SQLite]UNIQUE constraint failed: orders.id (19) (19) (SQLExecDirectW)"), True),
        (pyodbc.Error("HY000", "[HY000] [SQLite]PRIMARY KEY must be unique (19) (SQLExecDirectW)"), True),
        (
            pyodbc.IntegrityError(
                "23000",
                "[23000] [Microsoft][ODBC Driver 18 for SQL Server][SQL Server]Violation of PRIMARY KEY constraint "
                "'PK_orders'. Cannot insert duplicate key in object 'dbo.orders'. The duplicate key value is (5). "
                "(2627) (SQLExecDirectW)",
            ),
            True,
        ),
        # Known only by its native code (a localised message): MariaDB 1062, SQL Server 2601.
        (pyodbc.IntegrityError("23000", "[23000] [ma-3.1.15]Doppelter Eintrag (1062) (SQLExecDirectW)"), True),
        (
            pyodbc.IntegrityError(
                "23000", "[23000] [Microsoft][SQL Server]Doppelte Schlüsselzeile (2601) (SQLExecDirectW)"
            ),
            True,
        ),
        (pyodbc.IntegrityError("23505", "[23505] FEHLER: doppelter Schlüsselwert (1) (SQLExecDirectW)"), True),
        (
            pyodbc.Error("HY000", "[HY000] [SQLite]NOT NULL constraint failed: orders.ref (19) (19) (SQLExecDirectW)"),
            False,
        ),
        (pyodbc.OperationalError("40P01", "[40P01] ERROR: deadlock detected (1) (SQLExecDirectW)"), False),
    ],
)
def test_a_duplicate_key_is_recognised_in_every_drivers_words(error: pyodbc.Error, duplicate: bool) -> None:
    described = describe(error)

    assert described.duplicate_key is duplicate
    assert described.data_error is not (described.kind == "deadlock")
