"""Demo databases, one per preset, written over ODBC; ``make demo`` and the tests seed them the same way."""

from __future__ import annotations

import importlib
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
