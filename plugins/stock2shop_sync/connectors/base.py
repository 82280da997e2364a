"""The interface every source connector implements."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stock2shop_sync.model.canonical import MappingError, to_canonical, total_qty
from stock2shop_sync.model.pivots import PivotError, join_columns, price_columns, warehouse_columns

if TYPE_CHECKING:
    from datetime import datetime

    import pandas as pd

    from stock2shop_sync.config import Mapping, SourceConfig


class SourceConnector:
    """Reads one source's entities as raw frames; :meth:`extract` turns them into canonical frames.

    Subclasses implement :meth:`read_query` (run one of the mapping's queries). ``limit`` asks for at most
    that many rows (used by the mapping check).
    """

    def __init__(self, config: SourceConfig, mapping: Mapping) -> None:
        self.config = config
        self.mapping = mapping
        #: price_<tier> / qty_<warehouse> columns that read_raw pivoted in; they map to themselves.
        self.pivoted: list[str] = []

    def read_query(self, query: str, *, limit: int | None = None) -> pd.DataFrame:
        raise NotImplementedError

    def read_raw(self, entity: str, *, limit: int | None = None, since: datetime | None = None) -> pd.DataFrame:
        """The entity's main rows, with price-list and warehouse columns joined on when the mapping has them."""
        section = self.mapping.entity(entity)
        if not section.query:
            raise MappingError(f"source {self.config.source_id!r}: mapping {self.mapping.name!r} has no {entity} query")
        raw = self.read_query(section.query, limit=limit)
        settings = self.mapping.settings
        try:
            if section.price_lists is not None:
                prices = price_columns(self.read_query(section.price_lists.query), section.price_lists, settings)
                raw = join_columns(raw, section.key or "", prices)
                self.pivoted += list(prices.columns)
            if section.warehouses is not None:
                stock = warehouse_columns(self.read_query(section.warehouses.query), section.warehouses, settings)
                raw = join_columns(raw, section.key or "", stock)
                self.pivoted += list(stock.columns)
        except PivotError as exc:
            raise MappingError(f"source {self.config.source_id!r}, {entity}: {exc}") from None
        return raw

    def extract(self, entity: str, *, limit: int | None = None, since: datetime | None = None) -> pd.DataFrame:
        """Canonical rows of ``entity``; sources that can filter by modification time read only rows changed
        since ``since`` (None: everything)."""
        section = self.mapping.entity(entity)
        raw = self.read_raw(entity, limit=limit, since=since)
        fields = dict(section.fields)
        for name in self.pivoted:
            fields.setdefault(name, name)
        if any(c.startswith("price_") for c in self.pivoted) and "price" not in fields:
            fields["price"] = self._default_price_column(raw)
        section = section.model_copy(update={"fields": fields})
        frame = to_canonical(raw, section, source_id=self.config.source_id, entity=entity)
        if any(c.startswith("qty_") for c in self.pivoted) and "qty" not in section.fields:
            frame["qty"] = total_qty(frame)
        return frame

    def _default_price_column(self, raw: pd.DataFrame) -> str:
        tiers = [c[6:] for c in self.pivoted if c.startswith("price_")]
        chosen = self.mapping.settings.default_price_list or (tiers[0] if len(tiers) == 1 else None)
        if chosen is None or chosen not in tiers:
            raise MappingError(
                f"source {self.config.source_id!r}: settings.default_price_list must name the price list that "
                f"gives the default price; it is {chosen!r} and the lists read are {tiers}"
            )
        return f"price_{chosen}"
