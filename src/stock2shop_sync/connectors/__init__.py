"""Source connectors, one module per kind of source.

A mapping preset names its connector (``connector: sql``); the module
``stock2shop_sync.connectors.<name>`` exposes it as ``CONNECTOR``; a preset's ``orders.sink`` names the module
whose ``ORDER_SINK`` raises its orders. Adding a new kind of source is one module
here, one mapping file and their tests.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stock2shop_sync.config import Mapping, SourceConfig
    from stock2shop_sync.connectors.base import OrderSink, SourceConnector


def get_connector(config: SourceConfig, mapping: Mapping) -> SourceConnector:
    """The connector that reads ``config``'s source through ``mapping``."""
    try:
        module = importlib.import_module(f"stock2shop_sync.connectors.{mapping.connector}")
    except ModuleNotFoundError as exc:
        raise ValueError(
            f"source {config.source_id!r}: mapping {mapping.name!r} names connector {mapping.connector!r}, "
            "which does not exist"
        ) from exc
    return module.CONNECTOR(config, mapping)


def get_order_sink(config: SourceConfig, mapping: Mapping) -> OrderSink:
    """The order sink that raises ``config``'s orders, as the mapping's ``orders.sink`` names it."""
    if mapping.orders is None or not config.orders.enabled:
        raise ValueError(f"source {config.source_id!r} does not take orders (orders.enabled is off)")
    try:
        module = importlib.import_module(f"stock2shop_sync.connectors.{mapping.orders.sink}")
        sink = module.ORDER_SINK
    except (ModuleNotFoundError, AttributeError) as exc:
        raise ValueError(
            f"source {config.source_id!r}: mapping {mapping.name!r} names order sink {mapping.orders.sink!r}, "
            "which does not exist"
        ) from exc
    return sink(config, mapping)
