"""Run a source's order push in a process that dies (``os._exit``) right after the ERP commits one order.

Used by tests/integration/test_orders_faults.py: ``python tests/order_crash.py <config.yaml> <order id>``.
The process is killed between "raised in the ERP" and "acknowledged", the window exactly-once must survive.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from stock2shop_sync import pipeline  # noqa: E402
from stock2shop_sync.config import load_source  # noqa: E402
from stock2shop_sync.connectors.sql import SqlOrderSink  # noqa: E402
from stock2shop_sync.state import StateStore  # noqa: E402


def main() -> None:
    config_path, die_after = sys.argv[1], sys.argv[2]
    real = SqlOrderSink.raise_order

    def raise_then_die(self: SqlOrderSink, order: object, **kwargs: object) -> tuple[str, bool]:
        result = real(self, order, **kwargs)  # type: ignore[arg-type]
        if order.order_id == die_after:  # type: ignore[attr-defined]
            os._exit(137)  # as if the worker were SIGKILLed: no cleanup, no except blocks
        return result

    SqlOrderSink.raise_order = raise_then_die  # type: ignore[method-assign]
    pipeline.push_orders(load_source(config_path), store=StateStore())


if __name__ == "__main__":
    main()
