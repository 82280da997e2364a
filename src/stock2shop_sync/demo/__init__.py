"""Demo databases, one per preset, written over ODBC; ``make demo`` and the tests seed them the same way."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

#: preset -> module whose ``seed(conn)`` creates and fills that ERP's tables.
SEEDERS = {
    "custom_database": "stock2shop_sync.demo.custom_database",
    "sage_evolution": "stock2shop_sync.demo.sage_evolution",
    "sage_pastel_partner": "stock2shop_sync.demo.sage_pastel_partner",
}


def seed(preset: str, conn: Any) -> dict[str, int]:
    """Create the preset's demo tables on an open ODBC connection and fill them, and create the (empty) order
    tables from the DDL its mapping ships (``orders.ddl``)."""
    counts = importlib.import_module(SEEDERS[preset]).seed(conn)
    create_order_tables(preset, conn)
    return counts


#: Parameters per INSERT of :func:`insert_rows`: within SQLite's limit before 3.32 (999) and SQL Server's (2,100).
MAX_PARAMETERS = 999


def insert_rows(cursor: Any, table: str, rows: Sequence[Sequence[Any]]) -> int:
    """Insert ``rows`` (values in the table's column order) with multi-row ``INSERT ... VALUES (?, ..), (?, ..)``
    statements of up to :data:`MAX_PARAMETERS` parameters each: portable SQL, and one round trip per batch, where
    ``executemany`` over psqlODBC and MariaDB's driver takes one per row (twice the time for the demo companies'
    100,000 rows). Returns the number of rows."""
    if not rows:
        return 0
    width = len(rows[0])
    per_statement = max(1, MAX_PARAMETERS // width)
    one = "(" + ", ".join(["?"] * width) + ")"
    for start in range(0, len(rows), per_statement):
        batch = rows[start : start + per_statement]
        values = ", ".join([one] * len(batch))
        cursor.execute(f"INSERT INTO {table} VALUES {values}", [value for row in batch for value in row])  # noqa: S608 - placeholders only
    return len(rows)


def create_order_tables(preset: str, conn: Any) -> list[str]:
    """(Re)create a preset's order tables from its shipped DDL, for the connection's dialect."""
    import re

    from stock2shop_sync.config import PROJECT_ROOT, load_mapping
    from stock2shop_sync.connectors.sql import dialect_of, order_ddl

    mapping = load_mapping(preset)
    if mapping.orders is None or not mapping.orders.ddl:
        return []
    statements = order_ddl((PROJECT_ROOT / mapping.orders.ddl).read_text(encoding="utf-8"), dialect_of(conn))
    tables = [m.group(1) for s in statements if (m := re.match(r"CREATE TABLE (\w+)", s))]
    cursor = conn.cursor()
    for table in reversed(tables):
        cursor.execute(f"DROP TABLE IF EXISTS {table}")
    for statement in statements:
        cursor.execute(statement)
    conn.commit()
    return tables
