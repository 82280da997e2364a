"""Demo databases, one per preset, written over ODBC; ``make demo`` and the tests seed them the same way."""

from __future__ import annotations

import importlib
from typing import Any

#: preset -> module whose ``seed(conn)`` creates and fills that ERP's tables.
SEEDERS = {
    "custom_database": "stock2shop_sync.demo.seed",
    "sage_evolution": "stock2shop_sync.demo.sage_evolution",
    "sage_pastel_partner": "stock2shop_sync.demo.sage_pastel_partner",
}


def seed(preset: str, conn: Any) -> dict[str, int]:
    """Create the preset's demo tables on an open ODBC connection and fill them."""
    return importlib.import_module(SEEDERS[preset]).seed(conn)
